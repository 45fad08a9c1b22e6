"""Setup errors (an untrusted server IP, a wrong secret, people outside the app's visible range) lose no
message: sending pauses, says what to fix, and everything queued leaves once it is fixed; dead letters
can be listed and sent again. Against the emulator on a real port, on SQLite and PostgreSQL."""
from __future__ import annotations

import logging
import time

from sqlalchemy import select, update
from sqlmodel import Session

from bot.cli import main
from bot.wecom import messages
from bot.wecom.emulator.state import Fault
from storage import bot_state
from storage.db import transaction
from storage.models import Outbox, OutboxStatus
from tests.conftest import eventually, make_settings

PEOPLE = ("li", "zhang", "wang")


def _queue(engine, texts=("一", "二", "三")) -> None:
    with transaction(engine) as session:
        for n, text in enumerate(texts):
            userid = PEOPLE[n % len(PEOPLE)]
            messages.to_person(session, key=f"t{n}", userid=userid, text=text)


def _rows(engine) -> list[Outbox]:
    with Session(engine) as session:
        return list(session.scalars(select(Outbox).where(Outbox.endpoint == "message/send").order_by(Outbox.id)))


def _all(engine) -> list[Outbox]:
    with Session(engine) as session:
        return list(session.scalars(select(Outbox)))


def _paused(engine) -> dict | None:
    with Session(engine) as session:
        return bot_state.pause(session)


def _status(db_url, monkeypatch, capsys) -> tuple[int, str]:
    monkeypatch.setenv("DATABASE_URL", db_url)
    code = main(["status"])
    return code, capsys.readouterr().out


async def test_an_untrusted_ip_pauses_sending_says_what_to_fix_and_loses_nothing(
        bot, emulator, engine, rostered, db_url, monkeypatch, capsys, caplog):
    emulator.mode_untrusted_ip = True  # every call but gettoken answers 60020
    with caplog.at_level(logging.ERROR, logger="bot.wecom.sender"):
        _queue(engine)
        await eventually(lambda: _paused(engine))
        code, shown = _status(db_url, monkeypatch, capsys)
        assert code == 1 and "发送已暂停" in shown and "60020" in shown and "企业可信IP" in shown
        await eventually(lambda: emulator.count("message/send") >= 5)  # the first calls, then probes
        emulator.mode_untrusted_ip = False  # the server's IP is added to 企业可信IP
        await eventually(lambda: all(r.status == OutboxStatus.sent for r in _rows(engine)))
    assert sorted(t for p in PEOPLE for t in emulator.texts(p)) == ["一", "三", "二"]
    assert [r.status for r in _rows(engine)] == [OutboxStatus.sent] * 3 and not _paused(engine)
    paused_lines = [r for r in caplog.records if "sending paused" in r.getMessage()]
    assert len(paused_lines) == 1 and "60020" in paused_lines[0].getMessage() and "企业可信IP" in paused_lines[0].getMessage()
    assert all(r.attempts <= 2 for r in _rows(engine))  # the refusals were not counted against the messages
    assert _status(db_url, monkeypatch, capsys)[0] == 0


async def test_a_wrong_secret_pauses_before_anything_is_claimed(emulator, emulator_url, engine, rostered, db_url,
                                                                 aiohttp_client, monkeypatch, capsys):
    from bot.app import build_app

    settings = make_settings(db_url, emulator_url, secret="not-the-apps-secret")
    await aiohttp_client(build_app(settings, engine))
    _queue(engine)
    pause = await eventually(lambda: _paused(engine))
    assert pause["errcode"] == 40001 and pause["endpoint"] == "gettoken"
    assert all(r.attempts == 0 and r.status == OutboxStatus.pending for r in _all(engine))
    code, shown = _status(db_url, monkeypatch, capsys)
    assert code == 1 and "WECOM_SECRET" in shown and "重新启动" in shown and f"排队中的消息：{len(_all(engine))} 条" in shown


async def test_a_recipient_outside_the_visible_range_holds_only_their_message(
        bot, emulator, engine, rostered, db_url, monkeypatch, capsys):
    emulator.invisible_users = {"li"}  # the platform answers 81013 when nobody else is left (90236)
    _queue(engine)
    await eventually(lambda: sum(r.status == OutboxStatus.sent for r in _rows(engine)) == 2)
    held = [r for r in _rows(engine) if r.status == OutboxStatus.pending]
    assert len(held) == 1 and held[0].last_error.startswith("setup 81013") and held[0].attempts == 0
    assert held[0].next_attempt_at > time.time() + 300  # tried again later, not at once nor dead
    assert not _paused(engine)  # the others were not held up
    code, shown = _status(db_url, monkeypatch, capsys)
    assert code == 0 and "因设置问题暂缓：1 条" in shown and "可见范围" in shown and "81013" in shown


async def test_a_message_held_for_days_becomes_a_dead_letter_that_can_be_sent_again(
        bot, emulator, engine, rostered, db_url, monkeypatch, capsys):
    # Several: a call that times out on a loaded machine has spent its fault, and the retry must meet one too.
    emulator.fail("message/send", *[Fault(errcode=60111)] * 5)
    with transaction(engine) as session:
        messages.to_person(session, key="old", userid="li", text="三天前的消息")
        session.execute(update(Outbox).values(created_at=time.time() - 4 * 86_400))
    await eventually(lambda: _rows(engine)[0].status == OutboxStatus.dead)
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["outbox", "dead"]) == 0
    listed = capsys.readouterr().out
    assert f"#{_rows(engine)[0].id}" in listed and "60111" in listed
    emulator.clear_faults()  # the account was added to the directory
    assert main(["outbox", "retry"]) == 2  # neither ids nor --all: says what to write
    assert main(["outbox", "retry", "--all"]) == 0 and "1 条" in capsys.readouterr().out
    await eventually(lambda: emulator.texts("li") == ["三天前的消息"])
    assert main(["outbox", "dead"]) == 0 and "没有发送失败的消息" in capsys.readouterr().out


async def test_a_pause_recorded_before_a_restart_is_probed_first_and_cleared_once_fixed(
        emulator, emulator_url, engine, rostered, db_url, aiohttp_client, settings):
    from bot.app import build_app

    with transaction(engine) as session:  # the last run stopped while the IP was untrusted; it has been added
        bot_state.record_pause(session, errcode=60020, endpoint="message/send", now=time.time())
    _queue(engine)
    await aiohttp_client(build_app(settings, engine))
    await eventually(lambda: all(r.status == OutboxStatus.sent for r in _rows(engine)))
    assert _paused(engine) is None
