"""Issue 17, finding 3: a branch's 践诺 and 整改 progress can be reported. A secretary sends /践诺 支部 and
reports on an item of the branch's pledge (the 整改方案 of seed002, the 四定一承诺 of seed000); the report is
kept, published to the branch group ("定期将承诺事项的落实情况向师生公开"), and credits the branch's progress
task whose window holds today, and only it. The periodic check-in shows the branch's reports and asks the
secretary of a branch that reported nothing while its 践诺 is due. Through the dispatcher, on SQLite and
PostgreSQL.

The roster is conftest's: zhang (secretary of 第一党支部), li (党员, 有职), wang (群众) in 第一党支部; zhao
(secretary of 第二党支部), qian (党员 there); sun (党委).
"""
from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import select
from sqlmodel import Session

from bot.scheduler.jobs import run_job
from storage.models import Branch, Pledge, PledgeProgress
from tests.test_task_credit import TZ, Chat, cfg, done, load_seed, rows  # noqa: F401 - cfg is a fixture

IN_RECTIFICATION = date(2012, 5, 10)  # seed002 phase 2: rectification-pledge and rectification-progress
PLEDGE_2012 = "制定整改方案并公开承诺"
PROGRESS_2012 = "集中整改：按项目推进整改事项，报告进展"
REPORT = "召开整改专题会一次，听课制度已执行两周"


def reports(engine) -> list[tuple[PledgeProgress, Pledge]]:
    with Session(engine) as session:
        return list(session.execute(select(PledgeProgress, Pledge).join(Pledge, Pledge.id == PledgeProgress.pledge_id)
                                    .order_by(PledgeProgress.id)).all())


def chat_of(engine, branch_id: int) -> str:
    with Session(engine) as session:
        return session.get(Branch, branch_id).chat_id


def branch_pledge(chat: Chat, userid: str, day: date, **fixed: str) -> str:
    return chat.fill(userid, "/承诺 支部", day, fixed=fixed)


def test_a_secretary_reports_on_the_branch_pledge_it_is_published_and_credits_only_its_progress_task(
        engine, rostered):
    load_seed(engine, "seed002")
    chat = Chat(engine)
    branch_pledge(chat, "zhang", IN_RECTIFICATION, **{"需要整改的主要问题": "青年教师听课评课不经常"})
    assert done(engine) == {("rectification-pledge", "branch:1")}

    asked = chat.say("zhang", "/践诺 支部", IN_RECTIFICATION)
    assert "报告本支部承诺的哪一项" in asked and "1. 【问题】青年教师听课评课不经常" in asked
    assert "请回复选项前的数字" in chat.say("zhang", "9", IN_RECTIFICATION)  # the form waits
    assert "本支部做了什么" in chat.say("zhang", "1", IN_RECTIFICATION)
    assert "至少写 2 个字" in chat.say("zhang", "好", IN_RECTIFICATION)
    assert "百分之多少" in chat.say("zhang", REPORT, IN_RECTIFICATION)
    assert "0 到 100" in chat.say("zhang", "一百二", IN_RECTIFICATION)
    assert reports(engine) == []  # nothing saved until the form is done
    saved = chat.say("zhang", "60", IN_RECTIFICATION)
    assert "已记录本支部的落实情况，并已公开到支部群" in saved and f"“{PROGRESS_2012}”这一项已完成" in saved

    [(report, pledge)] = reports(engine)
    assert (pledge.kind, pledge.branch_id, report.item, report.text, report.percent, report.userid) == \
        ("branch", 1, 0, REPORT, 60, "zhang")
    [post] = rows(engine, "branch_progress:")
    text = post.payload["text"]["content"]
    assert post.payload["chatid"] == chat_of(engine, 1)
    assert f"【承诺落实情况】第一党支部·{PLEDGE_2012}" in text and REPORT in text and "约 60%" in text
    assert done(engine) == {("rectification-pledge", "branch:1"), ("rectification-progress", "branch:1")}

    assert "你还没有提交承诺" in chat.say("zhang", "/践诺", IN_RECTIFICATION)  # their own 践诺 is another thing


