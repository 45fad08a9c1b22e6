"""The ratings and polls sheets of `xianfeng export`: one row per branch's 分类定级, one row per 评议.

A poll's counts, 满意率 and formula appear only when its result was published (enough ballots);
nothing here is per voter, and ballots are never read: only each poll's stored result.
"""
from __future__ import annotations

from typing import Any, Callable

from openpyxl import Workbook
from sqlalchemy import select
from sqlmodel import Session

from bot.campaigns import Rules
from bot.export import _when
from bot.ratings import SOURCES, Inputs, source_points
from bot.texts import vocabulary
from storage.models import CampaignRecord, Person, Poll, Rating

PERCENT = "0.0%"


def _sheet(title: str, header: list[str], rows: list[list[Any]], percent: list[str]) -> Workbook:
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    for column in (header.index(name) + 1 for name in percent if name in header):
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
            cell.number_format = PERCENT
    return book


def _rating_row(rating: Rating, rules: Rules, branch: str, confirmer: str | None, words: dict) -> list[Any]:
    inputs = Inputs.from_json(rating.inputs)
    points = source_points(inputs, rules)
    missing = [words["rating_sources"][s] for s in SOURCES if rules.rating_weights.get(s, 0) > 0 and points[s] is None]
    honoured = {True: words["yes"], False: words["no"], None: words["not_entered"]}[inputs.honoured]
    return [branch, points["self_assessment"], inputs.satisfaction if points["masses"] is not None else None,
            inputs.participation if points["masses"] is not None else None, points["superior"], honoured,
            rating.score, rating.level, "、".join(rating.stars), words["yes"] if rating.red_flag else words["no"],
            "、".join(missing), words["rating_status"].get(rating.status, rating.status), confirmer,
            _when(rating.confirmed_at) if rating.confirmed_at else None, rating.rule_version]


def ratings_book(session: Session, record: CampaignRecord, branches: dict[int, str]) -> Workbook:
    words, rules = vocabulary()["export"], Rules.model_validate(record.content.get("rules", {}))
    stmt = select(Rating).where(Rating.campaign_id == record.id).order_by(Rating.branch_id)
    found = list(session.scalars(stmt))
    names = {p.userid: p.name for p in session.scalars(
        select(Person).where(Person.userid.in_({r.confirmed_by for r in found if r.confirmed_by})))}
    rows = [_rating_row(r, rules, branches.get(r.branch_id, words["unassigned"]),
                        names.get(r.confirmed_by, r.confirmed_by), words) for r in found]
    header = words["ratings"]
    return _sheet(words["ratings_sheet"], header, rows, percent=[header[2], header[3]])


def _poll_row(poll: Poll, branch: str, options: list[str], words: dict) -> list[Any]:
    result = poll.result or {}
    shown = bool(result.get("published"))
    formula = result.get("formula") or words["poll_formula"].format(" + ".join(result.get("satisfied") or poll.satisfied))
    row = [branch, poll.subject, poll.scale, words["poll_voters"].get(poll.voters, poll.voters), _when(poll.deadline),
           words["poll_status"].get(poll.status, poll.status), result.get("eligible"), result.get("voted"),
           result.get("turnout")]
    row += [result.get("valid"), result.get("rate"), formula] if shown else [None, None, None]
    counts = result.get("counts") or {}
    return row + [counts.get(option, 0) if shown and option in poll.options else None for option in options]


def polls_book(session: Session, record: CampaignRecord, branches: dict[int, str]) -> Workbook:
    """Options differ between scales (满意度, 好较好一般差): each gets its own column."""
    words = vocabulary()["export"]
    stmt = select(Poll).where(Poll.campaign_id == record.id).order_by(Poll.branch_id, Poll.created_at, Poll.id)
    polls = list(session.scalars(stmt))
    options = list(dict.fromkeys(option for poll in polls for option in poll.options))
    rows = [_poll_row(p, branches.get(p.branch_id, words["unassigned"]), options, words) for p in polls]
    header = words["polls"] + [words["poll_option"].format(option) for option in options]
    return _sheet(words["polls_sheet"], header, rows, percent=[header[8], header[10]])


TABLES: dict[str, Callable[[Session, CampaignRecord, dict[int, str]], Workbook]] = \
    {"ratings": ratings_book, "polls": polls_book}
