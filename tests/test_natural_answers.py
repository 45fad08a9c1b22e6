"""Answers as people type them on a phone (issue 19, finding 2): 确认 at a confirmation, 一 or ① for
option 1, 本学期末 as a date, and an option's own words (满意) as a vote when one poll waits. And what
must not be taken: 不确认 is no yes, an option word never steals an open form's answer, and a word that
is also an everyday 好 is asked about before an anonymous vote that cannot be undone."""
from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session

from bot.answers import Invalid, option_number, parse_choice, parse_confirm, parse_date
from storage.models import ConversationState, PollVoter
from tests.test_polls import Town, ballots, issued_poll, polls, populate
from tests.test_typed_vote_in_form import CAMPAIGN

SUBMIT = "提交"


# -- confirmations ---------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["1", "１", "一", "①", "提交", "确认", "确认。", "确认！", "确 认", "确定", "好",
                                   "好的", "好的！", "对", "对的", "是", "是的", "没问题", "可以", "行", "OK", "ok",
                                   "确认无误", "确认提交", "同意", "没错", "好了", "👍"])
def test_a_yes_confirms(typed):
    assert parse_confirm(typed, [SUBMIT]) == SUBMIT


@pytest.mark.parametrize("typed", ["不确认", "不对", "不好", "不是", "不行", "不可以", "有问题", "好像不对", "是不是",
                                   "对了，我还想改", "对了", "等等", "好吗", "确认一下", "确认什么", "2", "二", "0", "好吧我再想想", "错了"])
def test_what_is_not_a_yes_waits(typed):
    with pytest.raises(Invalid):
        parse_confirm(typed, [SUBMIT])


# -- option numbers --------------------------------------------------------------------------------

@pytest.mark.parametrize("typed,number", [
    ("1", 1), ("２", 2), ("一", 1), ("二", 2), ("三", 3), ("十", 10), ("十二", 12), ("壹", 1), ("贰", 2), ("叁", 3),
    ("①", 1), ("③", 3), ("⑩", 10), ("第一", 1), ("第2个", 2), ("第三项", 3), ("2.", 2), ("3、", 3), ("（2）", 2),
])
def test_option_numbers_in_every_script(typed, number):
    assert option_number(typed) == number


@pytest.mark.parametrize("typed", ["", "一般", "较好", "十一月", "²", "第", "1 2"])
def test_what_is_not_an_option_number(typed):
    assert option_number(typed) is None


def test_a_choice_by_chinese_numeral_or_circled_number():
    options = ["党组织自评", "五星指标自评", "党性分析"]
    assert parse_choice("一", options) == "党组织自评"
    assert parse_choice("②", options) == "五星指标自评"
    assert parse_choice("叁", options) == "党性分析"
    with pytest.raises(Invalid):
        parse_choice("四", options)


def test_a_numeral_that_also_starts_another_option_is_asked_again():
    """一 is option 1 (好) and the start of 一般: neither is guessed."""
    ratings = ["好", "较好", "一般", "差"]
    with pytest.raises(Invalid):
        parse_choice("一", ratings)
    assert parse_choice("1", ratings) == "好" and parse_choice("一般", ratings) == "一般"
    assert parse_choice("二", ratings) == "较好"


# -- dates -----------------------------------------------------------------------------------------

SPRING = date(2026, 3, 10)  # a Tuesday in the spring term
AUTUMN = date(2026, 10, 14)  # a Wednesday in the autumn term


@pytest.mark.parametrize("typed,today,expected", [
    ("本学期末", SPRING, date(2026, 7, 15)), ("学期末", SPRING, date(2026, 7, 15)), ("期末", SPRING, date(2026, 7, 15)),
    ("期末前", SPRING, date(2026, 7, 15)), ("这学期末", SPRING, date(2026, 7, 15)),
    ("本学期结束前", SPRING, date(2026, 7, 15)), ("暑假前", SPRING, date(2026, 7, 15)),
    ("本学期末", AUTUMN, date(2027, 1, 31)), ("期末", AUTUMN, date(2027, 1, 31)), ("寒假前", AUTUMN, date(2027, 1, 31)),
    ("本学期末", date(2026, 1, 20), date(2026, 1, 31)), ("下学期末", SPRING, date(2027, 1, 31)),
    ("学年末", AUTUMN, date(2027, 7, 15)), ("本学年末", SPRING, date(2026, 7, 15)),
    ("月底", SPRING, date(2026, 3, 31)), ("本月底", SPRING, date(2026, 3, 31)), ("月末", SPRING, date(2026, 3, 31)),
    ("下月底", SPRING, date(2026, 4, 30)), ("下个月底", date(2026, 12, 3), date(2027, 1, 31)),
    ("6月底", SPRING, date(2026, 6, 30)), ("六月底", SPRING, date(2026, 6, 30)), ("2月底", SPRING, date(2027, 2, 28)),
    ("年底", SPRING, date(2026, 12, 31)), ("年末", SPRING, date(2026, 12, 31)), ("今年年底", SPRING, date(2026, 12, 31)),
    ("本周五", SPRING, date(2026, 3, 13)), ("这个周五", SPRING, date(2026, 3, 13)), ("下周一", SPRING, date(2026, 3, 16)),
    ("下个星期一", SPRING, date(2026, 3, 16)), ("周五", SPRING, date(2026, 3, 13)),
    ("周一", SPRING, date(2026, 3, 16)),  # a bare weekday already past this week: the coming one
    ("大后天", SPRING, date(2026, 3, 13)), ("三天内", SPRING, date(2026, 3, 13)), ("10天后", SPRING, date(2026, 3, 20)),
    ("两周内", SPRING, date(2026, 3, 24)), ("一周内", SPRING, date(2026, 3, 17)),
    ("20号", SPRING, date(2026, 3, 20)), ("5号", SPRING, date(2026, 4, 5)), ("本月25日", SPRING, date(2026, 3, 25)),
    ("下月10号", SPRING, date(2026, 4, 10)), ("六月十五日", SPRING, date(2026, 6, 15)),
    ("6月15日", SPRING, date(2026, 6, 15)), ("七一前", SPRING, date(2026, 7, 1)),
])
def test_dates_as_people_say_them(typed, today, expected):
    assert parse_date(typed, today) == expected


