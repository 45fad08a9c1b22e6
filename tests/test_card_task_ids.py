"""Card task ids: unique to the installation (the platform refuses a task_id the app ever used), and a
forged one is neither a crash nor another installation's poll."""
from __future__ import annotations

import re
import shutil

from sqlalchemy import select
from sqlmodel import Session

from bot.polls.issue import poll_id_of
from bot.wecom.emulator.callbacks import card_event
from bot.wecom.updates import parse_update
from storage.db import make_engine
from storage.models import Ballot, Outbox
from tests.conftest import AGENT_ID, CORP_ID
from tests.test_polls import Town, issued_poll, populate


def _task_ids(engine) -> list[str]:
    with Session(engine) as session:
        rows = session.scalars(select(Outbox).where(Outbox.endpoint == "message/send"))
        return [r.payload["template_card"]["task_id"] for r in rows if r.payload["msgtype"] == "template_card"]


def _tap(town: Town, task_id: str) -> None:
    town.clock += 1
    xml = card_event(CORP_ID, AGENT_ID, "m1", key="vote-1", task_id=task_id, card_type="vote_interaction",
                     selected={"choice": ["1"]}, response_code="code")
    town.dispatcher.feed_update(parse_update(re.sub(r"<CreateTime>\d+", f"<CreateTime>{town.clock}", xml)))


def test_two_fresh_databases_of_one_app_never_issue_the_same_task_id(tmp_path, sqlite_template):
    """A reset database, or a second installation of the same app, numbers its polls from 1 again."""
    issued = []
    for name in ("first", "second"):
        shutil.copy(sqlite_template, tmp_path / f"{name}.db")
        engine = make_engine(f"sqlite:///{tmp_path / name}.db")
        (tmp_path / name).mkdir()
        populate(engine, tmp_path / name)
        issued.append(issued_poll(Town(engine)).id and _task_ids(engine))
        engine.dispose()
    first, second = issued
    assert first and second and set(first).isdisjoint(second)
    assert all(len(t.encode()) <= 128 and re.fullmatch(r"[0-9A-Za-z_\-@]+", t) for t in first + second)


def test_a_card_tap_names_its_poll_through_this_installations_id(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    poll = issued_poll(town)
    [task_id] = _task_ids(engine)
    with Session(engine) as session:
        assert poll_id_of(session, task_id) == poll.id
        assert poll_id_of(session, f"poll-{poll.id}-0") == poll.id  # cards sent before installations had ids
        assert poll_id_of(session, task_id.replace(task_id.split("-")[1], "0" * 12)) is None  # another's
    _tap(town, task_id)
    with Session(engine) as session:
        assert len(session.scalars(select(Ballot)).all()) == 1


def test_a_forged_task_id_of_forty_digits_is_no_poll_and_no_crash(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    issued_poll(town)
    for forged in (f"poll-{'9' * 40}-0", f"poll-1-{'9' * 40}", "poll--0", "poll-1", "poll-x-1-0"):
        _tap(town, forged)  # raised OverflowError before (an int too large for the database)
    with Session(engine) as session:
        assert session.scalars(select(Ballot)).all() == []
