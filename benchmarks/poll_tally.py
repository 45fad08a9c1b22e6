"""Poll result for N ballots: opening the sealed ballots and counting them, the result message and
the chart, against issue 6's goal of 0.5 s for 100,000 ballots; and what sealing costs (issue 18):
sealing one ballot and one callback, the whole closing transaction (which also deletes the ballots),
and the erasing after it: destroying the poll's key, a new inbox key, and the scrub (SQLite: the
-wal checkpointed and truncated; PostgreSQL: VACUUM of ballot, poll_comment and inbound_update). Run:

    .venv/bin/python benchmarks/poll_tally.py [--ballots 1000 100000] [--repeat 5] [--database URL]

Prints per N the medians; a fresh SQLite file under a temporary directory unless --database is given.
"""
from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import delete, insert, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.polls import rules as polls  # noqa: E402
from bot.polls.close import chart, close_poll  # noqa: E402
from bot.texts import render  # noqa: E402
from storage import inbox  # noqa: E402
from storage import polls as store  # noqa: E402
from storage.bot_state import installation_id  # noqa: E402
from storage.db import _AFTER_COMMIT as AFTER_COMMIT, make_engine, scrub, transaction  # noqa: E402
from storage.polls import SCRUBBED  # noqa: E402
from storage.sealing import BALLOT_SIZE, CALLBACK_SIZE, configure, keystore  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Ballot, Branch, Outbox, Poll  # noqa: E402

GOAL = 0.5
OPTIONS, SATISFIED = ["满意", "基本满意", "不满意"], ["满意", "基本满意"]


CALLBACK = ("<xml><ToUserName><![CDATA[ww0123456789abcdef]]></ToUserName><FromUserName><![CDATA[voter007]]>"
            "</FromUserName><CreateTime>1796283871</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>"
            "<![CDATA[2 希望多组织教研活动]]></Content><MsgId>7000000000000000001</MsgId><AgentID>1000002</AgentID>"
            "</xml>")


def seed(engine, ballots: int) -> tuple[int, float]:
    """A poll with its key and N sealed ballots; the median seconds to seal one ballot."""
    with transaction(engine) as session:
        session.execute(delete(Ballot))
        session.execute(delete(Outbox))
        branch = session.merge(Branch(id=1, name="第一党支部", chat_id="wrbench", chat_members=[]))
        poll = store.create(session, voters=[], poll=Poll(
            branch_id=branch.id, issuer="sec", rates="branch", subject="第一党支部", scale="满意度",
            options=OPTIONS, satisfied=SATISFIED, voters="both", deadline=time.time()))
        keys, rng, rows, seal_times = keystore(), random.Random(1), [], []
        for _ in range(ballots):
            choice = json.dumps({"choice": rng.choice(OPTIONS * 3 + ["满意"] * 4), "group": None}, ensure_ascii=False)
            start = time.perf_counter()
            sealed = keys.seal(poll.seal_key, choice.encode(), BALLOT_SIZE)
            seal_times.append(time.perf_counter() - start)
            rows.append({"id": secrets.token_hex(16), "poll_id": poll.id, "sealed": sealed})
        for start in range(0, ballots, 10_000):
            session.execute(insert(Ballot), rows[start:start + 10_000])
        return poll.id, statistics.median(seal_times)


def callback_costs(repeat: int = 2000) -> tuple[float, float]:
    """Median seconds to seal and to open one callback's XML (what recording and handling add)."""
    keys = keystore()
    name = keys.new_key("inbox", "000000000000")
    seal, open_ = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        token = keys.seal(name, CALLBACK.encode(), CALLBACK_SIZE)
        seal.append(time.perf_counter() - start)
        start = time.perf_counter()
        keys.open(token)
        open_.append(time.perf_counter() - start)
    keys.destroy(name)
    return statistics.median(seal), statistics.median(open_)


def timed(work) -> tuple[float, object]:
    start = time.perf_counter()
    value = work()
    return time.perf_counter() - start, value


def one_run(engine, poll_id: int) -> dict[str, float]:
    with transaction(engine) as session:
        poll = session.get(Poll, poll_id)
        t_count, counted = timed(lambda: store.open_ballots(session, poll=poll).counts())
        n = sum(counted.values())
        result = polls.result(counts={o: counted.get(o, 0) for o in OPTIONS}, satisfied=SATISFIED, min_ballots=5,
                              eligible=n, voted=n, member_eligible=n, member_voted=n)
        result.update(consequences=[], rules={"lose": .8, "star": .9, "red_flag": .95}, defaults=[], formula="")
        poll.result = result
        t_text, _ = timed(lambda: render("poll_result", poll=poll, r=result, voters="党员和群众"))
        t_chart, png = timed(lambda: chart(poll))
    with transaction(engine) as session:
        t_close, _ = timed(lambda: close_poll(session, poll_id=poll_id, tz="Asia/Shanghai"))
        session.info.clear()  # not erased: the poll stays open for the next repetition
        session.rollback()
    keys = keystore()
    with transaction(engine) as session:
        spare = keys.new_key("poll", installation_id(session))
    t_destroy, _ = timed(lambda: keys.destroy(spare))
    t_rotate, _ = timed(lambda: inbox.rotate_key(engine))
    t_scrub, _ = timed(lambda: scrub(engine, SCRUBBED))
    return {"open+count": t_count, "message": t_text, "chart": t_chart, "result": t_count + t_text + t_chart,
            "close_poll": t_close, "destroy key": t_destroy, "new inbox key": t_rotate, "scrub": t_scrub}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database")
    args = parser.parse_args()
    url = args.database or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    configure(tempfile.mkdtemp(prefix="bench-keys-"), "a benchmark's master key, 32 characters or more")
    upgrade(url)
    engine = make_engine(url)
    print(f"database: {engine.dialect.name}; goal {GOAL} s for counting, message and chart")
    seal_callback, open_callback = callback_costs()
    print(f"one callback (XML of {len(CALLBACK.encode())} bytes): seal {seal_callback * 1e6:.1f} µs, "
          f"open {open_callback * 1e6:.1f} µs")
    for ballots in args.ballots:
        poll_id, seal_ballot = seed(engine, ballots)
        print(f"{ballots:>7} ballots: sealing one ballot {seal_ballot * 1e6:.1f} µs")
        with transaction(engine) as session:
            session.execute(update(Poll).where(Poll.id == poll_id).values(status="open"))
        runs = [one_run(engine, poll_id) for _ in range(args.repeat + 1)][1:]  # first run warms caches
        medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"{ballots:>7} ballots: " + "  ".join(f"{k} {v:.3f}s" for k, v in medians.items())
              + f"  result/goal {medians['result'] / GOAL:.2f}")
        print(f"{ballots:>7} ballots: closed for real, the erasing after the commit (the ballots deleted): "
              f"{erase_after_a_real_close(engine, poll_id):.3f}s")


def erase_after_a_real_close(engine, poll_id: int) -> float:
    """Once: close and commit, then time what runs after the commit (key, inbox key, scrub)."""
    with transaction(engine) as session:
        close_poll(session, poll_id=poll_id, tz="Asia/Shanghai")
        after = session.info.pop(AFTER_COMMIT)
    start = time.perf_counter()
    for action in after:
        action()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
