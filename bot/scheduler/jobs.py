"""The scheduler's jobs: few, set-based, with stable ids. Each takes the moment it runs for, so
operators and tests can run a job "as of" any time (`xianfeng jobs run JOB --now ...`)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session

from bot.config import Settings
from bot.scheduler.announcements import run_announcements
from bot.scheduler.calendar import clock
from bot.scheduler.checkins import run_checkins
from bot.scheduler.digest import run_digest
from bot.scheduler.idle_forms import run_idle_forms
from bot.scheduler.polls import run_polls
from bot.texts import as_of
from storage.db import transaction


@dataclass(frozen=True)
class Job:
    id: str
    run: Callable[[Session, Settings, datetime], int]
    schedule: Callable[[Settings], dict]  # APScheduler trigger arguments

    def describe(self, settings: Settings) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.schedule(settings).items())


def _daily_at(value: str) -> dict:
    at = clock(value)
    return {"trigger": "cron", "hour": at.hour, "minute": at.minute}


JOBS = {
    "announcements": Job("announcements", run_announcements, lambda s: {"trigger": "interval", "minutes": 5}),
    # Daily at the digest time: the job itself decides whether today is a digest day (holidays move it).
    "digest": Job("digest", run_digest, lambda s: _daily_at(s.digest_time)),
    # Daily at the announce time: the job itself knows when a check-in period has ended.
    "checkins": Job("checkins", run_checkins, lambda s: _daily_at(s.announce_time)),
    "idle_forms": Job("idle_forms", run_idle_forms, lambda s: {"trigger": "interval", "minutes": 5}),
    # Every minute: a poll closes within a minute of its deadline, however many polls are open.
    "polls": Job("polls", run_polls, lambda s: {"trigger": "interval", "minutes": 1}),
}


def run_job(job_id: str, engine: Engine, settings: Settings, now: datetime | None = None) -> int:
    now = now or datetime.now(ZoneInfo(settings.tz))
    with transaction(engine) as session, as_of(now.date()):  # messages read on the run's day (dates' years)
        return JOBS[job_id].run(session, settings, now)