def test_only_a_secretary_reports_for_a_branch_and_only_for_their_own_branch(engine, rostered):
    load_seed(engine, "seed002")
    chat = Chat(engine)
    branch_pledge(chat, "zhang", IN_RECTIFICATION)
    assert "只有支部书记可以使用" in chat.say("li", "/践诺 支部", IN_RECTIFICATION)
    assert "只有支部书记可以使用" in chat.say("qian", "/践诺 支部", IN_RECTIFICATION)
    assert "只有党员、支部书记可以使用" in chat.say("sun", "/践诺 支部", IN_RECTIFICATION)  # the dispatcher says
    # zhao's branch has not pledged: zhang's branch pledge is not his to report on
    assert "本支部还没有公开承诺" in chat.say("zhao", "/践诺 支部", IN_RECTIFICATION)
    assert reports(engine) == [] and not chat.in_form("zhao")
    assert done(engine) == {("rectification-pledge", "branch:1")}

    branch_pledge(chat, "zhao", IN_RECTIFICATION, **{"需要整改的主要问题": "二支部的问题"})
    options = chat.say("zhao", "/践诺 支部", IN_RECTIFICATION)
    assert "二支部的问题" in options and "青年教师" not in options
    chat.say("zhao", "取消", IN_RECTIFICATION)
    chat.fill("zhao", "/践诺 支部", IN_RECTIFICATION)
    assert done(engine) == {("rectification-pledge", "branch:1"), ("rectification-pledge", "branch:2"),
                            ("rectification-progress", "branch:2")}
    [post] = rows(engine, "branch_progress:")
    assert post.payload["chatid"] == chat_of(engine, 2)


def test_the_report_is_on_the_branchs_latest_pledge_and_credits_the_progress_task_of_today(engine, rostered):
    """seed000: the 2010 公开承诺, then in phase 4 (2012) the 四定一承诺 and its 践诺 task."""
    load_seed(engine, "seed000")
    chat = Chat(engine)
    branch_pledge(chat, "zhang", date(2010, 6, 20), **{"本支部的目标": "二〇一〇年目标：创建先进支部"})
    assert "二〇一〇年目标" in chat.say("zhang", "/践诺 支部", date(2011, 3, 1))  # no progress task open then
    chat.say("zhang", "取消", date(2011, 3, 1))
    chat.fill("zhang", "/践诺 支部", date(2011, 3, 1))  # kept and published, but no task to credit
    assert done(engine) == {("branch-pledge", "branch:1")}

    branch_pledge(chat, "zhang", date(2012, 10, 8), **{"本支部的目标": "二〇一二年目标：巩固提升"})
    options = chat.say("zhang", "/践诺 支部", date(2012, 10, 15))
    assert "二〇一二年目标" in options and "二〇一〇年目标" not in options
    chat.say("zhang", "取消", date(2012, 10, 15))
    chat.fill("zhang", "/践诺 支部", date(2012, 10, 15))
    assert done(engine) == {("branch-pledge", "branch:1"), ("branch-four-set-pledge", "branch:1"),
                            ("branch-pledge-progress", "branch:1")}
    assert [p.task_id is not None for _r, p in reports(engine)] == [True, True]
    assert len(rows(engine, "branch_progress:")) == 2  # each report published


def _checkins(engine, cfg, day: date) -> None:  # noqa: F811 - cfg is the fixture's value
    run_job("checkins", engine, cfg, datetime.combine(day, time(9, 7), TZ))


def test_the_checkin_shows_branch_reports_and_asks_the_secretary_of_a_silent_branch(engine, rostered,
                                                                                   cfg):  # noqa: F811
    load_seed(engine, "seed002")
    chat = Chat(engine)
    branch_pledge(chat, "zhang", IN_RECTIFICATION, **{"需要整改的主要问题": "青年教师听课评课不经常"})
    branch_pledge(chat, "zhao", IN_RECTIFICATION)
    chat.fill("zhang", "/践诺 支部", IN_RECTIFICATION, fixed={"本支部做了什么": REPORT})

    _checkins(engine, cfg, date(2012, 5, 30))  # the period 4-30…5-29 has ended; 践诺 is due (phase 2)
    summaries = {r.payload["chatid"]: r.payload["markdown"]["content"] for r in rows(engine, "checkins:")}
    first, second = summaries[chat_of(engine, 1)], summaries[chat_of(engine, 2)]
    assert "**第一党支部**·问题：" + REPORT in first
    assert "还没有人报告" in second and "/践诺 支部" in second
    [asked] = rows(engine, "checkin:")
    text = asked.payload["text"]["content"]
    assert asked.payload["touser"] == "zhao" and "本支部的承诺" in text and "/践诺 支部" in text
    assert "简单报告一下" not in text  # zhao made no pledge of his own

    _checkins(engine, cfg, date(2012, 7, 29))  # phase 3: branches' 践诺 is no longer asked
    assert len(rows(engine, "checkin:")) == 1 and len(rows(engine, "checkins:")) == 2
