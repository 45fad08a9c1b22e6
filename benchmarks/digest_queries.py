"""Weekly digest for N people with 5 open tasks each: SQL statements issued and wall time.

The claim to check: the statement count does not grow with N (set-based queries, one bulk
insert), so 100,000 people cost the same handful of statements as 1,000. Run:

    .venv/bin/python benchmarks/digest_queries.py [--people 1000 10000 100000] [--repeat 3] [--database URL]

Prints, per N: median seconds, statements, and the ratio of statements and of time against the
smallest N. Uses a fresh SQLite file under a temporary directory unless --database is given.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import delete, event, insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_campaign import bench_campaign  # noqa: E402
from bot.campaigns import load_campaign_text, save_campaign  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.scheduler.digest import run_digest  # noqa: E402
from storage.db import make_engine, transaction  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Branch, JobRun, Nudge, Outbox, Person  # noqa: E402

CAMPAIGN = bench_campaign()
NOW = datetime(2026, 3, 9, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))  # after the default digest time, 09:07


def seed(engine, people: int) -> None:
    with transaction(engine) as session:
        save_campaign(session, load_campaign_text(CAMPAIGN), source_file="bench")
        session.execute(insert(Branch), [{"name": f"第{b}支部", "chat_members": [], "chat_revision": 0} for b in range(100)])
    with transaction(engine) as session:
        session.execute(insert(Person), [{"userid": f"u{n:06d}", "name": f"党员{n}", "branch_id": 1 + n % 100,
                                          "role": "member", "attributes": {}} for n in range(people)])


def reset_runs(engine) -> None:
    with transaction(engine) as session:
        for model in (JobRun, Nudge, Outbox):
            session.execute(delete(model))


def measure(url: str, people: int, repeat: int) -> tuple[float, int]:
    upgrade(url)
    engine = make_engine(url)
    seed(engine, people)
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(1))
    settings = Settings(database_url=url)
    times, counts = [], []
    for _ in range(repeat):
        reset_runs(engine)
        statements.clear()
        started = time.perf_counter()
        with transaction(engine) as session:
            sent = run_digest(session, settings, NOW)
        times.append(time.perf_counter() - started)
        counts.append(len(statements))
        assert sent == people, (sent, people)
    engine.dispose()
    return statistics.median(times), max(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = []
    for people in args.people:
        with tempfile.TemporaryDirectory() as tmp:
            seconds, statements = measure(f"sqlite:///{tmp}/bench.db", people, args.repeat)
        results.append((people, seconds, statements))
    base_people, base_seconds, base_statements = results[0]
    print(f"{'people':>8} {'median s':>9} {'statements':>10} {'stmt ratio':>10} {'time ratio':>10} {'µs/person':>9}")
    for people, seconds, statements in results:
        print(f"{people:>8} {seconds:>9.2f} {statements:>10} {statements / base_statements:>10.2f} "
              f"{seconds / base_seconds:>10.1f} {seconds / people * 1e6:>9.0f}")


if __name__ == "__main__":
    main()
