"""Issue 17, finding 3: 领导点评 can be done. seed001's half-yearly reviews ("局党委负责人每半年对基层党组织
和党员开展创先争优活动情况进行一次点评") are `kind: comment` tasks: a committee member writes /点评 on a
branch (or 全部), the comment is kept, posted to the branch's group, and the committee's task is done
once every branch has its comment for it. Driven through the dispatcher, on SQLite and PostgreSQL.

The roster is conftest's: zhang (secretary of 第一党支部), li, wang (第一党支部), zhao (secretary of
第二党支部), qian (第二党支部), sun (党委).
"""
from __future__ import annotations

from datetime import date, datetime, time

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlmodel import Session

from bot.campaigns import CampaignFileError, load_campaign_text
from bot.exports import export
from bot.scheduler.obligations import Obligations
from storage.db import transaction
from storage.models import Branch, LeaderComment, Person
from tests.conftest import campaign_yaml
from tests.test_task_credit import TZ, Chat, done, load_seed, rows

IN_2010H2 = date(2010, 12, 20)  # inside review-2010h2's window only
BOTH_OPEN = date(2011, 3, 1)  # review-2011h1's window, and review-2010h2's (late) if it was never done
TEXT = "本学期公开承诺落实较好，听课评课扎实；问题是群众评议参与面不广，下半年要扩大到全体教师。"


def comments(engine) -> list[LeaderComment]:
    with Session(engine) as session:
        return list(session.scalars(select(LeaderComment).order_by(LeaderComment.id)))


def chats(engine) -> dict[int, str]:
    with Session(engine) as session:
        return {b.id: b.chat_id for b in session.scalars(select(Branch))}


def group_posts(engine) -> list[tuple[str, str]]:
    """(chat id, text) of every comment posted to a group."""
    return [(r.payload["chatid"], r.payload["text"]["content"]) for r in rows(engine, "comment:")]


def committee_owes(engine, day: date) -> set[str]:
    with transaction(engine) as session:
        sun = session.get(Person, "sun")
        return {o.task.key for o in Obligations(session, today=day).open_for(sun)}


def test_a_one_line_comment_is_kept_posted_to_its_branch_and_the_task_done_when_every_branch_has_one(
        engine, rostered):
    tasks = load_seed(engine, "seed001")
    chat = Chat(engine)
    assert "review-2010h2" in committee_owes(engine, IN_2010H2)

    reply = chat.say("sun", f"/点评 第一 {TEXT}", IN_2010H2)
    assert "点评已保存：第一党支部" in reply and "已发到第一党支部的支部群" in reply
    assert "还要点评：第二党支部" in reply
    [row] = comments(engine)
    assert (row.userid, row.branch_id, row.task_id, row.text) == ("sun", 1, tasks["review-2010h2"].id, TEXT)
    [(chat_id, posted)] = group_posts(engine)
    assert chat_id == chats(engine)[1] and "【领导点评】第一党支部" in posted and TEXT in posted and "孙丽" in posted
    assert done(engine) == set()  # one branch of two: the committee still owes it
    assert "review-2010h2" in committee_owes(engine, IN_2010H2)

    reply = chat.say("sun", f"/点评 第二党支部：{TEXT}", IN_2010H2)
    assert "每个支部都已点评，这项任务已完成" in reply
    assert [p[0] for p in group_posts(engine)] == [chats(engine)[1], chats(engine)[2]]
    assert done(engine) == {("review-2010h2", "committee")}  # that half year's task, and only it
    assert "review-2010h2" not in committee_owes(engine, IN_2010H2)


def test_all_branches_at_once_and_the_export_lists_each(engine, rostered, tmp_path):
    load_seed(engine, "seed001")
    reply = Chat(engine).say("sun", f"/点评 全部 {TEXT}", IN_2010H2)
    assert "点评已保存：第一党支部、第二党支部" in reply and "这项任务已完成" in reply
    assert sorted(c.branch_id for c in comments(engine)) == [1, 2]
    assert sorted(p[0] for p in group_posts(engine)) == sorted(chats(engine).values())
    assert done(engine) == {("review-2010h2", "committee")}

    with transaction(engine) as session:
        count = export(session, what="comments", campaign="深入开展创先争优活动（东湖区教科体局）",
                       out=tmp_path / "c.xlsx")
    assert count == 2
    sheet = load_workbook(tmp_path / "c.xlsx")["领导点评"]
    assert [c.value for c in sheet[1]] == ["支部", "任务", "点评人", "账号", "点评内容", "点评时间"]
    assert [(r[0].value, r[2].value, r[4].value) for r in sheet.iter_rows(min_row=2)] == \
        [("第一党支部", "孙丽", TEXT), ("第二党支部", "孙丽", TEXT)]
    assert sheet["F2"].value.startswith("2010-12-20 10:00")


