"""The invariants of docs/architecture.md that are not already shown end to end elsewhere."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select
from sqlmodel import Session, SQLModel

from bot.dispatch import Dispatcher, Outcome
from bot.handlers import ROUTERS
from bot.routing import Router
from bot.wecom import messages
from bot.wecom.updates import parse_update
from storage import outbox
from storage.db import transaction
from storage.models import Outbox, OutboxStatus
from tests.conftest import text_xml


def test_handlers_only_queue_they_never_send(engine, rostered):
    """Invariant 1: feed_update alone (no sender, no network) leaves the reply in the outbox."""
    dispatcher = Dispatcher(engine, ROUTERS)
    assert dispatcher.feed_update(parse_update(text_xml("li", "/我"))) is Outcome.handled
    with Session(engine) as session:
        [reply] = session.scalars(select(Outbox).where(Outbox.endpoint == "message/send")).all()
    assert reply.status == OutboxStatus.pending and reply.payload["touser"] == "li"
    assert "李娜" in reply.payload["text"]["content"]


def test_a_failing_handler_leaves_neither_key_nor_reply(engine, rostered):
    """Invariant 2: the dedup key commits with the effect, so a crash mid-handler lets the retry work."""
    router, calls = Router(), []

    @router.command("/炸")
    def explode(ctx):
        ctx.reply("unknown")
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")

    dispatcher = Dispatcher(engine, [*ROUTERS, router])
    update = parse_update(text_xml("li", "/炸"))
    with pytest.raises(RuntimeError):
        dispatcher.feed_update(update)
    with Session(engine) as session:
        assert session.scalars(select(Outbox).where(Outbox.endpoint == "message/send")).all() == []
    assert dispatcher.feed_update(update) is Outcome.handled
    assert dispatcher.feed_update(update) is Outcome.duplicate


def test_concurrent_duplicates_from_many_threads_have_one_effect(engine, rostered):
    dispatcher = Dispatcher(engine, ROUTERS)
    update = parse_update(text_xml("zhang", "/名单"))
    barrier = threading.Barrier(8)

    def feed():
        barrier.wait()
        return dispatcher.feed_update(update)

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: feed(), range(8)))
    assert sorted(outcomes) == sorted([Outcome.handled] + [Outcome.duplicate] * 7)
    with Session(engine) as session:
        assert len(session.scalars(select(Outbox).where(Outbox.endpoint == "message/send")).all()) == 1


def test_two_workers_never_claim_the_same_row(engine):
    with transaction(engine) as session:
        for n in range(60):
            messages.to_person(session, key=f"k{n}", userid=f"u{n}", text="x")
    barrier = threading.Barrier(2)

    def claim():
        barrier.wait()
        with transaction(engine) as session:
            return [c.id for c in outbox.claim_due(session, now=time.time(), limit=40)]

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: claim(), range(2))
    assert not set(first) & set(second) and len(first) + len(second) == 60


def test_an_unsent_row_stays_pending_and_an_idempotency_key_is_used_once(engine):
    with transaction(engine) as session:
        assert outbox.enqueue(session, key="once", endpoint="message/send", payload={"touser": "a"})
        assert not outbox.enqueue(session, key="once", endpoint="message/send", payload={"touser": "b"})
    with transaction(engine) as session:
        [claimed] = outbox.claim_due(session, now=time.time())
        outbox.mark_retry(session, row_id=claimed.id, at=time.time() + 60, error="HTTP 502")
    with Session(engine) as session:
        [row] = session.scalars(select(Outbox)).all()
    assert row.status == OutboxStatus.pending and row.payload == {"touser": "a"}


def test_stranger_day_is_counted_in_asia_shanghai(engine):
    """Invariant 7: 2026-11-22 17:30 UTC is already the 23rd in Shanghai."""
    moment = int(datetime(2026, 11, 22, 17, 30, tzinfo=timezone.utc).timestamp())
    Dispatcher(engine, ROUTERS).feed_update(parse_update(text_xml("nobody", "hi", create_time=moment)))
    with Session(engine) as session:
        [key] = session.scalars(select(Outbox.idem_key)).all()
    assert ":20261123" in key


def test_migrations_match_the_models(engine):
    """The Alembic head and the SQLModel tables describe the same schema."""
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
