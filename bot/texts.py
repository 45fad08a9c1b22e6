"""Rendering templates from message_templates/ and fitting them into WeChat Work's byte limits."""
from __future__ import annotations

import tomllib
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any, Iterator

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context as TemplateContext

import message_templates

TEMPLATE_DIR = Path(message_templates.__file__).parent
TEXT_LIMIT = 2048  # bytes, for text and markdown content alike


# The day a message is about or sent on ("today" to its reader): a date in that year reads 3月2日,
# any other 2027年3月2日. Handlers and scheduled jobs set it (as_of); a template may also be given
# `today` itself. Without either, the machine's date.
_reference_day: ContextVar[date | None] = ContextVar("reference_day", default=None)


@contextmanager
def as_of(day: date) -> Iterator[None]:
    """Render dates in the messages queued inside this block as read on `day`."""
    token = _reference_day.set(day)
    try:
        yield
    finally:
        _reference_day.reset(token)


def reference_day() -> date:
    return _reference_day.get() or date.today()


def _as_date(value: date | str) -> date:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _written(day: date, *, with_year: bool) -> str:
    """A date in vocabulary.toml's [dates] wording, with or without its year."""
    wording = vocabulary()["dates"]["with_year" if with_year else "month_day"]
    return wording.format(year=day.year, month=day.month, day=day.day)


def chinese_date(value: date | str, today: date) -> str:
    """3月2日 in today's year, 2027年3月2日 in any other: how every date reads in messages."""
    day = _as_date(value)
    return _written(day, with_year=day.year != today.year)


def chinese_moment(value: datetime | str, today: date) -> str:
    """12月5日 18:00, or 2027年12月5日 18:00 (a datetime, or an ISO text such as a form's answer)."""
    moment = _as_date(value)
    return f"{chinese_date(moment, today)} {moment:%H:%M}"


def chinese_span(first: date | str, last: date | str, today: date) -> str:
    """7月1日—7月31日; 2027年3月1日—4月30日 (one other year, named once); 2010年7月1日—2011年7月31日."""
    first, last = _as_date(first), _as_date(last)
    span = vocabulary()["dates"]["span"]
    if first.year != last.year:
        return span.format(first=_written(first, with_year=True), last=_written(last, with_year=True))
    return span.format(first=chinese_date(first, today), last=_written(last, with_year=False))


def _today_of(context: TemplateContext) -> date:
    given = context.get("today")
    return given if isinstance(given, date) else reference_day()


@pass_context
def _date_filter(context: TemplateContext, value: date | str | None) -> str:
    return chinese_date(value, _today_of(context)) if value else ""


@pass_context
def _moment_filter(context: TemplateContext, value: datetime | str) -> str:
    return chinese_moment(value, _today_of(context))


@pass_context
def _span_filter(context: TemplateContext, first: date | str, last: date | str) -> str:
    return chinese_span(first, last, _today_of(context))


_TENTH = Decimal("0.1")


def percent(value: float | None) -> str:
    """How every rate reads (the `pct` filter): one decimal, rounded half up, a whole one bare —
    13/15 → 86.7%, 7/8 → 87.5%, 12/15 → 80%, so "13 ÷ 15 = 86.7%" adds up on a calculator. A rate just
    below a whole percent stays below it (1999/2500 → 79.9%, not 80%): the rules' lines are whole
    percents, and a shown rate must not seem to reach a line the rules say it missed."""
    if value is None:
        return "—"
    exact = Decimal(repr(round(value, 9))) * 100  # 12/15 is exactly 80 %, as bot.polls.rules compares it
    shown = exact.quantize(_TENTH, ROUND_HALF_UP)
    if shown > exact and shown == shown.to_integral_value():
        shown -= _TENTH
    return f"{shown.normalize():f}%"


# WeChat Work's markdown (90236) reads # headings, **bold**, [links](url), `code`, > quotes,
# <font color> and <@userid> mentions, and documents no escape: a member's text placed in a markdown
# message has those marks replaced by their full-width look-alikes, which it shows as typed and never
# reads as formatting (issue 18: "[点我领奖](http://evil.example/x)" was a link in the official result).
_MARKDOWN_LOOKALIKES = str.maketrans({"#": "＃", "*": "＊", "[": "［", "]": "］", "`": "｀", ">": "＞", "<": "＜",
                                      "@": "＠"})


def markdown_plain(value: Any) -> str:
    """Text a person typed, safe to place in a markdown message: shown, never formatting."""
    return str(value).translate(_MARKDOWN_LOOKALIKES) if value is not None else ""


@cache
def _environment() -> Environment:
    return _with_filters(_new_environment(autoescape=False))


@cache
def html_environment() -> Environment:
    """For the console's pages (message_templates/console/): the same filters and words, every value
    escaped for HTML, including what the message templates it imports (rating_parts.j2) put out."""
    return _with_filters(_new_environment(autoescape=True))


def _new_environment(*, autoescape: bool) -> Environment:
    # auto_reload off: templates ship with the package and do not change under a running bot, so
    # each render need not stat its file (about 1 % of a callback's time, issue 7).
    return Environment(loader=FileSystemLoader(TEMPLATE_DIR), undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True, autoescape=autoescape, auto_reload=False)


def _with_filters(env: Environment) -> Environment:
    # Dates: md (a date or ISO text), mdhm (with the time), span (first | span(last)); each shows the
    # year when it is not the reader's (see chinese_date). isodate_md is md's older name for ISO text.
    env.filters["md"] = env.filters["isodate_md"] = _date_filter
    env.filters["mdhm"] = _moment_filter
    env.filters["span"] = _span_filter
    env.globals["words"] = vocabulary  # templates name things as vocabulary.toml does, e.g. words()["audiences"]
    env.filters["pct"] = percent
    env.filters["plain"] = markdown_plain  # members' words inside a markdown message
    return env


def render(template: str, /, **context: Any) -> str:
    return _environment().get_template(f"{template}.j2").render(**context).strip()


@cache
def vocabulary(name: str = "vocabulary") -> dict[str, Any]:
    """Words that belong with the wording (role labels, command aliases and hints), read once."""
    with open(TEMPLATE_DIR / f"{name}.toml", "rb") as fh:
        return tomllib.load(fh)


def _cut(line: str, limit: int) -> list[str]:
    """Cut one over-long line at character boundaries so no piece exceeds `limit` bytes."""
    pieces, current, size = [], [], 0
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    pieces.append("".join(current))
    return pieces


def split_message(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Pack whole lines into pieces of at most `limit` bytes; cut a line only when it alone is too long."""
    if len(text.encode()) <= limit:
        return [text]
    chunks: list[str] = []
    current = ""
    for line in (piece for raw in text.split("\n") for piece in _cut(raw, limit)):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate.encode()) <= limit:
            current = candidate
            continue
        chunks.append(current)
        current = line
    if current:
        chunks.append(current)
    return [c.strip("\n") for c in chunks if c.strip()]
