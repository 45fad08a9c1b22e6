"""Rendering templates from message_templates/ and fitting them into WeChat Work's byte limits."""
from __future__ import annotations

import tomllib
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

import message_templates

TEMPLATE_DIR = Path(message_templates.__file__).parent
TEXT_LIMIT = 2048  # bytes, for text and markdown content alike


def month_day(day) -> str:
    """3月2日: how dates read in messages."""
    return f"{day.month}月{day.day}日"


def month_day_time(moment) -> str:
    """12月5日 18:00 (a datetime, or an ISO text such as a form's answer)."""
    moment = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return f"{month_day(moment)} {moment:%H:%M}"


def percent(value: float | None) -> str:
    """0.8666… → 86.7%: one decimal, as the rule lines (80%, 90%, 95%) are compared."""
    return "—" if value is None else f"{value * 100:.1f}%"


@cache
def _environment() -> Environment:
    # auto_reload off: templates ship with the package and do not change under a running bot, so
    # each render need not stat its file (about 1 % of a callback's time, issue 7).
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, autoescape=False, auto_reload=False)
    env.filters["md"] = month_day
    env.filters["isodate_md"] = lambda text: month_day(date.fromisoformat(text)) if text else ""
    env.globals["words"] = vocabulary  # templates name things as vocabulary.toml does, e.g. words()["audiences"]
    env.filters["mdhm"] = month_day_time
    env.filters["pct"] = percent
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
