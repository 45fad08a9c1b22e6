"""Anonymity audit (ARCHITECTURE invariant 4): after 400 votes (the issue asks for 200), a dump of
every table and every log line gives no way to map a voter to a choice — no voter or time column on ballots, no row naming a
voter next to their choice, and ballots in an order unrelated to the voting order."""
from __future__ import annotations

import json
import logging
import random
from datetime import timedelta

from sqlalchemy import inspect, select, text
from sqlmodel import Session, SQLModel

from bot.scheduler.jobs import run_job
from storage.models import Ballot, Poll, PollComment
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
    for order, userid in enumerate(voters):
        number = rng.choice("1112223")
        comment = f"意见{order:03d}"  # a unique tag per vote: lets the audit find each ballot's position
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
    # voter_group (member or masses, never who) only while a poll that counts 群众 apart is open
    assert set(tables["ballot"][0]) == {"id", "poll_id", "choice", "voter_group"}, "a ballot carries nothing but its choice"
    # comments apart from the choices: nothing joins a comment to the ballot it came with
    assert set(tables["poll_comment"][0]) == {"id", "poll_id", "text"}, "a comment carries nothing but its words"
    choice_of = {userid: choice for userid, choice, _ in votes}
    for table, rows in tables.items():
        for row in rows:
            cells = [a for v in row.values() for a in atoms(v)]
            words = " ".join(cells).replace("满意度", "").replace("满意率", "")  # names of things, not choices
            if all(o in words for o in options):
                continue  # the poll's own definition (the card, the poll row) lists every option
            named = {u for cell in cells for u in cell.split("|") if u in choice_of}
            assert not any(choice_of[u] in words for u in named), f"{table} row links a voter to a choice: {row}"


def assert_unordered(tables: dict[str, list[dict]], votes: list[tuple[str, str, str]]) -> None:
    """Comments carry a tag per vote: their stored order against the voting order, by rank correlation.
    Ballots carry only a choice: their stored sequence of choices against the voting order's, position
    by position (in voting order every position matches; shuffled, about 19/49 do for these choices)."""
    tagged = {comment: order for order, (_, _, comment) in enumerate(votes) if comment}
    positions = [(tagged[row["text"]], position) for position, row in enumerate(tables["poll_comment"])
                 if row["text"] in tagged]
    assert len(positions) == len(tagged) == VOTERS * 3 // 4
    rho = spearman([p[0] for p in positions], [p[1] for p in positions])
    assert abs(rho) < 0.2, f"comment order follows voting order (Spearman rho {rho:.2f})"
    stored = [row["choice"] for row in tables["ballot"]]
    assert len(stored) == len(votes)
    same = sum(a == b for a, b in zip(stored, (choice for _, choice, _ in votes))) / len(votes)
    assert same < 0.6, f"ballot order follows voting order ({same:.0%} of positions match)"


def test_hundreds_of_votes_leave_no_way_back_to_the_voter(engine, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    town, poll, votes = vote_everyone(engine, tmp_path)
    cfg = make_settings("sqlite://", "http://127.0.0.1:9")
    run_job("polls", engine, cfg, START + timedelta(minutes=5))  # while open: PostgreSQL reshuffles
    open_dump = dump(engine)
    assert len(open_dump["ballot"]) == VOTERS
    assert_no_link(open_dump, votes, poll.options)
    assert_unordered(open_dump, votes)
    run_job("polls", engine, cfg, START + timedelta(days=5))  # after the deadline: closed
    closed_dump = dump(engine)
    assert closed_dump["poll"][0]["status"] == "closed"
    assert_no_link(closed_dump, votes, poll.options)
    assert_unordered(closed_dump, votes)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(word in logged for word in poll.options) and "意见" not in logged


def test_audit_would_catch_an_ordered_table(engine, tmp_path):
    """The audit itself can fail: ballots read back in insertion order are caught."""
    town, poll, votes = vote_everyone(engine, tmp_path)
    with Session(engine) as session:
        comments = list(session.scalars(select(PollComment)))
        ballots = [b.model_dump() for b in session.scalars(select(Ballot))]
    tagged = {comment: order for order, (_, _, comment) in enumerate(votes) if comment}
    in_vote_order = [c.model_dump() for c in sorted(comments, key=lambda c: tagged[c.text])]
    as_inserted = [{"choice": choice} for _, choice, _ in votes]  # what an insertion-ordered table would hold
    for ordered, what in (({"poll_comment": in_vote_order, "ballot": ballots}, "comment"),
                          ({"poll_comment": random.Random(3).sample([c.model_dump() for c in comments], len(comments)),
                            "ballot": as_inserted}, "ballot")):
        try:
            assert_unordered(ordered, votes)
        except AssertionError as caught:
            assert f"{what} order follows voting order" in str(caught)
        else:
            raise AssertionError(f"an ordered {what} table passed the audit")
    assert SQLModel.metadata.tables["ballot"].dialect_options["sqlite"]["with_rowid"] is False
