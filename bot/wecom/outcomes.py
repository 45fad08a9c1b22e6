"""Writing down what became of the sender's rows: sent, to be retried, or dead.

Whatever finished while the previous batch was being written, or within WINDOW of the first row
waiting, goes in the next one: one transaction (and one worker thread) for many rows, not one each.
At the platform's pace the calls come back one every 6 ms, so without the window nearly every row
was a transaction of its own: 150 a second for SQLite's one writer, which the handler processes
then waited for (35 % of their time at 500 callbacks a second, measured: issue 7).
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Callable

from sqlalchemy import Engine

from storage import outbox
from storage.db import transaction

Mark = Callable[..., None]  # outbox.mark_sent, mark_retry or mark_dead
WINDOW = 0.1  # seconds; a row's mark is that much later at most (its reservations too: later is safe)


class OutcomeWriter:
    def __init__(self, engine: Engine):
        self._engine = engine
        self._waiting: list[tuple[outbox.Claimed, Mark, dict[str, Any], asyncio.Future]] = []
        self._task: asyncio.Task | None = None

    async def mark(self, row: outbox.Claimed, mark: Mark, **kwargs: Any) -> None:
        """Returns once the mark is committed; raises what the database raised."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((row, mark, kwargs, done))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write_batches())
        await done

    async def finish(self) -> None:
        """On stop: what came back before it is still written down."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._task)

    async def _write_batches(self) -> None:
        while self._waiting:
            await asyncio.sleep(WINDOW)  # on stop too: finish() waits for the last batch
            batch, self._waiting = self._waiting, []
            try:
                await asyncio.to_thread(self._write, batch)
            except Exception as exc:  # noqa: BLE001 - each waiting delivery sees it; leases bring the rows back
                for *_, done in batch:
                    done.done() or done.set_exception(exc)
            else:
                for *_, done in batch:
                    done.done() or done.set_result(None)

    def write_now(self, row: outbox.Claimed, mark: Mark, kwargs: dict[str, Any]) -> None:
        """One row's outcome in a transaction of its own, not waiting for the window (group posts)."""
        self._write([(row, mark, kwargs, None)])

    def _write(self, batch: list[tuple[outbox.Claimed, Mark, dict[str, Any], asyncio.Future]]) -> None:
        """Each row's recipients' reservations now carry the time its call came back (or failed)."""
        with transaction(self._engine) as session:
            now = time.time()
            for row, mark, kwargs, _done in batch:
                outbox.stamp_deliveries(session, row, now=now)
                mark(session, row_id=row.id, **kwargs)
