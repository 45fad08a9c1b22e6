"""The console's heaviest pages with N people: the committee's overview (every branch, every task) and one
branch's page, built from the database and rendered to HTML, as a request does it. Run:

    .venv/bin/python benchmarks/console_pages.py [--people 1000 10000 100000] [--branches 100] [--repeat 5]
                                                 [--database URL]

Prints, per N: the median seconds and the SQL statements of each page. The claim to check: pages stay
fast because their counts are grouped in the database (storage/progress.py) and lists come a page at a
time, so statements do not grow with N and time grows far slower than the head count. Seeds like
digest_queries.py: a campaign of five member tasks, one branch task and one for 有职党员 (a tenth of the
people: their 有职 is read from each row's JSON), one secretary per branch, and task_done rows for half
of the people (the first task) and a quarter (the second). A fresh SQLite file
under a temporary directory unless --database is given (an empty PostgreSQL database, say).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import event, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_campaign import bench_campaign  # noqa: E402
from bot.campaigns import load_campaign_text, save_campaign  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.console import views  # noqa: E402
from bot.console.routes import Console  # noqa: E402
from storage.db import make_engine, reading, transaction  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Branch, CampaignTask, Person, TaskDone  # noqa: E402

CAMPAIGN = bench_campaign("      - {id: b0, title: 支部方案, kind: document, audience: branches, due: 2026-04-12}\n"
                          "      - {id: p0, title: 岗位承诺, kind: pledge, audience: post_holders, due: 2026-04-16}\n")
TODAY = date(2026, 4, 20)  # after the first due dates: some of it overdue
COMMITTEE = views.Viewer(userid="boss", name="党委", role="committee", branch_id=None, branch="")


def seed(engine, people: int, branches: int) -> None:
    with transaction(engine) as session:
        save_campaign(session, load_campaign_text(CAMPAIGN), source_file="bench")
        session.execute(insert(Branch), [{"name": f"第{b}支部", "chat_members": [], "chat_revision": 0}
                                         for b in range(branches)])
    rows = [{"userid": f"u{n:06d}", "name": f"党员{n}", "branch_id": 1 + n % branches,
             "role": "secretary" if n < branches else "member", "attributes": {"有职": "是"} if n % 10 == 0 else {}}
            for n in range(people)]
    with transaction(engine) as session:
        session.execute(insert(Person), rows)
        tasks = {t.key: t.id for t in session.scalars(select(CampaignTask))}
        done = [{"task_id": tasks["t0"], "subject": r["userid"]} for r in rows[::2]] + \
               [{"task_id": tasks["t1"], "subject": r["userid"]} for r in rows[::4]] + \
               [{"task_id": tasks["b0"], "subject": f"branch:{b}"} for b in range(1, branches + 1, 2)]
        session.execute(insert(TaskDone), done)


def timed(console: Console, build, repeat: int) -> tuple[float, int, int]:
    """(median seconds, statements, bytes of HTML) of building the page and rendering it."""
    statements: list[int] = []
    listener = lambda *args: statements.append(1)  # noqa: E731
    event.listen(console.engine, "before_cursor_execute", listener)
    times, counts, size = [], [], 0
    for _ in range(repeat + 1):  # the first run fills the campaign snapshot, as a running bot has
        statements.clear()
        started = time.perf_counter()
        with reading(console.engine) as session:
            page = build(session)
        html = console.html(page, SimpleNamespace(path="/console/"), COMMITTEE).text
        times.append(time.perf_counter() - started)
        counts.append(len(statements))
        size = len(html.encode())
    event.remove(console.engine, "before_cursor_execute", listener)
    return statistics.median(times[1:]), max(counts[1:]), size


def measure(url: str, people: int, branches: int, repeat: int) -> dict[str, tuple[float, int, int]]:
    upgrade(url)
    engine = make_engine(url)
    seed(engine, people, branches)
    console = Console(Settings(database_url=url), engine)
    console.today = lambda: TODAY
    found = {
        "overview": timed(console, lambda s: views.overview(s, COMMITTEE, TODAY, {}), repeat),
        "branch": timed(console, lambda s: views.branch_page(s, COMMITTEE, TODAY, 1, {}), repeat),
        "branch, last page": timed(console, lambda s: views.branch_page(s, COMMITTEE, TODAY, 1, {"page": "34"}),
                                   repeat),
    }
    engine.dispose()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--branches", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database", help="an empty database to use (default: a temporary SQLite file)")
    args = parser.parse_args()
    print(f"{'people':>8} {'page':<18} {'median s':>9} {'statements':>10} {'HTML KB':>8}")
    for people in args.people:
        with tempfile.TemporaryDirectory() as tmp:
            results = measure(args.database or f"sqlite:///{tmp}/bench.db", people, args.branches, args.repeat)
        for name, (seconds, statements, size) in results.items():
            print(f"{people:>8} {name:<18} {seconds:>9.3f} {statements:>10} {size / 1024:>8.1f}")
        if args.database:
            break  # a given database is seeded once


if __name__ == "__main__":
    main()
