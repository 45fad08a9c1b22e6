"""Poll result for N ballots: counting (one GROUP BY), the result message and the chart, against the
issue's goal of 0.5 s for 100,000 ballots. Also timed, separately: the whole closing transaction,
which rewrites the ballots in random order (the anonymity step) and so grows with N. Run:

    .venv/bin/python benchmarks/poll_tally.py [--ballots 1000 100000] [--repeat 5] [--database URL]

Prints per N the median seconds of: count, message, chart, count+message+chart (ratio to the goal),
and close_poll. A fresh SQLite file under a temporary directory unless --database is given.
"""
from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import delete, insert, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import polls  # noqa: E402
from bot.poll_close import chart, close_poll  # noqa: E402
from bot.texts import render  # noqa: E402
from storage import polls as store  # noqa: E402
from storage.db import make_engine, transaction  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Ballot, Branch, Outbox, Poll  # noqa: E402

GOAL = 0.5
OPTIONS, SATISFIED = ["满意", "基本满意", "不满意"], ["满意", "基本满意"]


def seed(engine, ballots: int) -> int:
    with transaction(engine) as session:
        session.execute(delete(Ballot))
        session.execute(delete(Outbox))
        branch = session.merge(Branch(id=1, name="第一党支部", chat_id="wrbench", chat_members=[]))
        poll = Poll(branch_id=branch.id, issuer="sec", rates="branch", subject="第一党支部", scale="满意度",
                    options=OPTIONS, satisfied=SATISFIED, voters="both", deadline=time.time())
        session.add(poll)
        session.flush()
        rng = random.Random(1)
        rows = [{"id": secrets.token_hex(16), "poll_id": poll.id, "choice": rng.choice(OPTIONS * 3 + ["满意"] * 4),
                 "comment": None} for _ in range(ballots)]
        for start in range(0, ballots, 10_000):
            session.execute(insert(Ballot), rows[start:start + 10_000])
        return poll.id


def timed(work) -> tuple[float, object]:
    start = time.perf_counter()
    value = work()
    return time.perf_counter() - start, value


def one_run(engine, poll_id: int) -> dict[str, float]:
    with transaction(engine) as session:
        poll = session.get(Poll, poll_id)
        t_count, counted = timed(lambda: store.counts(session, poll_id=poll_id))
        n = sum(counted.values())
        result = polls.result(counts={o: counted.get(o, 0) for o in OPTIONS}, satisfied=SATISFIED, min_ballots=5,
                              eligible=n, voted=n, member_eligible=n, member_voted=n)
        result.update(consequences=[], rules={"lose": .8, "star": .9, "red_flag": .95})
        poll.result = result
        t_text, _ = timed(lambda: render("poll_result", poll=poll, r=result, voters="党员和群众"))
        t_chart, png = timed(lambda: chart(poll))
    with transaction(engine) as session:
        t_close, _ = timed(lambda: close_poll(session, poll_id=poll_id, tz="Asia/Shanghai"))
        session.rollback()  # keep the poll open for the next repetition
    return {"count": t_count, "message": t_text, "chart": t_chart, "result": t_count + t_text + t_chart,
            "close_poll": t_close}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database")
    args = parser.parse_args()
    url = args.database or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    upgrade(url)
    engine = make_engine(url)
    print(f"database: {engine.dialect.name}; goal {GOAL} s for counting, message and chart")
    for ballots in args.ballots:
        poll_id = seed(engine, ballots)
        with transaction(engine) as session:
            session.execute(update(Poll).where(Poll.id == poll_id).values(status="open"))
        runs = [one_run(engine, poll_id) for _ in range(args.repeat + 1)][1:]  # first run warms caches
        medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"{ballots:>7} ballots: " + "  ".join(f"{k} {v:.3f}s" for k, v in medians.items())
              + f"  result/goal {medians['result'] / GOAL:.2f}")


if __name__ == "__main__":
    main()
