"""The bytes of an image or a file sent with /报送, fetched with media/get behind the callback.

A callback carries only a MediaId, and WeChat Work keeps temporary media three days (90254:
media_id有效期只有3天). Handlers do no network I/O (invariant 1), so a submission of media is stored
as `fetching`, and the DocumentFetcher, running beside the outbox sender (bot/background.py) with the
same client (token, pacing), claims due ones with a lease, downloads them and keeps the bytes in
`document_file` with their name, type, size and sha256. A failed download is tried again with
backoff (XIANFENG_RETRY_BASE doubling to XIANFENG_RETRY_CAP); a MediaId the platform refuses
(40007: invalid media_id, as an expired one is), or three days of failures, means the file is lost:
the submission stays, says so, and its sender is asked kindly to send the file again. A file past
20 MB (what one media/get returns without Range, 96486: else 830002) is not kept either, and its
sender is asked for a smaller one.
"""
from __future__ import annotations

import asyncio
import logging
import mimetypes
import random
import re
import time
from typing import Callable

from sqlalchemy import Engine

from bot.config import Settings
from bot.texts import render
from bot.wecom import messages
from bot.wecom.api import ApiError, MediaTooLarge, TransientError, WeComClient
from storage import documents
from storage.db import reading, transaction
from storage.documents import Fetch

log = logging.getLogger(__name__)

MAX_BYTES = 20 << 20  # one media/get without Range (96486); also media/upload's limit for a file
MEDIA_TTL = 3 * 86400  # 90254: media_id有效期只有3天
INVALID_MEDIA_ID, TOO_LARGE_ERRCODE = 40007, 830002
CLAIM = 4  # downloads at a time: a few files a day arrive, each up to 20 MB
_UNSAFE = re.compile(r'[\x00-\x1f/\\:*?"<>|]+')


def safe_name(name: str | None) -> str:
    """A file name as a person gave it, without what no file system takes (path separators and all)."""
    cleaned = _UNSAFE.sub("_", name or "").strip(" .")
    return cleaned[:200]


def file_name(fetch: Fetch, content_type: str, given: str | None) -> str:
    """The callback's FileName first (what the person saw), then media/get's, then one made up."""
    name = safe_name(fetch.file_name) or safe_name(given)
    if name:
        return name
    return f"{fetch.kind}-{fetch.id}{mimetypes.guess_extension(content_type.split(';')[0]) or ''}"


class DocumentFetcher:
    def __init__(self, *, settings: Settings, engine: Engine, client: WeComClient,
                 on_queued: Callable[[], None] | None = None, poll_interval: float = 1.0,
                 clock: Callable[[], float] = time.time):
        self._settings, self._engine, self._client = settings, engine, client
        self._on_queued, self._poll, self._clock = on_queued, poll_interval, clock
        # A download may take a while (20 MB at a slow line): the lease outlasts a stalled one by far.
        self._lease = 10 * settings.http_timeout + 60

    async def run(self) -> None:
        while True:
            try:
                fetched = await self.fetch_once()
            except Exception:  # noqa: BLE001 - a database hiccup must not stop fetching for good
                log.exception("document fetch failed; retrying")
                fetched = 0
            if not fetched:
                await asyncio.sleep(self._poll)

    async def fetch_once(self) -> int:
        """Claim the fetches that are due and do them; how many were claimed."""
        now = self._clock()
        claimed = await asyncio.to_thread(self._claim, now)
        if claimed:
            await asyncio.gather(*(self._fetch(fetch) for fetch in claimed))
        return len(claimed)

    def _claim(self, now: float) -> list[Fetch]:
        with reading(self._engine) as session:
            if not documents.any_fetch_due(session, now=now):
                return []
        with transaction(self._engine) as session:
            return documents.claim_fetches(session, now=now, limit=CLAIM, lease=self._lease)

    async def _fetch(self, fetch: Fetch) -> None:
        try:
            media = await self._client.download(fetch.media_id, max_bytes=MAX_BYTES)
        except MediaTooLarge as exc:
            await self._give_up(fetch, documents.TOO_LARGE, str(exc))
        except ApiError as exc:
            if exc.errcode == INVALID_MEDIA_ID:
                await self._give_up(fetch, documents.LOST, str(exc))
            elif exc.errcode == TOO_LARGE_ERRCODE:
                await self._give_up(fetch, documents.TOO_LARGE, str(exc))
            else:  # a setup error (an untrusted IP …) or another refusal: try again until the media is gone
                await self._failed(fetch, str(exc))
        except TransientError as exc:
            await self._failed(fetch, str(exc))
        else:
            name = file_name(fetch, media.content_type, media.filename)
            await asyncio.to_thread(self._keep, fetch, name, media.content_type, media.data)
            log.info("document %s: kept its %s (%d bytes)", fetch.id, fetch.kind, len(media.data))

    def _keep(self, fetch: Fetch, name: str, content_type: str, data: bytes) -> None:
        with transaction(self._engine) as session:
            documents.keep_file(session, submission_id=fetch.id, filename=name, content_type=content_type,
                                data=data, now=self._clock())

    async def _failed(self, fetch: Fetch, error: str) -> None:
        now = self._clock()
        if now >= fetch.submitted_at + MEDIA_TTL:  # the platform no longer keeps it, whatever it says now
            await self._give_up(fetch, documents.LOST, f"still failing after three days: {error}")
            return
        s = self._settings
        delay = min(s.retry_cap, s.retry_base * 2 ** (fetch.attempts - 1)) * random.uniform(0.5, 1.0)
        log.info("document %s: fetch attempt %s failed (%s); again in %.1fs", fetch.id, fetch.attempts, error, delay)
        await asyncio.to_thread(self._retry, fetch, error, now + delay)

    def _retry(self, fetch: Fetch, error: str, at: float) -> None:
        with transaction(self._engine) as session:
            documents.fetch_failed(session, submission_id=fetch.id, error=error, retry_at=at)

    async def _give_up(self, fetch: Fetch, status: str, error: str) -> None:
        log.warning("document %s: its %s cannot be fetched (%s); the sender is asked to send it again",
                    fetch.id, fetch.kind, error)
        if await asyncio.to_thread(self._settle, fetch, status, error) and self._on_queued:
            self._on_queued()

    def _settle(self, fetch: Fetch, status: str, error: str) -> bool:
        """The record says what became of the file, and its sender is told in the same transaction."""
        with transaction(self._engine) as session:
            row = documents.give_up_fetch(session, submission_id=fetch.id, status=status, error=error)
            if row is None:
                return False
            text = render("document_file_lost", doc=row, too_large=status == documents.TOO_LARGE,
                          limit_mb=MAX_BYTES >> 20)
            messages.to_person(session, key=f"document:{row.id}:file:{status}", userid=row.userid, text=text)
            return True