def test_the_form_waits_through_odd_answers(engine, rostered):
    load_seed(engine, "seed001")
    chat = Chat(engine)
    asked = chat.say("sun", "/点评", IN_2010H2)
    assert "点评哪个支部" in asked and "1. 第一党支部" in asked and "3. 全部" in asked
    assert "请回复选项前的数字" in chat.say("sun", "第九支部", IN_2010H2)
    assert "请写点评" in chat.say("sun", "2", IN_2010H2)
    assert "至少写 6 个字" in chat.say("sun", "很好", IN_2010H2)  # the form waits at the text
    assert chat.in_form("sun") and comments(engine) == []
    preview = chat.say("sun", TEXT, IN_2010H2)
    assert "请核对你的点评" in preview and "点评：第二党支部" in preview and TEXT in preview
    assert "点评已保存：第二党支部" in chat.say("sun", "1", IN_2010H2)
    assert [c.branch_id for c in comments(engine)] == [2] and not chat.in_form("sun")

    asked = chat.say("sun", "/点评 第一党支部", IN_2010H2)  # the branch named: the form asks for the text
    assert "请写点评" in asked and "点评哪个支部" not in asked
    chat.say("sun", TEXT, IN_2010H2)
    assert "这项任务已完成" in chat.say("sun", "1", IN_2010H2)
    assert done(engine) == {("review-2010h2", "committee")}


def test_refusals_are_kind_and_save_nothing(engine, rostered):
    load_seed(engine, "seed001")
    chat = Chat(engine)
    assert "只有党委可以使用" in chat.say("zhang", f"/点评 第一 {TEXT}", IN_2010H2)  # a secretary, of that branch too
    assert "只有党委可以使用" in chat.say("qian", f"/点评 第二 {TEXT}", IN_2010H2)
    unknown = chat.say("sun", f"/点评 第九支部 {TEXT}", IN_2010H2)
    assert "没有找到唯一叫“第九支部”的支部" in unknown and "现有支部：第一党支部、第二党支部" in unknown
    assert "至少写 6 个字" in chat.say("sun", "/点评 第一 很好", IN_2010H2)
    assert "只有表情或符号" in chat.say("sun", "/点评 第一 😀😀😀👍👍👍", IN_2010H2)  # issue 19: not published
    assert "没有要写的领导点评" in chat.say("sun", f"/点评 第一 {TEXT}", date(2010, 6, 1))  # phase 1: none yet
    assert comments(engine) == [] and group_posts(engine) == [] and done(engine) == set()


def test_with_two_half_years_open_the_form_and_the_one_line_ask_which(engine, rostered):
    tasks = load_seed(engine, "seed001")
    chat = Chat(engine)
    asked = chat.say("sun", "/点评", BOTH_OPEN)
    assert "这一次是为哪一项" in asked and "2010年下半年" in asked and "2011年上半年" in asked
    chat.say("sun", "取消", BOTH_OPEN)
    asked = chat.say("sun", f"/点评 全部 {TEXT}", BOTH_OPEN)  # the one line asks too, keeping branch and text
    assert "这一次是为哪一项" in asked and comments(engine) == []
    chat.say("sun", "1", BOTH_OPEN)  # the late half year, listed first
    chat.say("sun", "1", BOTH_OPEN)  # the preview: submit
    assert {c.task_id for c in comments(engine)} == {tasks["review-2010h2"].id}
    assert done(engine) == {("review-2010h2", "committee")}
    chat.fill("sun", "/点评", BOTH_OPEN, fixed={"点评哪个支部": "3"})  # now only 2011h1 is open: not asked
    assert done(engine) == {("review-2010h2", "committee"), ("review-2011h1", "committee")}


def test_the_comment_is_dated_in_its_own_moment(engine, rostered):
    """The row keeps the callback's time (the day it was written), not the server's clock."""
    load_seed(engine, "seed001")
    Chat(engine).say("sun", f"/点评 第一 {TEXT}", IN_2010H2)
    [row] = comments(engine)
    assert datetime.fromtimestamp(row.written_at, TZ).date() == IN_2010H2
    assert datetime.fromtimestamp(row.written_at, TZ).time() >= time(10, 0)


def test_a_comment_task_is_the_committees_only():
    """Nobody but the committee has a command for 领导点评: a file asking it of branches is refused at load."""
    text = campaign_yaml("点评测试", """
phases:
  - name: 组织实施
    start: 2026-05-01
    end: 2026-06-30
    tasks:
      - {id: review, title: 领导点评, kind: comment, audience: branches, due: 2026-06-30}
""")
    with pytest.raises(CampaignFileError, match="review") as problem:
        load_campaign_text(text)
    assert "只能是 committee" in str(problem.value)
    assert load_campaign_text(text.replace("audience: branches", "audience: committee")).phases[0].tasks[0].kind == \
        "comment"


def test_help_names_the_commands_for_those_who_may_use_them(engine, rostered):
    load_seed(engine, "seed001")
    chat = Chat(engine)
    committee, secretary, member = (chat.say(u, "帮助", IN_2010H2) for u in ("sun", "zhang", "li"))
    assert "/点评　领导点评（党委）" in committee and "/点评" not in secretary and "/点评" not in member
    assert "/践诺 支部" in secretary  # the /践诺 line says how a secretary reports for the branch
