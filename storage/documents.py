"""Documents sent for `kind: document` tasks (/报送) and the committee's decision on each (/审核).

A submission waits (pending) until a committee member accepts it, which fulfils its task for its
subject (a branch, "branch:<id>", or a person), or returns it with a comment. Decisions take the row
for update and act only on a pending one, so two committee members deciding at once decide once.

An image's or a file's bytes are fetched behind the callback (bot/document_files.py): a submission of
media is `fetching` until its file is kept (document_file), or lost (the platform no longer has it) or
too large; the submission itself stays whatever becomes of its file.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlmodel import Session

from storage import campaigns
from storage.db import insert_new
from storage.models import CampaignTask, DocumentFile, DocumentSubmission, Person, Role

PENDING, ACCEPTED, RETURNED = "pending", "accepted", "returned"
FETCHING, KEPT, LOST, TOO_LARGE = "fetching", "kept", "lost", "too_large"  # DocumentSubmission.file_status
MEDIA_KINDS = ("image", "file")


@dataclass(frozen=True)
class Content:
    """What was sent: a text, or an image or file as its callback named it."""

    kind: str  # text | image | file
    text: str | None = None
    media_id: str | None = None
    pic_url: str | None = None
    file_name: str | None = None


def submit(session: Session, *, task: CampaignTask, subject: str, person: Person, content: Content,
           at: float) -> DocumentSubmission:
    row = DocumentSubmission(campaign_id=task.campaign_id, task_id=task.id, task_title=task.title, subject=subject,
                             branch_id=person.branch_id, userid=person.userid, kind=content.kind, text=content.text,
                             media_id=content.media_id, pic_url=content.pic_url, file_name=content.file_name,
                             submitted_at=at)
    if content.kind in MEDIA_KINDS and content.media_id:
        row.file_status, row.fetch_due_at = FETCHING, time.time()  # fetched at once, behind the reply
    session.add(row)
    session.flush()  # its id is the number the committee answers with
    return row


def pending(session: Session) -> list[DocumentSubmission]:
    """Submissions waiting for a decision, oldest first."""
    stmt = select(DocumentSubmission).where(DocumentSubmission.status == PENDING).order_by(DocumentSubmission.id)
    return list(session.scalars(stmt))


def decide(session: Session, *, submission_id: int, reviewer: str, accept: bool, comment: str | None,
           at: float | None = None) -> DocumentSubmission | None:
    """Accept (fulfilling its task for its subject) or return a pending submission; None when there is
    no such submission or it was already decided."""
    row = session.get(DocumentSubmission, submission_id, with_for_update=True)
    if row is None or row.status != PENDING:
        return None
    row.status, row.reviewer, row.comment = (ACCEPTED if accept else RETURNED), reviewer, comment
    row.reviewed_at = time.time() if at is None else at
    session.add(row)
    if accept and row.task_id is not None:
        campaigns.mark_done(session, task_id=row.task_id, subject=row.subject)
    return row


def of_campaign(session: Session, *, campaign_id: int) -> list[DocumentSubmission]:
    """Every submission of a campaign, by branch and time (for the export)."""
    stmt = select(DocumentSubmission).where(DocumentSubmission.campaign_id == campaign_id) \
        .order_by(DocumentSubmission.branch_id, DocumentSubmission.submitted_at, DocumentSubmission.id)
    return list(session.scalars(stmt))


def page(session: Session, *, branch_id: int | None = None, limit: int, offset: int = 0
         ) -> tuple[list[DocumentSubmission], int]:
    """Submissions newest first (of one branch, when given), one page, and how many there are in all."""
    where = [DocumentSubmission.branch_id == branch_id] if branch_id is not None else []
    total = session.scalar(select(func.count()).select_from(DocumentSubmission).where(*where)) or 0
    stmt = select(DocumentSubmission).where(*where).order_by(DocumentSubmission.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt)), total


def reviewers(session: Session) -> list[str]:
    """Who is told that a submission waits: the committee."""
    return list(session.scalars(select(Person.userid).where(Person.role == Role.committee).order_by(Person.userid)))


@dataclass(frozen=True)
class Fetch:
    """A submission whose file is to be fetched now, as claimed (the claim counted this attempt)."""

    id: int
    media_id: str
    kind: str
    file_name: str | None
    userid: str
    submitted_at: float
    attempts: int


# The fetch state (file_status, fetch_due_at, fetch_attempts, fetch_error) of any table whose rows wait
# for media/get: a submission's file here, a 践诺 report's photos in storage/progress_photos.py.
def any_due(session: Session, model, *, now: float) -> bool:
    stmt = select(model.id).where(model.file_status == FETCHING, model.fetch_due_at <= now).limit(1)
    return session.scalar(stmt) is not None


def lease_due(session: Session, model, *, now: float, limit: int, lease: float) -> list:
    """Rows whose media is due to be fetched, leased for `lease` seconds (SKIP LOCKED on PostgreSQL, so
    two workers never fetch the same one; a crash leaves it for after the lease), this attempt counted."""
    stmt = select(model).where(model.file_status == FETCHING, model.fetch_due_at <= now) \
        .order_by(model.fetch_due_at, model.id).limit(limit).with_for_update(skip_locked=True)
    rows = list(session.scalars(stmt))
    for row in rows:
        row.fetch_due_at, row.fetch_attempts = now + lease, row.fetch_attempts + 1
        session.add(row)
    return rows


def retry_later(session: Session, model, *, row_id: int, error: str, retry_at: float) -> None:
    session.execute(update(model).where(model.id == row_id, model.file_status == FETCHING)
                    .values(fetch_due_at=retry_at, fetch_error=error[:500]))


def settle_unfetched(session: Session, model, *, row_id: int, status: str, error: str):
    """The media cannot be had (LOST or TOO_LARGE): the row says so. None when another worker already
    settled it."""
    row = session.get(model, row_id, with_for_update=True)
    if row is None or row.file_status != FETCHING:
        return None
    row.file_status, row.fetch_due_at, row.fetch_error = status, None, error[:500]
    session.add(row)
    return row


def any_fetch_due(session: Session, *, now: float) -> bool:
    return any_due(session, DocumentSubmission, now=now)


def claim_fetches(session: Session, *, now: float, limit: int, lease: float) -> list[Fetch]:
    """Submissions whose file is due to be fetched, leased (lease_due)."""
    return [Fetch(row.id, row.media_id, row.kind, row.file_name, row.userid, row.submitted_at, row.fetch_attempts)
            for row in lease_due(session, DocumentSubmission, now=now, limit=limit, lease=lease)]


def keep_file(session: Session, *, submission_id: int, filename: str, content_type: str, data: bytes,
              now: float) -> None:
    """The fetched bytes, with their name, type, size and sha256; the submission's file is kept. Only
    while it is still being fetched: a download that outlived its lease, after another worker gave the
    file up as lost (and its sender was asked to send it again), keeps nothing."""
    kept = session.execute(update(DocumentSubmission).where(DocumentSubmission.id == submission_id,
                                                            DocumentSubmission.file_status == FETCHING)
                           .values(file_status=KEPT, fetch_due_at=None, fetch_error=None))
    if kept.rowcount == 1:
        session.execute(insert_new(session, DocumentFile, "submission_id").values(
            submission_id=submission_id, filename=filename, content_type=content_type, size=len(data),
            sha256=hashlib.sha256(data).hexdigest(), fetched_at=now, data=data))


def fetch_failed(session: Session, *, submission_id: int, error: str, retry_at: float) -> None:
    retry_later(session, DocumentSubmission, row_id=submission_id, error=error, retry_at=retry_at)


def give_up_fetch(session: Session, *, submission_id: int, status: str, error: str) -> DocumentSubmission | None:
    """The file cannot be had; the submission stays, saying so (settle_unfetched)."""
    return settle_unfetched(session, DocumentSubmission, row_id=submission_id, status=status, error=error)


def file_info(session: Session, *, submission_ids: list[int]) -> dict[int, tuple[str, str, int, str]]:
    """submission id -> (filename, content type, size, sha256), without the bytes."""
    if not submission_ids:
        return {}
    stmt = select(DocumentFile.submission_id, DocumentFile.filename, DocumentFile.content_type, DocumentFile.size,
                  DocumentFile.sha256).where(DocumentFile.submission_id.in_(submission_ids))
    return {sid: (name, ctype, size, digest) for sid, name, ctype, size, digest in session.execute(stmt)}


def file_data(session: Session, *, submission_id: int) -> bytes | None:
    return session.scalar(select(DocumentFile.data).where(DocumentFile.submission_id == submission_id))
