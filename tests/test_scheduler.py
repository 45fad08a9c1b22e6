"""Phase announcements, reminders and the weekly digest with a frozen clock, on SQLite and PostgreSQL."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlmodel import Session

from bot.campaigns import load_campaign_text, save_campaign
from bot.dispatch import Dispatcher
from bot.handlers import ROUTERS
from bot.scheduler.calendar import digest_day
from bot.scheduler.jobs import run_job
from bot.wecom.updates import parse_update
from storage.campaigns import mark_done
from storage.db import transaction
from storage.models import Branch, CampaignTask, JobRun, Nudge, Outbox
from tests.conftest import campaign_yaml, make_settings, text_xml

TZ = ZoneInfo("Asia/Shanghai")
CAMPAIGN = campaign_yaml("测试活动", """
phases:
  - name: 公开承诺
    start: START
    end: END
    tasks:
      - {id: member-pledge, title: 党员公开承诺, kind: pledge, audience: members, due: DUE, remind_days_before: [3]}
      - {id: post-pledge, title: 岗位承诺, kind: pledge, audience: post_holders, due: DUE}
      - {id: branch-plan, title: 支部承诺方案, kind: pledge, audience: branches, due: DUE}
      - {id: committee-review, title: 审核各支部方案, kind: document, audience: committee, due: DUE}
