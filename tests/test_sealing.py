"""The keys behind sealed ballots and callbacks (storage/sealing.py): the inbox key is replaced at a
close and the old one destroyed only once nothing waiting needs it; keys a crash left behind are
swept; a poll whose key is lost stays open and says why; polls open when sealing came still count;
the settings that name the master key and the key directory."""
from __future__ import annotations

import logging
import os
import time

import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from bot.config import ConfigError, Settings, load_settings
from bot.polls.close import close_poll
from storage import inbox, sealing
from storage import polls as store
from storage.bot_state import installation_id
from storage.db import transaction
from storage.models import Ballot, BotState, InboundUpdate, Poll
from tests.test_polls import Town, issued_poll, populate


def record(engine, userid: str, xml: str) -> None:
    with engine.begin() as conn:
        inbox.record(conn, [inbox.Received(f"key-{time.monotonic_ns()}", userid, xml)], now=time.time())


def current(engine) -> str:
    with Session(engine) as session:
        return session.get(BotState, inbox.INBOX_KEY).value["name"]


def installation(engine) -> str:
    with transaction(engine) as session:
        return installation_id(session)


def test_a_recorded_callback_is_sealed_and_opens_for_its_handler(engine):
    record(engine, "li", "<xml><Content><![CDATA[2 很好]]></Content></xml>")
    with Session(engine) as session:
        [row] = session.scalars(select(InboundUpdate))
    assert "很好" not in row.payload and row.payload.startswith(current(engine) + ".")
    assert inbox.unseal(row.payload) == "<xml><Content><![CDATA[2 很好]]></Content></xml>"
    assert inbox.unseal("<xml>recorded before sealing</xml>") == "<xml>recorded before sealing</xml>"
    record(engine, "wang", "<xml><Content><![CDATA[1]]></Content></xml>" + " " * 900)  # a tap, a longer comment…
    with Session(engine) as session:  # …all sealed to one length: no length tells a choice or a comment
        assert len({len(p) for p in session.scalars(select(InboundUpdate.payload))}) == 1


def test_the_old_inbox_key_lives_while_a_callback_sealed_under_it_waits(engine):
    keys = sealing.keystore()
    record(engine, "li", "<xml>waiting</xml>")
    old = current(engine)
    inbox.rotate_key(engine)
    new = current(engine)
    assert new != old and keys.exists(old) and keys.exists(new)  # the waiting row still needs the old key
    with transaction(engine) as session:
        [(row_id, sealed)] = inbox.claim(session, now=time.time(), lease_seconds=30)
        assert inbox.unseal(sealed) == "<xml>waiting</xml>"
        inbox.finish(session, row_id)
    assert inbox.retire_keys(engine) == 1
    assert not keys.exists(old) and keys.exists(new)
    record(engine, "li", "<xml>after</xml>")  # sealed under the new key
    with Session(engine) as session:
        assert session.scalars(select(InboundUpdate.payload)).one().startswith(new + ".")


def test_retiring_leaves_another_databases_keys_alone(engine, tmp_path):
    keys = sealing.keystore()
    other = keys.new_key("inbox", "ffffffffffff")
    record(engine, "li", "<xml/>")
    inbox.rotate_key(engine)
    inbox.retire_keys(engine)
    assert keys.exists(other)
    keys.destroy(other)


