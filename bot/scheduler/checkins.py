"""Every N days of a campaign (its progress tasks' checkin_every_days, else 30): the pledge progress
of each branch is made public in its group ("定期将承诺事项的落实情况向师生公开"), and members who
pledged but reported nothing in that period are asked for a 践诺 report. One run per period."""
from __future__ import annotations

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
        if window is None or session.get(JobRun, ("checkins", f"{record.id}:{window[0]}")):
            continue
        session.add(JobRun(job="checkins", period=f"{record.id}:{window[0]}"))
        queued += _publish(session, record, window, now, settings.nudge_cap)
    return queued


def _publish(session: Session, record: CampaignRecord, window: tuple[int, date, date], now: datetime,
             cap: int) -> int:
    number, first, last = window
    tz = now.tzinfo
    since, until = _epoch(first, tz), _epoch(last + timedelta(days=1), tz)
    pledges = {p.id: p for p in session.scalars(select(Pledge).where(Pledge.campaign_id == record.id,
                                                                     Pledge.kind == "member"))}
    reports = list(session.scalars(select(PledgeProgress).where(PledgeProgress.pledge_id.in_(list(pledges)),
                                   PledgeProgress.reported_at >= since, PledgeProgress.reported_at < until)))
    people = {p.userid: p for p in session.scalars(select(Person))}
    queued = 0
    for branch in session.scalars(select(Branch).where(Branch.chat_id.is_not(None))):
        rows = [(people[pledges[r.pledge_id].userid].name, pledges[r.pledge_id].items[r.item], r)
                for r in reports if pledges[r.pledge_id].branch_id == branch.id]
        pledged = {p.userid for p in pledges.values() if p.branch_id == branch.id}
        if pledged:
            messages.to_chat(session, key=f"checkins:{record.id}:{number}:{branch.id}", chat_id=branch.chat_id,
                             markdown=True, text=render("progress_summary", first=first, last=last, rows=rows,
                                                        pledged=len(pledged)))
            queued += 1
    silent = {p.userid for p in pledges.values()} - {pledges[r.pledge_id].userid for r in reports}
    return queued + _ask(session, f"checkin:{record.id}:{number}", silent, people, now.date(), cap)


def _ask(session: Session, key: str, userids: set[str], people: dict[str, Person], today: date, cap: int) -> int:
    """Who pledged but reported nothing gets one personal reminder, within /请假 and the weekly cap."""
    week = week_key(today)
    asked = sorted(userids - nudges.held_back(session, today=today, week=week, cap=cap))
    messages.to_each(session, [(f"{key}:{u}", u, render("progress_checkin", person=people[u])) for u in asked])
    nudges.count(session, week=week, userids=asked)
    return len(asked)
