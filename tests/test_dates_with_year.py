"""Issue 17, finding 4: a date shows its year wherever it is not the reader's year ("today": the day the
message is sent or is about), and a span shows both years when it crosses one."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace as Obj
from zoneinfo import ZoneInfo

import pytest
from jinja2 import ChainableUndefined, nodes
from sqlalchemy import select
from sqlmodel import Session

from bot.campaigns import load_campaign_file, save_campaign
from bot.dispatch import Dispatcher
from bot.handlers import ROUTERS
from bot.scheduler.jobs import run_job
from bot.texts import TEMPLATE_DIR, _environment, as_of, chinese_date, chinese_moment, chinese_span
from bot.wecom.updates import parse_update
from storage.db import transaction
from storage.models import Outbox
from tests.conftest import make_settings, text_xml

TZ = ZoneInfo("Asia/Shanghai")
SEED_000 = Path(__file__).resolve().parent.parent / "campaigns" / "seed000.yaml"
TODAY = date(2026, 3, 5)


def test_a_date_in_the_readers_year_reads_short_any_other_with_its_year():
    assert chinese_date(date(2026, 1, 5), TODAY) == "1月5日"
    assert chinese_date(date(2027, 1, 5), TODAY) == "2027年1月5日"
    assert chinese_date("2025-12-31", TODAY) == "2025年12月31日"
    assert chinese_moment(datetime(2027, 12, 5, 18, 0), TODAY) == "2027年12月5日 18:00"
    assert chinese_moment("2026-12-05T18:00:00", TODAY) == "12月5日 18:00"


def test_spans_name_a_year_only_when_needed():
    assert chinese_span(date(2026, 7, 1), date(2026, 7, 31), TODAY) == "7月1日—7月31日"
    assert chinese_span(date(2027, 3, 1), date(2027, 4, 30), TODAY) == "2027年3月1日—4月30日"
    assert chinese_span(date(2010, 7, 1), date(2011, 7, 31), date(2010, 7, 1)) == "2010年7月1日—2011年7月31日"
    assert chinese_span(date(2026, 12, 1), date(2027, 1, 31), TODAY) == "2026年12月1日—2027年1月31日"


def _announcements(engine) -> list[str]:
    with Session(engine) as session:
        rows = session.scalars(select(Outbox).where(Outbox.idem_key.startswith("announce:")).order_by(Outbox.id))
        return [r.payload["markdown"]["content"] for r in rows]


def test_seed000_phase_two_announcement_names_both_years(engine, rostered, db_url):
    with transaction(engine) as session:
        save_campaign(session, load_campaign_file(SEED_000), source_file=str(SEED_000))
    cfg = make_settings(db_url, "http://127.0.0.1:9/cgi-bin")
    run_job("announcements", engine, cfg, datetime(2010, 7, 1, 9, 7, tzinfo=TZ))
    phase_two = [text for text in _announcements(engine) if "全面争创、扎实推进" in text]
    assert phase_two, "no phase-2 announcement on 2010-07-01"
    text = phase_two[0]
    assert "时间：2010年7月1日—2011年7月31日" in text
    assert "2011年6月30日前" in text  # 党性分析, due in the next year
    assert "12月31日前" in text and "2010年12月31日" not in text  # this year's 年底 stays short


def test_a_same_year_phase_reads_short_on_its_day(engine, rostered, db_url):
    with transaction(engine) as session:
        save_campaign(session, load_campaign_file(SEED_000), source_file=str(SEED_000))
    cfg = make_settings(db_url, "http://127.0.0.1:9/cgi-bin")
    run_job("announcements", engine, cfg, datetime(2012, 7, 2, 9, 7, tzinfo=TZ))  # 2012-07-01 is a Sunday
    phase_four = [text for text in _announcements(engine) if "系统总结、完善机制" in text]
    assert phase_four and "时间：7月1日—11月7日" in phase_four[0] and "年" not in phase_four[0].split("时间：")[1][:12]


def test_a_reply_names_next_years_date(engine, rostered):
    dispatcher = Dispatcher(engine, ROUTERS)
    moment = int(datetime(2026, 12, 28, 12, 0, tzinfo=TZ).timestamp())
    dispatcher.feed_update(parse_update(text_xml("li", "/请假 两周", create_time=moment)))
    with Session(engine) as session:
        reply = session.scalars(select(Outbox).where(Outbox.idem_key.startswith("reply:"))).one()
    assert "到2027年1月10日（共 14 天）不再给你发提醒，2027年1月11日起恢复" in reply.payload["text"]["content"]


# -- every template that shows a date, rendered once with a date in another year -----------------
NEXT = date(2027, 1, 5)
NEXT_MOMENT = datetime(2027, 1, 5, 18, 0)
TASK = Obj(title="任务", audience="members", kind="pledge", due=NEXT)
PHASE = {"name": "阶段", "start": NEXT, "end": date(2027, 2, 28)}
POLL = Obj(id=7, subject="支部", description="", options=["满意", "不满意"])
ITEM = {"standard": "带头学习提高", "what": "读书", "how": "每周一本", "by": NEXT.isoformat(), "flags": []}
DATE_FILTERS = {"md", "isodate_md", "mdhm", "span"}

SAMPLES = {
    "edit_closed.j2": {"deadline": NEXT},
    "pledge_published.j2": {"person": {"name": "李"}, "version": 1, "items": [ITEM]},
    "poll_preview.j2": {"specs": [Obj(subject_person=None, branch=Obj(name="一支部"), rates="branch",
                                      deadline=NEXT_MOMENT, description="")]},
    "poll_announced.j2": {"poll": POLL, "deadline": NEXT_MOMENT, "eligible": 3},
    "poll_card_desc.j2": {"poll": POLL, "deadline": NEXT_MOMENT},
    "poll_end_preview.j2": {"poll": POLL, "t": {"voted": 1, "eligible": 3}, "deadline": NEXT_MOMENT},
    "phase_end.j2": {"phase": PHASE, "late": True},
    "task_reminder.j2": {"task": TASK, "days_left": 3, "late": True, "planned": NEXT},
    "task_opens.j2": {"task": TASK, "late": True, "planned": NEXT},
    "participation_saved.j2": {"entry": Obj(rate=0.9, total=None, note=None), "line": None,
                               "previous": Obj(rate=0.8, entered_on=NEXT)},
    "participation_help.j2": {"problem": "", "text": "", "line": None,
                              "latest": Obj(rate=0.8, total=None, entered_on=NEXT)},
    # a macro library: the sample names the macro and its arguments
    "rating_parts.j2": {"__macro__": "participation", "args": [Obj(participation=0.92, poll="none", participation_entry={
        "attended": 46, "total": 50, "note": "", "name": "李", "on": NEXT.isoformat()})]},
    "document_shown.j2": {"doc": Obj(id=1, status="accepted", kind="text", text="小结", task_title="小结", comment=None),
                          "who": "李", "day": NEXT},
    "poll_rectify_member.j2": {"poll": POLL, "task": TASK, "r": Obj(rate=0.6, rules=Obj(lose=0.8))},
    "digest.j2": {"person": {"name": "李"}, "owed": [Obj(task=TASK, overdue=False)], "polls": []},
    "overdue_committee.j2": {"task": TASK, "rows": []},
    "form_step.j2": {"step": Obj(prompt="poll_deadline", kind="date", optional=False), "previous": NEXT.isoformat(),
                     "default": NEXT_MOMENT, "title": "评议", "number": 1, "total": 2, "note": None},
    "progress_branch.j2": {"branch": "一支部", "rows": [{"task": TASK, "total": 2, "open": ["李"]}]},
    "pledge_preview.j2": {"items": [ITEM]},
    "pledge_item_previous.j2": {"item": ITEM},
    "progress_summary.j2": {"first": date(2026, 12, 1), "last": NEXT, "rows": [], "pledged": 1},
    "branch_pledge_preview.j2": {"items": [ITEM]},
    "pause_set.j2": {"until": NEXT, "resume": NEXT + timedelta(days=1), "days": 7},
    "poll_issued.j2": {"issued": [(POLL, 3)], "deadline": NEXT_MOMENT},
    "steps/poll_deadline.j2": {"default": NEXT_MOMENT},
    "phase_start.j2": {"phase": PHASE, "late": True, "planned": NEXT, "tasks": [TASK]},
    "poll_reminder.j2": {"poll": POLL, "deadline": NEXT_MOMENT},
    "overdue_secretary.j2": {"task": TASK, "branch": "一支部", "open": ["李"]},
    "branch_pledge_published.j2": {"branch": "一支部", "title": "公开承诺", "version": 1, "items": [ITEM]},
    "branch_progress_published.j2": {"branch": "一支部", "pledge_title": "整改方案", "reporter": "张",
                                     "item": {"standard": "时限", "what": NEXT.isoformat(), "by": NEXT.isoformat()},
                                     "progress": Obj(text="已落实", percent=50)},
    "progress_member.j2": {"items": [(TASK, False)]},
    "progress_polls.j2": {"polls": [(POLL, NEXT_MOMENT)]},
    "rating_list.j2": {"plan": Obj(task=TASK, indicators=[]), "rows": []},
    "task_mark_list.j2": {"branch": Obj(name="一支部"), "tasks": [TASK], "asked": False},
    "rating_detail.j2": {"plan": Obj(task=TASK, indicators=[], rules=Obj(rating_weights={}, applied_defaults=lambda *names: [])), "branch": Obj(name="一支部"),
                         "p": Obj(level=None, score=None, missing=[]), "note": None},
    "rating_no_campaign.j2": {"today": TODAY, "rounds": [Obj(title="定级", start=NEXT, end=date(2027, 2, 28))]},
    "task_choice_option.j2": {"task": TASK},
    "document_pending.j2": {"docs": [(Obj(id=1, task_title="小结", kind="file", file_name="小结.pdf"), "一支部", NEXT)]},
    "audit_entry.j2": {"plain": False, "entry": Obj(action="campaign.loaded", subject="campaign:1", details={
        "name": "活动", "status": "created", "file": "a.yaml", "start": NEXT.isoformat(), "end": "2027-02-28",
        "tasks": 3, "content_hash": "0" * 64})},
}
# The committee's confirmation is dated the day it is sent: never another year by construction.
DATED_TODAY = {"rating_card.j2"}


def _shows_a_date(source: str) -> bool:
    tree = _environment().parse(source)
    filtered = any(f.name in DATE_FILTERS for f in tree.find_all(nodes.Filter))
    by_hand = any(a.attr in ("month", "day", "year") for a in tree.find_all(nodes.Getattr))
    return filtered or by_hand


def _templates_showing_dates() -> set[str]:
    """Messages to people; the operator's command line (cli/) writes dates as 2026-03-02, and the
    console's pages (console/) are held to the filters below."""
    return {str(path.relative_to(TEMPLATE_DIR)) for path in TEMPLATE_DIR.rglob("*.j2")
            if path.parent.name not in ("cli", "console") and _shows_a_date(path.read_text(encoding="utf-8"))}


