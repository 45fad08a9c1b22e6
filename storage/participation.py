"""党员参与率 entries (branch_participation): what a branch secretary enters from the branch's 三会一课
records. Every function takes the session of the caller's transaction."""
from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from storage.models import BranchParticipation


def record(session: Session, *, entry: BranchParticipation) -> BranchParticipation:
    session.add(entry)
    session.flush()
    return entry


def latest(session: Session, *, campaign_id: int) -> dict[int, BranchParticipation]:
    """Each branch's latest entry in the campaign."""
    stmt = (select(BranchParticipation).where(BranchParticipation.campaign_id == campaign_id)
            .order_by(BranchParticipation.entered_at, BranchParticipation.id))
    return {row.branch_id: row for row in session.scalars(stmt)}  # later rows win
