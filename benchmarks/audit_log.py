"""The audit log (storage/audit.py, issue 20): the cost of one append in its own transaction (what a
logged change pays: the head locked, one entry, the head updated), `audit verify` over N entries (it
reads them all, a thousand at a time, and appends wait meanwhile), and one console page of 50. Run:

    .venv/bin/python benchmarks/audit_log.py [--entries 100000] [--database URL]

A fresh SQLite file under a temporary directory unless --database is given (an empty, migrated one).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage import audit  # noqa: E402
from storage.db import make_engine, reading, transaction  # noqa: E402
from storage.migrate import upgrade  # noqa: E402

DETAILS = {"branch": "第一党支部", "round": 3, "level": "较强", "score": 84.17, "stars": ["班子建设"], "red_flag": False}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--database")
    args = parser.parse_args()
    url = args.database or f"sqlite:///{tempfile.mkdtemp()}/audit.db"
    upgrade(url)
    engine = make_engine(url)
    for start in range(0, args.entries, 1000):  # the log, a thousand entries a transaction
        with transaction(engine) as session:
            for n in range(start, min(start + 1000, args.entries)):
                audit.append(session, actor="sun", action="rating.confirmed", subject=f"rating:{n}", details=DETAILS)
    appends = []
    for _ in range(200):
        began = time.perf_counter()
        with transaction(engine) as session:
            audit.append(session, actor="sun", action="task.marked", subject="task:1", details={"reason": "线下已完成"})
        appends.append(time.perf_counter() - began)
    began = time.perf_counter()
    with reading(engine) as session:
        report = audit.verify(session)
    verified = time.perf_counter() - began
    assert not report.problems, report.problems
    began = time.perf_counter()
    with reading(engine) as session:
        audit.entries(session, limit=50, before=report.count // 2)
    page = time.perf_counter() - began
    print(f"{engine.dialect.name}: a transaction that only appends one entry, "
          f"median {statistics.median(appends) * 1000:.2f} ms; "
          f"verify {report.count:,} entries {verified:.2f} s; a page of 50 {page * 1000:.1f} ms")


if __name__ == "__main__":
    main()
