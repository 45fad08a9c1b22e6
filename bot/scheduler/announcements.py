"""Group announcements: phase start (the tasks open from that day), a task opening later in its phase
(seed001's polls each own half a year of one long phase), task reminders N days before a deadline,
phase end, and the escalation after a deadline. Each run looks at every event that is due and still relevant and
queues it under a key of its own, so a run repeated, late, or on two workers sends it once; an
event missed while the bot was down goes out late, saying when it was meant for."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterator

from sqlmodel import Session

from bot.config import Settings
from bot.scheduler.calendar import clock, is_quiet
from bot.scheduler.obligations import Obligations
from bot.texts import render, vocabulary
from bot.wecom import messages
from storage.models import CampaignRecord, CampaignTask, Role

GROUP_AUDIENCES = {"members", "post_holders", "secretaries", "branches", "masses"}
PHASE_END_GRACE = timedelta(days=3)
ESCALATION_GRACE = timedelta(days=7)


@dataclass(frozen=True)
class Event:
    key: str
    kind: str  # phase_start, task_opens, phase_end, reminder, overdue
    planned: datetime
    campaign: CampaignRecord
    phase_index: int
    phase: dict
    task: CampaignTask | None = None
    days_left: int = 0


def _at(day: date, settings: Settings, tz) -> datetime:
    return datetime.combine(day, clock(settings.announce_time), tz)


def due_events(records: list[CampaignRecord], tasks: list[CampaignTask], settings: Settings,
               now: datetime, opens: dict[int, date]) -> Iterator[Event]:
    """`opens`: each task's first day (the ledger's windows); a task opening after its phase's start is
    announced that day, while it is still to be done."""
    tz = now.tzinfo
    for record in records:
        for index, phase in enumerate(record.content["phases"]):
            start, end = date.fromisoformat(phase["start"]), date.fromisoformat(phase["end"])
            if _at(start, settings, tz) <= now and now.date() <= end:
                yield Event(f"{record.id}:phase-start:{index}", "phase_start", _at(start, settings, tz), record, index, phase)
            if _at(end, settings, tz) <= now <= _at(end, settings, tz) + PHASE_END_GRACE:
                yield Event(f"{record.id}:phase-end:{index}", "phase_end", _at(end, settings, tz), record, index, phase)
    by_id = {r.id: r for r in records}
    for task in tasks:
        record = by_id[task.campaign_id]
        phase = record.content["phases"][task.phase_index]
        first = opens[task.id]
        if first > date.fromisoformat(phase["start"]) and task.branch_id is None \
                and _at(first, settings, tz) <= now and now.date() <= task.due:
            yield Event(f"{task.id}:opens", "task_opens", _at(first, settings, tz), record, task.phase_index, phase, task)
        for days in task.remind_days:
            planned = _at(task.due - timedelta(days=days), settings, tz)
            if planned <= now and now.date() <= task.due and task.due - timedelta(days=days) >= date.fromisoformat(phase["start"]):
                yield Event(f"{task.id}:remind:{days}", "reminder", planned, record, task.phase_index, phase, task, days)
        overdue_at = _at(task.due + timedelta(days=1), settings, tz)
        if overdue_at <= now <= overdue_at + ESCALATION_GRACE:
            yield Event(f"{task.id}:overdue", "overdue", overdue_at, record, task.phase_index, phase, task)


def _words() -> dict:
    words = vocabulary()
    return {"audience": words["audiences"], "action": words["task_actions"]}


def _phase_view(phase: dict) -> dict:
    return {**phase, "start": date.fromisoformat(phase["start"]), "end": date.fromisoformat(phase["end"])}


def announce(session: Session, event: Event, ob: Obligations, now: datetime) -> None:
    late = event.planned.date() < now.date()
    common = dict(campaign=event.campaign.name, phase=_phase_view(event.phase), late=late,
                  planned=event.planned.date(), **_words())
    if event.kind == "overdue":
        _escalate(session, event, ob)
        return
    if event.kind == "phase_start":
        tasks = [t for t in ob.tasks if t.campaign_id == event.campaign.id and t.phase_index == event.phase_index
                 and t.audience in GROUP_AUDIENCES and t.branch_id is None]
        text = render("phase_start", tasks=tasks, **common)
    elif event.kind == "phase_end":
        text = render("phase_end", **common)
    elif event.kind == "task_opens":
        if event.task.audience not in GROUP_AUDIENCES:
            return
        text = render("task_opens", task=event.task, **common)
    else:
        if event.task.audience not in GROUP_AUDIENCES:
            return
        text = render("task_reminder", task=event.task, days_left=event.days_left, **common)
    only = event.task.branch_id if event.task is not None else None  # a task added for one branch
    for branch in ob.branches.values():
        if branch.chat_id and only in (None, branch.id):
            messages.to_chat(session, key=f"announce:{event.key}:{branch.id}", chat_id=branch.chat_id,
                             text=text, markdown=True)


def _escalate(session: Session, event: Event, ob: Obligations) -> None:
    """After a deadline: each secretary gets who in the branch is still open; the committee the lagging branches."""
    rows = []
    for branch in ob.branches.values():
        total, still_open = ob.branch_status(event.task, branch.id)
        if not still_open:
            continue
        rows.append({"branch": branch.name, "open": len(still_open), "total": total})
        for secretary in (p for p in ob.by_branch.get(branch.id, []) if p.role == Role.secretary):
            text = render("overdue_secretary", task=event.task, branch=branch.name, open=[p.name for p in still_open])
            messages.to_person(session, key=f"overdue:{event.key}:{secretary.userid}", userid=secretary.userid, text=text)
    committee = [p.userid for p in ob.people if p.role == Role.committee]
    if rows and committee:
        messages.to_people(session, key=f"overdue:{event.key}:committee", userids=committee,
                           text=render("overdue_committee", task=event.task, rows=rows))


def run_announcements(session: Session, settings: Settings, now: datetime) -> int:
    if is_quiet(now, settings.quiet_hours):
        return 0  # the next run after the quiet hours sends what is due
    ob = Obligations(session, today=now.date(), ended_within=ESCALATION_GRACE.days + 1)
    events = list(due_events(list(ob.campaigns.values()), ob.tasks, settings, now,
                             opens={task_id: w.opens for task_id, w in ob.windows.items()}))
    for event in events:
        announce(session, event, ob, now)
    return len(events)

