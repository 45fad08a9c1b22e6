"""A 五带头 pledge on a phone in at most six messages (issue 19, finding 1): /承诺, the standards
("1 3 5"), one message per item with its 事项、措施、时限, 1 to publish; or the whole pledge pasted in
one message. Only a part left out (or unreadable) is asked again; one part at a time still works.
Every test counts the messages the member sends, from /承诺 to the published pledge."""
from __future__ import annotations

import pytest
from sqlmodel import Session

from bot.campaigns import load_campaign_text, save_campaign
from storage.db import transaction
from storage.models import ConversationState
from tests.test_pledge_form import Phone, pledges
from tests.test_scheduler import rows

FIVE = """name: 五带头活动
source: tests
standards: {member: 五带头, branch: 五个好}
standard_sets:
  五带头: {items: [带头学习提高, 带头争创佳绩, 带头服务群众, 带头遵纪守法, 带头弘扬正气]}
  五个好: {items: [领导班子好]}
phases:
  - name: 公开承诺
    start: 2026-03-02
    end: 2026-04-30
    tasks:
      - {id: member-pledge, title: 党员公开承诺, kind: pledge, audience: members, due: 2026-03-20}
      - {id: post-pledge, title: 岗位承诺, kind: pledge, audience: post_holders, due: 2026-03-20}
"""
MOST = 6  # messages from /承诺 to the published pledge (the goal)
READING = "每周读一篇教育理论文章；写读书笔记；6月30日"
VISITS = "每月走访一户学生家庭\n记录走访情况\n年底"  # three lines instead of "；"
UPRIGHT = "敢于批评不良风气；每学期在教研组会上发言一次；6月30日前完成"
POST = "做实教研组集体备课；每两周组织一次；月底"
WHOLE = f"""1 {READING}
2、带出一个青年教师；每周听他一节课；年底
带头服务群众：{VISITS.replace(chr(10), "；")}
4. 不收家长礼品；每学期公开承诺一次；年底
5：{UPRIGHT}
岗位承诺：{POST}"""


@pytest.fixture
def five(engine, rostered):
    with transaction(engine) as session:
        return save_campaign(session, load_campaign_text(FIVE), source_file="test")


def answers(engine, userid: str) -> dict | None:
    with Session(engine) as session:
        state = session.get(ConversationState, userid)
        return state.data["answers"] if state else None


def published(engine) -> list[str]:
    return [r.payload["markdown"]["content"] for r in rows(engine, "pledge:")]


def items(engine) -> list[tuple[str, str, str, str]]:
    [pledge] = pledges(engine)
    return [(i["standard"], i["what"], i["how"], i["by"]) for i in pledge.items]


def test_a_member_pledges_on_three_standards_in_six_messages(engine, five):
    qian = Phone(engine, "qian")
    choose = qian.say("/承诺")[0]
    assert "1. 带头学习提高" in choose and "5. 带头弘扬正气" in choose and "1 3 5" in choose
    assert "【公开承诺 2/5】" in qian.say("1 3 5")[0]  # the choice, three items, the confirmation
    assert "带头服务群众" in qian.say(READING)[0]
    assert "带头弘扬正气" in qian.say(VISITS)[0]
    assert "请核对" in qian.say(UPRIGHT)[0]
    assert "已提交" in qian.say("1")[0]
    assert qian.sent == MOST
    assert items(engine) == [
        ("带头学习提高", "每周读一篇教育理论文章", "写读书笔记", "2026-06-30"),
        ("带头服务群众", "每月走访一户学生家庭", "记录走访情况", "2026-12-31"),
        ("带头弘扬正气", "敢于批评不良风气", "每学期在教研组会上发言一次", "2026-06-30")]
    assert "钱敏的公开承诺" in published(engine)[0] and "写读书笔记" in published(engine)[0]


@pytest.mark.parametrize("choice,chosen", [
    ("1 3 5", "带头学习提高、带头服务群众、带头弘扬正气"), ("1、3、5", "带头学习提高、带头服务群众、带头弘扬正气"),
    ("135", "带头学习提高、带头服务群众、带头弘扬正气"), ("１，３", "带头学习提高、带头服务群众"),
    ("2-4", "带头争创佳绩、带头服务群众、带头遵纪守法"), ("全部", "带头学习提高、带头争创佳绩、带头服务群众、带头遵纪守法、带头弘扬正气"),
    ("服务群众", "带头服务群众"),
])
def test_the_standards_are_chosen_as_people_type_them(engine, five, choice, chosen):
    qian = Phone(engine, "qian")
    qian.say("/承诺")
    qian.say(choice)
    assert answers(engine, "qian") == {"standards": chosen}


