"""Photos sent with a 践诺 report (/践诺, /践诺 支部): stored as their callback named them when the report
is saved, then fetched behind the reply like a /报送 file (bot/document_files.py keeps both), and kept
in progress_photo with their name, type, size and sha256. The same states as a document's file:
fetching, kept, lost, too_large (storage.documents)."""
from __future__ import annotations

import hashlib
import time
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlmodel import Session

from storage import documents
from storage.documents import FETCHING, KEPT, Fetch
from storage.models import Pledge, PledgeProgress, ProgressPhoto

PHOTOS_PER_REPORT = 9  # as many as a WeChat moment holds: a report is a few pictures, not an album
# A photo sent this soon after a report, with no form open, joins it: on a phone the picture is often
# chosen from the album after the words were sent. Later, a photo starts nothing (/践诺 is asked for).
LATE_PHOTO_SECONDS = 30 * 60


def add(session: Session, *, progress: PledgeProgress, photos: list[dict[str, Any]], chat_id: str | None,
        after: int = 0) -> None:
    """Photos of the report ({media_id, pic_url, at}), in the order they were sent, after the `after` it
    has (photos_and_group), to be fetched at once, behind the reply."""
    now = time.time()
    for seq, photo in enumerate(photos, start=after + 1):
        session.add(ProgressPhoto(progress_id=progress.id, seq=seq, userid=progress.userid, media_id=photo["media_id"],
                                  pic_url=photo.get("pic_url") or None, sent_at=float(photo["at"]), chat_id=chat_id,
                                  file_status=FETCHING, fetch_due_at=now))


def recent_report_query(userid: str, at: float) -> Select:
    """This person's latest 践诺 report (their own or, as secretary, their branch's) made within
    LATE_PHOTO_SECONDS before `at`: asked for every photo no form takes, so one probe of
    ix_pledge_progress_userid_reported_at."""
    return select(PledgeProgress).where(PledgeProgress.userid == userid,
                                        PledgeProgress.reported_at >= at - LATE_PHOTO_SECONDS,
                                        PledgeProgress.reported_at <= at) \
        .order_by(PledgeProgress.reported_at.desc(), PledgeProgress.id.desc()).limit(1)


def recent_report(session: Session, *, userid: str, at: float) -> PledgeProgress | None:
    return session.scalars(recent_report_query(userid, at)).first()


def photos_and_group(session: Session, *, progress_id: int) -> tuple[int, str | None]:
    """(how many photos the report has, the group they go to: None when it has none or no group)."""
    count, chat_id = session.execute(select(func.count(ProgressPhoto.id), func.max(ProgressPhoto.chat_id))
                                     .where(ProgressPhoto.progress_id == progress_id)).one()
    return count, chat_id


def any_fetch_due(session: Session, *, now: float) -> bool:
    return documents.any_due(session, ProgressPhoto, now=now)


def claim_fetches(session: Session, *, now: float, limit: int, lease: float) -> list[Fetch]:
    """Photos due to be fetched, leased as a submission's file is (storage.documents.lease_due)."""
    return [Fetch(row.id, row.media_id, "image", None, row.userid, row.sent_at, row.fetch_attempts)
            for row in documents.lease_due(session, ProgressPhoto, now=now, limit=limit, lease=lease)]


def keep_file(session: Session, *, photo_id: int, filename: str, content_type: str, data: bytes,
              now: float) -> bool:
    """The fetched bytes, while the photo is still being fetched (as storage.documents.keep_file);
    whether they were kept."""
    fetching = (ProgressPhoto.id == photo_id, ProgressPhoto.file_status == FETCHING)
    kept = session.execute(update(ProgressPhoto).where(*fetching)
                           .values(file_status=KEPT, fetch_due_at=None, fetch_error=None, filename=filename,
                                   content_type=content_type, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                                   fetched_at=now, data=data))
    return kept.rowcount == 1


def fetch_failed(session: Session, *, photo_id: int, error: str, retry_at: float) -> None:
    documents.retry_later(session, ProgressPhoto, row_id=photo_id, error=error, retry_at=retry_at)


def give_up_fetch(session: Session, *, photo_id: int, status: str, error: str) -> ProgressPhoto | None:
    """The photo cannot be had (LOST or TOO_LARGE); the report stays. None when already settled."""
    return documents.settle_unfetched(session, ProgressPhoto, row_id=photo_id, status=status, error=error)


def lock_report(session: Session, *, photo_id: int) -> int:
    """Lock the report a photo belongs to (PostgreSQL; SQLite's writers take turns anyway), so that of
    two of its photos settled at the same moment, the later transaction sees the earlier one's; its id."""
    progress_id = session.scalar(select(ProgressPhoto.progress_id).where(ProgressPhoto.id == photo_id))
    session.execute(select(PledgeProgress.id).where(PledgeProgress.id == progress_id).with_for_update())
    return progress_id


def ready_to_post(session: Session, *, progress_id: int) -> list[ProgressPhoto]:
    """The report's kept photos that go to a group, in the order sent, once none is still being fetched
    (so that they arrive in that order, however the downloads finished); [] while one is."""
    photos = list(session.scalars(select(ProgressPhoto).where(ProgressPhoto.progress_id == progress_id)
                                  .order_by(ProgressPhoto.seq)))
    if any(photo.file_status == FETCHING for photo in photos):
        return []
    return [photo for photo in photos if photo.file_status == KEPT and photo.chat_id]


def info(session: Session, *, progress_ids: list[int]) -> dict[int, list[tuple]]:
    """progress id -> its photos as (id, seq, file status, filename, content type, size, sha256), in
    order, without the bytes."""
    found: dict[int, list[tuple]] = {}
    if not progress_ids:
        return found
    stmt = select(ProgressPhoto.progress_id, ProgressPhoto.id, ProgressPhoto.seq, ProgressPhoto.file_status,
                  ProgressPhoto.filename, ProgressPhoto.content_type, ProgressPhoto.size, ProgressPhoto.sha256) \
        .where(ProgressPhoto.progress_id.in_(progress_ids)).order_by(ProgressPhoto.progress_id, ProgressPhoto.seq)
    for progress_id, *rest in session.execute(stmt):
        found.setdefault(progress_id, []).append(tuple(rest))
    return found


def data(session: Session, *, photo_id: int) -> bytes | None:
    return session.scalar(select(ProgressPhoto.data).where(ProgressPhoto.id == photo_id))


def of_campaign(session: Session, *, campaign_id: int) -> list[tuple[PledgeProgress, Pledge]]:
    """Every 践诺 report on a pledge of the campaign (a member's or a branch's), in the order made."""
    stmt = select(PledgeProgress, Pledge).join(Pledge, Pledge.id == PledgeProgress.pledge_id) \
        .where(Pledge.campaign_id == campaign_id).order_by(PledgeProgress.reported_at, PledgeProgress.id)
    return list(session.execute(stmt).all())
