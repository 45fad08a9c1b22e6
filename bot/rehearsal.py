"""`xianfeng campaign rehearse`: the whole campaign on a virtual clock, before a county launches it.

A fresh SQLite database in a temporary directory gets the campaign (saved as `campaign load` saves
it) and a roster (a made-up one unless given). Then, day by day, the scheduled jobs run at their
configured times and people submit through the real dispatcher, each update's CreateTime being the
virtual moment: on each task's due day (a poll a few days before it, so it closes in time for a
rating), or a week later for the late share. Every outbox row is stamped with the moment it was
queued: that is the timeline. At each phase's end the ledger is read from
bot.scheduler.obligations, the module the digest, the reminders and the escalations read.

A document (方案, 总结) is sent with /报送 as a text and accepted by the committee's /审核 N 通过 at
once; a 领导点评 is one /点评 全部 line by a committee member; a branch's 践诺 is /践诺 支部 by its
secretary. Where a campaign has 五星, the committee confirms each star a branch claims, one by one,
before it confirms the rating; where a star needs 党员参与率, each branch secretary enters it with
/参与率 on the rating day. A task nobody can do through a command (a pledge for 群众, say) is not
faked: the ledger shows it as having no command.
"""
from __future__ import annotations

import csv
import itertools
import random
import re
import tempfile
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from bot.campaigns import Campaign, save_campaign
from bot.config import Settings
from bot.dispatch import Dispatcher
from bot.forms import BRANCHES, MEMBER_AUDIENCES
from bot.handlers import ROUTERS
from bot.roster import import_roster
from bot.scheduler.calendar import clock
from bot.scheduler.jobs import run_job
from bot.scheduler.obligations import Obligations, audiences, subject_for
from bot.texts import vocabulary
from bot.wecom.emulator.callbacks import text_message
from bot.wecom.updates import parse_update
from storage import polls as poll_store
from storage.db import make_engine, transaction
from storage.migrate import upgrade
from storage.models import (BranchParticipation, CampaignTask, ConversationState, DocumentSubmission,
                            LeaderComment, Outbox, Person, Rating, Role, TaskDone)
from storage.people import branches as branches_in_order

LATE_DAYS = 7  # how late the late share is
POLL_LEAD_DAYS = 3  # a poll is issued this many days before its due day, and closes that evening
FORM_STEPS = 80  # a form not done after this many answers is reported, not looped on
AFTER_END_DAYS = 8  # the escalation after the last due day (due + 1) and its grace
NAGS = {"digest", "reminder", "escalation"}
FILL, ISSUE_POLL, VOTE, RATE, DOCUMENT, COMMENT = "fill", "issue_poll", "vote", "rate", "document", "comment"
PARTICIPATION = "participation"
_msg_ids = itertools.count(9_000_000_000_000_000_000)


def words() -> dict:
    return vocabulary("cli/rehearsal")


def submittable(task: CampaignTask) -> bool:
    """Tasks somebody can do in chat today: /承诺, /自评 and /践诺 (/践诺 支部) credit a member's own or
    the branch's; /点评 the committee's 领导点评; a task for other audiences has none."""
    if task.kind in ("pledge", "self_assessment", "progress"):
        return task.audience in MEMBER_AUDIENCES | BRANCHES
    if task.kind == "comment":
        return task.audience == "committee"
    return task.kind in {"poll", "rating", "document"}


@dataclass(frozen=True)
class Message:
    moment: datetime
    category: str  # announcement, digest, reminder, escalation, result, reply, setup
    roles: tuple[str, ...]
    recipients: tuple[str, ...]
    text: str
    stale: tuple[str, ...] = ()  # titles of tasks it names that are done or not yet started


@dataclass(frozen=True)
class LedgerLine:
    task_key: str
    task: str
    kind: str
    due: date
    subject: str
    party: str
    state: str  # done, open, no_command


@dataclass(frozen=True)
class Ledger:
    phase: str
    end: date
    lines: list[LedgerLine]


