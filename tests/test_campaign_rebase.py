"""Issue 17, finding 6: `campaign load --start` keeps the plan's calendar. A start on the plan's own month and
day moves every date by whole years (七一, 年底, 旬 and 月底 stay); any other start moves by days and says
which of those dates moved."""
from __future__ import annotations

from datetime import date
from pathlib import Path

from bot.campaigns import calendar_anchor, load_campaign_file, shift_years
from bot.cli import main

CAMPAIGNS = Path(__file__).resolve().parent.parent / "campaigns"
SEED_000 = CAMPAIGNS / "seed000.yaml"
SEED_002 = CAMPAIGNS / "seed002.yaml"


def _dates(campaign) -> list[date]:
    return [d for p in campaign.phases for d in (p.start, p.end, *(t.due for t in p.tasks))]


def test_seed000_started_on_its_own_day_fifteen_years_on_keeps_every_anchor(db_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["campaign", "load", str(SEED_000), "--start", "2025-05-21"]) == 0
    loaded = capsys.readouterr()
    assert main(["campaign", "show", "创先争优活动（沾益县教育局）"]) == 0
    shown = capsys.readouterr().out
    benchmark = next(line for line in shown.splitlines() if "对标定位：对照“五带头”" in line)
    assert "2027-06-30 前" in benchmark  # 6月底, as written (by days it was 2027-07-01)
    assert "2. 全面争创、扎实推进：2025-07-01 至 2026-07-31" in shown  # 7月—2011年7月
    assert "4. 系统总结、完善机制：2027-07-01 至 2027-11-07" in shown  # 2012年7月—十八大前
    assert "2025-12-31 前" in shown and "2026-06-30 前" in shown  # 年底评议, 七一前的党性分析
    assert "整体平移 15 年" in loaded.out and "按天数平移" not in loaded.err  # no anchor moved


def test_a_whole_year_move_keeps_month_and_day_of_every_date():
    plan = load_campaign_file(SEED_000)
    moved = plan.rebase(date(2025, 5, 21))
    assert moved.years == 15 and not moved.moved_anchors
    for written, now in zip(_dates(plan), _dates(moved.campaign), strict=True):
        assert (now.month, now.day) == (written.month, written.day) and now.year == written.year + 15


def test_a_seven_day_move_warns_which_anchors_moved(db_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["campaign", "load", str(SEED_002), "--start", "2012-03-08"]) == 0
    out, err = capsys.readouterr()
    assert "平移 7 天" in out and "按天数平移了 7 天" in err
    assert "2012-04-20（4月中旬末）→ 2012-04-27" in err  # 4月中旬 no longer ends the first phase
    assert "2012-07-01（七一）→ 2012-07-08" in err and "2012-06-30（6月底）→ 2012-07-07" in err
    assert "--start 2012-03-01" in err  # the start that would keep them


def test_a_day_move_names_each_anchor_it_moved_and_only_those():
    plan = load_campaign_file(SEED_002)
    moved = plan.rebase(date(2026, 3, 9))
    assert moved.years is None and moved.whole_year_start == date(2026, 3, 1)
    anchored = sorted({d for d in _dates(plan) if calendar_anchor(d)})
    assert [a.written for a in moved.moved_anchors] == anchored
    assert all(calendar_anchor(a.moved) != a.anchor for a in moved.moved_anchors)


def test_a_months_last_day_stays_its_last_day_across_leap_years():
    assert shift_years(date(2011, 2, 28), 1) == date(2012, 2, 29)
    assert shift_years(date(2012, 2, 29), 1) == date(2013, 2, 28)
    assert shift_years(date(2012, 2, 28), 1) == date(2013, 2, 28)
    assert shift_years(date(2010, 6, 30), 15) == date(2025, 6, 30)
