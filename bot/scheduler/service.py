"""The scheduler, started and stopped with the sender (bot/background.py): in each `serve`'s sender
process, or in its web process when that handles too. Every `serve` runs this service, but
only the holder of the database lease runs jobs; the others keep trying, and take
over when the holder stops renewing (it died) — within lease + renew interval, under a minute."""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from datetime import datetime
from typing import Callable
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine, update

from bot.config import Settings
import bot.handlers  # noqa: F401  (registers the forms the idle_forms job parks)
from bot.scheduler.jobs import JOBS, run_job
from storage.db import insert_new, transaction
from storage.models import SchedulerLease

log = logging.getLogger(__name__)


class LeaderLease:
    def __init__(self, engine: Engine, *, ttl: float, name: str = "scheduler"):
        self._engine, self.ttl, self.name = engine, ttl, name
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def acquire(self, now: float | None = None) -> bool:
        """Take or renew the lease; True while this process holds it."""
        now = time.time() if now is None else now
        with transaction(self._engine) as session:
            taken = session.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == self.name,
                       (SchedulerLease.holder == self.holder) | (SchedulerLease.expires_at < now))
                .values(holder=self.holder, expires_at=now + self.ttl).returning(SchedulerLease.name)).first()
            if taken:
                return True
            inserted = session.execute(
                insert_new(session, SchedulerLease, "name", returning="name").values(
                    name=self.name, holder=self.holder, expires_at=now + self.ttl)).first()
            return inserted is not None

    def release(self) -> None:
        with transaction(self._engine) as session:
            session.execute(update(SchedulerLease).where(SchedulerLease.name == self.name,
                                                         SchedulerLease.holder == self.holder).values(expires_at=0))


class SchedulerService:
    def __init__(self, settings: Settings, engine: Engine, *, on_queued: Callable[[], None] = lambda: None):
        self._settings, self._engine, self._on_queued = settings, engine, on_queued
        self.lease = LeaderLease(engine, ttl=settings.leader_ttl)
        self._scheduler: AsyncIOScheduler | None = None

    @property
    def leading(self) -> bool:
        return self._scheduler is not None

    async def run(self) -> None:
        renew_every = self._settings.leader_ttl / 3
        while True:
            try:
                leader = await asyncio.to_thread(self.lease.acquire)
            except Exception:  # noqa: BLE001 - a database hiccup: try again, and stop acting meanwhile
                log.exception("scheduler lease check failed")
                leader = False
            if leader and not self.leading:
                self._start()
            elif not leader and self.leading:
                self._stop()
            await asyncio.sleep(renew_every)

    def _start(self) -> None:
        log.info("this process now runs the scheduler (%s)", self.lease.holder)
        self._scheduler = AsyncIOScheduler(timezone=ZoneInfo(self._settings.tz))
        for job in JOBS.values():
            self._scheduler.add_job(self.run_now, id=job.id, args=[job.id], replace_existing=True, coalesce=True,
                                    max_instances=1, misfire_grace_time=None, **job.schedule(self._settings))
            # Catch up at once: missed announcements go out late, a missed digest once.
            self._scheduler.add_job(self.run_now, args=[job.id], id=f"{job.id}-catch-up")
        self._scheduler.start()

    def _stop(self) -> None:
        log.warning("scheduler lease lost; this process stops running jobs")
        self._scheduler.shutdown(wait=False)
        self._scheduler = None

    async def run_now(self, job_id: str) -> None:
        if not self.leading:
            return
        now = datetime.now(ZoneInfo(self._settings.tz))
        try:
            queued = await asyncio.to_thread(run_job, job_id, self._engine, self._settings, now)
        except asyncio.CancelledError:
            # The scheduler stops (the process ends, or the lease was lost) and cancels what runs:
            # no failure, yet APScheduler would log each as an ERROR with a traceback. The job's
            # thread still commits or rolls back its one transaction; the next run does the rest.
            return
        except Exception:  # noqa: BLE001 - one failed run must not stop the schedule
            log.exception("job %s failed", job_id)
            return
        if queued:
            log.info("job %s queued %s", job_id, queued)
            self._on_queued()

    async def stop(self) -> None:
        if self.leading:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
            try:
                await asyncio.to_thread(self.lease.release)  # lets another process take over at once
            except Exception:  # noqa: BLE001 - the lease expires by itself anyway
                log.warning("could not release the scheduler lease; it expires in %ss", self.lease.ttl)
