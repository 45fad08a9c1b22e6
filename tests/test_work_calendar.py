"""Holidays beyond the chinese_calendar package (1.11 knows up to 2026): a year's 放假 and 调休 days from
the operator's file (XIANFENG_HOLIDAYS), and a word at `campaign load` and in `doctor` when a year is
known to neither."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cli import main
from bot.config import ConfigError, load_settings
from bot.doctor import holidays_check
from bot.scheduler.calendar import LIBRARY_ONLY, digest_day, load_calendar
from bot.scheduler.digest import latest_digest_day
from tests.conftest import campaign_yaml

HOLIDAYS_2027 = """
# 2027年部分节假日安排 (as the State Council would announce it; these days are made up for the test)
[2027]
holidays = ["2027-01-01", "2027-10-01..2027-10-07"]
workdays = ["2027-09-26", "2027-10-09"]
"""


@pytest.fixture
def holidays(tmp_path) -> Path:
    path = tmp_path / "holidays.toml"
    path.write_text(HOLIDAYS_2027, encoding="utf-8")
    return path


def test_the_library_does_not_know_2027_and_falls_back_to_monday_to_friday():
    assert not LIBRARY_ONLY.knows(2027) and LIBRARY_ONLY.knows(2026)
    assert LIBRARY_ONLY.is_workday(date(2027, 10, 4))  # a Monday in 国庆: wrong, and why the file exists


def test_a_years_holidays_and_working_weekends_come_from_the_file(holidays):
    calendar = load_calendar(str(holidays))
    assert calendar.knows(2027) and not calendar.knows(2028)
    assert not calendar.is_workday(date(2027, 10, 4)) and calendar.is_workday(date(2027, 10, 8))
    assert calendar.is_workday(date(2027, 9, 26)) and not calendar.is_workday(date(2027, 9, 25))  # 调休 Sunday
    assert digest_day(date(2027, 10, 4), 1, calendar) == date(2027, 10, 8)  # Monday's digest after 国庆
    assert not calendar.is_workday(date(2026, 10, 5))  # years the library knows still come from it


def test_the_weekly_digest_waits_for_the_first_working_day_the_file_names(holidays):
    settings = load_settings({"XIANFENG_HOLIDAYS": str(holidays)})
    tz = ZoneInfo(settings.tz)
    assert latest_digest_day(datetime(2027, 10, 4, 10, 0, tzinfo=tz), settings) is None  # a holiday
    assert latest_digest_day(datetime(2027, 10, 8, 10, 0, tzinfo=tz), settings) == date(2027, 10, 8)
    library_only = load_settings({})
    assert latest_digest_day(datetime(2027, 10, 4, 10, 0, tzinfo=tz), library_only) == date(2027, 10, 4)


@pytest.mark.parametrize("entry", ['holidays = ["2027-02-30"]', 'holidays = ["2028-01-01"]',
                                   'holidays = ["2027-10-07..2027-10-01"]', 'days = ["2027-01-01"]'])
def test_a_malformed_file_stops_start_up_naming_the_setting_and_the_entry(tmp_path, entry):
    path = tmp_path / "holidays.toml"
    path.write_text(f"[2027]\n{entry}\n", encoding="utf-8")
    load_calendar.cache_clear()
    with pytest.raises(ConfigError) as raised:
        load_settings({"XIANFENG_HOLIDAYS": str(path)})
    assert raised.value.name == "XIANFENG_HOLIDAYS" and raised.value.problem == "holidays"


CAMPAIGN_INTO_2027 = campaign_yaml("跨年活动", """
phases:
  - name: 全年
    start: 2026-09-01
    end: 2027-06-30
    tasks:
      - {id: member-pledge, title: 党员公开承诺, kind: pledge, audience: members, due: 2026-09-30}
""")


def test_campaign_load_says_which_years_it_does_not_know(db_url, monkeypatch, capsys, tmp_path, holidays):
    monkeypatch.setenv("DATABASE_URL", db_url)
    plan = tmp_path / "plan.yaml"
    plan.write_text(CAMPAIGN_INTO_2027, encoding="utf-8")
    assert main(["campaign", "load", str(plan)]) == 0
    assert "2027" in capsys.readouterr().err
    monkeypatch.setenv("XIANFENG_HOLIDAYS", str(holidays))
    assert main(["campaign", "load", str(plan)]) == 0
    assert "放假和调休" not in capsys.readouterr().err


def test_doctor_warns_from_november_when_next_years_days_are_missing(holidays):
    library_only = load_settings({})
    assert holidays_check(library_only, date(2026, 6, 1)).outcome == "ok"
    december = holidays_check(library_only, date(2026, 12, 2))
    assert december.outcome == "holidays_unknown" and december.detail["years"] == [2027]
    assert december.warning and not december.failed  # a warning: today's digests are still right
    assert holidays_check(load_settings({"XIANFENG_HOLIDAYS": str(holidays)}), date(2026, 12, 2)).outcome == "ok"