@dataclass
class Rehearsal:
    campaign: str
    messages: list[Message] = field(default_factory=list)
    ledgers: list[Ledger] = field(default_factory=list)
    no_command: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # (task key, subject) of each submission the rehearsal made, in order
    submissions: list[tuple[str, str]] = field(default_factory=list)
    # task_done at the end: (task key, subject)
    done: list[tuple[str, str]] = field(default_factory=list)
    # /报送 submissions at the end: (task key, subject, status)
    documents: list[tuple[str, str, str]] = field(default_factory=list)
    # ratings at the end, every round kept: (task key, branch name, level, status)
    ratings: list[tuple[str, str, str, str]] = field(default_factory=list)
    # 领导点评 at the end: (task key, branch name, author's userid)
    comments: list[tuple[str, str, str]] = field(default_factory=list)
    # each rating's stars at the end, and the committee's decision on each star: (task key, branch name,
    # stars counted, {star: decision})
    stars: list[tuple[str, str, tuple[str, ...], dict[str, str]]] = field(default_factory=list)
    # 党员参与率 entered by the secretaries at the end: (branch name, rate)
    participation: list[tuple[str, float]] = field(default_factory=list)


@dataclass(frozen=True, order=True)
class Action:
    moment: datetime
    what: str
    userid: str = ""
    task_key: str = ""
    subject: str = ""


def made_up_roster(path: Path) -> Path:
    """Two branches, each with a secretary, a 有职 member, ordinary members and 群众; one committee member."""
    w, vocab = words()["roster"], vocabulary()["roster"]
    columns, roles = vocab["columns"], vocab["roles"]
    rows = [[f"c{i}", name, "", roles["committee"][0], ""] for i, name in enumerate(w["committee"])]
    for b, branch in enumerate(w["branches"]):
        rows.append([f"s{b}", w["secretaries"][b], branch, roles["secretary"][0], ""])
        rows.append([f"p{b}", w["post_holders"][b], branch, roles["member"][0], w["post_yes"]])
        rows += [[f"m{b}{i}", name, branch, roles["member"][0], ""] for i, name in enumerate(w["members"][b])]
        rows += [[f"q{b}{i}", name, branch, roles["masses"][0], ""] for i, name in enumerate(w["masses"][b])]
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow([columns[c][0] for c in ("userid", "name", "branch", "role")] + [w["post_column"]])
        out.writerows(rows)
    return path


