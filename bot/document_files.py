"""The bytes of an image or a file sent with /报送, and of a photo sent with /践诺, fetched with media/get
behind the callback.

A callback carries only a MediaId, and WeChat Work keeps temporary media three days (90254:
media_id有效期只有3天). Handlers do no network I/O (invariant 1), so a submission of media is stored
as `fetching`, and the MediaFetcher, running beside the outbox sender (bot/background.py) with the
same client (token, pacing), claims due ones with a lease, downloads them and keeps the bytes in
`document_file` with their name, type, size and sha256. A failed download is tried again with
backoff (XIANFENG_RETRY_BASE doubling to XIANFENG_RETRY_CAP); a MediaId the platform refuses
(40007: invalid media_id, as an expired one is), or three days of failures, means the file is lost:
the submission stays, says so, and its sender is asked kindly to send the file again. A file past
20 MB (what one media/get returns without Range, 96486: else 830002) is not kept either, and its
sender is asked for a smaller one.

Two stores use the same fetcher: DOCUMENTS (a submission's file, in `document_file`) and PHOTOS (a 践诺
report's photos, in `progress_photo`, posted to the branch group the report went to once none of them
is still being fetched, in the order they were sent).
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
from storage import documents, progress_photos
from storage.db import reading, transaction
from storage.documents import Fetch
from storage.models import PledgeProgress

log = logging.getLogger(__name__)

MAX_BYTES = 20 << 20  # one media/get without Range (96486); also media/upload's limit for a file
MEDIA_TTL = 3 * 86400  # 90254: media_id有效期只有3天
INVALID_MEDIA_ID, TOO_LARGE_ERRCODE = 40007, 830002
CLAIM = 4  # downloads at a time: a few files a day arrive, each up to 20 MB
# Sent as an image when media/upload takes it as one (JPG or PNG; 10 MB in PLATFORM.md, 2 MB in older
# texts: the stricter), else as a file (up to 20 MB, which a kept file never exceeds).
IMAGE_TYPES, IMAGE_LIMIT = ("image/jpeg", "image/png"), 2 << 20
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


def sends_as_image(content_type: str, size: int) -> bool:
    return content_type.split(";")[0].strip() in IMAGE_TYPES and size <= IMAGE_LIMIT


class DocumentStore:
    """A /报送 submission's image or file (storage.documents)."""

    name = "document"

    def any_due(self, session, now: float) -> bool:
        return documents.any_fetch_due(session, now=now)

    def claim(self, session, now: float, limit: int, lease: float) -> list[Fetch]:
        return documents.claim_fetches(session, now=now, limit=limit, lease=lease)

    def keep(self, session, fetch: Fetch, name: str, content_type: str, data: bytes, now: float) -> bool:
        documents.keep_file(session, submission_id=fetch.id, filename=name, content_type=content_type, data=data,
                            now=now)
        return False  # nothing to send: a reviewer asks for it with /审核 N

    def failed(self, session, fetch: Fetch, error: str, at: float) -> None:
        documents.fetch_failed(session, submission_id=fetch.id, error=error, retry_at=at)

    def give_up(self, session, fetch: Fetch, status: str, error: str) -> bool:
        """The record says what became of the file, and its sender is told in the same transaction."""
        row = documents.give_up_fetch(session, submission_id=fetch.id, status=status, error=error)
        if row is None:
            return False
        text = render("document_file_lost", doc=row, too_large=status == documents.TOO_LARGE,
                      limit_mb=MAX_BYTES >> 20)
        messages.to_person(session, key=f"document:{row.id}:file:{status}", userid=row.userid, text=text)
        return True


class PhotoStore:
    """A photo sent with a 践诺 report (storage.progress_photos): once every photo of its report is kept
    or given up, the kept ones are posted to the branch group the report went to, after the report's
    text and in the order sent (the fetcher downloads them side by side, so they finish in any order)."""

    name = "progress photo"

    def any_due(self, session, now: float) -> bool:
        return progress_photos.any_fetch_due(session, now=now)

    def claim(self, session, now: float, limit: int, lease: float) -> list[Fetch]:
        return progress_photos.claim_fetches(session, now=now, limit=limit, lease=lease)

    def keep(self, session, fetch: Fetch, name: str, content_type: str, data: bytes, now: float) -> bool:
        report = progress_photos.lock_report(session, photo_id=fetch.id)
        if not progress_photos.keep_file(session, photo_id=fetch.id, filename=name, content_type=content_type,
                                         data=data, now=now):
            return False
        return self._post_when_settled(session, report)

    def failed(self, session, fetch: Fetch, error: str, at: float) -> None:
        progress_photos.fetch_failed(session, photo_id=fetch.id, error=error, retry_at=at)

    def give_up(self, session, fetch: Fetch, status: str, error: str) -> bool:
        report_id = progress_photos.lock_report(session, photo_id=fetch.id)
        photo = progress_photos.give_up_fetch(session, photo_id=fetch.id, status=status, error=error)
        if photo is None:
            return False
        report = session.get(PledgeProgress, photo.progress_id)
        text = render("progress_photo_lost", photo=photo, report=report, too_large=status == documents.TOO_LARGE,
                      limit_mb=MAX_BYTES >> 20)
        messages.to_person(session, key=f"progress_photo:{photo.id}:file:{status}", userid=photo.userid, text=text)
        self._post_when_settled(session, report_id)
        return True

    @staticmethod
    def _post_when_settled(session, report_id: int) -> bool:
        """Queue the report's kept photos to its group if this settled the last one; whether any were."""
        ready = progress_photos.ready_to_post(session, progress_id=report_id)
        for photo in ready:
            messages.photo_to_chat(session, key=f"progress_photo:{photo.id}", chat_id=photo.chat_id, photo_id=photo.id,
                                   as_image=sends_as_image(photo.content_type, photo.size))
        return bool(ready)


