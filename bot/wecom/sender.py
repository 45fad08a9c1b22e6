"""Drains the outbox: claims due rows, calls the API, marks each row sent, retried or dead.

Started and stopped with the aiohttp application. Several workers may run one each: rows are
claimed with a lease (and ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so no row is sent twice by
us; ``enable_duplicate_check`` covers the crash between the API's "ok" and our "sent".
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

from sqlalchemy import Engine

from bot.config import Settings
from bot.wecom.api import ApiError, TransientError, WeComClient
from storage import outbox
from storage.db import transaction
from storage.models import MediaBlob

log = logging.getLogger(__name__)

RETRY_ERRCODES = {-1, 45009, 45011, 45033}  # busy, frequency and concurrency limits
ALREADY_DONE = {("appchat/create", 86215)}  # our chatids are fixed, so "exists" means our earlier call worked
MEDIA_MSGTYPES = {"image", "file"}  # message types that carry a media_id, queued as a blob key
MAX_ATTEMPTS = 30
DUPLICATE_CHECK_SECONDS = 1800


class Sender:
    def __init__(self, *, settings: Settings, engine: Engine, client: WeComClient,
                 batch: int = 50, poll_interval: float = 0.5):
        self._settings, self._engine, self._client = settings, engine, client
        self._batch, self._poll = batch, poll_interval
        self._wakeup = asyncio.Event()
        self._last_prune = 0.0

    def wake(self) -> None:
        """Something was just queued in this process: look now instead of at the next poll."""
        self._wakeup.set()

    async def run(self) -> None:
        token_failures = 0
        while True:
            try:
                sent = await self.drain_once()
                token_failures = 0
            except TransientError as exc:  # no token: nothing was claimed, so nothing waits on a lease
                token_failures += 1
                if token_failures == 1:
                    log.error("cannot get an access token, messages wait: %s", exc)
                await asyncio.sleep(min(self._settings.retry_cap, self._settings.retry_base * 2 ** token_failures))
                continue
            except Exception:  # noqa: BLE001 - a database hiccup must not stop the sender for good
                log.exception("outbox drain failed; retrying")
                sent = 0
            if not sent:
                await self._sleep()

    async def _sleep(self) -> None:
        try:
            await asyncio.wait_for(self._wakeup.wait(), self._poll)
        except asyncio.TimeoutError:
            pass
        self._wakeup.clear()

    async def drain_once(self) -> int:
        """Send what is due; the token comes first so a token outage leaves rows unclaimed."""
        if not await asyncio.to_thread(self._anything_due):
            return 0
        await self._client.token()
        rows = await asyncio.to_thread(self._claim)
        await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    def _anything_due(self) -> bool:
        with transaction(self._engine) as session:
            return outbox.any_due(session, now=time.time())

    def _claim(self) -> list[outbox.Claimed]:
        now = time.time()
        # The lease outlasts one attempt, so no row is sent twice: an image's upload and the send itself,
        # each of which may refresh the token and go again, is at most six requests.
        lease = 6 * self._settings.http_timeout + 5
        with transaction(self._engine) as session:
            if now - self._last_prune > 60:
                outbox.prune_deliveries(session, now=now)
                self._last_prune = now
            return outbox.claim_due(session, now=now, limit=self._batch, lease=lease)

    async def _deliver(self, row: outbox.Claimed) -> None:
        try:
            payload = await self._with_media(self._with_defaults(row))
            result = await self._client.call(row.endpoint, payload)
        except ApiError as exc:
            if (row.endpoint, exc.errcode) in ALREADY_DONE:
                await self._finish(outbox.mark_sent, row_id=row.id, now=time.time(), result={"errcode": exc.errcode})
            elif exc.errcode in RETRY_ERRCODES:
                await self._retry(row, str(exc))
            else:
                log.warning("outbox %s dead-lettered: %s", row.id, exc)
                await self._finish(outbox.mark_dead, row_id=row.id, now=time.time(), reason=str(exc))
        except TransientError as exc:
            await self._retry(row, str(exc))
        else:
            await self._finish(outbox.mark_sent, row_id=row.id, now=time.time(), result=_summary(result))

    def _with_defaults(self, row: outbox.Claimed) -> dict[str, Any]:
        if row.endpoint == "message/update_template_card":
            return {**row.payload, "agentid": self._settings.agent_id}
        if row.endpoint != "message/send":
            return row.payload
        return {**row.payload, "agentid": self._settings.agent_id,
                "enable_duplicate_check": 1, "duplicate_check_interval": DUPLICATE_CHECK_SECONDS}

    async def _with_media(self, payload: dict[str, Any]) -> dict[str, Any]:
        """An image queued as {"blob": key} is uploaded now and sent as {"media_id": ...}: at send time,
        because media ids expire after three days. Upload errors are retried or dead-lettered like sends."""
        kind = payload.get("msgtype")
        content = payload.get(kind) if kind in MEDIA_MSGTYPES else None
        if not isinstance(content, dict) or "blob" not in content:
            return payload
        blob = await asyncio.to_thread(self._load_blob, content["blob"])
        if blob is None:  # nothing to upload, now or later: a dead letter, not a retry
            raise ApiError(40007, f"media blob {content['blob']!r} is missing")
        media_id = await self._client.upload(kind, filename=blob.filename, content_type=blob.content_type,
                                             data=blob.data)
        return {**payload, kind: {"media_id": media_id}}

    def _load_blob(self, key: str) -> MediaBlob | None:
        with transaction(self._engine) as session:  # expire_on_commit=False: still readable afterwards
            return session.get(MediaBlob, key)

    async def _retry(self, row: outbox.Claimed, error: str) -> None:
        if row.attempts >= MAX_ATTEMPTS:
            log.warning("outbox %s dead-lettered after %s attempts: %s", row.id, row.attempts, error)
            await self._finish(outbox.mark_dead, row_id=row.id, now=time.time(),
                               reason=f"gave up after {row.attempts} attempts: {error}")
            return
        delay = min(self._settings.retry_cap, self._settings.retry_base * 2 ** (row.attempts - 1))
        delay *= random.uniform(0.5, 1.0)  # jitter: workers that failed together do not retry together
        log.info("outbox %s attempt %s failed (%s); retry in %.1fs", row.id, row.attempts, error, delay)
        await self._finish(outbox.mark_retry, row_id=row.id, at=time.time() + delay, error=error)

    async def _finish(self, mark, **kwargs: Any) -> None:
        def work() -> None:
            with transaction(self._engine) as session:
                mark(session, **kwargs)
        await asyncio.to_thread(work)


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    """What is worth keeping of an answer: ids for later recall/update, recipients it refused."""
    keys = ("msgid", "chatid", "response_code", "invaliduser", "invalidparty", "invalidtag")
    return {k: result[k] for k in keys if result.get(k)}
