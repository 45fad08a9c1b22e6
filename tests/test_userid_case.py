"""UserIDs are case-insensitive on WeChat Work (issue 16, point 6): a callback from `liming` is
the roster's `LiMing`, answered at the roster's spelling; a roster with two spellings of one
account is refused. Through the dispatcher and the roster import, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.inbox import Inbox
from bot.roster import RosterRejected, import_roster
from storage.db import transaction
from storage.models import ConversationState, Outbox, Person, PollVoter
from tests.conftest import index_plan, post_callback, text_xml
from tests.test_inbox import claim, waiting
from tests.test_polls import ROSTER, Town, ballots, issued_poll, populate
from tests.test_typed_vote_in_form import CAMPAIGN

CASED_ROSTER = ROSTER.replace("m1,党员1,", "LiMing,党员1,")


@pytest.fixture
def town(engine, tmp_path) -> Town:
    populate(engine, tmp_path, roster=CASED_ROSTER, campaign=CAMPAIGN)
    return Town(engine)


def sent_to(engine) -> list[tuple[str, str]]:
    """(recipient, idempotency key) of every message/send row, in order."""
    with Session(engine) as session:
        rows = session.scalars(select(Outbox).where(Outbox.endpoint == "message/send").order_by(Outbox.id))
        return [(r.payload.get("touser", ""), r.idem_key) for r in rows]


def test_a_callback_in_other_letters_is_answered_as_the_roster_spells_the_person(engine, town):
    before = len(sent_to(engine))
    town.say("liming", "帮助")
    [(touser, key)] = sent_to(engine)[before:]
    assert touser == "LiMing" and not key.startswith("stranger:")
    assert "/自评" in town.texts("LiMing")[-1]  # help for a member, not the stranger's answer


def test_a_form_and_a_vote_in_other_letters_are_the_roster_persons(engine, town):
    poll = issued_poll(town)
    town.say("LIMING", "/自评")
    town.say("liming", "2")
    with Session(engine) as session:
        [state] = session.scalars(select(ConversationState))
        assert state.userid == "LiMing" and list(state.data["answers"]) == ["r0"]
    town.say("liming", f"{poll.id}-1")
    with Session(engine) as session:
        assert session.get(PollVoter, (poll.id, "LiMing")).voted
    assert ballots(engine) == 1
    assert {touser for touser, _ in sent_to(engine)} >= {"LiMing"}
    assert not [key for _, key in sent_to(engine) if key.startswith("stranger:")]


def test_the_roster_spelling_is_kept_when_a_file_spells_it_otherwise(engine, town, tmp_path):
    path = tmp_path / "again.csv"
    path.write_text(CASED_ROSTER.replace("LiMing,党员1,", "liming,李明,"), encoding="utf-8")
    summary = import_roster(engine, path)
    assert (summary.created, summary.updated) == (0, 1)
    with Session(engine) as session:
        person = session.scalars(select(Person).where(Person.name == "李明")).one()
        assert person.userid == "LiMing"


def test_a_roster_with_two_spellings_of_one_account_is_refused(engine, tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("账号,姓名,支部,角色\nLiMing,李明,第一党支部,党员\nzhang,张伟,第一党支部,支部书记\n"
                    "liming,李明明,第一党支部,党员\n", encoding="utf-8")
    with pytest.raises(RosterRejected) as caught:
        import_roster(engine, path)
    assert [(p.row, p.code) for p in caught.value.problems] == [(4, "userid_case_duplicate")]
    text = caught.value.render()
    assert "第 4 行" in text and "liming" in text and "第 2 行的 LiMing" in text and "大小写" in text
    with Session(engine) as session:
        assert session.scalars(select(Person)).first() is None


def test_the_database_refuses_two_people_whose_userids_differ_only_in_case(engine):
    with transaction(engine) as session:
        session.add(Person(userid="LiMing", name="李明", role="member"))
    with pytest.raises(IntegrityError):
        with transaction(engine) as session:
            session.add(Person(userid="liming", name="李明明", role="member"))


async def test_one_persons_callbacks_in_other_letters_are_handled_one_after_the_other(bot, engine, rostered, monkeypatch):
    monkeypatch.setattr(Inbox, "_claim", lambda self: None)  # nothing handled here: look at what was recorded
    for userid, text in (("li", "1"), ("LI", "2")):
        assert (await post_callback(bot, text_xml(userid, text), settle=False)).status == 200
    assert len(waiting(engine)) == 2
    assert len(claim(engine, limit=1)) == 1  # one process takes li's update
    assert claim(engine) == []  # another does not take LI's: the same person's, handled in arrival order


def test_a_lookup_in_other_letters_uses_the_index(engine):
    assert "ux_person_userid_lower" in index_plan(engine, select(Person).where(func.lower(Person.userid) == "liming"))


def test_an_upgrade_over_two_spellings_of_one_account_names_them(engine, db_url):
    from alembic import command

    from storage.migrate import alembic_config, upgrade

    command.downgrade(alembic_config(db_url), "0010")
    with transaction(engine) as session:
        session.add_all([Person(userid="LiMing", name="李明", role="member"),
                         Person(userid="liming", name="李明明", role="member")])
    with pytest.raises(RuntimeError, match="LiMing 和 liming"):
        upgrade(db_url)
