"""Nonsense is not kept as content (issue 19, finding 3): a mistyped steering word (跳国 for 跳过) is
asked about, an answer of emoji alone is refused kindly and the form waits, and a typed vote's
emoji-only comment is dropped while the vote counts. bot/content.py holds the checks."""
from __future__ import annotations

import pytest
from sqlmodel import Session

from bot.content import has_words, steering_word_in
from storage import polls as store
from storage.models import Poll
from tests.test_pledge_form import Phone, pledges
from tests.test_polls import Town, ballots, issued_poll, populate
from tests.test_scheduler import load


@pytest.fixture
def campaign(engine, rostered):
    return load(engine)  # one standard (带头学习提高); li is a 有职党员


@pytest.mark.parametrize("text,words", [
    ("😀👍", False), ("。。。！", False), ("→→ ✓", False), ("  ", False),
    ("每周读书", True), ("60", True), ("ok", True), ("👍好", True),
])
def test_has_words(text, words):
    assert has_words(text) is words


@pytest.mark.parametrize("text,meant", [
    ("跳国", "跳过"), ("跳过了", "跳过"), ("跳过这一项", "跳过"), ("反回", "返回"), ("上一部", "上一步"),
    ("取消吧", "取消"), ("不变", "不变"), ("跳过！", "跳过"),
    ("不会", None), ("好了", None), ("晚上", None), ("照片", None), ("每周听一节课", None), ("跳", None),
])
def test_a_near_miss_of_a_steering_word(text, meant):
    assert steering_word_in(text) == meant


def test_a_mistyped_skip_is_asked_about_not_stored(engine, campaign):
    li = Phone(engine, "li")
    li.say("/承诺")
    reply = li.say("跳国")[0]
    assert "你是想说“跳过”吗" in reply and "带头学习提高" in reply
    assert li.answers() == {}
    assert "岗位承诺" in li.say("跳过")[0] and li.answers() == {"s0": None}


def test_an_emoji_only_measure_is_refused_and_the_form_waits(engine, campaign):
    qian = Phone(engine, "qian")
    qian.say_all(("/承诺", "每周家访一户"))
    reply = qian.say("😀👍")[0]
    assert "只有表情或符号" in reply and "准备怎么做" in reply
    assert qian.answers() == {"s0": "每周家访一户"}
    qian.say_all(("记录家访情况", "6月30日", "1"))
    assert pledges(engine)[0].items[0]["how"] == "记录家访情况"


def test_an_emoji_measure_inside_a_whole_item_is_asked_again_and_the_rest_kept(engine, campaign):
    qian = Phone(engine, "qian")
    qian.say("/承诺")
    reply = qian.say("每周家访一户；😀👍；6月30日")[0]
    assert "已记下“事项”、“时限”" in reply and "只有表情或符号" in reply and "准备怎么做" in reply
    assert qian.answers() == {"s0": "每周家访一户", "s0_by": "2026-06-30"}


def test_an_emoji_only_item_is_refused(engine, campaign):
    qian = Phone(engine, "qian")
    qian.say("/承诺")
    assert "只有表情或符号" in qian.say("🎉🎉🎉")[0] and qian.answers() == {}


def test_keep_with_nothing_to_keep_is_not_content(engine, campaign):
    qian = Phone(engine, "qian")
    qian.say_all(("/承诺", "每周家访一户"))
    assert "没有可以保留的内容" in qian.say("不变")[0] and "s0_how" not in qian.answers()


def test_other_forms_free_text_is_checked_too(engine, campaign):
    zhang = Phone(engine, "zhang")  # the branch pledge: a free-text step of another form
    zhang.say("/承诺 支部")
    assert "只有表情或符号" in zhang.say("👏👏👏")[0] and zhang.answers() == {}
    assert "你是想说“跳过”吗" in zhang.say("跳国")[0] and zhang.answers() == {}


def test_an_emoji_only_vote_comment_counts_the_vote_and_drops_the_comment(engine, tmp_path):
    populate(engine, tmp_path)
    town = Town(engine)
    poll = issued_poll(town)
    plain_thanks = town.say("m1", "1")[0]
    assert town.say("m2", "2 😀👍")[0] == plain_thanks and "已收到" in plain_thanks  # the same thanks
    town.say("m3", f"{poll.id}-1 👍👍！")
    town.say("m4", "1 希望多开放课堂")
    assert ballots(engine) == 4  # every vote counted
    with Session(engine) as session:
        assert store.open_ballots(session, poll=session.get(Poll, poll.id)).comments == ["希望多开放课堂"]


def test_a_name_that_looks_like_a_steering_word_is_still_a_name(engine, tmp_path):
    """A poll of members takes their names as free text: a member called 保林 (one character off 保留)
    is named, not asked whether 保留 was meant."""
    from tests.test_polls import ROSTER

    populate(engine, tmp_path, roster=ROSTER.replace("党员1,", "保林,"))
    town = Town(engine)
    town.say("sec", "/评议")
    town.say("sec", "党员")  # what is rated: members (民主评议党员)
    assert "评议哪几位党员" in town.texts("sec")[-1] and "保林" in town.texts("sec")[-1]
    reply = town.say("sec", "保林")[0]
    assert "是想说" not in reply and "评议哪几位党员" not in reply
