"""The outbox sender against the emulator: retries, token refresh, dead letters, limits, batching, replies first."""
from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import aiohttp
import pytest
from sqlalchemy import select
from sqlmodel import Session

from bot.dispatch import Dispatcher
from bot.handlers import ROUTERS
from bot.wecom import messages
from bot.wecom.api import WeComClient
from bot.wecom.emulator import Fault
from bot.wecom.emulator.quota import ApiQuota
from bot.wecom.sender import Sender
from bot.wecom.updates import parse_update
from storage import outbox
from storage.db import transaction
from storage.models import Outbox, OutboxStatus
from tests.conftest import text_xml


def queue_texts(engine, items: list[tuple[str, str]]) -> None:
    with transaction(engine) as session:
        for n, (userid, text) in enumerate(items):
            messages.to_person(session, key=f"test:{n}", userid=userid, text=text)


def rows(engine) -> list[Outbox]:
    with Session(engine) as session:
        return list(session.scalars(select(Outbox).order_by(Outbox.id)))


async def drain(settings, engine, until: float = 10.0, client_hook=None, finished=None) -> None:
    """Run a real sender until nothing is pending (or `finished()` says so), or `until` seconds pass;
    `client_hook` may wrap the client."""
    finished = finished or (lambda: not any(r.status == OutboxStatus.pending for r in rows(engine)))
    async with aiohttp.ClientSession() as http:
        client = WeComClient(settings, engine, http)
        if client_hook:
            client_hook(client)
        task = asyncio.create_task(Sender(settings=settings, engine=engine, client=client, poll_interval=0.02).run())
        deadline = time.monotonic() + until
        while time.monotonic() < deadline and not finished():
            await asyncio.sleep(0.05)
        task.cancel()


@pytest.mark.parametrize("fault", [
    Fault(errcode=-1), Fault(errcode=45009), Fault(errcode=45033), Fault(errcode=42001), Fault(errcode=40014),
    Fault(status=502), Fault(status=503), Fault(delay=2.0),  # a hang: longer than the client's 0.5 s timeout
], ids=["busy", "freq-limit", "concurrency-limit", "token-expired", "token-invalid", "http-502", "http-503", "hang"])
async def test_transient_faults_still_deliver_exactly_once(settings, engine, emulator, fault):
    emulator.fail("message/send", fault, fault)
    queue_texts(engine, [("li", "第一条"), ("zhang", "第二条")])
    await drain(settings, engine)
    await asyncio.sleep(2.1 if fault.delay else 0)  # let a hung request finish on the server side too
    assert emulator.texts("li") == ["第一条"] and emulator.texts("zhang") == ["第二条"]
    assert {r.status for r in rows(engine)} == {OutboxStatus.sent}


async def test_permanent_error_is_dead_lettered_with_its_reason(settings, engine, emulator):
    emulator.fail("message/send", Fault(errcode=40008))  # the message's own fault; setup errors are held instead
    queue_texts(engine, [("nobody", "发不出去")])
    await drain(settings, engine)
    [row] = rows(engine)
    assert row.status == OutboxStatus.dead and row.last_error.startswith("40008")
    assert emulator.texts("nobody") == []


async def test_gives_up_after_max_attempts(settings, engine, emulator, monkeypatch):
    monkeypatch.setattr("bot.wecom.sender.MAX_ATTEMPTS", 3)
    emulator.fail("message/send", *[Fault(errcode=-1)] * 5)
    queue_texts(engine, [("li", "x")])
    await drain(settings, engine)
    [row] = rows(engine)
    assert row.status == OutboxStatus.dead and "after 3 attempts" in row.last_error


async def test_one_gettoken_for_twenty_concurrent_sends_after_expiry(settings, engine, emulator):
    queue_texts(engine, [("first", "预热")])
    await drain(settings, engine)
    assert emulator.count("gettoken") == 1
    emulator.expire_tokens()
    with transaction(engine) as session:
        for n in range(20):
            messages.to_person(session, key=f"burst:{n}", userid=f"user{n}", text=f"消息{n}")
    await drain(settings, engine)
    assert emulator.count("gettoken") == 2
    assert all(emulator.texts(f"user{n}") == [f"消息{n}"] for n in range(20))


async def test_token_is_shared_through_the_database(settings, engine, emulator):
    """A second worker (a new client) uses the cached token instead of fetching its own."""
    queue_texts(engine, [("a", "1")])
    await drain(settings, engine)
    with transaction(engine) as session:
        messages.to_person(session, key="second-worker", userid="b", text="2")
    await drain(settings, engine)
    assert emulator.count("gettoken") == 1


