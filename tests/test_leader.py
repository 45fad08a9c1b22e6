"""Two `xianfeng serve` processes on one PostgreSQL database: one scheduler acts, each scheduled
send happens once, and killing the leader lets the other take over."""
from __future__ import annotations

import asyncio
import os
import signal
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from bot.roster import import_roster
from storage.db import make_engine
from storage.models import SchedulerLease
from tests.conftest import PG, _pg_database, eventually
from tests.test_process import _children, _env, _start
from tests.test_scheduler import load

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not PG, reason="needs PostgreSQL on 127.0.0.1:5432")]


@pytest.fixture
def pg_engine(pg_template):
    url, drop = _pg_database(pg_template)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()
    drop()


def _holder(engine) -> int | None:
    with Session(engine) as session:
        lease = session.scalars(select(SchedulerLease)).first()
    return int(lease.holder.split(":")[1]) if lease else None


def _announcements(emulator) -> list[int]:
    return [sum(1 for m in chat.messages if m["msgtype"] == "markdown") for chat in emulator.chats.values()]


async def test_one_scheduler_acts_and_the_other_takes_over(pg_engine, emulator, emulator_url, roster_file):
    url, engine = pg_engine
    import_roster(engine, roster_file)
    today = date.today()
    load(engine, start=today.isoformat(), end=(today + timedelta(days=30)).isoformat(),
         due=(today + timedelta(days=10)).isoformat())
    env = _env(url, emulator_url, XIANFENG_LEADER_TTL="3", XIANFENG_ANNOUNCE_TIME="00:00",
               XIANFENG_QUIET_HOURS="none")
    first, _ = await _start(env)
    second, _ = await _start(env)
    processes = {first.pid: first, second.pid: second}

    def serving(holder: int | None) -> int | None:
        """The `serve` whose sender process (it runs the scheduler too: bot/background.py) holds the lease."""
        return next((pid for pid in processes if holder in _children(pid)), None)

    try:
        assert await eventually(lambda: serving(_holder(engine)) in processes, timeout=15)
        assert await eventually(lambda: _announcements(emulator) == [1, 1], timeout=20)
        leader = serving(_holder(engine))
        processes[leader].send_signal(signal.SIGKILL)  # its processes follow it within a second
        processes[leader].wait()
        survivor = next(pid for pid in processes if pid != leader)
        assert await eventually(lambda: serving(_holder(engine)) == survivor, timeout=60)
        await asyncio.sleep(2)  # the new leader's catch-up run has happened by now
        assert _announcements(emulator) == [1, 1]  # nothing sent twice
    finally:
        for proc in processes.values():
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(timeout=15)
