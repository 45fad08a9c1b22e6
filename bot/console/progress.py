"""How far the running campaigns have got, for the console: per task and branch, how many parties owe
the task (its window has opened), how many have done it and how many of the rest are past its due
date. Counted from storage/progress.py's groups with the ledger's own rules (obligations.audiences and
subject_for), so a page of 100,000 people costs a few grouped queries; a party is what the ledger's
parties() says (a person, a branch answered by its secretary, the committee as one for a rating round).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable

from sqlalchemy import select
from sqlmodel import Session

from bot.scheduler.obligations import audiences, opened, subject_for
from storage import progress as counted
from storage.campaigns import done_subjects
from storage.models import CampaignRecord, CampaignTask, Person

PARTIES = ("branch:", "committee")  # subjects that are not one person: counted once, whoever answers


@dataclass
class Count:
    due: int = 0  # parties that owe it
    done: int = 0
    overdue: int = 0  # not done, and past its due date

    @property
    def open(self) -> int:
        return self.due - self.done

    @property
    def share(self) -> float:
        """Done of due, 0..1 (1 when nothing is due)."""
        return self.done / self.due if self.due else 1.0

    def add(self, due: int, done: int, late: bool) -> None:
        self.due, self.done = self.due + due, self.done + done
        self.overdue += due - done if late else 0

    def __iadd__(self, other: "Count") -> "Count":
        self.due, self.done, self.overdue = self.due + other.due, self.done + other.done, self.overdue + other.overdue
        return self


@dataclass(frozen=True)
class Member:
    """A group of people as the ledger sees one of them: their branch, role and 有职."""

    userid: str
    branch_id: int | None
    role: str
    attributes: dict[str, Any]


@dataclass
class Progress:
    today: date
    campaigns: dict[int, CampaignRecord]
    tasks: list[CampaignTask]
    cells: dict[tuple[int, int | None], Count] = field(default_factory=lambda: defaultdict(Count))

    def phase(self, task: CampaignTask) -> str:
        return self.campaigns[task.campaign_id].content["phases"][task.phase_index]["name"]

    def by_task(self) -> list[tuple[CampaignTask, Count]]:
        """Each task with its count over every branch, those that concern nobody left out."""
        totals: dict[int, Count] = defaultdict(Count)
        for (task_id, _branch), count in self.cells.items():
            totals[task_id] += count
        return [(t, totals[t.id]) for t in self.tasks if totals[t.id].due]

    def by_branch(self) -> dict[int | None, Count]:
        totals: dict[int | None, Count] = defaultdict(Count)
        for (_task, branch), count in self.cells.items():
            totals[branch] += count
        return totals

    def total(self) -> Count:
        found = Count()
        for count in self.cells.values():
            found += count
        return found


def _groups_in_order(groups: dict) -> list:
    """People without a branch (the committee) first, so the committee's one party is theirs."""
    return sorted(groups.items(), key=lambda g: (g[0][0] is not None, g[0][0] or 0, g[0][1], g[0][2] or ""))


def _post(value: str | None) -> dict[str, Any]:
    return {counted.POST_KEY: value} if value is not None else {}


def progress(session: Session, *, today: date, branch_id: int | None = None) -> Progress:
    """Every opened task's count in every branch (of one branch, when given)."""
    records, _windows, tasks = opened(session, today=today)
    found = Progress(today, records, tasks)
    ids = [t.id for t in tasks if t.userid is None]
    post_held = any(t.audience == "post_holders" for t in tasks)  # else nobody's 有职 changes what they owe
    groups = _groups_in_order(counted.people_groups(session, branch_id=branch_id, post_held=post_held))
    done = counted.done_groups(session, task_ids=ids, branch_id=branch_id, post_held=post_held)
    parties = counted.parties_done(session, task_ids=ids, branch_id=branch_id)
    for task in tasks:
        if task.userid is not None:
            continue
        late, seen = task.due < today, set()
        for key, n in groups:
            member = Member("", key[0], key[1], _post(key[2]))
            subject = subject_for(task, member) if task.audience in audiences(member) else None
            if subject is None:
                continue
            if subject.startswith(PARTIES):
                if subject not in seen:
                    seen.add(subject)
                    found.cells[(task.id, key[0])].add(1, int((task.id, subject) in parties), late)
            else:
                found.cells[(task.id, key[0])].add(n, done.get((task.id, key), 0), late)
    _one_person_tasks(session, found, [t for t in tasks if t.userid is not None], branch_id)
    return found


def _one_person_tasks(session: Session, found: Progress, tasks: list[CampaignTask], branch_id: int | None) -> None:
    """Tasks the bot added for one person (a member's 整改方案): theirs alone."""
    if not tasks:
        return
    named = {t.userid for t in tasks}
    people = {p.userid: p for p in session.execute(select(Person.userid, Person.branch_id, Person.role,
                                                          Person.attributes).where(Person.userid.in_(named)))}
    done = done_subjects(session, task_ids=[t.id for t in tasks], subjects=list(named))
    for task in tasks:
        person = people.get(task.userid)
        if person is None or (branch_id is not None and person.branch_id != branch_id):
            continue
        if task.audience in audiences(person) and subject_for(task, person) is not None:
            found.cells[(task.id, person.branch_id)].add(1, int((task.id, person.userid) in done), task.due < found.today)


@dataclass(frozen=True)
class Owed:
    task: CampaignTask
    phase: str
    done: bool
    overdue: bool


def owed_by(session: Session, people: Iterable[Any], *, today: date) -> tuple[Progress, dict[str, list[Owed]]]:
    """Each of these people's opened tasks, done or not: a page of a branch, or one person. Reads the
    task_done rows of these people, their branches and the committee only."""
    people = list(people)
    records, _windows, tasks = opened(session, today=today)
    frame = Progress(today, records, tasks)
    subjects = {p.userid for p in people} | {f"branch:{p.branch_id}" for p in people if p.branch_id} | {"committee"}
    done = done_subjects(session, task_ids=[t.id for t in tasks], subjects=sorted(subjects))
    found: dict[str, list[Owed]] = {}
    for person in people:
        mine, rows = audiences(person), []
        for task in tasks:
            subject = subject_for(task, person) if task.audience in mine else None
            if subject is not None:
                finished = (task.id, subject) in done
                rows.append(Owed(task, frame.phase(task), finished, not finished and task.due < today))
        found[person.userid] = rows
    return frame, found


def summary(rows: list[Owed]) -> Count:
    count = Count()
    for row in rows:
        count.add(1, int(row.done), row.overdue)  # overdue only when not done
    return count
