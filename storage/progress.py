"""Progress counted in the database, for the console's overviews: people grouped by what decides
which tasks they owe (branch, role, 有职), and task_done rows grouped the same way, so the committee's
overview of 100,000 people costs a few grouped queries instead of a row per person and task.
bot/console/progress.py applies the ledger's rules (bot/scheduler/obligations.py) to these groups."""
from __future__ import annotations

import json

from sqlalchemy import func, or_, select
from sqlmodel import Session

from storage.db import IN_CHUNK
from storage.models import Person, TaskDone

POST_KEY = "有职"  # the roster column that makes a member a 有职党员 (bot.scheduler.obligations.POST_COLUMN)


def _post_held(session: Session, wanted: bool):
    """The attribute's stored text (the ledger's own test of it is applied to each group afterwards); None,
    left out of the grouping, when no task asks for 有职党员: reading every row's JSON costs most of a query.
    SQLite before 3.45 matches a JSON path against a key as stored, and the JSON column stores
    non-ASCII keys escaped (\\u6709\\u804c), so it is asked for both spellings."""
    if not wanted:
        return None
    if session.get_bind().dialect.name != "sqlite":
        return Person.attributes[POST_KEY].as_string()
    escaped = json.dumps(POST_KEY)[1:-1]
    return func.coalesce(func.json_extract(Person.attributes, f'$."{POST_KEY}"'),
                         func.json_extract(Person.attributes, f'$."{escaped}"'))


Group = tuple[int | None, str, str | None]  # (branch id, role, 有职 as stored)


def people_groups(session: Session, *, branch_id: int | None = None, post_held: bool = True) -> dict[Group, int]:
    """How many people share each (branch, role, 有职); of one branch only when given; with post_held False,
    by (branch, role) alone (有职 None)."""
    keys = _keys(session, post_held, Person.branch_id, Person.role)
    stmt = select(*keys, func.count()).group_by(*keys)
    if branch_id is not None:
        stmt = stmt.where(Person.branch_id == branch_id)
    return {_group(row): row[-1] for row in session.execute(stmt)}


def done_groups(session: Session, *, task_ids: list[int], branch_id: int | None = None, post_held: bool = True
                ) -> dict[tuple[int, Group], int]:
    """How many task_done rows of people (subject = their userid) each task has, by the people's
    (branch, role, 有职), as people_groups groups them."""
    found: dict[tuple[int, Group], int] = {}
    keys = _keys(session, post_held, TaskDone.task_id, Person.branch_id, Person.role)
    for start in range(0, len(task_ids), IN_CHUNK):
        stmt = (select(*keys, func.count()).join(Person, Person.userid == TaskDone.subject)
                .where(TaskDone.task_id.in_(task_ids[start:start + IN_CHUNK])).group_by(*keys))
        if branch_id is not None:
            stmt = stmt.where(Person.branch_id == branch_id)
        for row in session.execute(stmt):
            found[(row[0], _group(row[1:]))] = row[-1]
    return found


def _keys(session: Session, post_held: bool, *columns):
    post = _post_held(session, post_held)
    return [*columns, post] if post is not None else list(columns)


def _group(row) -> Group:
    """(branch, role, 有职) of a grouped row: its first columns, then the count last."""
    return (row[0], row[1], row[2] if len(row) == 4 else None)


def parties_done(session: Session, *, task_ids: list[int], branch_id: int | None = None) -> set[tuple[int, str]]:
    """(task, subject) of the task_done rows that are not a person's: a branch's ("branch:<id>") and the
    committee's as one ("committee"); at most a row per branch and task."""
    if not task_ids:
        return set()
    branches = TaskDone.subject == f"branch:{branch_id}" if branch_id is not None else TaskDone.subject.like("branch:%")
    stmt = select(TaskDone.task_id, TaskDone.subject).where(TaskDone.task_id.in_(task_ids),
                                                            or_(branches, TaskDone.subject == "committee"))
    return {(task_id, subject) for task_id, subject in session.execute(stmt)}


def people_page(session: Session, *, branch_id: int | None, limit: int, offset: int) -> tuple[list, int]:
    """One page of a branch's people (secretaries first, then by name), as plain rows, and how many
    there are in all."""
    where = Person.branch_id == branch_id if branch_id is not None else Person.branch_id.is_(None)
    total = session.scalar(select(func.count()).select_from(Person).where(where)) or 0
    stmt = (select(Person.userid, Person.name, Person.branch_id, Person.role, Person.attributes).where(where)
            .order_by(Person.role != "secretary", Person.role == "masses", Person.name, Person.userid)
            .limit(limit).offset(offset))
    return list(session.execute(stmt)), total
