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


def written_items(session: Session, *, campaign_id: int) -> dict[str, list[tuple[str, float]]]:
    """Every member's items ("what") in their latest pledge, each with when they first wrote it: the
    earliest of their pledges holding the same text (an edit that keeps an item keeps its time). The
    formalism guard's "copied" check: of two alike items only the later is a copy. Pledges are never
    changed in place, so each process keeps those it has read and asks the database only for the ids,
    reading the pledges it has not seen."""
    seen = _PLEDGES.setdefault((database_of(session), campaign_id), {})
    ids = sorted(session.scalars(select(Pledge.id).where(Pledge.campaign_id == campaign_id, Pledge.kind == "member")))
    unseen = [i for i in ids if i not in seen]
    columns = select(Pledge.id, Pledge.userid, Pledge.submitted_at, Pledge.items)
    for start in range(0, len(unseen), IN_CHUNK):
        for pledge_id, who, at, items in session.execute(columns.where(Pledge.id.in_(unseen[start:start + IN_CHUNK]))):
            seen[pledge_id] = (who, at, [item["what"] for item in items])
    latest: dict[str, list[str]] = {}
    first: dict[tuple[str, str], float] = {}
    for pledge_id in ids:  # in order made: each later one replaces the one before
        who, at, whats = seen[pledge_id]
        latest[who] = whats
        for what in whats:
            first[(who, what)] = min(at, first.get((who, what), at))
    return {who: [(what, first[(who, what)]) for what in whats] for who, whats in latest.items()}


# (database, campaign) -> pledge id -> (userid, submitted at, its items' "what")
_PLEDGES: dict[tuple[str, int], dict[int, tuple[str, float, list[str]]]] = {}


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
