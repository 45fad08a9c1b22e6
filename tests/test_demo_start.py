"""Where `xianfeng demo` starts (issue 19, finding 12): seed 004 moved so that its 公开承诺 phase is a week
under way on the day the demo is first run, the phase in which every kind of person has something to
try; README says so and names what to try first."""
from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from bot.campaigns import load_campaign_file
from bot.demo import CAMPAIGN, DAYS_INTO_PHASE, PHASE_UNDER_WAY, load_demo_campaign
from storage.campaigns import campaigns, windows, tasks_of
from storage.db import transaction

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_demo_starts_a_week_into_public_pledges(engine):
    today = date(2026, 12, 3)
    load_demo_campaign(engine, today)
    with transaction(engine) as session:
        record = campaigns(session)[0]
        phases = {p["name"]: p for p in record.content["phases"]}
        phase = phases[PHASE_UNDER_WAY]
        assert date.fromisoformat(str(phase["start"])) == today - timedelta(days=DAYS_INTO_PHASE) == date(2026, 11, 26)
        assert date.fromisoformat(str(phase["end"])) >= today
        opened = {w.task.key for w in windows(record, tasks_of(session, campaign_ids=[record.id]))
                  if w.opens <= today}
    assert {"post-pledge", "branch-pledge"} <= opened  # 有职党员 and the branches can pledge today


def test_the_shipped_plan_still_has_the_phase_the_demo_starts_in():
    plan = load_campaign_file(CAMPAIGN)
    assert PHASE_UNDER_WAY in [p.name for p in plan.phases][1:]  # not the first: an earlier one is over


def test_the_readme_says_where_the_demo_starts_and_what_to_try_first():
    text = README.read_text(encoding="utf-8")
    demo = text[text.index("## 先看看"):text.index("## 运行测试")]
    assert f"“{PHASE_UNDER_WAY}”阶段" in demo and re.search(r"李强.*/承诺", demo, re.S)
