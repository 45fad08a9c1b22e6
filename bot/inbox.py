"""Answer callbacks at once, handle them behind the answer, on one database thread per process.

The request path only verifies, decrypts and parses; ``accept`` hands the update to this thread,
which records every callback waiting at that moment in one transaction (a group commit) and only
then lets the 200 go. Between group commits it handles recorded updates one at a time, each in its
own transaction with its row's deletion (storage/inbox.py), unless handler processes do
(bot/handler_process.py). One thread, because SQLite has one writer; its group commit goes before
other writers waiting (storage/writer_lock.py), so a request waits for at most the transaction
holding the writer, not for a queue.
"""
from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing.synchronize
import queue
import threading
import time
from collections import deque
from typing import Callable

from sqlalchemy import Engine

from bot.dispatch import Dispatcher, Outcome
from bot.wecom.updates import Update, parse_update
from storage import inbox
from storage.people import userid_key
from storage.db import core_transaction, transaction

log = logging.getLogger(__name__)
LEASE_SECONDS = 30.0
POLL_SECONDS = 1.0  # rows recorded by another process, or waiting for a retry
# Claims this far apart at least while callbacks keep coming (the first after a quiet spell at once):
# a claim is a transaction, and at 200 callbacks a second one per update took as much of a handler's
# time on PostgreSQL as the handling (issue 16). Waiting for it adds at most this to a reply.
CLAIM_GAP = 0.02


class Inbox:
    def __init__(self, engine: Engine, dispatcher: Dispatcher, *, on_handled: Callable[[], None] = lambda: None,
                 handles: bool = True, on_recorded: Callable[[], None] = lambda: None,
                 wake: threading.Event | multiprocessing.synchronize.Event | None = None):
        """handles=False: only record, and call on_recorded (bot/handler_process.py handles);
        wake: an event shared with the recording process, for a process that only handles."""
        self._engine, self._dispatcher, self._on_handled = engine, dispatcher, on_handled
        self._handles, self._on_recorded = handles, on_recorded
        self._arrivals: queue.SimpleQueue = queue.SimpleQueue()
        self._wake = wake if wake is not None else threading.Event()
        # Set by the recording process only after its group commit: being woken means rows to claim. This
        # process's own event is also set by arrivals, which the group commit looks for when new.
        self._woken_means_recorded = wake is not None
        self._claimed: deque[tuple[int, str]] = deque()
        self._look, self._stopping = True, False
        self._thread: threading.Thread | None = None
        self.recorded = self.finished = 0  # in this process: for tests' settled() and benchmarks

    async def accept(self, update: Update, plaintext: str) -> bool:
        """Record the callback; True when new, False for a retry. Raises when it could not be stored."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        # One person's updates are handled in arrival order whatever letters their userid came in
        person = userid_key(update.userid)
        self._arrivals.put((inbox.Received(update.dedup_key, person, plaintext), done, loop))
        self._wake.set()
        return await done

    def start(self) -> None:
        self._stopping, self._look = False, True
        self._thread = threading.Thread(target=self._run, name="inbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Record what arrived, hand back unhandled leases, end the thread."""
        self._stopping = True
        self._wake.set()
        if self._thread:
            self._thread.join()
            self._thread = None

    async def settled(self, timeout: float = 10.0) -> None:
        """Until everything recorded by this process so far has been handled (tests, benchmarks)."""
        async with asyncio.timeout(timeout):
            while self.finished < self.recorded or not self._arrivals.empty():
                await asyncio.sleep(0.005)

    def _run(self) -> None:
        last_look = -math.inf
        while True:
            self._record_arrivals()
            wait = POLL_SECONDS
            if self._handles and not self._claimed:
                since = time.monotonic() - last_look
                if (self._look and since >= CLAIM_GAP) or since >= POLL_SECONDS:
                    self._look, last_look = False, time.monotonic()
                    self._claim()
                elif self._look:
                    wait = CLAIM_GAP - since
            if self._claimed and not self._stopping:
                self._handle(*self._claimed.popleft())
                continue
            if self._stopping:
                break
            if self._wake.wait(wait) and self._woken_means_recorded:
                self._look = True  # cleared below, after which the claim sees every commit that set it
            self._wake.clear()
        self._release()

    def _record_arrivals(self) -> None:
        batch = []
        while not self._arrivals.empty():
            batch.append(self._arrivals.get_nowait())
        if not batch:
            return
        try:
            with core_transaction(self._engine, urgent=True) as conn:  # the 200s wait for it
                new = inbox.record(conn, [received for received, _, _ in batch], now=time.time())
        except Exception as exc:  # noqa: BLE001 - every waiting request answers 500; the platform retries
            log.exception("could not record %d callbacks", len(batch))
            new = [exc] * len(batch)
        self.recorded += sum(1 for n in new if n is True)
        if any(n is True for n in new):
            self._look = True
            self._on_recorded()
        for (_, done, loop), result in zip(batch, new):
            loop.call_soon_threadsafe(_resolve, done, result)

    def _claim(self) -> None:
        try:
            with transaction(self._engine) as session:
                rows = inbox.claim(session, now=time.time(), lease_seconds=LEASE_SECONDS)
        except Exception:  # noqa: BLE001 - the next poll tries again
            log.exception("could not claim inbound updates")
            return
        self._claimed.extend(rows)
        self._look = self._look or len(rows) == inbox.CLAIM_LIMIT  # more may be waiting

    def _handle(self, row_id: int, sealed: str) -> None:
        try:
            with transaction(self._engine) as session:
                # Gone: another process took it over after our lease ran out.
                outcome = inbox.finish(session, row_id) and self._dispatcher.process(
                    session, parse_update(inbox.unseal(sealed)))
        except Exception:  # noqa: BLE001 - never the payload in the log: it may hold a vote
            log.exception("inbound update %d failed", row_id)
            self._fail(row_id)
            return
        self.finished += 1
        if outcome in (Outcome.handled, Outcome.unregistered):
            self._on_handled()

    def _fail(self, row_id: int) -> None:
        try:
            with transaction(self._engine) as session:
                dropped = inbox.fail(session, row_id, now=time.time())
        except Exception:  # noqa: BLE001 - the lease runs out and the row is tried again
            log.exception("could not count a failure of inbound update %d", row_id)
            return
        if dropped:
            log.error("inbound update %d dropped after %d attempts", row_id, inbox.MAX_ATTEMPTS)
            self.finished += 1

    def _release(self) -> None:
        ids = [row_id for row_id, _ in self._claimed]
        self._claimed.clear()
        if not ids:
            return
        try:
            with transaction(self._engine) as session:
                inbox.release(session, ids)
        except Exception:  # noqa: BLE001 - their leases run out instead
            log.exception("could not release %d inbound updates", len(ids))


def _resolve(done: asyncio.Future, result: bool | Exception) -> None:
    if done.done():
        return  # the request was cancelled (the client went away); the record stands
    if isinstance(result, Exception):
        done.set_exception(result)
    else:
        done.set_result(result)