DOCUMENTS, PHOTOS = DocumentStore(), PhotoStore()


class MediaFetcher:
    """Fetches what each store has due, a few at a time, beside the outbox sender."""

    def __init__(self, *, settings: Settings, engine: Engine, client: WeComClient,
                 on_queued: Callable[[], None] | None = None, poll_interval: float = 1.0,
                 clock: Callable[[], float] = time.time, stores: tuple = (DOCUMENTS, PHOTOS)):
        self._settings, self._engine, self._client = settings, engine, client
        self._on_queued, self._poll, self._clock, self._stores = on_queued, poll_interval, clock, stores
        # A download may take a while (20 MB at a slow line): the lease outlasts a stalled one by far.
        self._lease = 10 * settings.http_timeout + 60

    async def run(self) -> None:
        while True:
            try:
                fetched = await self.fetch_once()
            except Exception:  # noqa: BLE001 - a database hiccup must not stop fetching for good
                log.exception("media fetch failed; retrying")
                fetched = 0
            if not fetched:
                await asyncio.sleep(self._poll)

    async def fetch_once(self) -> int:
        """Claim the fetches that are due in every store and do them; how many were claimed."""
        now = self._clock()
        claimed = []
        for store in self._stores:
            claimed += [(store, fetch) for fetch in await asyncio.to_thread(self._claim, store, now)]
        if claimed:
            await asyncio.gather(*(self._fetch(store, fetch) for store, fetch in claimed))
        return len(claimed)

    def _claim(self, store, now: float) -> list[Fetch]:
        with reading(self._engine) as session:
            if not store.any_due(session, now):
                return []
        with transaction(self._engine) as session:
            return store.claim(session, now, CLAIM, self._lease)

    async def _fetch(self, store, fetch: Fetch) -> None:
        try:
            media = await self._client.download(fetch.media_id, max_bytes=MAX_BYTES)
        except MediaTooLarge as exc:
            await self._give_up(store, fetch, documents.TOO_LARGE, str(exc))
        except ApiError as exc:
            if exc.errcode == INVALID_MEDIA_ID:
                await self._give_up(store, fetch, documents.LOST, str(exc))
            elif exc.errcode == TOO_LARGE_ERRCODE:
                await self._give_up(store, fetch, documents.TOO_LARGE, str(exc))
            else:  # a setup error (an untrusted IP …) or another refusal: try again until the media is gone
                await self._failed(store, fetch, str(exc))
        except TransientError as exc:
            await self._failed(store, fetch, str(exc))
        else:
            name = file_name(fetch, media.content_type, media.filename)
            if await asyncio.to_thread(self._keep, store, fetch, name, media.content_type, media.data) \
                    and self._on_queued:
                self._on_queued()
            log.info("%s %s: kept its %s (%d bytes)", store.name, fetch.id, fetch.kind, len(media.data))

    def _keep(self, store, fetch: Fetch, name: str, content_type: str, data: bytes) -> bool:
        with transaction(self._engine) as session:
            return store.keep(session, fetch, name, content_type, data, self._clock())

    async def _failed(self, store, fetch: Fetch, error: str) -> None:
        now = self._clock()
        if now >= fetch.submitted_at + MEDIA_TTL:  # the platform no longer keeps it, whatever it says now
            await self._give_up(store, fetch, documents.LOST, f"still failing after three days: {error}")
            return
        s = self._settings
        delay = min(s.retry_cap, s.retry_base * 2 ** (fetch.attempts - 1)) * random.uniform(0.5, 1.0)
        log.info("%s %s: fetch attempt %s failed (%s); again in %.1fs", store.name, fetch.id, fetch.attempts, error,
                 delay)
        await asyncio.to_thread(self._retry, store, fetch, error, now + delay)

    def _retry(self, store, fetch: Fetch, error: str, at: float) -> None:
        with transaction(self._engine) as session:
            store.failed(session, fetch, error, at)

    async def _give_up(self, store, fetch: Fetch, status: str, error: str) -> None:
        log.warning("%s %s: its %s cannot be fetched (%s); the sender is asked to send it again",
                    store.name, fetch.id, fetch.kind, error)
        if await asyncio.to_thread(self._settle, store, fetch, status, error) and self._on_queued:
            self._on_queued()

    def _settle(self, store, fetch: Fetch, status: str, error: str) -> bool:
        with transaction(self._engine) as session:
            return store.give_up(session, fetch, status, error)

