"""进度 lists the open polls still waiting for the reader's vote, and how to vote, as the weekly digest
does (issue 19, finding 8), whatever the reader's view: a member's tasks, a secretary's branch, a
群众 with no tasks. On SQLite and PostgreSQL."""
from __future__ import annotations

from tests.test_polls import Town, branch, issued_poll  # noqa: F401 (branch is a fixture)


def test_progress_lists_a_poll_waiting_for_the_readers_vote_and_how_to_vote(engine, branch):
    town = Town(engine)
    poll = issued_poll(town)
    for userid in ("m2", "q1", "sec"):  # a member, a 群众, the secretary: none has voted yet
        [view] = town.say(userid, "进度")
        assert f"{poll.subject}评议" in view and f"编号 {poll.id}" in view, view
        assert "5月15日 18:00" in view  # its deadline
        assert "评议卡片" in view and f"{poll.id}-1" in view  # how to vote: the card, or typed
    [none_owed] = town.say("q1", "进度")
    assert "目前没有进行中的活动任务" not in none_owed  # a 群众 owes no task, yet has something to do


def test_progress_does_not_list_a_poll_once_voted_in(engine, branch):
    town = Town(engine)
    poll = issued_poll(town)
    town.tap("m1", poll.id, "1")
    [view] = town.say("m1", "进度")
    assert f"编号 {poll.id}" not in view and "投票" not in view
