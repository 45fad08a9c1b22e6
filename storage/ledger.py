"""What closed each task of a campaign: the submission a task_done row stands for, found in one query
per kind of record (the row itself says whether it was fulfilled or marked by hand, and why). Read by
`xianfeng export ledger`, the 党建档案's answer to "done, by what?"."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from storage.models import DocumentSubmission, LeaderComment, Pledge, Poll, Rating, SelfAssessment


@dataclass(frozen=True)
class Evidence:
    kind: str  # pledge | self_assessment | poll | document | rating | comment
    record_id: int
    version: int = 1


def _subject(userid: str, kind: str, branch_id: int | None) -> str:
    return f"branch:{branch_id}" if kind == "branch" else userid


def evidence(session: Session, *, campaign_id: int) -> dict[tuple[int, str], Evidence]:
    """(task id, subject) → the latest submission that answers it; a rating round answers each branch
    and, once all are confirmed, the committee (as the handler marks it)."""
    found: dict[tuple[int, str], Evidence] = {}
    for row in session.scalars(select(Pledge).where(Pledge.campaign_id == campaign_id, Pledge.task_id.is_not(None))
                               .order_by(Pledge.id)):
        found[(row.task_id, _subject(row.userid, row.kind, row.branch_id))] = Evidence("pledge", row.id, row.version)
    for row in session.scalars(select(SelfAssessment).where(SelfAssessment.campaign_id == campaign_id,
                                                            SelfAssessment.task_id.is_not(None))
                               .order_by(SelfAssessment.id)):
        found[(row.task_id, _subject(row.userid, row.kind, row.branch_id))] = Evidence("self_assessment", row.id)
    for row in session.scalars(select(Poll).where(Poll.campaign_id == campaign_id, Poll.task_id.is_not(None))
                               .order_by(Poll.id)):
        found[(row.task_id, f"branch:{row.branch_id}")] = Evidence("poll", row.id)
    for row in session.scalars(select(DocumentSubmission).where(DocumentSubmission.campaign_id == campaign_id,
                                                                DocumentSubmission.status == "accepted")
                               .order_by(DocumentSubmission.id)):
        if row.task_id is not None:
            found[(row.task_id, row.subject)] = Evidence("document", row.id)
    for row in session.scalars(select(Rating).where(Rating.campaign_id == campaign_id, Rating.status == "confirmed")
                               .order_by(Rating.id)):
        found[(row.task_id, f"branch:{row.branch_id}")] = Evidence("rating", row.id)
        found.setdefault((row.task_id, "committee"), Evidence("rating", row.id))
    for row in session.scalars(select(LeaderComment).where(LeaderComment.campaign_id == campaign_id,
                                                           LeaderComment.task_id.is_not(None))
                               .order_by(LeaderComment.id)):
        found[(row.task_id, "committee")] = Evidence("comment", row.id)  # the last branch's completes it
    return found