def test_a_closed_polls_key_left_behind_by_a_crash_is_swept(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    poll = issued_poll(town)
    for voter, option in [("m1", "1"), ("m2", "1"), ("m3", "2"), ("q1", "1"), ("q2", "3")]:
        town.tap(voter, poll.id, option)
    keys = sealing.keystore()
    with transaction(engine) as session:  # closed, but the erasing after the commit never ran (killed)
        assert close_poll(session, poll_id=poll.id, tz="Asia/Shanghai") is not None
        session.info.clear()
    assert keys.exists(poll.seal_key)
    orphan = keys.new_key("poll", installation(engine))  # a poll whose issuing transaction failed
    with transaction(engine) as session:
        assert store.sweep_keys(session, now=time.time()) == 1
        assert not keys.exists(poll.seal_key) and keys.exists(orphan)  # too young to be called an orphan
        assert store.sweep_keys(session, now=time.time() + store.ORPHAN_SECONDS + 1) == 1
    assert not keys.exists(orphan)


def test_a_poll_whose_key_is_lost_stays_open_and_says_why(engine, tmp_path, caplog):
    populate(engine, tmp_path)
    town = Town(engine)
    poll = issued_poll(town)
    town.tap("m1", poll.id, "1")
    os.rename(sealing.keystore().directory / f"{poll.seal_key}.key", sealing.keystore().directory / "aside")
    sealing.keystore()._keys.clear()  # a restarted process: nothing in memory
    try:
        with caplog.at_level(logging.ERROR), transaction(engine) as session:
            assert close_poll(session, poll_id=poll.id, tz="Asia/Shanghai") is None
        assert f"poll {poll.id} cannot be counted" in caplog.text and "XIANFENG_KEY_DIR" in caplog.text
        with Session(engine) as session:
            assert session.get(Poll, poll.id).status == "open" and len(session.scalars(select(Ballot)).all()) == 1
    finally:
        os.rename(sealing.keystore().directory / "aside", sealing.keystore().directory / f"{poll.seal_key}.key")
    with transaction(engine) as session:  # the key is back: it closes
        assert close_poll(session, poll_id=poll.id, tz="Asia/Shanghai") is not None


def test_a_poll_open_when_sealing_came_still_counts(engine, db_url, tmp_path):
    """0021 keeps an open poll's ballots and comments as they were stored (no key existed for them)."""
    from alembic import command

    from storage.migrate import alembic_config, upgrade

    populate(engine, tmp_path)
    town = Town(engine)
    poll = issued_poll(town)
    command.downgrade(alembic_config(db_url), "0020")
    with engine.begin() as conn:
        for n, choice in enumerate(["满意", "满意", "基本满意", "不满意", "满意"]):
            conn.execute(text("INSERT INTO ballot (id, poll_id, choice) VALUES (:i, :p, :c)"),
                         {"i": f"{n:032x}", "p": poll.id, "c": choice})
        conn.execute(text("INSERT INTO poll_comment (id, poll_id, text) VALUES ('c1', :p, '多听取意见')"), {"p": poll.id})
    upgrade(db_url)
    with transaction(engine) as session:
        session.execute(text("UPDATE poll SET seal_key = NULL"))  # as 0021 leaves a poll that was open
    with transaction(engine) as session:
        closed = close_poll(session, poll_id=poll.id, tz="Asia/Shanghai")
    assert closed.result["counts"] == {"满意": 3, "基本满意": 1, "不满意": 1}
    assert closed.result["comments"] == ["多听取意见"]


def test_the_seal_settings():
    assert Settings(database_url="sqlite:////srv/xf/xianfeng.db").key_directory().as_posix() == "/srv/xf/xianfeng.db.keys"
    assert Settings(database_url="postgresql://u@h/db").key_directory().name == "keys"
    assert Settings(key_dir="/etc/xianfeng/keys").key_directory().as_posix() == "/etc/xianfeng/keys"
    loaded = load_settings({"XIANFENG_SEAL_KEY": "k" * 40, "XIANFENG_KEY_DIR": "/var/lib/xf/keys"})
    assert loaded.seal_key == "k" * 40 and loaded.key_dir == "/var/lib/xf/keys" and "k" * 40 not in repr(loaded)
    with pytest.raises(ConfigError) as short:
        load_settings({"XIANFENG_SEAL_KEY": "too-short"})
    assert short.value.name == "XIANFENG_SEAL_KEY" and short.value.problem == "seal_key"


def test_the_command_line_closes_a_poll_with_the_keys_serve_uses(engine, db_url, tmp_path):
    """`xianfeng jobs run polls` in another process opens the ballots a running bot sealed."""
    import subprocess
    import sys

    from tests.conftest import AES_KEY, KEY_DIR

    populate(engine, tmp_path)
    town = Town(engine)
    poll = issued_poll(town)
    for voter, option in [("m1", "1"), ("m2", "1"), ("m3", "2"), ("q1", "1"), ("q2", "3")]:
        town.tap(voter, poll.id, option)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "XIANFENG_", "DATABASE_URL"))}
    env.update(DATABASE_URL=db_url, WECOM_AES_KEY=AES_KEY, XIANFENG_KEY_DIR=KEY_DIR)
    ran = subprocess.run([sys.executable, "-m", "bot.cli", "jobs", "run", "polls", "--now", "2026-05-16 09:00"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    with Session(engine) as session:
        closed = session.get(Poll, poll.id)
    assert closed.status == "closed" and closed.result["counts"] == {"满意": 3, "基本满意": 1, "不满意": 1}
    assert not sealing.keystore().exists(poll.seal_key)


def test_polls_closed_in_one_commit_rotate_the_inbox_key_once(engine, tmp_path):
    """A committee round closes its polls in the same minute: each key goes, one rotation and scrub."""
    populate(engine, tmp_path)
    town = Town(engine)
    first, second = issued_poll(town), issued_poll(town, "/评议 班子满意度 截止 5月15日 18:00")
    town.say("m1", f"{first.id}-1")  # a callback recorded: there is an inbox key to replace
    record(engine, "m1", "<xml/>")
    before = current(engine)
    keys = sealing.keystore()
    with transaction(engine) as session:
        for poll in (first, second):
            assert close_poll(session, poll_id=poll.id, tz="Asia/Shanghai") is not None
        actions = len(session.info["xianfeng_after_commit"])
    assert actions == 3  # two keys destroyed, one rotation with its scrub
    assert not keys.exists(first.seal_key) and not keys.exists(second.seal_key) and current(engine) != before
