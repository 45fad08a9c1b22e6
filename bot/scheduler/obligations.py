"""The ledger: who owes what in the active campaigns, from a handful of set queries whatever the
head count. The digest, reminders, escalations, /进度, /标记 and `xianfeng export ledger` all read it.

A task is owed from the day its window opens (storage.campaigns.windows: its phase's start, or the day
after the previous task of its kind and audience in that phase fell due), so seed001's 2012 polls are
not owed in 2010. Person tasks are done per person (subject = userid); branch tasks per branch
(subject = "branch:<id>") and owed by the branch's secretaries; a task the bot added for one branch
or one person (a 整改方案) only by them. A task is closed by one task_done row, which says what closed it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from datetime import date
from typing import Iterable

from sqlalchemy import select
from sqlmodel import Session

from storage import campaigns
from storage.models import CampaignRecord, CampaignTask, Person, Role
from storage.people import branches as branches_in_order
from storage.progress import POST_KEY

POST_COLUMN = POST_KEY  # the roster column that marks a 有职党员 (a post holder: 岗位承诺); storage counts it too
TRUTHY = {"是", "有", "有职", "yes", "true", "1", "y"}
PERSONAL = {"members", "post_holders", "secretaries", "committee", "masses"}
PERSON_COLUMNS = (Person.userid, Person.name, Person.branch_id, Person.role, Person.attributes)


@dataclass(frozen=True)
class Owed:
    task: CampaignTask
    campaign: str
    phase: str
    overdue: bool


def audiences(person: Person) -> set[str]:
    found = set()
    if person.role in (Role.member, Role.secretary):
        found.add("members")
        if str(person.attributes.get(POST_COLUMN, "")).strip().lower() in TRUTHY:
            found.add("post_holders")
    if person.role == Role.secretary:
        found |= {"secretaries", "branches"}
    if person.role == Role.committee:
        found.add("committee")
    if person.role == Role.masses:
        found.add("masses")
    return found


def subject_for(task: CampaignTask, person: Person) -> str | None:
    return _subject(task.audience, task.kind, task.branch_id, task.userid, person)


def _subject(audience: str, kind: str, only_branch: int | None, only_person: str | None, person: Person
             ) -> str | None:
    if only_branch is not None and only_branch != person.branch_id:
        return None  # a task the bot added for another branch
    if only_person is not None and only_person != person.userid:
        return None  # a task the bot added for another person (their 整改方案)
    if audience == "branches":
        return f"branch:{person.branch_id}" if person.branch_id else None
    if kind in ("rating", "comment"):
        # The committee rates and comments as one: done when every branch's rating is confirmed, or
        # every branch has its 领导点评 (storage.comments).
        return "committee"
    return person.userid


def opened(session: Session, *, today: date, ended_within: int = 0, records: list[CampaignRecord] | None = None
           ) -> tuple[dict[int, CampaignRecord], dict[int, campaigns.Window], list[CampaignTask]]:
    """The running campaigns (or these), every task's window, and the tasks whose window has opened by
    `today`, by due date: what is owed at all, before asking by whom (here, and the console's counts)."""
    if records is None:
        records = campaigns.active_campaigns(session, today=today, ended_within=ended_within)
    windows = {w.task.id: w for record in records
               for w in campaigns.windows(record, campaigns.tasks_of(session, campaign_ids=[record.id]))}
    tasks = sorted((w.task for w in windows.values() if w.opens <= today), key=lambda t: (t.due, t.id))
    return {r.id: r for r in records}, windows, tasks


class Obligations:
    def __init__(self, session: Session, *, today: date, ended_within: int = 0,
                 people: Iterable[Person] | None = None, records: list[CampaignRecord] | None = None):
        """The running campaigns' ledger as of `today`, or these campaigns' (an export of one that ended)."""
        self.today = today
        self.campaigns, self.windows, self.tasks = opened(session, today=today, ended_within=ended_within,
                                                          records=records)
        self.done = campaigns.done_subjects(session, task_ids=[t.id for t in self.tasks])
        # Plain rows, not ORM objects: read-only here, and a tenth of the cost for 100,000 people.
        self.people = list(people) if people is not None else list(session.execute(select(*PERSON_COLUMNS)))
        self.branches = {b.id: b for b in branches_in_order(session)}
        self._plain = [(t, t.audience, t.kind, t.branch_id, t.userid,
                        Owed(t, self.campaigns[t.campaign_id].name, self._phase(t)["name"], t.due < today))
                       for t in self.tasks]
        self.by_branch: dict[int | None, list[Person]] = {}
        for person in self.people:
            self.by_branch.setdefault(person.branch_id, []).append(person)

    def _phase(self, task: CampaignTask) -> dict:
        return self.campaigns[task.campaign_id].content["phases"][task.phase_index]

    def opens(self, task: CampaignTask) -> date:
        """The first day a submission can fulfil it, and so the first day it is owed."""
        return self.windows[task.id].opens

    def owed(self, task: CampaignTask, person: Person, mine: set[str] | None = None) -> bool:
        subject = subject_for(task, person)
        return task.audience in (mine if mine is not None else audiences(person)) and subject is not None \
            and (task.id, subject) not in self.done

    def open_for(self, person: Person) -> list[Owed]:
        """Called once per person by the digest: task attributes are read once, in _plain."""
        mine, found = audiences(person), []
        for task, audience, kind, only, only_person, owed in self._plain:
            if audience in mine:
                subject = _subject(audience, kind, only, only_person, person)
                if subject is not None and (task.id, subject) not in self.done:
                    found.append(owed)
        return found

    def tasks_for(self, person: Person) -> list[tuple[CampaignTask, bool]]:
        """Every visible task this person has a part in, with whether it is done."""
        mine = audiences(person)
        return [(t, not self.owed(t, person)) for t in self.tasks if t.audience in mine]

    def parties(self, task: CampaignTask) -> list[tuple[str, Person]]:
        """Each party that owes the task, as (subject, the person who answers for it): a person; a
        branch, answered by its first secretary; the committee as one, for a rating round."""
        seen: dict[str, Person] = {}
        for person, mine in self._answerers:
            subject = subject_for(task, person) if task.audience in mine else None
            if subject is not None and subject not in seen:
                seen[subject] = person
        return list(seen.items())

    @cached_property
    def _answerers(self) -> list[tuple[Person, set[str]]]:
        """Everyone with their audiences, secretaries first: read once for all tasks (an export of the
        ledger asks for each task's parties among 100,000 people)."""
        return [(p, audiences(p)) for p in sorted(self.people, key=lambda p: (p.role != Role.secretary, p.userid))]

    def branch_status(self, task: CampaignTask, branch_id: int) -> tuple[int, list[Person]]:
        """(how many of the branch's people it concerns, who of them still owe it)."""
        concerned = [p for p in self.by_branch.get(branch_id, []) if task.audience in audiences(p)]
        if task.audience == "branches":
            concerned = concerned[:1]  # one answer per branch, whichever secretary gives it
        return len(concerned), [p for p in concerned if self.owed(task, p)]
