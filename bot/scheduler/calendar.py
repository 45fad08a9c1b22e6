"""Working days and quiet hours. Chinese public holidays and 调休 working days come from the
maintained chinese_calendar package, and for the years it does not know yet (version 1.11 stops at
2026; the State Council announces a year's days each November or December) from a file the
operator writes (XIANFENG_HOLIDAYS); a year known to neither is Monday to Friday, and `campaign
load` and `doctor` say so."""
from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import chinese_calendar


@dataclass(frozen=True)
class WorkCalendar:
    holidays: frozenset[date] = frozenset()  # 放假 days from the file
    workdays: frozenset[date] = frozenset()  # 调休上班 days from the file (weekend days worked)
    years: frozenset[int] = frozenset()  # the years the file covers

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        if day.year not in self.years:
            try:
                return chinese_calendar.is_workday(day)
            except NotImplementedError:
                pass
        return day.weekday() < 5

    def knows(self, year: int) -> bool:
        return year in self.years or _library_knows(year)

    def unknown_years(self, start: date, end: date) -> list[int]:
        return [year for year in range(start.year, end.year + 1) if not self.knows(year)]


@functools.cache
def _library_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


LIBRARY_ONLY = WorkCalendar()


@functools.cache
def load_calendar(path: str) -> WorkCalendar:
    """The file's years: `[2027]` tables with `holidays` and `workdays` lists of "2027-10-01" dates or
    "2027-10-01..2027-10-07" ranges. ValueError (with the entry) for anything else."""
    if not path:
        return LIBRARY_ONLY
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    holidays, workdays, years = set(), set(), set()
    for year, days in data.items():
        if not year.isdigit() or not isinstance(days, dict) or set(days) - {"holidays", "workdays"}:
            raise ValueError(f"[{year}]")
        years.add(int(year))
        holidays.update(_days(days.get("holidays", []), int(year)))
        workdays.update(_days(days.get("workdays", []), int(year)))
    return WorkCalendar(frozenset(holidays), frozenset(workdays), frozenset(years))


def _days(entries: list, year: int) -> list[date]:
    found = []
    for entry in entries:
        first, _, last = str(entry).partition("..")
        try:
            start, end = date.fromisoformat(first.strip()), date.fromisoformat((last or first).strip())
        except ValueError:
            raise ValueError(str(entry)) from None
        if start > end or start.year != year or end.year != year:
            raise ValueError(str(entry))
        found += [start + timedelta(days=n) for n in range((end - start).days + 1)]
    return found


def week_key(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def digest_day(any_day_of_week: date, weekday: int, calendar: WorkCalendar = LIBRARY_ONLY) -> date:
    """The day the digest of this ISO week goes out: the configured weekday, or the next working
    day after it when that is a holiday (a 调休 Saturday counts as a working day)."""
    monday = any_day_of_week - timedelta(days=any_day_of_week.weekday())
    day = monday + timedelta(days=weekday - 1)
    while not calendar.is_workday(day):
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