def test_the_consoles_pages_show_dates_only_through_the_filters_that_add_the_year():
    """A page shows many dates at once, so no sample each: none is written by hand (.month, .day,
    .year), every one goes through md / mdhm / span / isodate_md, which name another year."""
    for path in (TEMPLATE_DIR / "console").glob("*.j2"):
        tree = _environment().parse(path.read_text(encoding="utf-8"))
        assert not [a.attr for a in tree.find_all(nodes.Getattr) if a.attr in ("month", "day", "year")], path.name


def test_every_template_showing_a_date_has_a_sample_here():
    assert _templates_showing_dates() - DATED_TODAY <= set(SAMPLES)


@pytest.mark.parametrize("name", sorted(n for n in SAMPLES if (TEMPLATE_DIR / n).exists()))
def test_every_template_names_another_years_date(name):
    # The rest of each message is not this test's business: what a sample leaves out renders empty.
    lenient = _environment().overlay(undefined=ChainableUndefined)
    with as_of(TODAY):
        sample = SAMPLES[name]
        if "__macro__" in sample:
            text = str(getattr(lenient.get_template(name).make_module({}), sample["__macro__"])(*sample["args"]))
        else:
            text = lenient.get_template(name).render(**sample, audience={}, action={}, voters="", scale="")
    assert "2027年" in text, text