async def test_wrong_secret_keeps_messages_pending_not_dead(settings, engine, emulator):
    from dataclasses import replace

    queue_texts(engine, [("li", "等配置修好")])
    await drain(replace(settings, secret="wrong"), engine, until=0.5)
    [row] = rows(engine)
    assert row.status == OutboxStatus.pending and row.attempts == 0  # not the message's fault: not even tried
    await drain(settings, engine)
    assert emulator.texts("li") == ["等配置修好"]


async def test_one_notice_to_2500_people_takes_three_calls(settings, engine, emulator):
    people = [f"p{n:04d}" for n in range(2500)]
    with transaction(engine) as session:
        messages.to_people(session, key="notice", userids=people, text="全体通知")
    await drain(settings, engine)
    sends = [call.body for call in emulator.calls if call.api == "message/send"]
    assert len(sends) == 3 and max(len(b["touser"].split("|")) for b in sends) == 1000
    assert all(emulator.texts(p) == ["全体通知"] for p in people)


async def test_per_person_limit_holds_back_instead_of_losing(settings, engine, emulator):
    queue_texts(engine, [("li", f"第{n}条") for n in range(35)])
    # A person's rows leave one after another, each once the one before is marked sent (at least
    # bot.wecom.outcomes.WINDOW apart); the last five are put off by a minute, so "nothing pending"
    # never comes: done once the first of them (the others wait behind it) waits for a later minute.
    def put_off() -> bool:
        left = [r for r in rows(engine) if r.status == OutboxStatus.pending]
        return len(left) == 5 and left[0].next_attempt_at > time.time()
    await drain(settings, engine, until=30.0, finished=put_off)
    assert len(emulator.texts("li")) == 30 and emulator.dropped["li"] == 0
    waiting = [r for r in rows(engine) if r.status == OutboxStatus.pending]
    assert len(waiting) == 5 and waiting[0].next_attempt_at > time.time() + 50
    # A minute later the rest may go, in order:
    with transaction(engine) as session:
        later = outbox.claim_due(session, now=time.time() + 61, limit=50)
    assert [c.payload["text"]["content"] for c in later] == ["第30条"]  # one at a time, in order


async def test_group_chat_messages_wait_for_the_chat_to_exist(settings, engine, emulator, rostered):
    emulator.fail("appchat/create", Fault(errcode=-1), Fault(status=502))
    await drain(settings, engine)
    assert len(emulator.chats) == 2
    for chat in emulator.chats.values():
        assert len(chat.messages) == 1 and "创先争优" in chat.name


async def test_text_over_2048_bytes_is_split_not_cut(settings, engine, emulator):
    long_text = "\n".join(f"第{n}行：创先争优，公开承诺，践诺评诺。" for n in range(200))
    queue_texts(engine, [("li", long_text)])
    await drain(settings, engine)
    parts = emulator.texts("li")
    assert len(parts) > 1 and all(len(p.encode()) <= 2048 for p in parts)
    assert "\n".join(parts) == long_text


async def test_a_cancel_arriving_with_a_wake_up_still_stops_the_sender(settings, engine):
    """Shutdown cancels the sender's loop; on Python 3.11 asyncio.wait_for swallowed a cancel that
    arrived in the same loop turn as a wake-up, and the app then waited for the sender forever."""
    async with aiohttp.ClientSession() as http:
        sender = Sender(settings=settings, engine=engine, client=WeComClient(settings, engine, http), poll_interval=30)
        for _ in range(50):
            sender._wakeup.clear()  # a cancelled sleep leaves the wake-up set
            sleeping = asyncio.create_task(sender._sleep())
            await asyncio.sleep(0)  # now waiting for the wake-up
            sender.wake()
            sleeping.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(sleeping, 5)


# -- replies before bulk -----------------------------------------------------------------------
# On a Monday the digest to every member is queued at once and leaves at the platform's pace (100,000
# people: about ten minutes); a member answering it must not wait behind it for the reply.

def test_a_reply_is_claimed_before_a_queued_digest_even_to_the_same_person(engine):
    with transaction(engine) as session:
        messages.to_each(session, [(f"digest:{p}", p, f"本周待办：{p}") for p in ["li", "zhang", "wang"]])
        messages.to_person(session, key="reply:1", userid="li", text="收到", reply=True)
    with transaction(engine) as session:
        [first] = outbox.claim_due(session, now=time.time(), limit=1)
    assert first.payload["text"]["content"] == "收到"


