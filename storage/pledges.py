"""Pledges: each person's (kind "member") or branch's (kind "branch") latest version, for views,
summaries and exports; and a new version when one is submitted."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from storage.db import IN_CHUNK, database_of
from storage.models import Person, Pledge


def latest_pledges(session: Session, *, campaign_ids: list[int], branch_id: int | None = None,
                   kind: str = "member") -> list[Pledge]:
    stmt = select(Pledge).where(Pledge.campaign_id.in_(campaign_ids), Pledge.kind == kind).order_by(Pledge.version)
    if branch_id is not None:
        stmt = stmt.where(Pledge.branch_id == branch_id)
    latest: dict[tuple[int, str | int | None], Pledge] = {}
    for pledge in session.scalars(stmt):  # by version: each later one replaces the one before
        latest[(pledge.campaign_id, pledge.userid if kind == "member" else pledge.branch_id)] = pledge
    return list(latest.values())


def others_items(session: Session, *, campaign_id: int, userid: str) -> list[str]:
    """What every other member pledged in their latest version: the formalism guard's "copied" check
    on each submission. Pledges are never changed in place, so each process keeps the items it has
    read and asks the database only which version is each member's latest (no JSON), reading the
    items of versions it has not seen."""
    latest = dict(session.execute(select(Pledge.userid, func.max(Pledge.version)).where(
        Pledge.campaign_id == campaign_id, Pledge.kind == "member").group_by(Pledge.userid)).all())
    known = _ITEMS.setdefault((database_of(session), campaign_id), {})
    unseen = [u for u, version in latest.items() if known.get(u, (0, []))[0] != version]
    for start in range(0, len(unseen), IN_CHUNK):
        for who, version, items in session.execute(select(Pledge.userid, Pledge.version, Pledge.items).where(
                Pledge.campaign_id == campaign_id, Pledge.kind == "member", Pledge.userid.in_(unseen[start:start + IN_CHUNK]))):
            if version == latest[who]:
                known[who] = (version, [item["what"] for item in items])
    return [what for who in latest if who != userid for what in known[who][1]]


_ITEMS: dict[tuple[str, int], dict[str, tuple[int, list[str]]]] = {}  # (database, campaign) -> userid -> (version, items)


def latest_pledge(session: Session, *, campaign_id: int, kind: str, userid: str | None = None,
                  branch_id: int | None = None) -> Pledge | None:
    """The newest version of one person's (kind "member") or one branch's (kind "branch") pledge."""
    stmt = select(Pledge).where(Pledge.campaign_id == campaign_id, Pledge.kind == kind)
    stmt = stmt.where(Pledge.userid == userid) if kind == "member" else stmt.where(Pledge.branch_id == branch_id)
    return session.scalars(stmt.order_by(Pledge.version.desc())).first()


def add_pledge(session: Session, *, campaign_id: int, person: Person, kind: str, items: list[dict[str, Any]],
               at: float) -> Pledge:
    """The next version of the person's own pledge, or of their branch's: a pledge is never changed in place."""
    latest = latest_pledge(session, campaign_id=campaign_id, kind=kind, userid=person.userid,
                           branch_id=person.branch_id)
    pledge = Pledge(campaign_id=campaign_id, userid=person.userid, branch_id=person.branch_id, kind=kind,
                    version=latest.version + 1 if latest else 1, items=items, submitted_at=at)
    session.add(pledge)
    session.flush()  # its id keys the message that publishes it
    return pledge
