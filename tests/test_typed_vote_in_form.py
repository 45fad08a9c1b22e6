"""A vote typed as `编号-选项号` in the middle of a form is a vote, not the form's answer (issue 16,
point 2), when the number names a poll of this person; otherwise it stays the answer. Through
the dispatcher (feed_update), on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlmodel import Session

from bot.dispatch import Dispatcher
from bot.handlers import ROUTERS
from storage.models import ConversationState, PollVoter
from tests.test_polls import POLL_CAMPAIGN, Town, ballots, issued_poll, populate

# The poll campaign with a self-assessment and a pledge in the same phase, so a voter can be in a form.
CAMPAIGN = POLL_CAMPAIGN.replace(
    "      - {id: branch-poll,",
    "      - {id: member-self, title: 党员自评, kind: self_assessment, audience: members, due: 2026-05-31}\n"
    "      - {id: member-pledge, title: 党员承诺, kind: pledge, audience: members, due: 2026-05-31}\n"
    "      - {id: branch-poll,")


@pytest.fixture
def town(engine, tmp_path) -> Town:
    populate(engine, tmp_path, campaign=CAMPAIGN)
    return Town(engine)


def answers(engine, userid: str) -> dict:
    with Session(engine) as session:
        return dict(session.get(ConversationState, userid).data["answers"])


def voted(engine, poll_id: int, userid: str) -> bool:
    with Session(engine) as session:
        return session.get(PollVoter, (poll_id, userid)).voted


def at_the_gap_question(town: Town, userid: str) -> str:
    """Start /自评 and answer the rating, so the form asks for the 差距 (free text); that question."""
    town.say(userid, "/自评")
    [question] = town.say(userid, "2")
    assert "差距" in question
    return question


def test_a_typed_vote_mid_form_is_recorded_and_the_question_asked_again(engine, town):
    poll = issued_poll(town)
    question = at_the_gap_question(town, "m1")
    before = answers(engine, "m1")
    thanks, again = town.say("m1", f"{poll.id}-1 支部工作很扎实")
    assert "已收到你对" in thanks  # the same thanks with or without a comment (issue 18)
    assert again == question
    assert voted(engine, poll.id, "m1") and ballots(engine) == 1
    assert answers(engine, "m1") == before
    assert "措施" in town.say("m1", "读书少，笔记不系统")[0]  # the form goes on from where it was
    assert answers(engine, "m1") == {**before, "g0": "读书少，笔记不系统"}


def test_a_second_typed_vote_mid_form_gets_the_usual_answer_and_the_question(engine, town):
    poll = issued_poll(town)
    town.say("m1", f"{poll.id}-1")
    question = at_the_gap_question(town, "m1")
    already, again = town.say("m1", f"{poll.id}-2")
    assert "已经投过" in already and again == question
    assert ballots(engine) == 1


def test_a_number_that_names_no_poll_of_this_person_stays_the_answer(engine, town):
    poll = issued_poll(town)
    at_the_gap_question(town, "out")  # in another branch: not on this poll's voter list
    [question] = town.say("out", f"{poll.id}-1")
    assert "措施" in question and answers(engine, "out")["g0"] == f"{poll.id}-1"
    assert ballots(engine) == 0
    at_the_gap_question(town, "m2")
    town.say("m2", f"{poll.id + 1}-1")  # no such poll
    assert answers(engine, "m2")["g0"] == f"{poll.id + 1}-1" and ballots(engine) == 0


def test_a_bare_number_mid_form_stays_the_answer(engine, town):
    issued_poll(town)
    town.say("m1", "/自评")
    assert "差距" in town.say("m1", "1")[0]
    assert ballots(engine) == 0 and not voted(engine, 1, "m1")


def test_a_date_step_reads_a_date_even_when_it_could_be_a_vote(engine, town):
    """A vote cannot be taken back, a date can (返回): where the step reads it as a date, it is one."""
    poll = issued_poll(town)
    town.say("m1", "/承诺")
    town.say("m1", "每周听一节课")
    assert "什么时候前完成" in town.say("m1", "每月记录一次")[0]
    town.say("m1", f"{poll.id}-2")
    assert ballots(engine) == 0 and not voted(engine, poll.id, "m1")
    assert f"2027-0{poll.id}-02" in answers(engine, "m1").values()  # 1月2日 has passed on 2026-05-11


def test_a_typed_vote_to_a_form_parked_just_now_is_recorded(engine, town):
    """The message that finds the form idle for too long parks it; a vote in it still counts."""
    poll = issued_poll(town)
    at_the_gap_question(town, "m1")
    town.dispatcher = Dispatcher(engine, ROUTERS, form_idle_seconds=0)  # every open form is idle now
    parked, thanks = town.say("m1", f"{poll.id}-1")
    assert "/继续" in parked and "已收到你对" in thanks
    assert voted(engine, poll.id, "m1") and ballots(engine) == 1
