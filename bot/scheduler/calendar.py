"""Working days and quiet hours. Chinese public holidays and 调休 working days come from the
maintained chinese_calendar package; for years it does not cover yet, Monday to Friday."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import chinese_calendar


def is_workday(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def week_key(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def digest_day(any_day_of_week: date, weekday: int) -> date:
    """The day the digest of this ISO week goes out: the configured weekday, or the next working
    day after it when that is a holiday (a 调休 Saturday counts as a working day)."""
    monday = any_day_of_week - timedelta(days=any_day_of_week.weekday())
    day = monday + timedelta(days=weekday - 1)
    while not is_workday(day):
        day += timedelta(days=1)
    return day


def clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def is_quiet(moment: datetime, quiet_hours: str) -> bool:
    if not quiet_hours:
        return False
    start, end = (clock(part) for part in quiet_hours.split("-"))
    now = moment.time()
    return (start <= now or now < end) if start > end else (start <= now < end)