""")


def load(engine, start="2026-03-02", end="2026-04-30", due="2026-03-20"):
    campaign = load_campaign_text(CAMPAIGN.replace("START", start).replace("END", end).replace("DUE", due))
    with transaction(engine) as session:
        return save_campaign(session, campaign, source_file="test")


@pytest.fixture
def cfg(db_url):
    return make_settings(db_url, "http://127.0.0.1:9/cgi-bin")


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)


def rows(engine, prefix: str) -> list[Outbox]:
    with Session(engine) as session:
        return [r for r in session.scalars(select(Outbox).order_by(Outbox.id)) if r.idem_key.startswith(prefix)]


def texts(rows_: list[Outbox]) -> dict[str, str]:
    return {r.payload.get("touser") or r.payload.get("chatid"): r.payload[r.payload["msgtype"]]["content"] for r in rows_}


def test_phase_start_reaches_every_branch_group_once(engine, rostered, cfg):
    load(engine)
    assert run_job("announcements", engine, cfg, at("2026-03-02 09:06")) == 0  # before the announce time
    run_job("announcements", engine, cfg, at("2026-03-02 09:07"))
    run_job("announcements", engine, cfg, at("2026-03-02 09:05"))
    starts = rows(engine, "announce:")
    with Session(engine) as session:
        chats = {b.chat_id for b in session.scalars(select(Branch))}
    assert {r.payload["chatid"] for r in starts} == chats and len(starts) == len(chats) == 2
    text = starts[0].payload["markdown"]["content"]
    assert "公开承诺" in text and "3月2日—4月30日" in text and "党员公开承诺" in text and "3月20日前" in text
    assert "审核各支部方案" not in text  # a committee task is not the groups' business
    assert "原定" not in text


def test_missed_announcement_is_sent_once_late_with_its_date(engine, rostered, cfg):
    load(engine)
    run_job("announcements", engine, cfg, at("2026-03-05 10:00"))  # the bot was down on the 2nd
    run_job("announcements", engine, cfg, at("2026-03-05 10:05"))
    starts = rows(engine, "announce:")
    assert len(starts) == 2 and all("原定 3月2日" in r.payload["markdown"]["content"] for r in starts)


def test_reminder_days_before_the_deadline_and_escalation_after(engine, rostered, cfg):
    record = load(engine).record
    run_job("announcements", engine, cfg, at("2026-03-17 09:07"))
    reminders = [r for r in rows(engine, "announce:") if ":remind:" in r.idem_key]
    assert len(reminders) == 3 * 2  # three group tasks (not the committee's) in two branch groups
    assert "还有 3 天" in reminders[0].payload["markdown"]["content"]
    with transaction(engine) as session:
        task = session.scalars(select(CampaignTask).where(CampaignTask.key == "member-pledge",
                                                          CampaignTask.campaign_id == record.id)).one()
        mark_done(session, task_id=task.id, subject="li")
    run_job("announcements", engine, cfg, at("2026-03-21 09:07"))
    escalations = texts(rows(engine, f"overdue:{task.id}:overdue"))
    assert "张伟" in escalations["zhang"] and "李娜" not in escalations["zhang"]  # li has pledged
    assert "第一党支部：未完成 1/2" in escalations["sun"] and "第二党支部：未完成 2/2" in escalations["sun"]


def test_digest_reaches_exactly_those_who_owe_once_listing_only_what_they_owe(engine, rostered, cfg):
    record = load(engine).record
    with transaction(engine) as session:
        tasks = {t.key: t.id for t in session.scalars(select(CampaignTask).where(CampaignTask.campaign_id == record.id))}
        mark_done(session, task_id=tasks["member-pledge"], subject="qian")
        mark_done(session, task_id=tasks["post-pledge"], subject="li")
    assert run_job("digest", engine, cfg, at("2026-03-09 09:06")) == 0
    run_job("digest", engine, cfg, at("2026-03-09 09:07"))
    run_job("digest", engine, cfg, at("2026-03-09 11:00"))
    digests = texts(rows(engine, "digest:"))
    assert set(digests) == {"zhang", "li", "zhao", "sun"}  # qian is done; wang (群众) owes nothing
    assert "党员公开承诺" in digests["li"] and "岗位承诺" not in digests["li"]
    assert "支部承诺方案" in digests["zhang"] and "发送 /承诺" in digests["zhang"]
    assert "审核各支部方案" in digests["sun"] and "党员公开承诺" not in digests["sun"]


def test_holiday_monday_moves_the_digest_to_the_next_working_day(engine, rostered, cfg):
    load(engine, start="2026-09-01", end="2026-10-31", due="2026-10-20")
    assert digest_day(date(2026, 10, 5), 1) == date(2026, 10, 8)  # 国庆: Monday 5th to Wednesday 7th are holidays
    assert run_job("digest", engine, cfg, at("2026-10-05 09:07")) == 0
    assert run_job("digest", engine, cfg, at("2026-10-07 09:07")) == 0
    assert run_job("digest", engine, cfg, at("2026-10-08 09:07")) > 0


def test_a_tiaoxiu_saturday_counts_as_a_working_day(engine, rostered, cfg):
    load(engine, start="2026-02-01", end="2026-03-31", due="2026-03-20")
    saturday = replace(cfg, digest_weekday=6)
    assert digest_day(date(2026, 2, 14), 6) == date(2026, 2, 14)  # 春节调休: Saturday the 14th is a working day
    assert digest_day(date(2026, 2, 7), 6) == date(2026, 2, 9)  # an ordinary Saturday is not
    assert run_job("digest", engine, saturday, at("2026-02-14 09:07")) > 0


def test_downtime_across_two_digest_days_sends_one_digest(engine, rostered, cfg):
    load(engine)
    sent = run_job("digest", engine, cfg, at("2026-03-18 15:00"))  # down on the 9th and the 16th
    assert sent > 0 and run_job("digest", engine, cfg, at("2026-03-18 15:05")) == 0
    with Session(engine) as session:
        assert [r.period for r in session.scalars(select(JobRun))] == ["2026-03-16"]
    assert len(rows(engine, "digest:")) == sent


def test_quiet_hours_wait(engine, rostered, cfg):
    load(engine)
    assert run_job("announcements", engine, cfg, at("2026-03-02 23:30")) == 0
    assert run_job("digest", engine, replace(cfg, digest_time="23:00"), at("2026-03-09 23:30")) == 0
    assert run_job("announcements", engine, cfg, at("2026-03-03 07:10")) > 0


def test_pause_and_weekly_cap(engine, rostered, cfg):
    load(engine)
    dispatcher = Dispatcher(engine, ROUTERS)
    moment = int(at("2026-03-05 12:00").timestamp())
    dispatcher.feed_update(parse_update(text_xml("li", "/请假 两周", create_time=moment)))
    assert "到3月18日（共 14 天）不再给你发提醒，3月19日起恢复" in texts(rows(engine, "reply:"))["li"]
    with transaction(engine) as session:
        session.add(Nudge(userid="zhao", week="2026-W11", count=1))  # zhao already had this week's reminder
    run_job("digest", engine, replace(cfg, nudge_cap=1), at("2026-03-09 09:07"))
    sent = texts(rows(engine, "digest:"))
    assert "li" not in sent and "zhao" not in sent and "zhang" in sent
    dispatcher.feed_update(parse_update(text_xml("li", "/请假 取消", create_time=moment + 1)))
    assert run_job("digest", engine, cfg, at("2026-03-16 09:07")) and "li" in texts(rows(engine, "digest:2026-03-16"))


@pytest.mark.parametrize("words,days", [("7天", 7), ("一周", 7), ("两周", 14), ("十天", 10), ("3", 3), ("十五天", 15),
                                        ("1个月", 30), ("明天再说", None)])
def test_pause_durations(words, days):
    from bot.handlers.pause import parse_days

    assert parse_days(words) == days


def test_progress_views(engine, rostered, cfg):
    record = load(engine).record
    with transaction(engine) as session:
        tasks = {t.key: t.id for t in session.scalars(select(CampaignTask).where(CampaignTask.campaign_id == record.id))}
        mark_done(session, task_id=tasks["member-pledge"], subject="li")
    dispatcher = Dispatcher(engine, ROUTERS)
    moment = int(at("2026-03-10 12:00").timestamp())
    for userid in ("li", "zhang", "sun"):
        dispatcher.feed_update(parse_update(text_xml(userid, "进度", create_time=moment)))
    views = texts(rows(engine, "reply:"))
    assert "✅ 党员公开承诺" in views["li"] and "⬜ 岗位承诺" in views["li"]
    assert "党员公开承诺（3月20日前）：完成 1/2，未完成：张伟" in views["zhang"]
    assert "第一党支部：" in views["sun"] and "第二党支部：" in views["sun"]


def test_reloading_a_changed_campaign_updates_its_tasks(engine):
    assert load(engine).status == "created"
    assert load(engine).status == "unchanged"
    changed = load(engine, due="2026-03-25")
    assert changed.status == "updated"
    with Session(engine) as session:
        dues = {t.due for t in session.scalars(select(CampaignTask))}
    assert dues == {date(2026, 3, 25)}
