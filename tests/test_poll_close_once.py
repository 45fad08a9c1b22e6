"""A poll closes exactly once: when its deadline passed while nothing ran (closed on start), across a
SIGKILL and restart, with two `serve` processes on PostgreSQL, and with two closers racing."""
from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select
from sqlmodel import Session

from bot.polls.close import close_poll
from storage.db import make_engine, transaction
from storage.models import Outbox, Poll
from tests.conftest import PG, _pg_database, eventually, never
from tests.test_polls import Town, issued_poll, populate
from tests.test_process import _env, _start

pytestmark = pytest.mark.slow


def overdue_poll(engine, tmp_path) -> Poll:
    """A poll issued in May with 6 votes; its deadline (May 15) passed while no server ran."""
    populate(engine, tmp_path)
    town = Town(engine)
    poll = issued_poll(town)
    for voter, option in [("m1", "1"), ("m2", "1"), ("m3", "2"), ("q1", "1"), ("q2", "3"), ("q3", "2")]:
        town.tap(voter, poll.id, option)
    return poll


def results(emulator) -> list[str]:
    return [m["markdown"]["content"] for chat in emulator.chats.values() for m in chat.messages
            if m["msgtype"] == "markdown" and "评议结果" in m["markdown"]["content"]]


async def _stop(proc) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)


async def test_closed_on_start_after_downtime_and_not_again_after_a_kill(db_url, engine, emulator, emulator_url,
                                                                          tmp_path):
    overdue_poll(engine, tmp_path)
    env = _env(db_url, emulator_url, XIANFENG_QUIET_HOURS="none")
    proc, _ = await _start(env)
    try:
        assert await eventually(lambda: results(emulator), timeout=30)
        assert "5 ÷ 6 = 83.3%" in results(emulator)[0]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    again, _ = await _start(env)
    try:
        await never(lambda: len(results(emulator)) > 1, within=5)  # a second close had every chance
        assert len(results(emulator)) == 1
    finally:
        await _stop(again)


@pytest.mark.skipif(not PG, reason="needs PostgreSQL on 127.0.0.1:5432")
async def test_two_serve_processes_on_postgresql_close_once(pg_template, emulator, emulator_url, tmp_path):
    url, drop = _pg_database(pg_template)
    engine = make_engine(url)
    try:
        overdue_poll(engine, tmp_path)
        env = _env(url, emulator_url, XIANFENG_QUIET_HOURS="none", XIANFENG_LEADER_TTL="3")
        first, _ = await _start(env)
        second, _ = await _start(env)
        try:
            assert await eventually(lambda: results(emulator), timeout=30)
            first.send_signal(signal.SIGKILL)  # whoever led, the other may now take over and catch up
            first.wait()
            await never(lambda: len(results(emulator)) > 1, within=8)
            assert len(results(emulator)) == 1
        finally:
            await _stop(first)
            await _stop(second)
    finally:
        engine.dispose()
        drop()


def test_racing_closers_close_once(engine, tmp_path):
    """Two transactions close the same poll at the same moment: one wins, the other finds it closed."""
    poll = overdue_poll(engine, tmp_path)

    def close() -> bool:
        with transaction(engine) as session:
            return close_poll(session, poll_id=poll.id, tz="Asia/Shanghai") is not None

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda _: close(), range(2)))
    assert sorted(outcomes) == [False, True]
    with Session(engine) as session:
        rows = [r for r in session.scalars(select(Outbox)) if r.idem_key.startswith(f"poll:{poll.id}:result")]
    assert len(rows) == 1
