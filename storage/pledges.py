"""Pledge queries: each person's (or branch's) latest version, for views, summaries and exports."""
from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from storage.models import Pledge


def latest_pledges(session: Session, *, campaign_ids: list[int], branch_id: int | None = None,
                   kind: str = "member") -> list[Pledge]:
    stmt = select(Pledge).where(Pledge.campaign_id.in_(campaign_ids), Pledge.kind == kind).order_by(Pledge.version)
    if branch_id is not None:
        stmt = stmt.where(Pledge.branch_id == branch_id)
    latest: dict[tuple[int, str], Pledge] = {}
    for pledge in session.scalars(stmt):
        latest[(pledge.campaign_id, pledge.userid)] = pledge
    return list(latest.values())
