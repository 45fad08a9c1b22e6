"""Who may end a poll, for which branch a secretary may issue one, and a poll that could never publish
(issue 18, findings 4, 5 and 7), through the bot on SQLite and PostgreSQL."""
from __future__ import annotations

from tests.test_polls import ROSTER, Town, end_poll, polls, populate, status


def test_a_secretary_cannot_end_a_poll_the_committee_issued_about_their_branch(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    assert "已发出" in town.say("boss", "/评议 第一党支部 支部满意度 截止 5月15日 18:00")[0]
    [poll] = polls(engine)
    for asked in ("/评议 结束", f"/评议 结束 {poll.id}"):
        reply = town.say("sec", asked)[0]
        assert "只能由发起人或党委结束" in reply and f"编号 {poll.id}" in reply
    assert status(engine, poll.id) == "open"
    end_poll(town, "boss", str(poll.id))
    assert status(engine, poll.id) == "closed"


def test_the_issuer_ends_their_own_poll(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    town.say("sec", "/评议 支部满意度 截止 5月15日 18:00")
    [poll] = polls(engine)
    end_poll(town)
    assert status(engine, poll.id) == "closed"


def test_a_secretary_naming_another_branch_is_told_so_and_nothing_is_issued(engine, tmp_path):
    populate(engine, tmp_path, roster=ROSTER + "sec2,书记乙,第二党支部,支部书记\n")
    town = Town(engine)
    reply = town.say("sec", "/评议 第二党支部 支部满意度 截止 5月15日 18:00")[0]
    assert "不能为“第二党支部”发起" in reply and polls(engine) == []


def test_a_poll_with_fewer_voters_than_the_threshold_is_refused_at_issue(engine, tmp_path):
    populate(engine, tmp_path)  # 第一党支部: four 群众, and a result needs five valid ballots
    town = Town(engine)
    reply = town.say("sec", "/评议 支部满意度 群众代表 截止 5月15日 18:00")[0]
    assert "只有 4 人" in reply and "5 张有效票" in reply and "没有发出" in reply and polls(engine) == []
    assert town.rows("poll:") == []  # no card, no announcement


def test_the_form_waits_at_the_voters_question_when_too_few_could_vote(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    town.say("sec", "/评议")
    town.say("sec", "1")          # 支部
    town.say("sec", "满意度")
    reply = town.say("sec", "群众代表")[0]
    assert "只有 4 人" in reply and "请换一类投票人" in reply
    town.say("sec", "党员和群众")  # the same question, answered again
    town.say("sec", "5月15日 17:30")
    town.say("sec", "跳过")
    assert "已发出" in town.say("sec", "1")[0] and len(polls(engine)) == 1


def test_the_thanks_are_the_same_with_or_without_a_comment(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    town.say("sec", "/评议 支部满意度 截止 5月15日 18:00")
    [poll] = polls(engine)
    plain = town.say("m1", f"{poll.id}-1")[0]
    commented = town.say("m2", f"{poll.id}-1 希望多组织学习")[0]
    assert plain == commented