def test_a_digest_still_waits_for_the_replies_queued_before_it_to_the_same_person(engine):
    with transaction(engine) as session:
        messages.to_person(session, key="reply:1", userid="li", text="第一句", reply=True)
        messages.to_person(session, key="reply:2", userid="li", text="第二句", reply=True)
        messages.to_each(session, [("digest:li", "li", "本周待办")])
    with transaction(engine) as session:
        claimed = outbox.claim_due(session, now=time.time(), limit=10)
    assert [c.payload["text"]["content"] for c in claimed] == ["第一句"]  # a person's rows one at a time


def test_what_a_handler_answers_is_a_reply_and_what_the_scheduler_sends_is_not(engine, rostered):
    Dispatcher(engine, ROUTERS).feed_update(parse_update(text_xml("li", "/帮助")))
    with transaction(engine) as session:
        messages.to_each(session, [("digest:zhang", "zhang", "本周待办")])
    assert [(r.payload["touser"], r.priority) for r in rows(engine) if r.endpoint == "message/send"] == [
        ("li", outbox.REPLY), ("zhang", outbox.BULK)]


async def test_a_reply_overtakes_a_digest_at_the_platforms_pace(settings, engine, emulator):
    emulator.quota = ApiQuota({"message/send": 10}, minute=2.0)  # a "minute" of 2 s: 5 calls a second
    people = [f"p{n:02d}" for n in range(60)]  # twelve seconds of digest at that pace
    with transaction(engine) as session:
        messages.to_each(session, [(f"digest:{p}", p, f"本周待办：{p}") for p in people])

    async def answer_the_last_one_soon() -> None:
        await asyncio.sleep(1.0)
        with transaction(engine) as session:
            messages.to_person(session, key="reply:p59", userid="p59", text="收到你的承诺", reply=True)
    answering = asyncio.create_task(answer_the_last_one_soon())
    await drain(replace(settings, api_rate_per_minute=10, message_rate_per_minute=10, api_minute=2.0), engine, until=20.0,
                finished=lambda: bool(emulator.texts("p59")))
    await answering
    # Sent after the calls already claimed ahead (about 2 s), before its own digest and most others':
    assert emulator.texts("p59") == ["收到你的承诺"]
    assert sum(1 for p in people if emulator.texts(p)) < 30


def test_a_claim_reads_the_queue_in_order_and_stops_at_its_limit(engine):
    """A digest to 100,000 people: SQLite (no statistics) checked and sorted every due row for each
    claim (130 ms for 200 rows), PostgreSQL before autovacuum had counted the rows read the whole
    queue for each row (a first claim ran for over ten minutes)."""
    with transaction(engine) as session:
        messages.to_each(session, [(f"digest:{n}", f"u{n:05d}", "本周待办") for n in range(outbox.ANALYZE_AFTER)])
    plan = _claim_plan(engine)
    if engine.dialect.name == "sqlite":
        assert "ix_outbox_claim" in plan and "ix_outbox_channel_order" in plan and "TEMP B-TREE" not in plan, plan
    else:
        assert "Seq Scan" not in plan and "Sort" not in plan, plan


def test_a_claim_behind_a_backlog_checks_each_channel_through_its_index(engine):
    """A burst of replies reaches PostgreSQL's outbox faster than autovacuum counts it (it looks once a
    minute). With statistics from an empty queue, the planner made "is an earlier row of this channel
    pending?" an anti-join that read every pending row for each candidate: claims of 0.3-1.2 s, and
    PostgreSQL took a core (measured, 1,000 people with 10 replies waiting each)."""
    with transaction(engine) as session:
        messages.to_person(session, key="first", userid="u0", text="你好", reply=True)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE outbox")
    with transaction(engine) as session:
        for n in range(2000):
            messages.to_person(session, key=f"reply:{n}", userid=f"u{n % 200}", text="收到", reply=True)
    plan = _claim_plan(engine)
    assert "ix_outbox_channel_order" in plan and "Anti Join" not in plan, plan


def _claim_plan(engine) -> str:
    """The claim's plan, as the database would run it now (its parameters bound, not inlined)."""
    compiled = outbox.next_candidates(time.time(), 200).compile(engine)
    sqlite = engine.dialect.name == "sqlite"
    params = tuple(compiled.params[name] for name in compiled.positiontup) if sqlite else compiled.params
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + str(compiled), params)
        return " / ".join(row[-1] if sqlite else row[0] for row in rows)
