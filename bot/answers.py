"""Reading short, forgiving answers typed on a phone: dates, numbered choices, a yes, free text.

Each parser returns the value or raises Invalid with the name of the template that says, kindly
and specifically, what is expected.
"""
from __future__ import annotations

import re
from datetime import date, timedelta

from bot.texts import vocabulary

WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
NAMED = {"七一": (7, 1), "国庆": (10, 1), "元旦": (1, 1), "五一": (5, 1), "六一": (6, 1), "十一": (10, 1)}
MAX_TEXT = 500  # characters a single answer may have

# When a school term ends, for 期末 / 本学期末 / 寒假前 / 暑假前 (the campaign files and the plans give no
# term dates): the autumn term by 1月31日, before the winter break and the Spring Festival; the spring
# term by 7月15日, before the summer break (学年末 too). A date read this way is shown in the preview.
SPRING_TERM_END = (7, 15)
AUTUMN_TERM_END = (1, 31)
TERM_ENDS = (AUTUMN_TERM_END, SPRING_TERM_END)

CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_NUMERALS = {"〇": 0, "零": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "三": 3, "叁": 3, "四": 4, "肆": 4,
             "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9, "玖": 9}
_TENS = re.compile(r"([一二两三四五六七八九壹贰叁肆伍陆柒捌玖]?)[十拾]([一二三四五六七八九壹贰叁肆伍陆柒捌玖]?)")
_NUM = r"(\d{1,2}|[〇零一二两三四五六七八九十壹贰叁肆伍陆柒捌玖拾]{1,3})"  # a count, a month or a day, as typed
# "2." "3、" "（2）" "第二个": an option's number with what people put around it
_OPTION_NUMBER = re.compile(r"[（(]?\s*(第)?\s*(.+?)\s*(?:个|项|条|种)?\s*[.。、)）]?\s*")


class Invalid(Exception):
    def __init__(self, template: str, **data):
        super().__init__(template)
        self.template, self.data = template, data


def number(text: str) -> int | None:
    """12, １２ (any script's decimal digits), 十二, 壹拾贰 → 12; anything else None."""
    text = text.strip()
    if text.isdecimal():  # isdigit() also takes ², which int() refuses
        return int(text)
    if len(text) == 1 and text in _NUMERALS:
        return _NUMERALS[text]
    tens = _TENS.fullmatch(text)
    if tens:
        return _NUMERALS.get(tens[1], 1) * 10 + _NUMERALS.get(tens[2], 0)
    return None


def option_number(text: str) -> int | None:
    """The option number in an answer: 2, ２, 二, 贰, ②, 第二个, "2." or "（2）"; None when it holds none."""
    found = _OPTION_NUMBER.fullmatch(text.strip())
    if not found:
        return None
    core = found[2]
    if len(core) == 1 and core in CIRCLED and not found[1]:
        return CIRCLED.index(core) + 1
    return number(core)


def _future(month: int, day: int, today: date) -> date:
    """A month and day without a year: this year's, or next year's if it has passed."""
    try:
        candidate = date(today.year, month, day)
        return candidate if candidate >= today else date(today.year + 1, month, day)
    except ValueError:
        raise Invalid("invalid_date") from None


def _month_end(year: int, month: int) -> date:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1  # month 13 is next January
    following = date(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=1)


def _add_months(day: date, months: int) -> date:
    """The same day `months` later, or that month's last day when it is shorter (1月31日 + 1 → 2月28日)."""
    end = _month_end(day.year, day.month + months)
    return end.replace(day=min(day.day, end.day))


def _term_end(today: date, *, terms_ahead: int = 0) -> date:
    """The end of the term under way (after a term's end and before the next: the coming term's), or of a later one."""
    ends = sorted(_future(month, day, today) for month, day in TERM_ENDS)  # one term's end, then the next's
    return ends[terms_ahead]


def _read_number(text: str) -> int:
    value = number(text)
    if value is None:
        raise Invalid("invalid_date")
    return value


def _school_date(text: str, today: date) -> date | None:
    """期末, 本学期末, 学期结束, 下学期末, 学年末, 寒假前, 暑假前 (the last two with their 前)."""
    if re.fullmatch(r"(?:放)?寒假(?:前|之前|以前)", text):
        return _future(*AUTUMN_TERM_END, today)
    if re.fullmatch(r"(?:放)?暑假(?:前|之前|以前)", text):
        return _future(*SPRING_TERM_END, today)
    text = re.sub(r"(?:之前|以前|前)$", "", text)
    if re.fullmatch(r"期末|(?:本|这个?)?学期(?:末|底|结束)", text):
        return _term_end(today)
    if re.fullmatch(r"下个?学期(?:末|底|结束)", text):
        return _term_end(today, terms_ahead=1)
    if re.fullmatch(r"(?:本|这个?)?学年(?:末|底|结束)", text):
        return _future(*SPRING_TERM_END, today)
    return None


def _month_date(text: str, today: date) -> date | None:
    """月底, 本月底, 下月底, 6月底, 六月末, 20号, 本月25日, 下月10号."""
    end = re.fullmatch(r"(本|这个?|下个?)?月(?:底|末)", text)
    if end:
        return _month_end(today.year, today.month + (1 if end[1] and end[1].startswith("下") else 0))
    named = re.fullmatch(_NUM + r"月(?:底|末)", text)
    if named:
        month = _read_number(named[1])
        if not 1 <= month <= 12:
            raise Invalid("invalid_date")
        candidate = _month_end(today.year, month)
        return candidate if candidate >= today else _month_end(today.year + 1, month)
    day_of = re.fullmatch(r"(本月|这个?月|下个?月)?" + _NUM + r"[日号]", text)
    if day_of:
        day = _read_number(day_of[2])
        ahead = 1 if day_of[1] and day_of[1].startswith("下") else 0
        if not day_of[1] and day < today.day:
            ahead = 1  # 5号 on the 10th: next month's
        month_end = _month_end(today.year, today.month + ahead)
        if not 1 <= day <= month_end.day:
            raise Invalid("invalid_date")
        return month_end.replace(day=day)
    return None


def _relative_date(text: str, today: date) -> date | None:
    """今天, 明天, 后天, 大后天, 三天内, 10天后, 两周内, 一个月内."""
    relative = {"今天": 0, "明天": 1, "后天": 2, "大后天": 3}
    if text in relative:
        return today + timedelta(days=relative[text])
    within = re.fullmatch(_NUM + r"\s*(天|日|周|个?星期|个?礼拜|个月)(?:以内|之内|内|后|以后|之后)", text)
    if not within:
        return None
    count = _read_number(within[1])
    if count < 1:
        raise Invalid("invalid_date")
    if within[2] == "个月":
        return _add_months(today, count)
    return today + timedelta(days=count * (1 if within[2] in ("天", "日") else 7))


def _week_date(text: str, today: date) -> date | None:
    """本周三, 这个周五, 下周一, 下下周二, 下个星期一; a bare 周三 is the coming one."""
    week = re.fullmatch(r"(?:(下下|下|本|这)个?)?(?:周|星期|礼拜)([一二三四五六日天])", text)
    if not week:
        return None
    if week[1] is None:
        return today + timedelta(days=(WEEKDAYS[week[2]] - today.weekday()) % 7)
    offset = {"下下": 14, "下": 7}.get(week[1], 0)
    monday = today - timedelta(days=today.weekday()) + timedelta(days=offset)
    return monday + timedelta(days=WEEKDAYS[week[2]])


def parse_date(text: str, today: date) -> date:
    """6月15日, 6.15, 2026-06-15, 六月十五日, 下周五, 本周三, 月底, 6月底, 20号, 年底, 本学期末, 暑假前,
    三天内, 七一前, 明天 …"""
    text = re.sub(r"\s+", "", text.strip())
    school = _school_date(text, today)
    if school is not None:
        return school
    text = re.sub(r"(?:之前|以前|前)$", "", text)
    full = re.fullmatch(r"(\d{4})[-./年](\d{1,2})[-./月](\d{1,2})日?", text)
    if full:
        try:
            return date(int(full[1]), int(full[2]), int(full[3]))
        except ValueError:
            raise Invalid("invalid_date") from None
    short = re.fullmatch(r"(\d{1,2})[-./月](\d{1,2})[日号]?|" + _NUM + "月" + _NUM + "[日号]", text)
    if short:
        month, day = (short[1], short[2]) if short[1] else (short[3], short[4])
        return _future(_read_number(month), _read_number(day), today)
    for reading in (_week_date, _relative_date, _month_date):
        found = reading(text, today)
        if found is not None:
            return found
    if re.fullmatch(r"(?:今年|本年)年?(?:底|末|内)|年(?:底|末|内)", text):
        return date(today.year, 12, 31)
    if re.fullmatch(r"明年(?:年)?(?:底|末)", text):
        return date(today.year + 1, 12, 31)
    if text in NAMED:
        return _future(*NAMED[text], today)
    raise Invalid("invalid_date")


def choice_index(text: str, options: list[str], *, prefixes: bool = True) -> int:
    """Which option (from 0) an answer names: its words, its number (1, １, 一, 壹, ①, 第一个) or, with
    `prefixes`, a unique start of its words. A numeral that also starts another option (一 where the
    options are 好 … 一般) names neither: the question is asked again."""
    word = text.strip().rstrip(".。!！、)）")
    if word in options:
        return options.index(word)
    starting = [i for i, option in enumerate(options) if word and option.startswith(word)]
    given = option_number(text)
    if given is not None and 1 <= given <= len(options):
        if any(c.isdecimal() for c in word) or set(starting) <= {given - 1}:  # digits are numbers, as listed
            return given - 1
    elif prefixes and len(starting) == 1:
        return starting[0]
    raise Invalid("invalid_choice", options=options)


def parse_choice(text: str, options: list[str]) -> str:
    """The option by its number (1, １, 一, ①) or its words (or a unique start of them)."""
    return options[choice_index(text, options)]


def is_yes(text: str) -> bool:
    """确认, 好的, 没问题, OK …: a plain yes, whole (不确认 and 好像不对 are not), in [forms] yes."""
    plain = re.sub(r"[\s。.!！~～,，]", "", text).lower()
    return plain in vocabulary()["forms"]["yes"]


def parse_confirm(text: str, options: list[str]) -> str:
    """A preview's answer: its one option (提交) by number or words, or a plain yes."""
    if is_yes(text):
        return options[0]
    try:
        return parse_choice(text, options)
    except Invalid:
        raise Invalid("invalid_confirm") from None


def parse_text(text: str, *, shortest: int = 2) -> str:
    cleaned = re.sub(r"\s+", " ", text).strip()
    if len(cleaned) < shortest:
        raise Invalid("invalid_short", shortest=shortest)
    if len(cleaned) > MAX_TEXT:
        raise Invalid("invalid_long", longest=MAX_TEXT, length=len(cleaned))
    return cleaned