@pytest.mark.parametrize("typed", ["下学期", "周末", "某天", "学期中", "寒假", "本月", "13月底", "三十二号", "0天内"])
def test_dates_that_say_no_single_day(typed):
    with pytest.raises(Invalid):
        parse_date(typed, SPRING)


# -- through the bot: a confirmation answered 确认 -----------------------------------------------------

@pytest.fixture
def town(engine, tmp_path) -> Town:
    populate(engine, tmp_path, campaign=CAMPAIGN)
    return Town(engine)


def state(engine, userid: str) -> ConversationState | None:
    with Session(engine) as session:
        return session.get(ConversationState, userid)


def at_the_confirmation(town: Town, userid: str) -> str:
    """/自评 answered to its preview; the preview."""
    town.say(userid, "/自评")
    town.say(userid, "2")
    town.say(userid, "读书少，笔记不系统")
    [preview] = town.say(userid, "每月读一本书，写一篇笔记")
    assert "确认无误请回复 1" in preview
    return preview


def test_confirmed_by_the_word_the_preview_uses(engine, town):
    at_the_confirmation(town, "m1")
    assert "自评已保存" in town.say("m1", "确认")[0]
    assert state(engine, "m1") is None


def test_a_no_at_the_confirmation_keeps_the_form_waiting(engine, town):
    at_the_confirmation(town, "m1")
    [again] = town.say("m1", "不确认")
    assert "请核对" in again and "确认无误请回复 1" in again and state(engine, "m1") is not None
    assert "自评已保存" in town.say("m1", "好的")[0]


# -- through the bot: an option's words as a vote -----------------------------------------------------

def voted(engine, poll_id: int, userid: str) -> bool:
    with Session(engine) as session:
        return session.get(PollVoter, (poll_id, userid)).voted


def test_an_option_word_votes_when_one_poll_waits(engine, town):
    poll = issued_poll(town)
    assert "已收到" in town.say("m1", "满意")[0]
    assert "已收到" in town.say("m2", "基本满意，希望多开放课堂")[0]
    assert "已收到" in town.say("m3", "一")[0]
    assert "已收到" in town.say("m4", f"{poll.id}-不满意")[0]
    assert ballots(engine) == 4 and all(voted(engine, poll.id, m) for m in ("m1", "m2", "m3", "m4"))
    assert "已经投过" in town.say("m1", "不满意")[0] and ballots(engine) == 4


def test_an_option_word_with_several_polls_waiting_asks_which(engine, town):
    first = issued_poll(town)
    second = issued_poll(town, "/评议 支部满意度第二次 截止 5月16日 18:00")
    [which] = town.say("m1", "满意")
    assert f"编号 {first.id}" in which and f"编号 {second.id}" in which and ballots(engine) == 0
    assert "已收到" in town.say("m1", f"{second.id}-满意")[0]
    assert voted(engine, second.id, "m1") and not voted(engine, first.id, "m1")


def test_words_that_are_no_option_are_not_votes(engine, town):
    issued_poll(town)
    for text in ("非常满意", "满意度很高", "好的"):
        [reply] = town.say("m1", text)
        assert "已收到" not in reply and "不能更改" not in reply and "待投票" not in reply, text
    assert ballots(engine) == 0


def test_an_option_word_mid_form_stays_the_forms_answer(engine, town):
    poll = issued_poll(town)
    town.say("m1", "/自评")
    town.say("m1", "2")
    [question] = town.say("m1", "满意")  # the 差距 question takes text: 满意 is its answer
    assert "措施" in question and ballots(engine) == 0 and not voted(engine, poll.id, "m1")
    assert state(engine, "m1").data["answers"]["g0"] == "满意"


def test_an_everyday_yes_that_is_also_an_option_is_asked_about(engine, town):
    """好 is an option of 民主评议 (好/较好/一般/差) and what people type for "OK": not cast, asked."""
    town.say("sec", "/评议")
    town.say("sec", "3")  # 党员（民主评议党员）
    town.say("sec", "党员1")
    town.say("sec", "2")  # 好较好一般差
    town.say("sec", "党员和群众")
    town.say("sec", "5月18日")
    town.say("sec", "跳过")
    assert "已发出" in town.say("sec", "1")[0]
    poll = polls(engine)[-1]
    assert poll.options == ["好", "较好", "一般", "差"]
    [asked] = town.say("m2", "好")
    assert "不能更改" in asked and "1" in asked and ballots(engine) == 0
    [asked] = town.say("m2", "一")  # option 1 or the start of 一般
    assert "不能更改" in asked and ballots(engine) == 0
    assert "已收到" in town.say("m2", "较好")[0] and ballots(engine) == 1


def test_a_long_number_after_a_poll_number_stays_the_forms_answer(engine, town):
    """Option numbers have at most two digits, as before words were read: "7-2026" is text, not a vote."""
    poll = issued_poll(town)
    town.say("m1", "/自评")
    town.say("m1", "2")
    [question] = town.say("m1", f"{poll.id}-2026")
    assert "措施" in question and state(engine, "m1").data["answers"]["g0"] == f"{poll.id}-2026"
    assert ballots(engine) == 0
