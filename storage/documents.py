"""Documents sent for `kind: document` tasks (/报送) and the committee's decision on each (/审核).

A submission waits (pending) until a committee member accepts it, which fulfils its task for its
subject (a branch, "branch:<id>", or a person), or returns it with a comment. Decisions take the row
for update and act only on a pending one, so two committee members deciding at once decide once.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from storage import campaigns
from storage.models import CampaignTask, DocumentSubmission, Person, Role

PENDING, ACCEPTED, RETURNED = "pending", "accepted", "returned"


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


def reviewers(session: Session) -> list[str]:
    """Who is told that a submission waits: the committee."""
    return list(session.scalars(select(Person.userid).where(Person.role == Role.committee).order_by(Person.userid)))
