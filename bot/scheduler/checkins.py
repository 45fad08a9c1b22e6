"""Every N days of a campaign (its progress tasks' checkin_every_days, else 30): the pledge progress
of each branch is made public in its group ("定期将承诺事项的落实情况向师生公开"), and members who
pledged but reported nothing in that period are asked for a 践诺 report. One run per period."""
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
from storage.models import Branch, CampaignRecord, JobRun, Person, Pledge, PledgeProgress

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
    reports = list(session.scalars(select(PledgeProgress).where(
        PledgeProgress.pledge_id.in_(of_campaign.with_only_columns(Pledge.id)),
        PledgeProgress.reported_at >= _epoch(first, now.tzinfo),
        PledgeProgress.reported_at < _epoch(last + timedelta(days=1), now.tzinfo))))
    by_branch, rows = _by_branch(pledges, reports, people)
    chats = list(session.scalars(select(Branch).where(Branch.chat_id.is_not(None), Branch.id.in_(list(by_branch)))))
    for branch in chats:
        messages.to_chat(session, key=f"checkins:{record.id}:{number}:{branch.id}", chat_id=branch.chat_id,
                         markdown=True, text=render("progress_summary", first=first, last=last, rows=rows[branch.id],
                                                    pledged=len(by_branch[branch.id])))
    silent = {p.userid for p in pledges.values()} - {pledges[r.pledge_id].userid for r in reports}
    return len(chats) + _ask(session, f"checkin:{record.id}:{number}", silent, people, now.date(), cap)


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


def _ask(session: Session, key: str, userids: set[str], people: dict[str, Person], today: date, cap: int) -> int:
    """Who pledged but reported nothing gets one personal reminder, within /请假 and the weekly cap."""
    week = week_key(today)
    asked = sorted(userids - nudges.held_back(session, today=today, week=week, cap=cap))
    messages.to_each(session, [(f"{key}:{u}", u, render("progress_checkin", person=people[u])) for u in asked])
    nudges.count(session, week=week, userids=asked)
    return len(asked)
