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


def latest_pledge(session: Session, *, campaign_id: int, kind: str, userid: str | None = None,
                  branch_id: int | None = None) -> Pledge | None:
    """The newest version of one person's (kind "member") or one branch's (kind "branch") pledge."""
    stmt = select(Pledge).where(Pledge.campaign_id == campaign_id, Pledge.kind == kind)
    stmt = stmt.where(Pledge.userid == userid) if kind == "member" else stmt.where(Pledge.branch_id == branch_id)
    return session.scalars(stmt.order_by(Pledge.version.desc())).first()


def next_version(latest: Pledge | None) -> int:
    return latest.version + 1 if latest else 1
