"""Anonymity audit (ARCHITECTURE invariant 4): after 400 votes (the issue asks for 200), a dump of
every table and every log line gives no way to map a voter to a choice: no voter or time column on
ballots, no row naming a voter next to their choice, no choice or comment readable while the poll is
open (sealed), and after the close no ballot at all and the comments in an order unrelated to the
voting order. (tests/test_forensic_anonymity.py reads the files and pages under the tables.)"""
from __future__ import annotations

import json
import logging
import random
from datetime import timedelta

from sqlalchemy import inspect, text
from sqlmodel import Session

from bot.scheduler.jobs import run_job
from storage import polls as store
from storage.models import Poll
from tests.conftest import make_settings
from tests.test_polls import START, Town, issued_poll, populate

VOTERS = 400  # 300 vote by text with a tag, 100 by card: |rho| < 0.2 is 3.5 sigma for 300 ranks


def spearman(xs: list[float], ys: list[float]) -> float:
    def ranks(values: list[float]) -> list[int]:
        order = sorted(range(len(values)), key=values.__getitem__)
        result = [0] * len(values)
        for rank, index in enumerate(order):
            result[index] = rank
        return result
    rx, ry, n = ranks(xs), ranks(ys), len(xs)
    return 1 - 6 * sum((a - b) ** 2 for a, b in zip(rx, ry)) / (n * (n * n - 1))


def dump(engine) -> dict[str, list[dict]]:
    """Every table as `SELECT *` returns it: no ORDER BY, so in the order the database keeps the rows."""
    with engine.connect() as conn:
        return {table: [dict(row._mapping) for row in conn.execute(text(f'SELECT * FROM "{table}"'))]
                for table in inspect(engine).get_table_names()}


def vote_everyone(engine, tmp_path) -> tuple[Town, Poll, list[tuple[str, str, str]]]:
    roster = "userid,name,branch,role\nsec,书记甲,第一党支部,支部书记\n" + "".join(
        f"v{i:03d},人员{i},第一党支部,{'党员' if i % 3 else '群众'}\n" for i in range(1, VOTERS))
    populate(engine, tmp_path, roster)
    town = Town(engine)
    poll = issued_poll(town)
    rng, votes = random.Random(7), []
    voters = ["sec", *(f"v{i:03d}" for i in range(1, VOTERS))]
    tags = random.Random(4).sample(range(VOTERS), VOTERS)  # numbered in an order unrelated to the votes'
    for order, userid in enumerate(voters):
        number = rng.choice("1112223")
        comment = f"意见{tags[order]:03d}"  # a unique tag per vote: lets the audit find each comment's position
        if order % 4 == 3:
            town.tap(userid, poll.id, number)
            comment = ""
        else:
            town.say(userid, f"{number} {comment}")
        votes.append((userid, poll.options[int(number) - 1], comment))
    return town, poll, votes


def atoms(value) -> list[str]:
    """The strings inside a cell, JSON decoded (payloads, lists), so names and words compare whole."""
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return [value]
        return atoms(decoded) if not isinstance(decoded, str) else [decoded]
    if isinstance(value, dict):
        return [a for v in value.values() for a in atoms(v)]
    if isinstance(value, list):
        return [a for v in value for a in atoms(v)]
    return [str(value)]


def assert_no_link(tables: dict[str, list[dict]], votes: list[tuple[str, str, str]], options: list[str]) -> None:
    # a ballot is its sealed choice (and voter group, where the poll counts 群众 apart), nothing else
    for row in tables["ballot"]:
        assert set(row) == {"id", "poll_id", "sealed"}, "a ballot carries nothing but its sealed choice"
    # comments apart from the choices: nothing joins a comment to the ballot it came with
    for row in tables["poll_comment"]:
        assert set(row) == {"id", "poll_id", "sealed"}, "a comment carries nothing but its sealed words"
    choice_of = {userid: choice for userid, choice, _ in votes}
    for table, rows in tables.items():
        for row in rows:
            cells = [a for v in row.values() for a in atoms(v)]
            words = " ".join(cells).replace("满意度", "").replace("满意率", "")  # names of things, not choices
            if all(o in words for o in options):
                continue  # the poll's own definition (the card, the poll row) lists every option
            named = {u for cell in cells for u in cell.split("|") if u in choice_of}
            assert not any(choice_of[u] in words for u in named), f"{table} row links a voter to a choice: {row}"


def assert_unordered(comments: list[str], votes: list[tuple[str, str, str]]) -> None:
    """Comments carry a tag per vote: a stored order of them against the voting order, by rank correlation."""
    tagged = {comment: order for order, (_, _, comment) in enumerate(votes) if comment}
    positions = [(tagged[c], position) for position, c in enumerate(comments) if c in tagged]
    assert len(positions) == len(tagged) == VOTERS * 3 // 4
    rho = spearman([p[0] for p in positions], [p[1] for p in positions])
    assert abs(rho) < 0.2, f"comment order follows voting order (Spearman rho {rho:.2f})"


def test_hundreds_of_votes_leave_no_way_back_to_the_voter(engine, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    town, poll, votes = vote_everyone(engine, tmp_path)
    cfg = make_settings("sqlite://", "http://127.0.0.1:9")
    run_job("polls", engine, cfg, START + timedelta(minutes=5))  # while open
    open_dump = dump(engine)
    assert len(open_dump["ballot"]) == VOTERS
    assert_no_link(open_dump, votes, poll.options)
    everything = json.dumps(open_dump, ensure_ascii=False, default=str)
    assert not any(comment in everything for _, _, comment in votes if comment), "a comment readable while open"
    with Session(engine) as session:  # what the server reads at the close: counted, comments by their text
        opened = store.open_ballots(session, poll=session.get(Poll, poll.id))
    assert_unordered(opened.comments, votes)
    run_job("polls", engine, cfg, START + timedelta(days=5))  # after the deadline: closed
    closed_dump = dump(engine)
    assert closed_dump["poll"][0]["status"] == "closed"
    assert closed_dump["ballot"] == [] and closed_dump["poll_comment"] == []  # counted: the result holds it
    assert_no_link(closed_dump, votes, poll.options)
    result = closed_dump["poll"][0]["result"]
    assert_unordered((json.loads(result) if isinstance(result, str) else result)["comments"], votes)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(word in logged for word in poll.options) and "意见" not in logged


def test_audit_would_catch_an_ordered_list(engine, tmp_path):
    """The audit itself can fail: comments in voting order are caught."""
    town, poll, votes = vote_everyone(engine, tmp_path)
    try:
        assert_unordered([c for _, _, c in votes if c], votes)
    except AssertionError as caught:
        assert "comment order follows voting order" in str(caught)
    else:
        raise AssertionError("comments in voting order went unnoticed")
