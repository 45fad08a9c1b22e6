"""Every N days of a campaign (its progress tasks' checkin_every_days, else 30): the pledge progress
of each branch is made public in its group ("定期将承诺事项的落实情况向师生公开"), and members who
pledged but reported nothing in that period are asked for a 践诺 report. The branch's own reports on
its pledge (/践诺 支部) are in the summary too, and while the campaign asks branches for progress (a
`progress` task for branches whose window holds today) the secretaries of a branch that pledged but
reported nothing are asked, in the same one message as their own ask. One run per period."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from bot.config import Settings
from bot.scheduler.calendar import clock, is_quiet, week_key
from bot.texts import render
from bot.wecom import messages
from storage import campaigns, nudges
from storage.models import Branch, CampaignRecord, JobRun, Person, Pledge, PledgeProgress, Role

DEFAULT_PERIOD = 30


def _period_days(record: CampaignRecord) -> int:
    days = [t.get("checkin_every_days") for p in record.content["phases"] for t in p["tasks"]
            if t["kind"] == "progress" and t.get("checkin_every_days")]
    return min(days, default=DEFAULT_PERIOD)


def _window(record: CampaignRecord, today: date) -> tuple[int, date, date] | None:
    """(period number, first day, last day) of the period that ended most recently, if any."""
    days = _period_days(record)
    number = (today - record.start).days // days
    if number < 1:
        return None
    start = record.start + timedelta(days=(number - 1) * days)
    return number, start, start + timedelta(days=days - 1)


def _epoch(day: date, tz) -> float:
    return datetime.combine(day, datetime.min.time(), tz).timestamp()


def run_checkins(session: Session, settings: Settings, now: datetime) -> int:
    if is_quiet(now, settings.quiet_hours) or now.time() < clock(settings.announce_time):
        return 0
    queued = 0
    for record in campaigns.active_campaigns(session, today=now.date()):
        window = _window(record, now.date())
        period = f"{record.id}:{window[0]}" if window else None
        if period is None or session.get(JobRun, ("checkins", period)):
            continue
        session.add(JobRun(job="checkins", period=period))
        queued += _publish(session, record, window, now, settings.nudge_cap)
    return queued


def _publish(session: Session, record: CampaignRecord, window: tuple[int, date, date], now: datetime,
             cap: int) -> int:
    """Each branch group with a pledge gets the period's reports; who reported nothing is asked."""
    number, first, last = window
    of_campaign = select(Pledge).where(Pledge.campaign_id == record.id, Pledge.kind == "member")
    pledges = {p.id: p for p in session.scalars(of_campaign)}  # every version: a report names the one it was on
    pledgers = of_campaign.with_only_columns(Pledge.userid)  # only they are read, not the whole county
    people = {p.userid: p for p in session.scalars(select(Person).where(Person.userid.in_(pledgers)))}
    reports = _reports(session, of_campaign, first, last, now)
    by_branch, rows = _by_branch(pledges, reports, people)
    of_branches = select(Pledge).where(Pledge.campaign_id == record.id, Pledge.kind == "branch")
    branch_pledges = {p.id: p for p in session.scalars(of_branches)}
    branch_reports = _reports(session, of_branches, first, last, now)
    pledged_branches = {p.branch_id for p in branch_pledges.values()}
    asks_branches = _asks_branches(session, record, now.date())
    # A branch's pledge alone brings a summary to its group only while its 践诺 is asked for, or when it reported.
    summarised = pledged_branches if asks_branches else {branch_pledges[r.pledge_id].branch_id for r in branch_reports}
    chats = list(session.scalars(select(Branch).where(Branch.chat_id.is_not(None),
                                                      Branch.id.in_(list(set(by_branch) | summarised)))))
    for branch in chats:
        own = [(branch.name, branch_pledges[r.pledge_id].items[r.item], r) for r in branch_reports
               if branch_pledges[r.pledge_id].branch_id == branch.id]
        messages.to_chat(session, key=f"checkins:{record.id}:{number}:{branch.id}", chat_id=branch.chat_id,
                         markdown=True, text=render("progress_summary", first=first, last=last,
                                                    rows=own + rows.get(branch.id, []),
                                                    pledged=len(by_branch.get(branch.id, ())),
                                                    branch_pledged=branch.id in summarised))
    silent = {p.userid for p in pledges.values()} - {pledges[r.pledge_id].userid for r in reports}
    silent_branches = pledged_branches - {branch_pledges[r.pledge_id].branch_id for r in branch_reports} \
        if asks_branches else set()
    secretaries = {p.userid: p for p in session.scalars(select(Person).where(
        Person.role == Role.secretary, Person.branch_id.in_(list(silent_branches))))}
    return len(chats) + _ask(session, f"checkin:{record.id}:{number}", silent, set(secretaries),
                             {**secretaries, **people}, now.date(), cap)


def _reports(session: Session, pledges, first: date, last: date, now: datetime) -> list[PledgeProgress]:
    """The reports in the period on any version of these pledges."""
    return list(session.scalars(select(PledgeProgress).where(
        PledgeProgress.pledge_id.in_(pledges.with_only_columns(Pledge.id)),
        PledgeProgress.reported_at >= _epoch(first, now.tzinfo),
        PledgeProgress.reported_at < _epoch(last + timedelta(days=1), now.tzinfo)).order_by(PledgeProgress.id)))


def _asks_branches(session: Session, record: CampaignRecord, today: date) -> bool:
    """Whether a branch's 践诺 is due now: a progress task for branches whose window holds today (a
    campaign whose branches only pledge, or whose progress phase is over, does not ask them)."""
    tasks = [t for t in campaigns.tasks_of(session, campaign_ids=[record.id])
             if t.kind == "progress" and t.audience == "branches"]
    return any(w.holds(today) for w in campaigns.windows(record, tasks))


def _by_branch(pledges: dict[int, Pledge], reports: list[PledgeProgress], people: dict[str, Person]
               ) -> tuple[dict[int, set[str]], dict[int, list[tuple]]]:
    """Per branch, in one pass each: who pledged, and the summary's rows (name, item, report)."""
    pledged: dict[int, set[str]] = defaultdict(set)
    rows: dict[int, list[tuple]] = defaultdict(list)
    for pledge in pledges.values():
        pledged[pledge.branch_id].add(pledge.userid)
    for report in reports:
        pledge = pledges[report.pledge_id]
        rows[pledge.branch_id].append((people[pledge.userid].name, pledge.items[report.item], report))
    return pledged, rows


def _ask(session: Session, key: str, userids: set[str], for_branch: set[str], people: dict[str, Person],
         today: date, cap: int) -> int:
    """Who pledged but reported nothing (`userids`), and the secretaries of a branch that did not
    (`for_branch`), get one reminder each, within /请假 and the weekly cap."""
    week = week_key(today)
    asked = sorted((userids | for_branch) - nudges.held_back(session, today=today, week=week, cap=cap))
    messages.to_each(session, [(f"{key}:{u}", u, render("progress_checkin", person=people[u], own=u in userids,
                                                         branch=u in for_branch)) for u in asked])
    nudges.count(session, week=week, userids=asked)
    return len(asked)
