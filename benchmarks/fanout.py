"""Fan-out against WeChat Work's limits: the real sender and outbox on SQLite, the emulator as the platform.

The claims to check (issue 7):
  (a) personalised digests to N people leave at >= 0.9 of the per-API quota, never above it (no 45009),
      and none is dropped by the 30-a-minute per-person limit;
  (b) one identical notice to N people takes N / 1000 message/send calls (touser batches);
  (c) replies to members who write while the digests leave (one every --reply-every seconds, to the
      people whose digests are queued last, until a quarter of the digest is left) wait seconds, not
      the digest's minutes (reply wait = the row's sent mark - its creation); --replies-as-bulk
      queues them as before issue 7's fifth session, in id order behind the digest.

The emulator runs in a process of its own, as the platform would, with its message/send quota scaled:
its "minute" lasts --minute seconds (20: three times faster than real) and holds --quota calls (5,000,
i.e. 250 calls a second), so 10,000 digests span two minutes of the quota and still take under a
minute. The sender is configured with the same quota and minute. A shorter minute also shrinks the
limiter's allowance for calls arriving late or early (1/60 of the minute, less the catch-up), below
the pauses of the two Python processes sharing this machine's two cores (gen-2 garbage collection
takes about 0.1 s): see docs/performance.md. Rate = calls between the first and the last arrival,
per emulated minute; "busiest" = the most calls in any sliding minute, as the emulator counts them.
Run:

    .venv/bin/python benchmarks/fanout.py [--people 10000] [--repeat 3] [--quota 5000] [--minute 20]
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.wecom import messages  # noqa: E402
from bot.wecom.api import WeComClient  # noqa: E402
from bot.wecom.emulator import WeComEmulator  # noqa: E402
from bot.wecom.sender import Sender  # noqa: E402
from storage.db import make_engine, transaction  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Outbox, OutboxStatus  # noqa: E402

CORP_ID, SECRET, AGENT_ID = "wwbenchcorp", "bench-secret", 1000002


# -- the platform, in its own process ---------------------------------------------------------------

def platform(conn, quota: int, minute: float) -> None:
    """Serve the emulator until told to stop; answer "stats" with what it saw."""
    asyncio.run(_platform(conn, quota, minute))


async def _platform(conn, quota: int, minute: float) -> None:
    emulator = WeComEmulator(corp_id=CORP_ID, secret=SECRET, agent_id=AGENT_ID,
                             api_per_minute={"message/send": quota}, api_minute=minute)
    runner = web.AppRunner(emulator.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    conn.send(site._server.sockets[0].getsockname()[1])
    while await asyncio.to_thread(conn.recv) != "stop":
        conn.send(_stats(emulator))
    await runner.cleanup()


def _stats(emulator: WeComEmulator) -> dict:
    received = Counter(sum(1 for e in entries if e.sender == "app") for entries in emulator.inbox.values())
    return {"times": emulator.times("message/send"), "limited": dict(emulator.limited),
            "busiest": emulator.busiest("message/send", emulator.quota.minute),
            "dropped": sum(emulator.dropped.values()), "received": dict(received)}


# -- one run ------------------------------------------------------------------------------------------

def rows_with(engine, status: OutboxStatus) -> int:
    with transaction(engine) as session:
        return session.scalar(select(func.count()).where(Outbox.status == status))


async def until_sent(engine) -> float:
    started = time.perf_counter()
    while await asyncio.to_thread(rows_with, engine, OutboxStatus.pending):
        await asyncio.sleep(0.25)
    return time.perf_counter() - started


def queue_digests(engine, people: list[str]) -> None:
    items = [(f"digest:{p}", p, f"{p} 同志：本周您还有 {1 + n % 5} 项待办，请在周五前完成。") for n, p in enumerate(people)]
    with transaction(engine) as session:
        messages.to_each(session, items)


def queue_notice(engine, people: list[str]) -> None:
    with transaction(engine) as session:
        messages.to_people(session, key="notice", userids=people, text="关于开展创先争优活动的通知：请各支部按方案推进。")


def queue_reply(engine, userid: str, n: int, as_bulk: bool) -> None:
    with transaction(engine) as session:
        messages.to_person(session, key=f"reply:{n}", userid=userid, text="收到，你的承诺已记录。", reply=not as_bulk)


async def answer_during_digest(engine, people: list[str], every: float, as_bulk: bool) -> int:
    """Members write while the digest leaves: a reply every `every` seconds until a quarter of it is left
    (so that the digest's own calls, not a last reply, end the span its rate is measured over)."""
    n = 0
    while await asyncio.to_thread(rows_with, engine, OutboxStatus.pending) > len(people) / 4:
        await asyncio.sleep(every)
        await asyncio.to_thread(queue_reply, engine, people[-1 - n], n, as_bulk)
        n += 1
    return n


def reply_waits(engine) -> list[float]:
    with transaction(engine) as session:
        stmt = select(Outbox.sent_at - Outbox.created_at).where(Outbox.idem_key.like("reply:%"))
        return sorted(session.scalars(stmt))


async def one_run(url: str, people: list[str], quota: int, minute: float, reply_every: float = 2.0,
                  replies_as_bulk: bool = False) -> dict:
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.get_context("spawn").Process(target=platform, args=(child, quota, minute), daemon=True)
    proc.start()
    port = parent.recv()
    engine = make_engine(url)
    settings = Settings(corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET, database_url=url,
                        api_base=f"http://127.0.0.1:{port}/cgi-bin", api_rate_per_minute=quota,
                        message_rate_per_minute=quota, api_minute=minute)
    try:
        async with aiohttp.ClientSession() as http:
            sender = Sender(settings=settings, engine=engine, client=WeComClient(settings, engine, http))
            await asyncio.to_thread(queue_digests, engine, people)
            task = asyncio.create_task(sender.run())
            replying = asyncio.create_task(answer_during_digest(engine, people, reply_every, replies_as_bulk))
            digest_seconds = await until_sent(engine)
            replies = await replying
            digest_seconds += await until_sent(engine)  # a reply queued at the very end
            parent.send("stats")
            digests = parent.recv()
            await asyncio.to_thread(queue_notice, engine, people)
            notice_seconds = await until_sent(engine)
            parent.send("stats")
            after = parent.recv()
            task.cancel()
        return {**_result(digests, after, digest_seconds, notice_seconds, rows_with(engine, OutboxStatus.dead),
                          quota, minute, replies), **_waits(reply_waits(engine))}
    finally:
        engine.dispose()
        parent.send("stop")
        proc.join(10)


def _waits(waits: list[float]) -> dict:
    return {"reply_p50": statistics.median(waits), "reply_max": waits[-1]} if waits else {}


def _result(digests: dict, after: dict, digest_seconds: float, notice_seconds: float, dead_rows: int,
            quota: int, minute: float, replies: int) -> dict:
    times = digests["times"]
    rate = (len(times) - 1) / (times[-1] - times[0]) * minute  # calls per emulated minute (replies too)
    return {"calls": len(times), "replies": replies, "seconds": digest_seconds, "rate": rate, "fraction": rate / quota,
            "busiest": digests["busiest"], "limited": sum(after["limited"].values()),
            "dropped": after["dropped"], "dead": dead_rows, "notice_calls": len(after["times"]) - len(times),
            "notice_seconds": notice_seconds, "received": after["received"]}


def fresh_database(template: Path, run: int) -> str:
    path = template.with_name(f"run{run}.db")
    shutil.copy(template, path)
    return f"sqlite:///{path}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quota", type=int, default=5000, help="message/send calls per emulated minute")
    parser.add_argument("--minute", type=float, default=20.0, help="seconds in the emulated minute")
    parser.add_argument("--reply-every", type=float, default=2.0, help="seconds between replies during the digest")
    parser.add_argument("--replies-as-bulk", action="store_true", help="queue them behind the digest, as before")
    args = parser.parse_args()
    people = [f"u{n:06d}" for n in range(args.people)]
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.db"
        upgrade(f"sqlite:///{template}")
        results = []
        for run in range(args.repeat):
            result = asyncio.run(one_run(fresh_database(template, run), people, args.quota, args.minute,
                                         args.reply_every, args.replies_as_bulk))
            results.append(result)
            print(f"run {run + 1}: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                                 for k, v in result.items()), flush=True)
    report(results, args)


def report(results: list[dict], args) -> None:
    med = {k: statistics.median(r[k] for r in results) for k in results[0] if k != "received"}
    print(f"\n{args.people:,} people, message/send quota {args.quota:,} per {args.minute:g}-second minute, "
          f"median of {len(results)} runs")
    print("| digests + replies | wall s | calls / minute | of quota | busiest minute | 45009 | dropped | dead "
          "| notice calls | calls / 1,000 people | reply wait p50 / max s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {med['calls'] - med['replies']:,.0f} + {med['replies']:.0f} | {med['seconds']:.1f} | {med['rate']:,.0f} "
          f"| {med['fraction']:.3f} | {med['busiest']:,.0f} / {args.quota:,} | {med['limited']:.0f} "
          f"| {med['dropped']:.0f} | {med['dead']:.0f} | {med['notice_calls']:.0f} "
          f"| {med['notice_calls'] / args.people * 1000:.2f} | {med['reply_p50']:.2f} / {med['reply_max']:.2f} |")
    print("fractions of the quota per run:", ", ".join(f"{r['fraction']:.3f}" for r in results))
    print("messages per person after both:", results[-1]["received"])


if __name__ == "__main__":
    main()
