"""Pledges: each person's (kind "member") or branch's (kind "branch") latest version of each pledge
task's pledge, for views, summaries and exports; and a new version when one is submitted. Versions
count within one task: seed000's branch pledges of 2010 and 2012 are two pledges, each version 1."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session, func

from storage.db import IN_CHUNK, database_of
from storage.models import Person, Pledge


def latest_pledges(session: Session, *, campaign_ids: list[int], branch_id: int | None = None,
                   kind: str = "member") -> list[Pledge]:
    stmt = select(Pledge).where(Pledge.campaign_id.in_(campaign_ids), Pledge.kind == kind).order_by(Pledge.id)
    if branch_id is not None:
        stmt = stmt.where(Pledge.branch_id == branch_id)
    latest: dict[tuple[int, int | None, str | int | None], Pledge] = {}
    for pledge in session.scalars(stmt):  # in order made: each later one replaces the one before
        latest[(pledge.campaign_id, pledge.task_id, pledge.userid if kind == "member" else pledge.branch_id)] = pledge
    return list(latest.values())


def others_items(session: Session, *, campaign_id: int, userid: str) -> list[str]:
    """What every other member pledged in their latest pledge: the formalism guard's "copied" check
    on each submission. Pledges are never changed in place, so each process keeps the items it has
    read and asks the database only which pledge is each member's latest (the highest id, no JSON),
    reading the items of pledges it has not seen."""
    latest = dict(session.execute(select(Pledge.userid, func.max(Pledge.id)).where(
        Pledge.campaign_id == campaign_id, Pledge.kind == "member").group_by(Pledge.userid)).all())
    known = _ITEMS.setdefault((database_of(session), campaign_id), {})
    unseen = [latest[u] for u in latest if known.get(u, (0, []))[0] != latest[u]]
    for start in range(0, len(unseen), IN_CHUNK):
        for who, pledge_id, items in session.execute(select(Pledge.userid, Pledge.id, Pledge.items).where(
                Pledge.id.in_(unseen[start:start + IN_CHUNK]))):
            known[who] = (pledge_id, [item["what"] for item in items])
    return [what for who in latest if who != userid for what in known[who][1]]


_ITEMS: dict[tuple[str, int], dict[str, tuple[int, list[str]]]] = {}  # (database, campaign) -> userid -> (pledge id, items)


def latest_pledge(session: Session, *, campaign_id: int, kind: str, userid: str | None = None,
                  branch_id: int | None = None, task_id: int | None = None) -> Pledge | None:
    """The newest pledge of one person (kind "member") or one branch (kind "branch"): for one task
    when `task_id` is given (what an edit revises), else for any task of the campaign."""
    stmt = select(Pledge).where(Pledge.campaign_id == campaign_id, Pledge.kind == kind)
    stmt = stmt.where(Pledge.userid == userid) if kind == "member" else stmt.where(Pledge.branch_id == branch_id)
    if task_id is not None:
        stmt = stmt.where(Pledge.task_id == task_id)
    return session.scalars(stmt.order_by(Pledge.id.desc())).first()


def add_pledge(session: Session, *, campaign_id: int, task_id: int, person: Person, kind: str,
               items: list[dict[str, Any]], at: float) -> Pledge:
    """The next version of the person's own pledge for this task, or of their branch's: a pledge is
    never changed in place, and a pledge for another task is another pledge (its version 1)."""
    latest = latest_pledge(session, campaign_id=campaign_id, kind=kind, userid=person.userid,
                           branch_id=person.branch_id, task_id=task_id)
    pledge = Pledge(campaign_id=campaign_id, task_id=task_id, userid=person.userid, branch_id=person.branch_id,
                    kind=kind, version=latest.version + 1 if latest else 1, items=items, submitted_at=at)
    session.add(pledge)
    session.flush()  # its id keys the message that publishes it
    return pledge


def latest_page(session: Session, *, campaign_ids: list[int], kind: str, branch_id: int | None = None,
                limit: int, offset: int = 0) -> tuple[list[Pledge], int]:
    """One page of latest_pledges (by branch, then person), and how many there are in all: the
    latest version is found by the database (highest id of each task's pledge), not by reading every
    version."""
    owner = Pledge.userid if kind == "member" else Pledge.branch_id
    latest = select(func.max(Pledge.id).label("id")).where(Pledge.campaign_id.in_(campaign_ids), Pledge.kind == kind)
    if branch_id is not None:
        latest = latest.where(Pledge.branch_id == branch_id)
    latest = latest.group_by(Pledge.campaign_id, Pledge.task_id, owner).subquery()
    total = session.scalar(select(func.count()).select_from(latest)) or 0
    stmt = (select(Pledge).join(latest, latest.c.id == Pledge.id)
            .order_by(Pledge.branch_id, Pledge.userid, Pledge.id).limit(limit).offset(offset))
    return list(session.scalars(stmt)), total