@pytest.mark.parametrize("choice,note", [("6", "序号是 1 到 5"), ("带头", "请回复要承诺的几项的序号"), ("😀", "请回复要承诺的几项的序号")])
def test_a_choice_not_understood_is_asked_again(engine, five, choice, note):
    qian = Phone(engine, "qian")
    qian.say("/承诺")
    assert note in qian.say(choice)[0] and answers(engine, "qian") == {}


def test_a_post_holder_pledges_with_the_post_pledge_in_six_messages(engine, five):
    li = Phone(engine, "li")  # 有职党员: the 岗位承诺 is asked after the standards chosen, and cannot be skipped
    assert "岗位承诺" in li.say("/承诺")[0]
    li.say("2 4")
    li.say("带出一个青年教师；每周听他一节课；年底")
    assert "岗位承诺" in li.say("不收家长礼品；每学期公开承诺一次；年底")[0]
    assert "不能跳过" in li.say("跳过")[0]
    assert "请核对" in li.say(POST)[0]
    li.sent -= 1  # the refused 跳过 was a detour, not a step of the pledge
    assert "已提交" in li.say("1")[0] and li.sent == MOST
    assert [i[0] for i in items(engine)] == ["带头争创佳绩", "带头遵纪守法", "岗位承诺"]
    assert items(engine)[2] == ("岗位承诺", "做实教研组集体备课", "每两周组织一次", "2026-03-31")


def test_a_post_holder_may_skip_the_standards_and_write_only_the_post_pledge(engine, five):
    li = Phone(engine, "li")
    li.say("/承诺")
    assert "岗位承诺" in li.say("跳过")[0]
    li.say(POST)
    assert "已提交" in li.say("1")[0] and li.sent == 4
    assert [i[0] for i in items(engine)] == ["岗位承诺"]


def test_a_whole_pledge_pasted_in_one_message(engine, five):
    li = Phone(engine, "li")
    li.say("/承诺")
    confirm = li.say(WHOLE)[0]
    assert "请核对" in confirm and "【公开承诺 8/8】" in confirm  # the choice, six items, this
    assert "已提交" in li.say("1")[0] and li.sent == 3
    assert items(engine) == [
        ("带头学习提高", "每周读一篇教育理论文章", "写读书笔记", "2026-06-30"),
        ("带头争创佳绩", "带出一个青年教师", "每周听他一节课", "2026-12-31"),
        ("带头服务群众", "每月走访一户学生家庭", "记录走访情况", "2026-12-31"),
        ("带头遵纪守法", "不收家长礼品", "每学期公开承诺一次", "2026-12-31"),
        ("带头弘扬正气", "敢于批评不良风气", "每学期在教研组会上发言一次", "2026-06-30"),
        ("岗位承诺", "做实教研组集体备课", "每两周组织一次", "2026-03-31")]


def test_a_pledge_pasted_in_one_line_asks_only_what_it_lacks(engine, five):
    qian = Phone(engine, "qian")
    qian.say("/承诺")
    asked = qian.say("1、每周读一篇教育理论文章；写读书笔记；6月30日；3、每月走访一户学生家庭；记录走访情况")[0]
    assert "带头服务群众" in asked and "什么时候前完成" in asked
    assert answers(engine, "qian")["standards"] == "带头学习提高、带头服务群众"
    assert "请核对" in qian.say("年底")[0]
    assert "已提交" in qian.say("1")[0] and qian.sent == 4
    assert [i[3] for i in items(engine)] == ["2026-06-30", "2026-12-31"]


def test_only_the_missing_part_is_asked_again(engine, five):
    qian = Phone(engine, "qian")
    qian.say("/承诺")
    qian.say("3")
    asked = qian.say("每月走访一户学生家庭；6月30日")[0]  # no 措施
    assert "准备怎么做" in asked and "哪件具体的事" not in asked and "什么时候前" not in asked
    assert answers(engine, "qian") == {"standards": "带头服务群众", "s2": "每月走访一户学生家庭", "s2_by": "2026-06-30"}
    assert "请核对" in qian.say("记录走访情况")[0]
    assert "已提交" in qian.say("1")[0] and qian.sent == 5
    assert items(engine) == [("带头服务群众", "每月走访一户学生家庭", "记录走访情况", "2026-06-30")]


def test_an_unreadable_date_is_asked_again_and_the_rest_kept(engine, five):
    qian = Phone(engine, "qian")
    qian.say("/承诺")
    qian.say("3")
    asked = qian.say("每月走访一户学生家庭；记录走访情况；下辈子前")[0]
    assert "已记下“事项”、“措施”" in asked and "没看懂这个日期" in asked and "什么时候前完成" in asked
    assert "请核对" in qian.say("6月30日")[0]
    assert "已提交" in qian.say("1")[0]
    assert items(engine) == [("带头服务群众", "每月走访一户学生家庭", "记录走访情况", "2026-06-30")]


