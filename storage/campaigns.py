"""Loaded campaigns and their tasks: the upsert behind `campaign load`, and set-based queries for
the scheduler (every query here returns whole sets, so a digest costs the same few queries for
ten people or a hundred thousand)."""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Callable

from sqlalchemy import delete, func, select, update
from sqlmodel import Session

from storage.db import database_of
from storage.models import CampaignRecord, CampaignTask, Pledge, Poll, SelfAssessment, TaskDone


@dataclass(frozen=True)
class LoadResult:
    record: CampaignRecord
    status: str  # "created", "updated" or "unchanged"


def upsert_campaign(session: Session, *, name: str, content: dict[str, Any], source_file: str,
                    start: date, end: date, tasks: list[dict[str, Any]]) -> LoadResult:
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    record = session.scalars(select(CampaignRecord).where(CampaignRecord.name == name)).first()
    if record is not None and record.content_hash == digest:
        return LoadResult(record, "unchanged")
    status = "updated" if record else "created"
    record = record or CampaignRecord(name=name, source_file=source_file, content=content, content_hash=digest,
                                      start=start, end=end, loaded_at=time.time())
    record.source_file, record.content, record.content_hash, record.start, record.end = \
        source_file, content, digest, start, end
    session.add(record)
    session.flush()
    _sync_tasks(session, record.id, tasks)
    return LoadResult(record, status)


def _sync_tasks(session: Session, campaign_id: int, tasks: list[dict[str, Any]]) -> None:
    # Tasks the bot added for one branch (branch_id set) are not in the file and stay.
    existing = {t.key: t for t in session.scalars(select(CampaignTask).where(
        CampaignTask.campaign_id == campaign_id, CampaignTask.branch_id.is_(None)))}
    for values in tasks:
        row = existing.pop(values["key"], None) or CampaignTask(campaign_id=campaign_id, **values)
        for field, value in values.items():
            setattr(row, field, value)
        session.add(row)
    gone = [t.id for t in existing.values()]
    if gone:
        session.execute(delete(TaskDone).where(TaskDone.task_id.in_(gone)))
        for submission in (Pledge, SelfAssessment, Poll):  # kept, no longer tied to a task the file dropped
            session.execute(update(submission).where(submission.task_id.in_(gone)).values(task_id=None))
        session.execute(delete(CampaignTask).where(CampaignTask.id.in_(gone)))


def campaigns(session: Session, *, name: str | None = None) -> list[CampaignRecord]:
    stmt = select(CampaignRecord).order_by(CampaignRecord.start)
    return list(session.scalars(stmt.where(CampaignRecord.name == name) if name else stmt))


def active_campaigns(session: Session, *, today: date, ended_within: int = 0) -> list[CampaignRecord]:
    """Campaigns running today (or ended at most `ended_within` days ago, for late notices); read-only."""
    since = today - timedelta(days=ended_within)
    return [r for r in _snapshot(session).campaigns if r.start <= today and r.end >= since]


def tasks_of(session: Session, *, campaign_ids: list[int]) -> list[CampaignTask]:
    """Their tasks by due date; read-only."""
    tasks = _snapshot(session).tasks
    return sorted((t for c in campaign_ids for t in tasks.get(c, ())), key=lambda t: (t.due, t.id))


@dataclass(frozen=True)
class _Snapshot:
    stamp: tuple
    campaigns: list[CampaignRecord]
    tasks: dict[int, list[CampaignTask]]


_SNAPSHOTS: dict[str, _Snapshot] = {}
_STAMP = select(CampaignRecord.id, CampaignRecord.content_hash, CampaignRecord.start, CampaignRecord.end,
                *(select(f(c)).scalar_subquery() for f, c in ((func.count, CampaignTask.id), (func.max, CampaignTask.id),
                                                             (func.max, CampaignTask.due)))).order_by(CampaignRecord.id)


def _snapshot(session: Session) -> _Snapshot:
    """Every campaign and task as read-only copies, read again only when one changed. Each form
    answer needs them and they change a few times a campaign; a small query tells (each campaign's
    content hash and dates, the tasks' count, highest id and latest due date)."""
    stamp = tuple(session.execute(_STAMP).all())
    where = database_of(session)
    cached = _SNAPSHOTS.get(where)
    if cached is None or cached.stamp != stamp:
        records = [_copy(r) for r in session.scalars(select(CampaignRecord).order_by(CampaignRecord.start))]
        by_campaign: dict[int, list[CampaignTask]] = {}
        for task in session.scalars(select(CampaignTask).order_by(CampaignTask.due, CampaignTask.id)):
            by_campaign.setdefault(task.campaign_id, []).append(_copy(task))
        cached = _SNAPSHOTS[where] = _Snapshot(stamp, records, by_campaign)
    return cached


def _copy(row):
    """Outside any session: a later transaction cannot expire or change it."""
    return type(row)(**{column.key: getattr(row, column.key) for column in row.__table__.columns})


def done_subjects(session: Session, *, task_ids: list[int], subjects: list[str] | None = None
                  ) -> set[tuple[int, str]]:
    """(task, subject) of every task_done row of these tasks; of these subjects only, when given (a page
    of people, rather than everyone's rows)."""
    if not task_ids or subjects == []:
        return set()
    stmt = select(TaskDone.task_id, TaskDone.subject).where(TaskDone.task_id.in_(task_ids))
    if subjects is not None:
        stmt = stmt.where(TaskDone.subject.in_(subjects))
    return {(task_id, subject) for task_id, subject in session.execute(stmt)}


def mark_done(session: Session, *, task_id: int, subject: str) -> None:
    if session.get(TaskDone, (task_id, subject)) is None:
        session.add(TaskDone(task_id=task_id, subject=subject))


