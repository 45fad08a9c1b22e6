"""The console's pages as data: each builder reads what one page shows and names the template that
shows it. Every read is bounded: counts are aggregated by the database, lists come a page at a time.

Who may see what is decided here, by Viewer: the committee everything; a secretary their own branch
(its people, polls, ratings, pledges, documents, its rows of the exports) and the timeline; a member their own tasks and pledge;
群众 a page saying what the app is for. Asking for more is Forbidden (403). Nothing here reads a ballot:
a poll shows how many have voted while it is open and its stored result (poll.result) once closed.
"""
from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import select
from sqlmodel import Session

from bot import audit_log
from bot.campaigns import Campaign, rules_of
from bot.console.progress import Count, owed_by, progress, summary
from bot.ratings import History, Inputs, propose
from storage import audit, documents, people, pledges, polls
from storage import campaigns as stored_campaigns
from storage import progress as counted
from storage.models import Branch, CampaignRecord, CampaignTask, DocumentSubmission, Person, Pledge, Poll, Rating, Role
from storage.people import find

PER_PAGE = 30


class Forbidden(Exception):
    """The viewer may not see this (403)."""


class NotFound(Exception):
    """No such page (404)."""


@dataclass(frozen=True)
class Viewer:
    userid: str
    name: str
    role: str
    branch_id: int | None
    branch: str  # its name, or ""

    @property
    def committee(self) -> bool:
        return self.role == Role.committee

    @property
    def secretary(self) -> bool:
        return self.role == Role.secretary and self.branch_id is not None

    def may_see_branch(self, branch_id: int | None) -> bool:
        return self.committee or (self.secretary and branch_id == self.branch_id)

    def may_see_person(self, person: Any) -> bool:
        return self.committee or person.userid == self.userid or (self.secretary and person.branch_id == self.branch_id)

    def scope(self, wanted: int | None) -> int | None:
        """The branch a list is limited to: the one asked for (or none: all) for the committee, a
        secretary's own, and Forbidden for anyone else or a secretary asking for another branch."""
        if self.committee:
            return wanted
        if self.secretary and wanted in (None, self.branch_id):
            return self.branch_id
        raise Forbidden()


def viewer_of(session: Session, userid: str) -> Viewer | None:
    person = find(session, userid)
    if person is None:
        return None
    branch = session.get(Branch, person.branch_id) if person.branch_id else None
    return Viewer(person.userid, person.name, person.role, person.branch_id, branch.name if branch else "")


@dataclass(frozen=True)
class Page:
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    status: int = 200


@dataclass(frozen=True)
class Pager:
    number: int
    total: int
    size: int = PER_PAGE

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None


def page_number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and 0 < int(value) < 1_000_000 else 1


def positive_number(value: str | None) -> int | None:
    """A positive whole number from the query (a branch, an entry to page before), or None."""
    return int(value) if value and value.isdigit() and 0 < int(value) < 2**31 else None


def current_campaigns(session: Session, today: date) -> list[CampaignRecord]:
    """The campaigns running today; when none is, the one that started last (its records stay to look at)."""
    running = stored_campaigns.active_campaigns(session, today=today)
    if running:
        return running
    every = stored_campaigns.campaigns(session)
    return every[-1:]


def _names(session: Session, userids: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(u for u in userids if u))
    if not wanted:
        return {}
    return dict(session.execute(select(Person.userid, Person.name).where(Person.userid.in_(wanted))).all())


def _branch_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Branch.id, Branch.name)).all())


# -- home ------------------------------------------------------------------------------------------
def home(session: Session, viewer: Viewer, today: date, query: dict[str, str]) -> Page:
    if viewer.committee:
        return overview(session, viewer, today, query)
    if viewer.secretary:
        return branch_page(session, viewer, today, viewer.branch_id, query)
    if viewer.role in (Role.member, Role.secretary):
        return person_page(session, viewer, today, viewer.userid)
    return Page("console/about", {"campaigns": current_campaigns(session, today)})


def _chart_rows(progress_rows: list[tuple[CampaignTask, Count]]) -> list[dict[str, Any]]:
    return [{"label": task.title, "count": count} for task, count in progress_rows]