def test_one_part_at_a_time_is_still_led_through(engine, five):
    qian = Phone(engine, "qian")
    qian.say("/承诺")
    qian.say("1")
    assert "准备怎么做" in qian.say("每周读一篇教育理论文章")[0]
    assert "什么时候前完成" in qian.say("写读书笔记")[0]
    assert "请核对" in qian.say("6月30日")[0]
    assert "已提交" in qian.say("1")[0]
    assert items(engine) == [("带头学习提高", "每周读一篇教育理论文章", "写读书笔记", "2026-06-30")]


def test_back_after_an_item_in_one_message_asks_that_item_again(engine, five):
    qian = Phone(engine, "qian")
    qian.say("/承诺")
    qian.say("1 3")
    qian.say(READING)
    again = qian.say("返回")[0]
    assert "带头学习提高" in again and "哪件具体的事" in again
    assert answers(engine, "qian") == {"standards": "带头学习提高、带头服务群众"}
    qian.say("返回")
    assert answers(engine, "qian") == {}


def test_back_within_an_item_takes_back_one_part(engine, five):
    qian = Phone(engine, "qian")
    qian.say("/承诺")
    qian.say("1")
    qian.say("每周读一篇教育理论文章")
    qian.say("写读书笔记")
    assert "准备怎么做" in qian.say("返回")[0]
    assert answers(engine, "qian") == {"standards": "带头学习提高", "s0": "每周读一篇教育理论文章"}


def test_an_edit_keeps_each_item_with_one_word(engine, five):
    qian = Phone(engine, "qian")
    qian.say_all(("/承诺", "1 3", READING, VISITS, "1"))
    choose = qian.say("/修改 承诺")[0]
    assert "上次写的是：带头学习提高、带头服务群众" in choose
    first = qian.say("不变")[0]
    assert "上次写的是：每周读一篇教育理论文章；写读书笔记；6月30日前" in first
    qian.say("不变")
    assert "请核对" in qian.say("时限：7月15日")[0]  # only the date changes
    assert "已提交" in qian.say("1")[0]
    old, new = pledges(engine)
    assert new.items[0]["what"] == old.items[0]["what"] and new.items[0]["by"] == old.items[0]["by"]
    assert new.items[1]["how"] == "记录走访情况" and new.items[1]["by"] == "2026-07-15"


def _reads_as_date(raw: str) -> bool:
    from datetime import date

    from bot.answers import Invalid, parse_date
    try:
        parse_date(raw, date(2026, 3, 5))
    except Invalid:
        return False
    return True


@pytest.mark.parametrize("typed,parts", [
    ("每周读一篇教育理论文章；写读书笔记；6月30日", ("每周读一篇教育理论文章", "写读书笔记", "6月30日")),
    ("每周读一篇教育理论文章\n写读书笔记\n6月30日", ("每周读一篇教育理论文章", "写读书笔记", "6月30日")),
    ("每周读一篇文章，写读书笔记，6月30日", ("每周读一篇文章", "写读书笔记", "6月30日")),
    ("每周读书 写读书笔记 6月30日前", ("每周读书", "写读书笔记", "6月30日前")),
    ("措施：写读书笔记；事项：每周读书", ("每周读书", "写读书笔记", None)),
    ("每周读书；本学期末", ("每周读书", None, "本学期末")),  # a short date-like ending is the 时限, asked again if unread
    ("每周听一节青年教师的课，并当面交流意见", ("每周听一节青年教师的课，并当面交流意见", None, None)),
    ("每月记录一次，学期末写总结", ("每月记录一次，学期末写总结", None, None)),
    ("每周听课；记录；交流心得", ("每周听课", "记录；交流心得", None)),  # no date: nothing lost, the 时限 asked
    ("每月 2 次 6月15日", ("每月 2 次", None, "6月15日")),
])
def test_an_item_is_split_into_its_parts(typed, parts):
    from bot.pledge_reading import split_item

    item = split_item(typed, _reads_as_date)
    assert (item.what, item.how, item.by) == parts


def test_a_pasted_pledge_is_read_by_number_and_name():
    from bot.pledge_reading import read_pasted

    labels = ["带头学习提高", "带头争创佳绩", "带头服务群众", "带头遵纪守法", "带头弘扬正气", "岗位承诺"]
    assert read_pasted(WHOLE, labels, numbered=5) == {
        0: READING, 1: "带出一个青年教师；每周听他一节课；年底", 2: VISITS.replace("\n", "；"),
        3: "不收家长礼品；每学期公开承诺一次；年底", 4: UPRIGHT, 5: POST}
    assert read_pasted("1、每周读书；写笔记；6.30；3、每月家访", labels, numbered=5) == {0: "每周读书；写笔记；6.30", 2: "每月家访"}
    assert read_pasted("每周读书；写笔记", labels, numbered=5) is None
    assert read_pasted("6 每周读书", labels, numbered=5) is None  # the 岗位承诺 goes by name only
    assert read_pasted("3 次家访；记录", labels, numbered=5, spaced_numbers=False) is None