def rehearse(campaign: Campaign, settings: Settings, *, roster: Path | None = None, late_percent: int = 0,
             start: date | None = None) -> Rehearsal:
    if start:
        campaign = campaign.rebase(start).campaign
    with tempfile.TemporaryDirectory(prefix="xianfeng-rehearsal-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'rehearsal.db'}"
        upgrade(url)
        engine = make_engine(url)
        try:
            import_roster(engine, roster or made_up_roster(Path(tmp) / "roster.csv"))
            with transaction(engine) as session:
                save_campaign(session, campaign, source_file="rehearsal")
            return Stage(engine, replace(settings, database_url=url), campaign, late_percent).run()
        finally:
            engine.dispose()


class Stage:
    """The database, the clock and everyone's phone during one rehearsal."""

    def __init__(self, engine, settings: Settings, campaign: Campaign, late_percent: int):
        self.engine, self.settings, self.campaign = engine, settings, campaign
        self.tz = ZoneInfo(settings.tz)
        self.dispatcher = Dispatcher(engine, ROUTERS)
        self.result = Rehearsal(campaign.name)
        self.last_id, self.tick, self.now = 0, 0, datetime.min.replace(tzinfo=self.tz)
        with Session(engine) as session:
            self.tasks = [_plain(t) for t in session.scalars(select(CampaignTask).order_by(CampaignTask.due,
                                                                                             CampaignTask.id))]
            self.people = {p.userid: _plain(p) for p in session.scalars(select(Person))}
            self.branches = {b.id: _plain(b) for b in branches_in_order(session)}
        self.by_title = sorted({t.title for t in self.tasks}, key=len, reverse=True)
        self.late = self._late_share(late_percent)
        self.failures: dict[str, list[datetime]] = {}
        self.result.no_command = [t.title for t in self.tasks if not submittable(t)]

    # -- the plan of what everyone does --------------------------------------------------------
    def _late_share(self, percent: int) -> set[str]:
        subjects = sorted(set(self.people) | {f"branch:{b}" for b in self.branches})
        return set(random.Random(0).sample(subjects, round(len(subjects) * percent / 100)))

    def _parties(self, task: CampaignTask) -> Iterator[tuple[Person, str]]:
        """Who submits for each party of the task: the person, a branch's first secretary, one committee member."""
        seen = set()
        for person in sorted(self.people.values(), key=lambda p: (p.role != Role.secretary, p.userid)):
            subject = subject_for(task, person) if task.audience in audiences(person) else None
            if task.kind == "poll" and person.role == Role.secretary:
                subject = f"branch:{person.branch_id}"  # a poll is owed by the branch, whatever it rates
            if subject and subject not in seen:
                seen.add(subject)
                yield person, subject

    def _secretaries(self) -> dict[int, str]:
        """Each branch's first secretary."""
        found: dict[int, str] = {}
        for person in sorted(self.people.values(), key=lambda p: p.userid):
            if person.role == Role.secretary and person.branch_id is not None:
                found.setdefault(person.branch_id, person.userid)
        return found

    def _stars(self) -> list[str]:
        stars = self.campaign.standards.get("stars")
        return self.campaign.standard_sets[stars].items if stars else []

    def _needs_participation(self) -> bool:
        return bool(self._stars()) and any("participation" in needs
                                           for needs in self.campaign.rules.star_conditions.values())

    def _moment(self, day: date, hour: int) -> datetime:
        return datetime.combine(day, time(hour), self.tz)

    def actions(self) -> list[Action]:
        found = []
        for task in filter(submittable, self.tasks):
            phase_start = self.campaign.phases[task.phase_index].start
            for person, subject in self._parties(task):
                late = subject in self.late
                if task.kind == "poll":
                    day = task.due + timedelta(days=POLL_LEAD_DAYS) if late else max(
                        phase_start, task.due - timedelta(days=POLL_LEAD_DAYS))
                    found.append(Action(self._moment(day, 10), ISSUE_POLL, person.userid, task.key, subject))
                    found.append(Action(self._moment(day, 11), VOTE))
                    continue
                day = task.due + timedelta(days=LATE_DAYS) if late else task.due
                if task.kind == "rating":  # a late branch's inputs come late: the committee rates it after them
                    found += [Action(self._moment(self._rating_day(task, b, day), 15), RATE, person.userid, task.key,
                                     f"branch:{b}") for b in sorted(self.branches)]
                    found += [Action(self._moment(day, 14), PARTICIPATION, secretary, task.key, f"branch:{b}")
                              for b, secretary in self._secretaries().items() if self._needs_participation()]
                else:
                    what = {"document": DOCUMENT, "comment": COMMENT}.get(task.kind, FILL)
                    found.append(Action(self._moment(day, 10), what, person.userid, task.key, subject))
        return sorted(set(found))

    def _rating_day(self, task: CampaignTask, branch_id: int, day: date) -> date:
        late = f"branch:{branch_id}" in self.late
        return max(day, task.due + timedelta(days=max(LATE_DAYS, POLL_LEAD_DAYS) + 1)) if late else day

    # -- the run ----------------------------------------------------------------------------------
    def run(self) -> Rehearsal:
        actions = self.actions()
        by_day: dict[date, list[Action]] = {}
        for action in actions:
            by_day.setdefault(action.moment.date(), []).append(action)
        phase_ends = {p.end: p.name for p in self.campaign.phases}
        day, last = self.campaign.start, max([self.campaign.end, *(a.moment.date() for a in actions)])
        while day <= last + timedelta(days=AFTER_END_DAYS):
            for moment, step in sorted(self._day(day, by_day.get(day, [])), key=lambda s: s[0]):
                self.now, self.tick = moment, 0
                step()
                self.collect()
            if day in phase_ends:
                self.result.ledgers.append(self.ledger(phase_ends[day], day))
            day += timedelta(days=1)
        self.read_back()
        self.result.problems += [f"{what} ({len(days)}×, {days[0]:%Y-%m-%d}…{days[-1]:%Y-%m-%d})"
                                 for what, days in self.failures.items()]
        return self.result

    def _day(self, day: date, actions: list[Action]) -> list:
        at = lambda value: datetime.combine(day, clock(value), self.tz)  # noqa: E731
        announce = at(self.settings.announce_time)
        steps = [(at("08:00"), lambda: self.job("polls")), (announce, lambda: self.job("announcements")),
                 (announce, lambda: self.job("checkins")),
                 (at(self.settings.digest_time), lambda: self.job("digest")), (at("20:00"), lambda: self.job("polls"))]
        return steps + [(a.moment, lambda a=a: self.act(a)) for a in actions]

    def job(self, job_id: str) -> None:
        """A job that fails is what the rehearsal is for: noted (once per kind of failure), and the run goes on."""
        try:
            run_job(job_id, self.engine, self.settings, self.now)
        except Exception as exc:  # noqa: BLE001 - any failure of the bot's job is a finding, not the rehearsal's end
            self.failures.setdefault(f"{job_id}: {type(exc).__name__}: {str(exc).splitlines()[0]}", []).append(self.now)

    def act(self, action: Action) -> None:
        task = next((t for t in self.tasks if t.key == action.task_key), None)
        if action.what == VOTE:
            self.vote()
        elif action.what == RATE:
            self.rate(action, task)
        elif action.what == ISSUE_POLL:
            self.fill(action, task, self._command(task), self._poll_answers(task, action))
        elif action.what == DOCUMENT:
            self.document(action, task)
        elif action.what == COMMENT:
            self.comment(action, task)
        elif action.what == PARTICIPATION:
            self.say(action.userid, f"{words()['commands']['participation']} {words()['answers']['participation']}")
        else:
            self.fill(action, task, self._command(task), self._assessment_answers(task))

    # -- people typing ----------------------------------------------------------------------------
    def say(self, userid: str, text: str) -> str:
        self.tick += 1
        moment = int(self.now.timestamp()) + self.tick
        self.dispatcher.feed_update(parse_update(text_message(
            self.settings.corp_id, self.settings.agent_id, userid, text, msg_id=next(_msg_ids), create_time=moment)))
        rows = self.collect()
        return "\n".join(m.text for m, row in rows if row.payload.get("touser") == userid
                         and row.payload.get("msgtype") != "template_card")

    def in_form(self, userid: str) -> bool:
        with Session(self.engine) as session:
            return session.get(ConversationState, userid) is not None

    def fill(self, action: Action, task: CampaignTask, command: str, fixed: dict[str, str], *,
             record: bool = True) -> str | None:
        """The form's last reply once it is done; None (and a problem noted) when it could not be."""
        reply = self.say(action.userid, command)
        for _ in range(FORM_STEPS):
            if not self.in_form(action.userid):
                if record:
                    self.result.submissions.append((task.key, action.subject))
                return reply
            reply = self.say(action.userid, self._answer(reply, task.title, fixed))
        self.result.problems.append(f"{self.now:%Y-%m-%d} {task.title} {action.userid}: {reply}")
        self.say(action.userid, vocabulary()["forms"]["words"]["cancel"][0])
        return None

    def document(self, action: Action, task: CampaignTask) -> None:
        """/报送 with a text, then the first committee member's /审核 N 通过 (the number the reply gives).
        A /报送 the bot refuses is a problem, not a submission."""
        reply = self.fill(action, task, words()["commands"]["document"], {}, record=False)
        number = re.search(words()["questions"]["document_number"], reply or "")
        if number is None:
            if reply is not None:
                self.result.problems.append(f"{self.now:%Y-%m-%d} {task.title} {action.userid}: {reply}")
            return
        self.result.submissions.append((task.key, action.subject))
        reviewer = min(u for u, p in self.people.items() if p.role == Role.committee)
        accept = vocabulary()["documents"]["accept"][0]
        self.say(reviewer, f"{words()['commands']['review']} {number[1]} {accept}")

    def comment(self, action: Action, task: CampaignTask) -> None:
        """/点评 全部 with a text in one line: every branch's comment at once. One the bot does not save is a
        problem, not a submission."""
        c, a = words()["commands"], words()["answers"]
        reply = self.say(action.userid, f"{c['comment']} {vocabulary()['comment']['all'][0]} {a['comment']}")
        if words()["questions"]["comment_saved"] in reply:
            self.result.submissions.append((task.key, action.subject))
        else:
            self.result.problems.append(f"{self.now:%Y-%m-%d} {task.title} {action.userid}: {reply}")

    @staticmethod
    def _answer(reply: str, title: str, fixed: dict[str, str]) -> str:
        q, a = words()["questions"], words()["answers"]
        options = {text: number for number, text in re.findall(r"^(\d+)\. (.*)$", reply, re.M)}
        if q["which_task"] in reply:
            return next((n for text, n in options.items() if text.startswith(title)), a["first"])
        if any(w in reply for w in q["confirm"]):
            return a["first"]
        if answer := next((answer for w, answer in fixed.items() if w in reply), None):
            return options.get(answer, answer)
        if options:
            return a["first"]
        if q["percent"] in reply:
            return a["percent"]
        return a["date"] if any(w in reply for w in q["date"]) else a["text"]

    def _command(self, task: CampaignTask) -> str:
        c = words()["commands"]
        if task.kind == "poll":
            return c["poll"]
        if task.kind in ("pledge", "progress") and task.audience == "branches":
            return c[f"branch_{task.kind}"]
        return c[task.kind]

    def _assessment_answers(self, task: CampaignTask) -> dict[str, str]:
        """A branch's task is its 党组织自评, or its 五星 claims when the title says so."""
        kinds = vocabulary()["forms"]["assessment_kinds"]
        kind = "member" if task.audience != "branches" else "stars" if kinds["stars"] in task.title else "branch"
        return {words()["questions"]["assessment_kind"]: kinds[kind]}

    def _poll_answers(self, task: CampaignTask, action: Action) -> dict[str, str]:
        """What is rated and who votes as the plan says; the poll closes at 18:00 the day it is issued."""
        q, poll = words()["questions"], vocabulary()["poll"]
        spec = next(t for p in self.campaign.phases for t in p.tasks if t.id == task.key)
        branch = self.people[action.userid].branch_id
        member = next((p.name for p in self.people.values() if p.branch_id == branch and p.role == Role.member), "")
        deadline = words()["answers"]["deadline"].format(month=self.now.month, day=self.now.day)
        return {q["poll_rates"]: poll["rates"][spec.rates], q["poll_members"]: member,
                q["poll_voters"]: poll["voters"][spec.voters], q["poll_deadline"]: deadline,
                q["poll_description"]: words()["answers"]["skip"]}

    def vote(self) -> None:
        for userid in sorted(self.people):
            with Session(self.engine) as session:
                pending = [p.id for p in poll_store.pending_for(session, userid=userid)]
            for poll_id in pending:
                self.say(userid, f"{poll_id}-{words()['answers']['first']}")

    def rate(self, action: Action, task: CampaignTask) -> None:
        """The committee's 上级评定 for one branch, then its confirmation."""
        r, a, c = vocabulary()["rating"], words()["answers"], words()["commands"]
        branch = self.branches[int(action.subject.split(":")[1])].name
        self.say(action.userid, f"{c['rating']} {branch} {r['superior'][-1]} {a['superior_score']} "
                                f"{r['honour'][-1]} {r['no'][0]}")
        for star in self._stars():  # each star the branch claimed, one by one (an unclaimed one is refused)
            self.say(action.userid, f"{c['rating']} {branch} {r['star'][0]} {star} {r['star_yes'][0]}")
        self.say(action.userid, f"{c['rating']} {r['confirm'][0]} {branch}")
        submission = (task.key, subject_for(task, self.people[action.userid]))
        if submission not in self.result.submissions:  # the committee rates as one party
            self.result.submissions.append(submission)

    # -- what the bot queued ----------------------------------------------------------------------
    def collect(self) -> list[tuple[Message, Outbox]]:
        with Session(self.engine) as session:
            rows = list(session.scalars(select(Outbox).where(Outbox.id > self.last_id).order_by(Outbox.id)))
            if not rows:
                return []
            self.last_id = rows[-1].id
            ob = None
            found = []
            for row in rows:
                category = _category(row.idem_key)
                userids, chats = self._recipients(row)
                stale = ()
                if category in NAGS and not row.idem_key.startswith("poll:"):
                    ob = ob or Obligations(session, today=self.now.date(), ended_within=AFTER_END_DAYS)
                    stale = self._stale(ob, row, self._concerned(ob, row.idem_key, userids, chats))
                message = Message(self.now, category, self._roles(userids, chats),
                                  tuple(self.people[u].name for u in userids if u in self.people) + chats,
                                  _text(row.payload), stale)
                self.result.messages.append(message)
                found.append((message, row))
            return found

    def _recipients(self, row: Outbox) -> tuple[list[str], tuple[str, ...]]:
        payload = row.payload
        userids = [u for u in (payload.get("touser") or "").split("|") if u] or list(row.recipients)
        chat = payload.get("chatid")
        names = tuple(b.name for b in self.branches.values() if chat and b.chat_id == chat)
        return userids, names

    def _roles(self, userids: list[str], chats: tuple[str, ...]) -> tuple[str, ...]:
        labels = vocabulary()["roles"]
        roles = {labels.get(self.people[u].role, self.people[u].role) for u in userids if u in self.people}
        return tuple(sorted(roles)) + ((words()["headers"]["chat"],) if chats else ())

    def _stale(self, ob: Obligations, row: Outbox, concerned: list) -> tuple[str, ...]:
        """Tasks the message names that nobody it concerns still owes, or whose window has not opened."""
        text, named = _text(row.payload), []
        for title in self.by_title:
            if title in text:
                named.append(title)
                text = text.replace(title, "\x00")
        h = words()["headers"]
        stale = []
        for title in named:
            same = [t for t in ob.tasks if t.title == title]  # ob.tasks: those whose window has opened
            if not same:
                stale.append(f"{title}（{h['stale_not_started']}）")
            elif not any(ob.owed(t, p) for t in same for p in concerned):
                stale.append(f"{title}（{h['stale_done']}）")
        return tuple(stale)

    def _concerned(self, ob: Obligations, idem_key: str, userids: list[str], chats: tuple[str, ...]) -> list:
        """A digest concerns its reader; a group post its branch; a secretary's escalation the branch;
        the committee's all branches."""
        if chats:
            ids = {b.id for b in self.branches.values() if b.name in chats}
            return [p for p in ob.people if p.branch_id in ids]
        key = _base_key(idem_key)
        if key.startswith("overdue:") and key.endswith(":committee"):
            return list(ob.people)
        if key.startswith("overdue:"):
            ids = {self.people[u].branch_id for u in userids if u in self.people}
            return [p for p in ob.people if p.branch_id in ids]
        return [p for p in ob.people if p.userid in userids]

    def ledger(self, phase: str, day: date) -> Ledger:
        states = words()["states"]
        with Session(self.engine) as session:
            ob = Obligations(session, today=day)
            lines = []
            place = {f"branch:{bid}": n for n, bid in enumerate(self.branches)}  # branches as people count them
            for task in sorted(ob.tasks, key=lambda t: (t.due, t.id)):
                for person, subject in sorted(self._parties(task), key=lambda party: place.get(party[1], 0)):
                    done = (task.id, subject) in ob.done
                    state = "done" if done else "open" if submittable(task) else "no_command"
                    lines.append(LedgerLine(task.key, task.title, task.kind, task.due, subject,
                                            self._party(subject), states[state]))
        return Ledger(phase, day, lines)

    def _party(self, subject: str) -> str:
        if subject.startswith("branch:"):
            return self.branches[int(subject.split(":")[1])].name
        if subject == "committee":
            return vocabulary()["roles"]["committee"]
        return self.people[subject].name

    def read_back(self) -> None:
        """What the database holds at the end: task_done, /报送 submissions, every rating round, every 点评."""
        keys = {t.id: t.key for t in self.tasks}
        with Session(self.engine) as session:
            self.result.done = [(keys[d.task_id], d.subject) for d in session.scalars(select(TaskDone))]
            self.result.documents = [(keys.get(d.task_id, ""), d.subject, d.status) for d in
                                     session.scalars(select(DocumentSubmission).order_by(DocumentSubmission.id))]
            every = list(session.scalars(select(Rating).order_by(Rating.id)))
            self.result.ratings = [(keys[r.task_id], self.branches[r.branch_id].name, r.level, r.status) for r in every]
            self.result.stars = [(keys[r.task_id], self.branches[r.branch_id].name, tuple(r.stars),
                                  {star: made.get("decision", "")
                                   for star, made in r.inputs.get("star_decisions", {}).items()}) for r in every]
            self.result.participation = [(self.branches[e.branch_id].name, e.rate) for e in
                                         session.scalars(select(BranchParticipation).order_by(BranchParticipation.id))]
            self.result.comments = [(keys.get(c.task_id, ""), self.branches[c.branch_id].name, c.userid)
                                    for c in session.scalars(select(LeaderComment).order_by(LeaderComment.id))]


def _plain(row):
    """A detached copy: the rehearsal reads these across many sessions."""
    return type(row)(**{c.key: getattr(row, c.key) for c in row.__table__.columns})


def _base_key(key: str) -> str:
    """The key without the suffix of a message split into parts ("…@0#0")."""
    return key.split("@", 1)[0]


def _category(key: str) -> str:
    key = _base_key(key)
    head = key.split(":", 1)[0]
    if head == "announce":
        return "reminder" if ":remind:" in key else "announcement"
    if head == "poll":
        if ":remind:" in key:
            return "reminder"
        return "result" if key.endswith((":result", ":chart", ":issuer")) else "announcement"
    return {"overdue": "escalation", "digest": "digest", "checkin": "reminder", "checkins": "result",
            "pledge": "result", "rating": "result", "comment": "result", "branch_progress": "result",
            "appchat": "setup"}.get(head, "reply")


def _text(payload: dict) -> str:
    kind = payload.get("msgtype")
    body = payload.get(kind, {}) if kind else {}
    if isinstance(body, dict) and "content" in body:
        return body["content"]
    if kind == "template_card":
        title = body.get("main_title", {})
        return " ".join(filter(None, (title.get("title"), title.get("desc"))))
    return payload.get("name", "")


# -- the report ---------------------------------------------------------------------------------
def timeline_rows(result: Rehearsal) -> list[list[str]]:
    labels, h = words()["categories"], words()["headers"]
    join = h["joiner"].join
    return [[f"{m.moment:%Y-%m-%d %H:%M}", labels[m.category], join(m.roles), join(m.recipients), m.text,
             h["stale_joiner"].join(m.stale)] for m in result.messages]


def ledger_rows(ledger: Ledger) -> list[list[str]]:
    return [[ledger.phase, ledger.end.isoformat(), line.task, line.due.isoformat(), line.party, line.state]
            for line in ledger.lines]


def write_report(result: Rehearsal, out: Path) -> None:
    """An .html page, or an .xlsx workbook: the timeline, then one ledger sheet per phase end."""
    h = words()["headers"]
    heads = {"timeline": [h[k] for k in ("when", "category", "role", "recipients", "text", "stale")],
             "ledger": [h[k] for k in ("phase", "phase_end", "task", "due", "party", "state")]}
    if out.suffix.lower() in (".html", ".htm"):
        from bot.texts import render

        out.write_text(render("cli/rehearsal.html", result=result, h=h, heads=heads, timeline=timeline_rows(result),
                              ledgers=[(ledger, ledger_rows(ledger)) for ledger in result.ledgers]), encoding="utf-8")
        return
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = h["timeline"]
    for row in [heads["timeline"], *timeline_rows(result)]:
        sheet.append(row)
    for number, ledger in enumerate(result.ledgers, 1):
        sheet = book.create_sheet(f"{h['ledger']}{number}")
        for row in [heads["ledger"], *ledger_rows(ledger)]:
            sheet.append(row)
    notes = book.create_sheet(h["problems"])
    notes.append([h["problems"]])
    for line in result.problems:
        notes.append([line])
    notes.append([h["no_command_tasks"]])
    for title in result.no_command:
        notes.append([title])
    book.save(out)
