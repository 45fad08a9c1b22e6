"""Callbacks answered first and handled behind the answer (bot/inbox.py, storage/inbox.py):
exactly once across crashes and retries, a person's updates in order, a failing update retried and
then dropped, and a vote's callback gone from the database file once handled."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import re
import time
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session

from bot.dispatch import Dispatcher
from bot.handlers import ROUTERS
from bot.handler_process import STABLE_AFTER, Backoff, HandlerProcesses
from bot.inbox import Inbox
from bot.wecom.emulator.callbacks import card_event
from bot.wecom.updates import parse_update
from storage import inbox
from storage.db import core_transaction, transaction
from storage.models import InboundUpdate, OutboxStatus
from tests.conftest import AGENT_ID, CORP_ID, eventually, make_settings, post_callback, text_xml
from tests.test_dispatch import replies
from tests.test_polls import START, Town, ballots, issued_poll, populate
from tests.test_sender import rows


def received(userid: str, content: str, msg_id: int) -> inbox.Received:
    xml = text_xml(userid, content, msg_id=msg_id)
    return inbox.Received(parse_update(xml).dedup_key, userid, xml)


def record(engine, *items: inbox.Received) -> list[bool]:
    with core_transaction(engine) as conn:  # as the group commit records them
        return inbox.record(conn, list(items), now=time.time())


def claim(engine, now: float | None = None, limit: int = 100) -> list[int]:
    with transaction(engine) as session:
        return [row_id for row_id, _ in inbox.claim(session, now=now or time.time(), lease_seconds=30, limit=limit)]


def waiting(engine) -> list[InboundUpdate]:
    with Session(engine) as session:
        return list(session.scalars(select(InboundUpdate).order_by(InboundUpdate.id)))


async def handled_by_a_new_inbox(engine) -> Inbox:
    box = Inbox(engine, Dispatcher(engine, ROUTERS))
    box.start()
    box.recorded = len(waiting(engine))  # recorded by the "crashed" process
    try:
        await box.settled()
    finally:
        box.stop()
    return box


async def test_the_answer_comes_before_the_handling_and_survives_a_crash(bot, engine, rostered, monkeypatch):
    monkeypatch.setattr(Inbox, "_claim", lambda self: None)  # this process dies before handling anything
    assert (await post_callback(bot, text_xml("li", "/帮助", msg_id=1), settle=False)).status == 200
    assert [row.userid for row in waiting(engine)] == ["li"] and replies(engine, "li") == []
    monkeypatch.undo()
    await handled_by_a_new_inbox(engine)
    assert waiting(engine) == [] and len(replies(engine, "li")) == 1
    assert record(engine, received("li", "/帮助", 1)) == [False]  # the platform's retry: no second effect


async def test_a_crash_while_handling_is_taken_over_after_the_lease(engine, rostered):
    record(engine, received("li", "/帮助", 1))
    assert len(claim(engine)) == 1   # the process that claimed it dies here
    assert claim(engine) == []       # nobody else takes it while the lease runs
    assert len(claim(engine, now=time.time() + 31)) == 1


def test_a_persons_later_update_waits_for_the_earlier_one(engine, rostered):
    assert record(engine, received("li", "1", 1), received("li", "2", 2), received("zhang", "3", 3)) == [True] * 3
    first = claim(engine, limit=1)        # one process takes li's first update
    assert claim(engine) == [3]           # another: zhang's, not li's second
    assert len(first) == 1 and claim(engine) == []


def test_a_concurrent_claim_does_not_take_a_persons_later_update(db_url, engine, rostered):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite's BEGIN IMMEDIATE serialises claims; PostgreSQL's SKIP LOCKED does not")
    record(engine, received("li", "1", 1), received("li", "2", 2), received("zhang", "3", 3))
    with transaction(engine) as holding:  # still open: its lease is not committed, its row lock is held
        inbox.claim(holding, now=time.time(), lease_seconds=30, limit=1)
        assert claim(engine) == [3]


async def test_a_failing_update_is_retried_then_dropped_without_its_text_in_the_log(engine, rostered, monkeypatch, caplog):
    monkeypatch.setattr(Dispatcher, "process", lambda self, session, update: 1 / 0)
    monkeypatch.setattr("bot.inbox.POLL_SECONDS", 0.05)
    monkeypatch.setattr(inbox, "RETRY_SECONDS", 0.05)
    box = Inbox(engine, Dispatcher(engine, ROUTERS))
    box.start()
    try:
        with caplog.at_level(logging.ERROR):
            assert await box.accept(parse_update(text_xml("li", "我的秘密意见")), text_xml("li", "我的秘密意见"))
            await box.settled()
    finally:
        box.stop()
    assert waiting(engine) == []
    assert "dropped after 3 attempts" in caplog.text and "秘密" not in caplog.text


async def test_a_handler_process_looks_as_soon_as_it_is_woken_not_at_its_next_poll(engine, rostered, monkeypatch):
    """The web process records and sets the handler's event: the handler claims at once. It used to
    wait for its poll (1 s), so every reply in `serve` came a second late (issue 16)."""
    import threading

    monkeypatch.setattr("bot.inbox.POLL_SECONDS", 3600.0)  # a wake-up is the only way to be told
    wake = threading.Event()
    box = Inbox(engine, Dispatcher(engine, ROUTERS), wake=wake)  # as in a handler process
    record(engine, received("li", "/帮助", 1))
    box.start()  # a new process looks once at what was recorded before it
    try:
        assert await eventually(lambda: len(replies(engine, "li")) == 1)
        record(engine, received("li", "/我", 2))
        wake.set()  # what the web process's HandlerProcesses.wake does after its group commit
        assert await eventually(lambda: len(replies(engine, "li")) == 2)
    finally:
        box.stop()


async def test_a_wake_inside_the_claim_gap_is_claimed_when_the_gap_ends(engine, rostered, monkeypatch):
    """Claims are CLAIM_GAP apart while callbacks keep coming; a wake that comes sooner is not lost
    until the next poll (an hour here) but claimed when the gap ends."""
    import threading

    monkeypatch.setattr("bot.inbox.POLL_SECONDS", 3600.0)
    monkeypatch.setattr("bot.inbox.CLAIM_GAP", 0.5)
    wake = threading.Event()
    box = Inbox(engine, Dispatcher(engine, ROUTERS), wake=wake)
    box.start()  # its first claim finds nothing
    try:
        record(engine, received("li", "/帮助", 1))
        wake.set()  # most likely inside the gap after that first claim
        assert await eventually(lambda: len(replies(engine, "li")) == 1)
        record(engine, received("li", "/我", 2))
        wake.set()  # most likely inside the gap after the claim that found the first
        assert await eventually(lambda: len(replies(engine, "li")) == 2)
    finally:
        box.stop()


async def test_a_handled_vote_leaves_no_trace_in_the_database_file(db_url, engine, tmp_path):
    if not db_url.startswith("sqlite"):
        pytest.skip("reads the SQLite file itself")
    populate(engine, tmp_path)
    poll = issued_poll(Town(engine))
    box = Inbox(engine, Dispatcher(engine, ROUTERS))
    box.start()
    try:
        for number, userid in enumerate(["m1", "m2", "m3", "q1", "q2"], start=1):
            xml = card_event(CORP_ID, AGENT_ID, userid, key=f"vote-{poll.id}", task_id=f"poll-{poll.id}-0",
                             card_type="vote_interaction", selected={"choice": [str(number % 3 + 1)]}, response_code=f"code{number}")
            xml = re.sub(r"<CreateTime>\d+</CreateTime>", f"<CreateTime>{int(START.timestamp()) + 60}</CreateTime>", xml)
            assert await box.accept(parse_update(xml), xml)
        await box.settled()
    finally:
        box.stop()
    assert waiting(engine) == [] and ballots(engine) == 5
    engine.dispose()
    path = Path(engine.url.database)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert b"SelectedItems" not in raw and not re.search(rb"OptionId", raw)


def test_the_same_callback_twice_in_one_group_commit_is_recorded_once(engine, rostered):
    assert record(engine, received("li", "/帮助", 7), received("zhang", "/帮助", 8), received("li", "/帮助", 7)) \
        == [True, True, False]
    assert [row.userid for row in waiting(engine)] == ["li", "zhang"]


async def test_handler_processes_handle_what_was_recorded_the_sender_process_sends_and_the_dead_are_replaced(
        db_url, engine, rostered, emulator, emulator_url):
    """Spawned processes (threads run already here, so they are spawned, not forked): two handlers and
    the sender process (bot/background.py), woken through its pipe when replies were queued (a
    descriptor number passed as is named the child's own database connection instead). A killed
    handler and a killed sender are started again by the web process's supervisor, and what was
    recorded meanwhile is handled and sent."""
    handlers = HandlerProcesses(make_settings(db_url, emulator_url), 2)
    handlers.start()
    supervising = asyncio.create_task(handlers.supervise(every=0.1))
    try:
        record(engine, received("li", "/帮助", 1), received("zhang", "/我", 2))
        handlers.wake()
        assert await eventually(lambda: emulator.texts("li") and emulator.texts("zhang"), timeout=60)
        assert waiting(engine) == [] and "/帮助" in emulator.texts("li")[0] and len(handlers.pids()) == 3

        for n, old in list(enumerate(handlers.pids()))[1:]:  # the second handler, then the sender
            # Killed with every send marked: a row sent but not yet marked would, rightly, wait for its
            # lease (70 s) and hold the person's later rows back behind it.
            assert await eventually(lambda: all(r.status != OutboxStatus.pending for r in rows(engine)), timeout=10)
            os.kill(old, signal.SIGKILL)
            assert await eventually(lambda: handlers.pids()[n] != old, timeout=10)
            record(engine, received("li", ["/我", "/进度"][n - 1], 10 + n))  # not the same text twice: the
            # platform's duplicate check would drop the second
            handlers.wake()
            assert await eventually(lambda: len(emulator.texts("li")) == n + 1, timeout=60)
        assert waiting(engine) == []
    finally:
        supervising.cancel()
        handlers.stop()


def test_a_process_that_keeps_dying_waits_longer_and_one_that_ran_for_long_starts_at_once_again():
    backoff = Backoff()
    assert [backoff.pause_after(up_for=0.5) for _ in range(9)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert backoff.pause_after(up_for=STABLE_AFTER) == 1  # up for five minutes: a new first failure
    assert backoff.pause_after(up_for=2.0) == 2
