"""The ledger sheet of `xianfeng export ledger`: every task of the campaign whose window has opened,
for every party that owes it (a person, a branch, the committee), with whether it is closed, how
(fulfilled by a submission, or marked by the committee with a reason) and by which record. It reads the
same ledger (bot.scheduler.obligations) as the digest, the reminders and /进度."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import select
from sqlmodel import Session

from bot.exports.book import in_branch_order, names_of, when, workbook
from bot.scheduler.obligations import Obligations
from bot.texts import render, vocabulary
from storage import ledger
from storage.models import CampaignRecord, TaskDone


def ledger_book(session: Session, record: CampaignRecord, branches: dict[int, str], tz: ZoneInfo) -> Workbook:
    words = vocabulary()["export"]
    today = min(datetime.now(tz).date(), record.end)
    ob = Obligations(session, today=max(today, record.start), records=[record])
    closed = {(d.task_id, d.subject): d for d in session.scalars(
        select(TaskDone).where(TaskDone.task_id.in_([t.id for t in ob.tasks])))} if ob.tasks else {}
    evidence, names = ledger.evidence(session, campaign_id=record.id), names_of(session)
    rows = []
    for task in ob.tasks:
        task_rows = []
        for subject, person in ob.parties(task):
            done = closed.get((task.id, subject))
            task_rows.append((words["ledger_sheet"], [
                _branch(subject, person, branches), task.title, ob.campaigns[task.campaign_id].content["phases"][task.phase_index]["name"],
                task.due.isoformat(), _party(subject, names, branches), _state(done, task.due, ob.today, words),
                when(done.done_at, tz) if done else None,
                render("ledger_evidence", e=evidence.get((task.id, subject))) if done and done.how == "fulfilled" else None,
                done.reason if done else None, names.get(done.marked_by, done.marked_by) if done and done.marked_by else None,
                task.key, subject]))
        rows += in_branch_order(task_rows, branch=lambda row: row[1][0])  # each task's parties branch by branch
    return workbook(words["ledger"], rows, empty=words["ledger_sheet"])


def _branch(subject: str, person, branches: dict[int, str]) -> str:
    if subject.startswith("branch:"):
        return branches[int(subject.split(":")[1])]
    return vocabulary()["roles"]["committee"] if person.branch_id is None and person.role == "committee" \
        else branches[person.branch_id]


def _party(subject: str, names: dict[str, str], branches: dict[int, str]) -> str:
    if subject.startswith("branch:"):
        return branches[int(subject.split(":")[1])]
    if subject == "committee":
        return vocabulary()["roles"]["committee"]
    return names.get(subject, subject)


def _state(done: TaskDone | None, due: date, today: date, words: dict) -> str:
    states = words["ledger_states"]
    if done is None:
        return states["overdue"] if due < today else states["open"]
    return states[done.how] if done.how in states else states["fulfilled"]
