"""Drains the outbox: claims due rows, calls the API, marks each row sent, retried or dead.

Started and stopped with the aiohttp application. Several workers may run one each: rows are
claimed with a lease (and ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so no row is sent twice by
us; ``enable_duplicate_check`` covers the crash between the API's "ok" and our "sent".

As fast as WeChat Work allows, no faster: the client's RateLimiter spaces the calls, and the sender
keeps about QUEUE_SECONDS of them claimed and waiting for their turn, claiming more whenever half
have left, so the limiter never runs dry while a claim is being made.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from typing import Any, Coroutine

from sqlalchemy import Engine

from bot.config import Settings
from bot.wecom import payloads, setup_errors
from bot.wecom.api import LIMIT_ERRCODES, ApiError, TokenRefused, TransientError, WeComClient
from bot.wecom.outcomes import Mark, OutcomeWriter
from bot.wecom.setup_errors import SetupError
from storage import bot_state, outbox
from storage.db import reading, transaction

log = logging.getLogger(__name__)

RETRY_ERRCODES = {-1} | LIMIT_ERRCODES  # busy; frequency, minute-quota and concurrency limits
ALREADY_DONE = {("appchat/create", 86215)}  # our chatids are fixed, so "exists" means our earlier call worked
MAX_ATTEMPTS = 30
QUEUE_SECONDS = 2.0  # rows claimed ahead: this long of sending at the configured rate
MAX_IN_FLIGHT = 500
# A claimed row that cannot have its turn within this long (a pause after 45009) goes back to the outbox
# instead of outwaiting its lease.
WAIT_LIMIT = 5.0


class Pause:
    """Sending paused by an app-wide setup error (60020: the server's IP is not trusted yet, a wrong
    secret …): every message would meet it. The sender claims nothing but one message now and then
    (after `first` seconds, doubling up to `longest`); once one goes through, everything queued leaves."""

    def __init__(self, first: float, longest: float) -> None:
        self.error: SetupError | None = None
        self.endpoint: str | None = None  # the API that refused: a probe is a call of it (48002 may be one API's)
        self.next_probe = 0.0  # time.monotonic()
        self._first, self._longest = first, longest
        self._delay = first

    def start(self, error: SetupError, endpoint: str) -> bool:
        """True if sending was not paused before (then it is worth a log line). The calls that were out
        when the first one failed fail too; only a failed probe puts the next one further off."""
        began, now = self.error is None, time.monotonic()
        if began or now >= self.next_probe:
            self.next_probe = now + self._delay
            self._delay = min(self._longest, self._delay * 2)
        self.error, self.endpoint = error, endpoint
        return began

    def end(self) -> None:
        self.error, self.endpoint, self._delay = None, None, self._first


class Sender:
    def __init__(self, *, settings: Settings, engine: Engine, client: WeComClient,
                 in_flight: int | None = None, poll_interval: float = 0.5):
        self._settings, self._engine, self._client = settings, engine, client
        self._window = in_flight or _window(settings)
        # The lease outlasts one attempt, so no row is sent twice: its wait for a turn (WAIT_LIMIT at most),
        # then an image's upload and the send itself, each of which may refresh the token and go again,
        # is at most six requests.
        self._lease = WAIT_LIMIT + 6 * settings.http_timeout + 5
        self._poll = poll_interval
        self._wakeup = asyncio.Event()
        self._last_prune = 0.0
        self._in_flight: set[asyncio.Task] = set()
        self._outcomes = OutcomeWriter(engine)
        self.pause = Pause(settings.retry_base, settings.retry_cap)  # 2 s doubling to 5 minutes by default
        self._held_logged: dict[int, float] = {}  # errcode -> when a held message last said so in the log

    def wake(self) -> None:
        """Something was just queued in this process: look now instead of at the next poll."""
        self._wakeup.set()

    async def run(self) -> None:
        try:
            stored = await asyncio.to_thread(self._stored_pause)
            if stored is not None and (error := setup_errors.classify(stored["errcode"])) is not None:
                self.pause.start(error, stored["endpoint"])  # paused when we last ran: the first call is a probe
                self.pause.next_probe = 0.0
            await self._loop()
        finally:
            await self._stop_in_flight()
            await self._outcomes.finish()

    def _stored_pause(self) -> dict[str, Any] | None:
        with reading(self._engine) as session:
            return bot_state.pause(session)

    async def _loop(self) -> None:
        token_failures = 0
        while True:
            await asyncio.sleep(self._client.limiter.paused_for())  # the platform said "slower": claim nothing
            if self.pause.error is not None:
                if self._in_flight or time.monotonic() < self.pause.next_probe:
                    await self._sleep()  # a probe is out, or not due yet
                    continue
            elif not self._has_room():
                await self._sleep()
                continue
            try:
                claimed = await self.drain_once(limit=1 if self.pause.error else None)
                token_failures = 0
            except TransientError as exc:  # no token: nothing was claimed, so nothing waits on a lease
                error = setup_errors.classify(exc.errcode) if isinstance(exc, TokenRefused) else None
                if error is not None and error.scope == "app":  # a wrong secret or corp id, an untrusted IP
                    await self._pause_for(error, "gettoken")
                    continue
                token_failures += 1
                if token_failures == 1:
                    log.error("cannot get an access token, messages wait: %s", exc)
                await asyncio.sleep(min(self._settings.retry_cap, self._settings.retry_base * 2 ** token_failures))
                continue
            except Exception:  # noqa: BLE001 - a database hiccup must not stop the sender for good
                log.exception("outbox drain failed; retrying")
                claimed = 0
            if not claimed and self.pause.endpoint not in (None, "gettoken") and not await asyncio.to_thread(
                    self._waiting, self.pause.endpoint):
                await self._resume()  # no call of the refused API is left: nothing more to learn from it
            elif not claimed:
                await self._sleep()

    def _has_room(self) -> bool:
        """Claim again once half the claimed rows have left: one claim per second or so of sending, not per row."""
        return len(self._in_flight) <= self._window // 2

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._in_flight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:  # e.g. the database, while marking the row
            log.error("outbox delivery failed; the row's lease brings it back", exc_info=task.exception())
        if self._has_room():
            self._wakeup.set()  # also frees a person's next message, which waited for this one

    async def _stop_in_flight(self) -> None:
        """Calls already made are let finish (one HTTP timeout at most) and their outcomes written before
        the sender stops: cancelled after the platform had the request, a row would be sent again after
        its lease, and a group chat, which has no duplicate check, would show the post twice."""
        if self._in_flight:
            await asyncio.wait(list(self._in_flight), timeout=self._settings.http_timeout)
        for task in list(self._in_flight):
            task.cancel()
        for task in list(self._in_flight):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _sleep(self) -> None:
        # Not asyncio.wait_for: on Python 3.11 it swallows a cancel that arrives together with a wake-up,
        # and the sender would then outlive the app's shutdown.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._poll):
                await self._wakeup.wait()
        self._wakeup.clear()

    async def drain_once(self, limit: int | None = None) -> int:
        """Claim what is due, as much as there is room for (or `limit`), and start sending it; the number
        claimed. The token comes first so a token outage leaves rows unclaimed."""
        room = min(limit or self._window, self._window - len(self._in_flight))
        if room <= 0 or not await asyncio.to_thread(self._anything_due):
            return 0
        await self._client.token()
        deadline = time.monotonic() + WAIT_LIMIT  # taken before the claim: the claim's own time counts too
        probe = self.pause.error is not None  # only a call made while paused can tell that it is fixed
        endpoint = self.pause.endpoint if probe and self.pause.endpoint != "gettoken" else None
        rows = await asyncio.to_thread(self._claim, room, endpoint)
        for row in rows:
            self._start(self._deliver(row, deadline, probe))
        return len(rows)

    def _waiting(self, endpoint: str) -> bool:
        with reading(self._engine) as session:
            return outbox.any_pending(session, endpoint=endpoint)

    def _anything_due(self) -> bool:
        with reading(self._engine) as session:
            return outbox.any_due(session, now=time.time())

    def _claim(self, room: int, endpoint: str | None = None) -> list[outbox.Claimed]:
        now = time.time()
        with transaction(self._engine) as session:
            if now - self._last_prune > 60:
                outbox.prune_deliveries(session, now=now)
                self._last_prune = now
            return outbox.claim_due(session, now=now, limit=room, lease=self._lease, endpoint=endpoint)

    async def _deliver(self, row: outbox.Claimed, deadline: float, probe: bool = False) -> None:
        opened = payloads.unsealed(row)
        if opened is None:  # marked as a call that went through is (its answer keeps nothing): the row
            await self._mark(row, outbox.mark_sent, now=time.time(), result=_summary({}))  # must not tell
            return
        row = opened
        try:
            payload = await payloads.with_media(self._client, self._engine,
                                                payloads.with_defaults(row, self._settings), deadline)
            result = await self._client.call(row.endpoint, payload, deadline=deadline)
        except ApiError as exc:
            setup = setup_errors.classify(exc.errcode)
            if (row.endpoint, exc.errcode) in ALREADY_DONE:
                await self._mark(row, outbox.mark_sent, now=time.time(), result={"errcode": exc.errcode})
            elif exc.errcode in RETRY_ERRCODES:
                await self._retry(row, str(exc))
            elif setup is not None:
                await self._setup_error(row, setup)
            else:
                log.warning("outbox %s dead-lettered: %s", row.id, exc)
                await self._mark(row, outbox.mark_dead, now=time.time(), reason=str(exc))
        except TransientError as exc:
            await self._retry(row, str(exc))
        else:
            await self._mark(row, outbox.mark_sent, now=time.time(), result=_summary(result))
            if probe and self.pause.error is not None:
                await self._resume()

    async def _mark(self, row: outbox.Claimed, mark: Mark, **kwargs: Any) -> None:
        """A group chat's call has its outcome written at once, not with the next batch: appchat/send has no
        duplicate check, so until "sent" is written a crash means the post is made again (and the chat's
        next row waits for this one's mark anyway). Few calls a second go to chats."""
        if row.endpoint.startswith("appchat/"):
            await asyncio.to_thread(self._outcomes.write_now, row, mark, kwargs)
        else:
            await self._outcomes.mark(row, mark, **kwargs)

    async def _setup_error(self, row: outbox.Claimed, error: SetupError) -> None:
        reason = error.held_reason
        if error.scope == "app":
            await self._mark(row, outbox.mark_held, at=time.time(), error=reason)
            await self._pause_for(error, row.endpoint)
        elif time.time() - row.created_at > setup_errors.HOLD_LIMIT:
            log.error("outbox %s dead-lettered, held too long: %s", row.id, error.log_line(row.endpoint))
            await self._mark(row, outbox.mark_dead, now=time.time(), reason=reason)
        else:
            if time.monotonic() - self._held_logged.get(error.errcode, -1e9) > setup_errors.HOLD_RETRY:
                self._held_logged[error.errcode] = time.monotonic()
                log.error("messages held: %s", error.log_line(row.endpoint))
            await self._mark(row, outbox.mark_held, at=time.time() + setup_errors.HOLD_RETRY, error=reason)

    async def _pause_for(self, error: SetupError, endpoint: str) -> None:
        if self.pause.start(error, endpoint):
            log.error("sending paused: %s", error.log_line(endpoint))
        await asyncio.to_thread(self._record_pause, error, endpoint)

    def _clear_pause(self) -> dict[str, Any] | None:
        with transaction(self._engine) as session:
            return bot_state.clear_pause(session)

    def _record_pause(self, error: SetupError, endpoint: str) -> None:
        with transaction(self._engine) as session:
            bot_state.record_pause(session, errcode=error.errcode, endpoint=endpoint, now=time.time())

    async def _resume(self) -> None:
        self.pause.end()
        ended = await asyncio.to_thread(self._clear_pause)
        if ended:
            log.warning("sending resumed: the setup error %s is fixed", ended["errcode"])
        self._wakeup.set()

    async def _retry(self, row: outbox.Claimed, error: str) -> None:
        if row.attempts >= MAX_ATTEMPTS:
            log.warning("outbox %s dead-lettered after %s attempts: %s", row.id, row.attempts, error)
            await self._mark(row, outbox.mark_dead, now=time.time(),
                             reason=f"gave up after {row.attempts} attempts: {error}")
            return
        delay = min(self._settings.retry_cap, self._settings.retry_base * 2 ** (row.attempts - 1))
        delay *= random.uniform(0.5, 1.0)  # jitter: workers that failed together do not retry together
        log.info("outbox %s attempt %s failed (%s); retry in %.1fs", row.id, row.attempts, error, delay)
        await self._mark(row, outbox.mark_retry, at=time.time() + delay, error=error)


def _window(settings: Settings) -> int:
    """Rows in flight at most: QUEUE_SECONDS of calls at the configured rate."""
    per_second = max(settings.api_rate_per_minute, settings.message_rate_per_minute) / settings.api_minute
    return max(1, min(MAX_IN_FLIGHT, math.ceil(per_second * QUEUE_SECONDS)))


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    """What is worth keeping of an answer: ids for later recall/update, recipients it refused."""
    keys = ("msgid", "chatid", "response_code", "invaliduser", "invalidparty", "invalidtag")
    return {k: result[k] for k in keys if result.get(k)}
