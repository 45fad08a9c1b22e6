"""The weekly digest: each person with open tasks gets one message listing only what they owe.

It goes out on the configured weekday (the next working day when that is a holiday; 调休 days
count as working days) at the configured time. The day it served is recorded in job_run, so a
repeated run, a second worker, or a restart sends nothing twice, and after downtime across
several digest days only the latest is sent. Paused people (/请假) and people at the weekly cap
are skipped.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import Session

from bot.config import Settings
from bot.scheduler.calendar import clock, digest_day, is_quiet, load_calendar, week_key
from bot.scheduler.obligations import Obligations
from bot.texts import render, vocabulary
from bot.wecom import messages
from storage import nudges
from storage import polls
from storage.models import JobRun

JOB = "digest"


def latest_digest_day(now: datetime, settings: Settings) -> date | None:
    """This week's digest day, once its time has come. Last week's counts too when a holiday
    pushed it into this week; a digest day of a week gone by is never sent late."""
    week, calendar = week_key(now.date()), load_calendar(settings.holidays_file)
    for day in (digest_day(now.date(), settings.digest_weekday, calendar),
                digest_day(now.date() - timedelta(days=7), settings.digest_weekday, calendar)):
        if week_key(day) == week and datetime.combine(day, clock(settings.digest_time), now.tzinfo) <= now:
            return day
    return None


class DigestTexts:
    """People who owe the same things get the same words but their name: each distinct list is
    rendered once, with a placeholder for the name (100,000 people, a handful of renders)."""

    NAME = "\x00name\x00"  # cannot occur in a name or a template

    def __init__(self) -> None:
        self._actions, self._rendered = vocabulary()["task_actions"], {}

    def of(self, person, owed: list, polls: list) -> str:
        key = (tuple((o.task.id, o.overdue) for o in owed), tuple(p.id for p in polls))
        if key not in self._rendered:
            self._rendered[key] = render("digest", person={"name": self.NAME}, owed=owed, action=self._actions,
                                         polls=polls)
        return self._rendered[key].replace(self.NAME, person.name)


def run_digest(session: Session, settings: Settings, now: datetime) -> int:
    day = latest_digest_day(now, settings)
    if day is None or is_quiet(now, settings.quiet_hours) or session.get(JobRun, (JOB, day.isoformat())):
        return 0
    session.add(JobRun(job=JOB, period=day.isoformat()))
    today, week = now.date(), week_key(now.date())
    ob = Obligations(session, today=today)
    skipped = nudges.held_back(session, today=today, week=week, cap=settings.nudge_cap)
    votes, texts = polls.pending_by_person(session), DigestTexts()
    items = []
    for person in ob.people:
        held = person.userid in skipped
        owed = ob.open_for(person) if not held else []
        to_vote = votes.get(person.userid, []) if not held else []
        if owed or to_vote:
            items.append((f"digest:{day.isoformat()}:{person.userid}", person.userid, texts.of(person, owed, to_vote)))
    messages.to_each(session, items)
    nudges.count(session, week=week, userids=[userid for _key, userid, _text in items])
    return len(items)