def mark_by_hand(session: Session, *, task_id: int, subject: str, how: str, reason: str, by: str) -> bool:
    """The committee closes a task for a party ("marked_done" or "not_applicable"), saying why; False
    when it was closed already (fulfilled or marked: the record says by what, and stays)."""
    if session.get(TaskDone, (task_id, subject)) is not None:
        return False
    session.add(TaskDone(task_id=task_id, subject=subject, how=how, reason=reason, marked_by=by))
    return True


def campaign_asking(session: Session, *, today: date, kind: str, audiences: set[str] | None = None
                    ) -> CampaignRecord | None:
    """The first running campaign with a task of this kind (for one of these audiences), in any phase:
    what a member's pledge belongs to when it is read later (/践诺), not what a submission credits."""
    for record in active_campaigns(session, today=today):
        if any(_concerns(t, kind, audiences, None) for t in tasks_of(session, campaign_ids=[record.id])):
            return record
    return None


# Days after a task's window (or its campaign) ends in which it can still be sent late: a month, long
# enough for a branch chased a week after the due date (bot/scheduler/announcements.py) to catch up,
# short enough that a task missed long ago is not offered with every later submission of its kind.
LATE_AFTER_END = 30


@dataclass(frozen=True)
class Window:
    """The days on which a submission can fulfil a task: from its phase's start, or from the day after
    the previous due date of a task of the same kind and audience in that phase (seed001's half-yearly
    polls share one phase, each owns its half year), to its phase's end (a late submission inside the
    phase still counts). A task the bot added for one branch ends at its due date if that is later."""

    task: CampaignTask
    opens: date
    closes: date

    def holds(self, day: date) -> bool:
        return self.opens <= day <= self.closes


def windows(record: CampaignRecord, tasks: list[CampaignTask]) -> list[Window]:
    """Every task's window, in the order of `tasks`."""
    found = []
    for task in tasks:
        phase = record.content["phases"][task.phase_index]
        earlier = [t.due for t in tasks if t.branch_id is None and t.phase_index == task.phase_index
                   and (t.kind, t.audience) == (task.kind, task.audience) and t.due < task.due]
        # a task the bot added (a 整改方案) is owed from the day it exists, not after the plan's own tasks
        opens = max(earlier) + timedelta(days=1) if earlier and task.branch_id is None \
            else date.fromisoformat(phase["start"])
        found.append(Window(task, opens, max(date.fromisoformat(phase["end"]), task.due)))
    return found


def _concerns(task: CampaignTask, kind: str, audiences: set[str] | None, branch_id: int | None,
              subject: str | None = None) -> bool:
    """Of this kind and audience; a task the bot added for another branch, or for another person,
    never concerns this one."""
    return task.kind == kind and (audiences is None or task.audience in audiences) \
        and task.branch_id in (None, branch_id) and task.userid in (None, subject)


def tasks_to_credit(session: Session, *, today: date, kind: str, audiences: set[str] | None = None,
                    branch_id: int | None = None, subject: str | None = None,
                    only: Callable[[CampaignRecord, CampaignTask], bool] | None = None
                    ) -> tuple[CampaignRecord, list[CampaignTask]] | None:
    """What a submission made today fulfils, in the first running campaign that has any: the tasks of
    this kind whose window holds today and that `subject` (a userid or "branch:<id>") has not yet
    fulfilled, earliest due first (when it has fulfilled them all, the one whose window opened last: a
    second submission revises the first), then those of windows closed at most LATE_AFTER_END days ago
    that it never fulfilled (late). More than one in all: the person is asked which.
    `only` narrows the tasks further (a poll of members is for the task that rates members), after
    their windows are drawn."""
    for record in active_campaigns(session, today=today, ended_within=LATE_AFTER_END if subject else 0):
        tasks = [t for t in tasks_of(session, campaign_ids=[record.id])
                 if _concerns(t, kind, audiences, branch_id, subject)]
        drawn = [w for w in windows(record, tasks) if only is None or only(record, w.task)]
        current = [w for w in drawn if w.holds(today)]
        # A task of an earlier window that this party never fulfilled is still theirs to do (late): offered
        # after the current ones, so a 党组织自评 sent a week after its phase is not taken for the next
        # phase's without asking (found by `campaign rehearse`, seed002).
        past = [w for w in drawn if w.closes < today <= w.closes + timedelta(days=LATE_AFTER_END)] if subject else []
        done = done_subjects(session, task_ids=[w.task.id for w in current + past]) if subject else set()
        open_now = [w.task for w in current if (w.task.id, subject) not in done]
        late = [w.task for w in past if (w.task.id, subject) not in done]
        latest = [max(current, key=lambda w: (w.opens, w.task.due, w.task.id)).task] if current else []
        # Every current task done: the submission revises the latest, unless a late one is open too, when
        # the person is asked which (a revision of this phase's pledge never fulfils last phase's silently).
        found = (open_now or latest) + late
        if found:
            return record, found
    return None


def find_task(session: Session, *, today: date, kind: str, audiences: set[str] | None = None,
              branch_id: int | None = None, subject: str | None = None
              ) -> tuple[CampaignRecord, CampaignTask] | None:
    """The one task a submission made today fulfils where nobody can be asked which: the first of
    tasks_to_credit, a current one before a late one (a task the bot added for this branch or person,
    a 整改方案, before either)."""
    found = tasks_to_credit(session, today=today, kind=kind, audiences=audiences, branch_id=branch_id, subject=subject)
    if found is None:
        return None
    record, tasks = found
    return record, next((t for t in tasks if t.branch_id is not None), tasks[0])