def overview(session: Session, viewer: Viewer, today: date, query: dict[str, str]) -> Page:
    """The committee's first page: every opened task's progress across all branches, and each branch's."""
    if not viewer.committee:
        raise Forbidden()
    found = progress(session, today=today)
    tasks = found.by_task()
    per_branch = found.by_branch()
    every = people.branches(session)
    pager = Pager(page_number(query.get("page")), len(every))
    rows = [{"id": b.id, "name": b.name, "count": per_branch.get(b.id, Count())}
            for b in every[pager.offset:pager.offset + pager.size]]
    return Page("console/overview", {"campaigns": list(found.campaigns.values()), "tasks": tasks,
                                     "phase": found.phase, "chart": _chart_rows(tasks), "branches": rows,
                                     "unassigned": per_branch.get(None), "total": found.total(), "pager": pager})


def branch_page(session: Session, viewer: Viewer, today: date, branch_id: int, query: dict[str, str]) -> Page:
    if not viewer.may_see_branch(branch_id):
        raise Forbidden()
    branch = session.get(Branch, branch_id)
    if branch is None:
        raise NotFound()
    found = progress(session, today=today, branch_id=branch_id)
    tasks = found.by_task()
    number = page_number(query.get("page"))
    rows, total = counted.people_page(session, branch_id=branch_id, limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    _frame, owed = owed_by(session, rows, today=today)
    people = [{"person": row, "count": summary(owed[row.userid])} for row in rows]
    return Page("console/branch", {"branch": branch, "tasks": tasks, "phase": found.phase, "chart": _chart_rows(tasks),
                                   "total": found.total(), "people": people, "pager": Pager(number, total),
                                   "campaigns": list(found.campaigns.values())})


def person_page(session: Session, viewer: Viewer, today: date, userid: str) -> Page:
    """A person's own tasks, done or not, and their latest pledge for each pledge task."""
    if viewer.role == Role.masses or (not viewer.committee and not viewer.secretary and userid != viewer.userid):
        raise Forbidden()  # before looking: a member learns nothing about who exists
    person = find(session, userid)
    if person is None:
        raise NotFound()
    if not viewer.may_see_person(person):
        raise Forbidden()
    frame, owed = owed_by(session, [person], today=today)
    branch = session.get(Branch, person.branch_id) if person.branch_id else None
    return Page("console/person", {"person": person, "branch": branch, "owed": owed[person.userid],
                                   "count": summary(owed[person.userid]), "own": person.userid == viewer.userid,
                                   "pledges": _own_pledges(session, person, frame.campaigns)})


def _own_pledges(session: Session, person: Person, running: dict[int, CampaignRecord]) -> list[Pledge]:
    """The person's latest version of each pledge task's pledge in the running campaigns."""
    if not running:
        return []
    stmt = select(Pledge).where(Pledge.userid == person.userid, Pledge.kind == "member",
                                Pledge.campaign_id.in_(list(running))).order_by(Pledge.id)
    latest: dict[tuple[int, int | None], Pledge] = {}
    for pledge in session.scalars(stmt):
        latest[(pledge.campaign_id, pledge.task_id)] = pledge
    return list(latest.values())


# -- polls -----------------------------------------------------------------------------------------
def polls_page(session: Session, viewer: Viewer, today: date, query: dict[str, str]) -> Page:
    scope = viewer.scope(positive_number(query.get("branch")))
    number = page_number(query.get("page"))
    rows, total = polls.page(session, branch_id=scope, limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    return Page("console/polls", {"polls": rows, "pager": Pager(number, total), "scope": scope,
                                  "branches": _branch_names(session),
                                  "turnout": polls.turnouts(session, poll_ids=[p.id for p in rows if p.status == "open"])})


def poll_page(session: Session, viewer: Viewer, today: date, poll_id: int) -> Page:
    """Turnout while open (how many may vote and how many have), the stored result and its chart once
    closed. Never anything of a ballot: they are sealed until the close and deleted by it."""
    poll = session.get(Poll, poll_id)
    if poll is None:
        if viewer.committee or viewer.secretary:
            raise NotFound()
        raise Forbidden()
    if not viewer.may_see_branch(poll.branch_id):
        raise Forbidden()
    branch = session.get(Branch, poll.branch_id)
    turnout = polls.turnout(session, poll_id=poll.id) if poll.status == "open" else None
    return Page("console/poll", {"poll": poll, "branch": branch, "turnout": turnout, "r": poll.result,
                                 "issuer": _names(session, [poll.issuer]).get(poll.issuer, poll.issuer)})


# -- ratings ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RatingRow:
    branch: Any
    rounds: list[Rating | None]  # one per round, None where the branch has no rating yet
    shown: Rating | None  # the latest round's rating that exists: the one explained
    inputs: Inputs | None
    proposal: Any
    history: History | None


def ratings_page(session: Session, viewer: Viewer, today: date, query: dict[str, str]) -> Page:
    """Each campaign's rating rounds; for each branch its level in each round, the latest one explained
    (its sources, weights, formula, lines, what would change it, its stars) and how it moved."""
    scope = viewer.scope(positive_number(query.get("branch")))
    every = [b for b in people.branches(session) if scope is None or b.id == scope]
    pager = Pager(page_number(query.get("page")), len(every), size=10)
    shown = every[pager.offset:pager.offset + pager.size]
    sections = []
    for record in current_campaigns(session, today):
        rounds = [t for t in stored_campaigns.tasks_of(session, campaign_ids=[record.id])
                  if t.kind == "rating" and t.branch_id is None]
        if rounds:
            sections.append(_rating_section(session, record, rounds, shown))
    confirmers = _names(session, [r.confirmed_by for s in sections for row in s["rows"] for r in row.rounds if r])
    return Page("console/ratings", {"sections": sections, "pager": pager, "scope": scope, "confirmers": confirmers})


def _rating_section(session: Session, record: CampaignRecord, rounds: list[CampaignTask], shown: list) -> dict:
    rules = rules_of(record)
    stars = record.content["standards"].get("stars")
    indicators = record.content["standard_sets"][stars]["items"] if stars else []
    stmt = select(Rating).where(Rating.campaign_id == record.id, Rating.branch_id.in_([b.id for b in shown]))
    found = {(r.task_id, r.branch_id): r for r in session.scalars(stmt)}
    rows = []
    for branch in shown:
        per_round = [found.get((t.id, branch.id)) for t in rounds]
        latest = next((r for r in reversed(per_round) if r is not None), None)
        inputs = Inputs.from_json(latest.inputs) if latest else None
        levels = [r.level for r in per_round if r is not None and (r.status == "confirmed" or r is latest)]
        rows.append(RatingRow(branch, per_round, latest, inputs,
                              propose(inputs, rules, indicators) if inputs else None,
                              History.of(levels, rules) if latest else None))
    return {"record": record, "rounds": rounds, "rules": rules, "indicators": indicators, "rows": rows}


# -- pledges and documents ---------------------------------------------------------------------------
def pledges_page(session: Session, viewer: Viewer, today: date, query: dict[str, str]) -> Page:
    """公开承诺: published to the branch, so the committee sees every branch's and a secretary their own."""
    scope = viewer.scope(positive_number(query.get("branch")))
    kind = "branch" if query.get("kind") == "branch" else "member"
    number = page_number(query.get("page"))
    running = current_campaigns(session, today)
    rows, total = pledges.latest_page(session, campaign_ids=[r.id for r in running], kind=kind, branch_id=scope,
                                      limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    titles = {t.id: t.title for t in stored_campaigns.tasks_of(session, campaign_ids=[r.id for r in running])}
    return Page("console/pledges", {"pledges": rows, "kind": kind, "scope": scope, "pager": Pager(number, total),
                                    "names": _names(session, [p.userid for p in rows]),
                                    "branches": _branch_names(session), "titles": titles})


def documents_page(session: Session, viewer: Viewer, today: date, query: dict[str, str]) -> Page:
    scope = viewer.scope(positive_number(query.get("branch")))
    number = page_number(query.get("page"))
    rows, total = documents.page(session, branch_id=scope, limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    return Page("console/documents", {"documents": rows, "scope": scope, "pager": Pager(number, total),
                                      "names": _names(session, [d.userid for d in rows] + [d.reviewer for d in rows]),
                                      "branches": _branch_names(session),
                                      "files": documents.file_info(session, submission_ids=[d.id for d in rows])})


def may_fetch(viewer: Viewer, row: DocumentSubmission) -> bool:
    """A submitted file: the committee, the secretary of its branch, and whoever sent it."""
    return viewer.committee or row.userid == viewer.userid or (viewer.secretary and row.branch_id == viewer.branch_id)


def document_file(session: Session, viewer: Viewer, submission_id: int) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of a submission's kept file."""
    row = session.get(DocumentSubmission, submission_id)
    if row is None:
        raise NotFound()
    if not may_fetch(viewer, row):
        raise Forbidden()
    info = documents.file_info(session, submission_ids=[row.id]).get(row.id)
    data = documents.file_data(session, submission_id=row.id)
    if info is None or data is None:
        raise NotFound()
    return info[0], info[1], data


# -- timeline ----------------------------------------------------------------------------------------
def timeline_page(session: Session, viewer: Viewer, today: date) -> Page:
    """Each campaign's phases on one line of days, today marked, and its dates in order."""
    if not (viewer.committee or viewer.secretary):
        raise Forbidden()
    records = current_campaigns(session, today)
    return Page("console/timeline", {"plans": [_plan(Campaign.model_validate(r.content), today) for r in records]})


def _plan(campaign: Campaign, today: date) -> dict[str, Any]:
    days = (campaign.end - campaign.start).days + 1

    def at(day: date) -> float:
        return round(100 * (day - campaign.start).days / days, 2)

    phases = [{"phase": p, "left": at(p.start), "width": round(100 * ((p.end - p.start).days + 1) / days, 2),
               "now": p.start <= today <= p.end} for p in campaign.phases]
    events = sorted([(p.start, 0, "start", p.name, p) for p in campaign.phases]
                    + [(t.due, 1, "due", t.title, t) for p in campaign.phases for t in p.tasks]
                    + [(p.end, 2, "end", p.name, p) for p in campaign.phases], key=lambda e: (e[0], e[1]))
    marker = sum(1 for e in events if e[0] < today)  # today goes before the first event from today on
    return {"campaign": campaign, "phases": phases, "events": events, "marker": marker,
            "today_at": at(today) if campaign.start <= today <= campaign.end else None}


# -- exports and the audit log -----------------------------------------------------------------------
def exports_page(session: Session, viewer: Viewer, today: date) -> Page:
    """The committee's downloads are the whole campaign's; a secretary's hold their branch's rows only."""
    scope = viewer.scope(None)
    from bot.exports import BOOKS

    return Page("console/exports", {"campaigns": list(reversed(stored_campaigns.campaigns(session))),
                                    "books": list(BOOKS), "scope": scope})


def export_file(session: Session, viewer: Viewer, campaign_id: int, what: str, tz: str, folder: Path) -> Path:
    """The workbook written into `folder` (a secretary's: their branch's rows only); documents with the
    files kept beside it, zipped together."""
    scope = viewer.scope(None)
    from bot.exports import BOOKS, export
    from bot.exports.documents import files_folder

    record = session.get(CampaignRecord, campaign_id)
    if record is None or what not in BOOKS:
        raise NotFound()
    out = folder / f"{record.name.replace('/', '_').replace(chr(92), '_')}_{what}.xlsx"
    export(session, what=what, campaign=record.name, out=out, tz=tz, branch_id=scope)
    files = files_folder(out)
    if not files.exists():
        return out
    bundle = out.with_suffix(".zip")
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_STORED) as zipped:
        zipped.write(out, out.name)
        for path in sorted(files.rglob("*")):
            zipped.write(path, path.relative_to(folder).as_posix())
    shutil.rmtree(files)
    return bundle


AUDIT_PAGE = 50


def audit_page(session: Session, viewer: Viewer, today: date, query: dict[str, str], *, tz: str) -> Page:
    """The hash-chained audit log (storage/audit.py), newest first, a page at a time before an entry,
    and, with ?verify=1, whether the whole log verifies."""
    if not viewer.committee:
        raise Forbidden()
    before = positive_number(query.get("before"))
    entries = audit_log.shown(session, limit=AUDIT_PAGE + 1, before=before, tz=tz)
    older = f"?before={entries[AUDIT_PAGE - 1].seq}" if len(entries) > AUDIT_PAGE else None
    # Verifying reads the whole log and holds appends meanwhile: only when asked (xianfeng audit verify too)
    report = audit.verify(session) if query.get("verify") else None
    return Page("console/audit", {"entries": entries[:AUDIT_PAGE], "report": report, "older_url": older})


