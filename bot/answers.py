"""Reading short, forgiving answers typed on a phone: dates, numbered choices, free text.

Each parser returns the value or raises Invalid with the name of the template that says, kindly
and specifically, what is expected.
"""
from __future__ import annotations

import re
from datetime import date, timedelta

WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
NAMED = {"七一": (7, 1), "国庆": (10, 1), "元旦": (1, 1), "五一": (5, 1), "六一": (6, 1), "十一": (10, 1)}
MAX_TEXT = 500  # characters a single answer may have


class Invalid(Exception):
    def __init__(self, template: str, **data):
        super().__init__(template)
        self.template, self.data = template, data


def _future(month: int, day: int, today: date) -> date:
    """A month and day without a year: this year's, or next year's if it has passed."""
    try:
        candidate = date(today.year, month, day)
        return candidate if candidate >= today else date(today.year + 1, month, day)
    except ValueError:
        raise Invalid("invalid_date") from None


def parse_date(text: str, today: date) -> date:
    """6月15日, 6.15, 6/15, 2026-06-15, 2026年6月15日, 下周五, 本周三, 月底, 年底, 七一前, 明天 …"""
    text = text.strip().removesuffix("前").removesuffix("之前").removesuffix("以前").strip()
    full = re.fullmatch(r"(\d{4})\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})\s*日?", text)
    if full:
        try:
            return date(int(full[1]), int(full[2]), int(full[3]))
        except ValueError:
            raise Invalid("invalid_date") from None
    short = re.fullmatch(r"(\d{1,2})\s*[-./月]\s*(\d{1,2})\s*[日号]?", text)
    if short:
        return _future(int(short[1]), int(short[2]), today)
    week = re.fullmatch(r"(下下|下|本|这)?(?:周|星期|礼拜)([一二三四五六日天])", text)
    if week:
        offset = {"下下": 14, "下": 7}.get(week[1] or "", 0)
        monday = today - timedelta(days=today.weekday()) + timedelta(days=offset)
        return monday + timedelta(days=WEEKDAYS[week[2]])
    relative = {"今天": 0, "明天": 1, "后天": 2}
    if text in relative:
        return today + timedelta(days=relative[text])
    if text in ("月底", "本月底"):
        next_month = date(today.year + today.month // 12, today.month % 12 + 1, 1)
        return next_month - timedelta(days=1)
    if text in ("年底", "今年底"):
        return date(today.year, 12, 31)
    if text in NAMED:
        return _future(*NAMED[text], today)
    raise Invalid("invalid_date")


def parse_choice(text: str, options: list[str]) -> str:
    """The option by its number (1, １, ①) or its words (or a unique start of them)."""
    cleaned = text.strip().translate(str.maketrans("０１２３４５６７８９", "0123456789")).rstrip(".、）)")
    circled = "①②③④⑤⑥⑦⑧⑨"
    if cleaned in circled:
        cleaned = str(circled.index(cleaned) + 1)
    if cleaned.isdecimal() and 1 <= int(cleaned) <= len(options):  # isdigit() also takes ², which int() refuses
        return options[int(cleaned) - 1]
    matches = [o for o in options if o == cleaned] or [o for o in options if cleaned and o.startswith(cleaned)]
    if len(matches) == 1:
        return matches[0]
    raise Invalid("invalid_choice", options=options)


def parse_text(text: str, *, shortest: int = 2) -> str:
    cleaned = re.sub(r"\s+", " ", text).strip()
    if len(cleaned) < shortest:
        raise Invalid("invalid_short", shortest=shortest)
    if len(cleaned) > MAX_TEXT:
        raise Invalid("invalid_long", longest=MAX_TEXT, length=len(cleaned))
    return cleaned
