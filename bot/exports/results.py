"""The ratings and polls sheets of `xianfeng export`: one row per branch's 分类定级 in each rating round
(with its levels over the rounds: 一般 → 较强), one row per 评议.

A poll's counts, 满意率 and formula appear only when its result was published (enough ballots);
nothing here is per voter, and ballots are never read: only each poll's stored result.
"""
from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import select
from sqlmodel import Session

from bot.campaigns import Rules, rules_of
from bot.exports.book import in_branch_order, names_of, when, workbook
from bot.ratings import History, Inputs, propose
from bot.texts import render, vocabulary
from storage import ratings as stored
from storage.models import CampaignRecord, CampaignTask, Poll, Rating

PERCENT = "0.0%"


def _table(title: str, header: list[str], rows: list[list[Any]], percent: tuple[int, ...]) -> Workbook:
    """One sheet; the columns at the `percent` positions (from 0) shown as percentages."""
    book = workbook(header, ((title, row) for row in rows), empty=title)
    for column in percent:
        for (cell,) in book.active.iter_rows(min_row=2, min_col=column + 1, max_col=column + 1):
            cell.number_format = PERCENT
    return book


def _rating_row(rating: Rating, task: CampaignTask, history: History, rules: Rules, branch: str,
                confirmer: str | None, words: dict, tz: ZoneInfo) -> list[Any]:
    """What the rating was decided on in its round, with each source's points under the campaign's rules."""
    inputs = Inputs.from_json(rating.inputs)
    proposal = propose(inputs, rules, [])
    yes_no = {True: words["yes"], False: words["no"], None: words["not_entered"]}
    return [branch, task.title, proposal.points["self_assessment"], inputs.counted("satisfaction"),
            inputs.counted("participation"), proposal.points["superior"], yes_no[inputs.honoured], rating.score,
            rating.level, render("rating_history", history=history) if history.shown else None,
            words["separator"].join(rating.stars), yes_no[rating.red_flag],
            words["separator"].join(words["rating_sources"][s] for s in proposal.missing),
            words["rating_status"].get(rating.status, rating.status), confirmer,
            when(rating.confirmed_at, tz) if rating.confirmed_at else None, rating.rule_version,
            render("rating_star_decisions", inputs=inputs).strip() or None]


def _histories(found: list[tuple[Rating, CampaignTask]], rules: Rules) -> list[History]:
    """Each row's levels: the branch's confirmed levels of the rounds before it (rows come by branch and
    round), then its own."""
    confirmed: dict[int, list[str]] = {}
    histories = []
    for rating, _task in found:
        before = confirmed.setdefault(rating.branch_id, [])
        histories.append(History.of(before + [rating.level], rules))
        if rating.status == "confirmed":
            before.append(rating.level)
    return histories


def ratings_book(session: Session, record: CampaignRecord, branches: dict[int, str], tz: ZoneInfo) -> Workbook:
    words, rules = vocabulary()["export"], rules_of(record)
    found = stored.of_campaign(session, campaign_id=record.id)
    names = names_of(session)
    rows = in_branch_order(_rating_row(rating, task, history, rules, branches[rating.branch_id],
                                       names.get(rating.confirmed_by, rating.confirmed_by), words, tz)
                           for (rating, task), history in zip(found, _histories(found, rules), strict=True))
    return _table(words["ratings_sheet"], words["ratings"], rows, percent=(3, 4))  # 满意率, 党员参与率


def _poll_row(poll: Poll, branch: str, options: list[str], words: dict, tz: ZoneInfo) -> list[Any]:
    result = poll.result or {}
    row = [branch, poll.subject, poll.scale, vocabulary()["poll"]["voters"].get(poll.voters, poll.voters),
           when(poll.deadline, tz), words["poll_status"].get(poll.status, poll.status), result.get("eligible"),
           result.get("voted"), result.get("turnout")]
    if not result.get("published"):  # open, or closed under the ballot threshold: no choices are known
        return row + [None] * (3 + len(options))
    counts = result["counts"]
    return row + [result["valid"], result["rate"], result["formula"]] + \
        [counts.get(option, 0) if option in poll.options else None for option in options]


def polls_book(session: Session, record: CampaignRecord, branches: dict[int, str], tz: ZoneInfo) -> Workbook:
    """Options differ between scales (满意度, 好较好一般差): each gets its own column."""
    words = vocabulary()["export"]
    stmt = select(Poll).where(Poll.campaign_id == record.id).order_by(Poll.branch_id, Poll.created_at, Poll.id)
    polls = list(session.scalars(stmt))
    options = list(dict.fromkeys(option for poll in polls for option in poll.options))
    rows = in_branch_order(_poll_row(p, branches[p.branch_id], options, words, tz) for p in polls)
    header = words["polls"] + [words["poll_option"].format(option) for option in options]
    return _table(words["polls_sheet"], header, rows, percent=(8, 10))  # 参评率, 满意率
