"""Reply latency of `xianfeng serve` (issue 16, point 8): from posting a callback to the platform
receiving the reply (the message/send call to that person).

    .venv/bin/python benchmarks/reply_latency.py [--db sqlite|postgresql] [--idle 200] \\
        [--rate 200] [--seconds 25] [--message-rate 20000]

All on this machine, traffic only to 127.0.0.1, every wait bounded:

1. The organisation of benchmarks/callback_load.py (1,000 registered people in five branches, the
   seed004 campaign in its 公开承诺 phase, a poll per branch) on a fresh SQLite file, or with
   --db postgresql on a fresh database `xf_bench_reply` on 127.0.0.1:5432 (user postgres).
2. The WeChat Work emulator (bot.wecom.emulator) on a port of this process, and `xianfeng serve` as a
   subprocess with its default processes (the web process, XIANFENG_HANDLER_PROCESSES handler
   processes, the sender-and-scheduler process), sending to the emulator.
3. Idle: --idle callbacks, one at a time, each from a random person, 50-300 ms apart, after 3 that
   are shown but not counted (a process's first handling imports and compiles): the latency of each
   is the time from just before its POST to the emulator's arrival stamp of the next message/send
   to that person.
4. Load: open loop at --rate callbacks a second for --seconds, round robin over the 1,000 people
   (at 200 a second each person writes every 5 s: 12 a minute, under the platform's 30 a minute per
   member, document 90312 / 90454), signed beforehand; each person's k-th callback of the run is
   paired with their k-th reply of the run. Every callback is `/帮助`, which has one reply.

Sending messages does not count towards the platform's 10,000 calls a minute per API
("发消息频率不计入基础频率", developer.work.weixin.qq.com/document/path/90454): the per-member limits
above and a per-app daily total bind it, and the emulator does not count it. The bot paces
message/send at XIANFENG_MESSAGE_RATE_PER_MINUTE less 1/60 (default 20,000 a minute, 328 a second);
--message-rate sets it (until 2026-12-02 it was held to the base 10,000, 164 a second, and at 200
callbacks a second the replies queued behind that pacing: p99 5.3 s).
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]

import aiohttp  # noqa: E402

from callback_load import (AES_KEY, AGENT_ID, CORP_ID, TOKEN, TZ, Emulator, all_cpu,  # noqa: E402
                           build_template, children, cpu_seconds, foreign_cpu, pg_drop, pg_recreate, postgres_cpu,
                           roster_rows, start_bot, wait_ready)

PG_URL = "postgresql://postgres@127.0.0.1:5432/xf_bench_reply"
TEXT = "/帮助"
GOALS = {"idle p50": 0.100, "idle p99": 0.250, "load p99": 1.0}  # seconds (issue 16)
REPLY_BOUND = 10.0  # seconds a reply may take before the idle run gives up on it
LOAD_DRAIN_BOUND = 120.0  # seconds after the load for its replies to arrive
WARM_UP = 3  # replies before the idle samples: a process's first handling imports and compiles templates


class Callbacks:
    """Callbacks from the roster's people, encrypted and signed as the platform does."""

    def __init__(self, url: str):
        from bot.wecom.emulator.callbacks import CallbackSigner

        self.url = url
        self._signer = CallbackSigner(token=TOKEN, aes_key=AES_KEY, corp_id=CORP_ID, agent_id=AGENT_ID)
        self._msg_ids = itertools.count(8_100_000_000_000_000_000)

    def signed(self, userid: str) -> tuple[dict[str, str], bytes]:
        from bot.wecom.emulator.callbacks import text_message

        xml = text_message(CORP_ID, AGENT_ID, userid, TEXT, msg_id=next(self._msg_ids))
        query, body = self._signer.sign(xml)
        return query, body.encode()

    async def post(self, http: aiohttp.ClientSession, signed: tuple[dict[str, str], bytes]) -> float:
        """time.time() just before the POST; raises unless answered 200."""
        query, body = signed
        sent = time.time()
        async with http.post(self.url, params=query, data=body) as resp:
            if resp.status != 200:
                raise SystemExit(f"callback answered {resp.status}: {await resp.text()}")
        return sent


def replies_since(emulator, start: int) -> list[tuple[str, float]]:
    """(touser, arrival time) of each message/send from the emulator's call `start` on."""
    calls = emulator.emulator.calls[start:]
    return [(call.body.get("touser", ""), call.at) for call in calls if call.api == "message/send"]


async def idle(callbacks: Callbacks, emulator, people: list[str], samples: int, rng: random.Random) -> list[float]:
    latencies = []
    async with aiohttp.ClientSession() as http:
        for _ in range(samples):
            await asyncio.sleep(rng.uniform(0.05, 0.3))
            person, mark = rng.choice(people), len(emulator.emulator.calls)
            sent = await callbacks.post(http, callbacks.signed(person))
            deadline = time.monotonic() + REPLY_BOUND
            while not (arrived := [at for to, at in replies_since(emulator, mark) if to == person]):
                if time.monotonic() > deadline:
                    raise SystemExit(f"no reply to {person} within {REPLY_BOUND} s")
                await asyncio.sleep(0.002)  # only when we notice: the latency is the emulator's own stamp
            latencies.append(arrived[0] - sent)
    return latencies


async def load(callbacks: Callbacks, emulator, people: list[str], rate: float, seconds: float, db_url: str) -> dict:
    count = int(rate * seconds)
    order = [people[n % len(people)] for n in range(count)]
    signed = [callbacks.signed(person) for person in order]  # before the clock starts: wechatpy is slow
    mark, sent_at = len(emulator.emulator.calls), defaultdict(list)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        start, posts = time.monotonic(), []
        for n, (person, payload) in enumerate(zip(order, signed)):
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
            posts.append((person, asyncio.create_task(callbacks.post(http, payload))))
        for person, post in posts:
            sent_at[person].append(await post)
        offered = count / (time.monotonic() - start)
    deadline = time.monotonic() + LOAD_DRAIN_BOUND
    while len(replies_since(emulator, mark)) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    got = defaultdict(list)
    for person, at in replies_since(emulator, mark):
        got[person].append(at)
    latencies = [at - sent for person, times in sent_at.items() for sent, at in zip(sorted(times), got[person])]
    queued = queued_at(db_url, min(min(times) for times in sent_at.values()))
    handled = [q - sent for person, times in sent_at.items() for sent, q in zip(sorted(times), queued[person])]
    left = [at - q for person, times in got.items() for q, at in zip(queued[person], times)]
    return {"latencies": latencies, "callbacks": count, "replies": sum(map(len, got.values())), "offered": offered,
            "handled": handled, "left": left}


def queued_at(db_url: str, since: float) -> dict[str, list[float]]:
    """userid -> when each reply row was queued (the handler's commit), in order."""
    from sqlalchemy import select

    from storage.db import make_engine
    from storage.models import Outbox

    engine, queued = make_engine(db_url), defaultdict(list)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Outbox.channel, Outbox.created_at)
                                .where(Outbox.created_at >= since, Outbox.channel.startswith("user:"))
                                .order_by(Outbox.id))
            for channel, created in rows:
                queued[channel.removeprefix("user:")].append(created)
    finally:
        engine.dispose()
    return queued


def profile(pids: list[int], directory: Path, db: str) -> list[subprocess.Popen]:
    """py-spy on each of serve's processes (running threads only: where the CPU goes) until told to stop."""
    directory.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    return [subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", "100", "--format", "raw",
                              "--output", str(directory / f"{db}-{name.replace(' ', '')}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for pid, name in zip(pids, process_names(len(pids)))]


def process_names(count: int) -> list[str]:
    return ["web", *[f"handler {n}" for n in range(count - 2)], "sender"]


def quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(ordered), "p50": statistics.median(ordered), "p90": at(0.90), "p99": at(0.99), "max": ordered[-1]}


def show(name: str, q: dict[str, float], goals: dict[str, float]) -> None:
    ms = lambda s: f"{s * 1000:,.0f} ms"  # noqa: E731
    vs = ", ".join(f"{k} / goal {q[k] / goal:.2f}" for k, goal in goals.items())
    print(f"{name}: n {q['n']}, p50 {ms(q['p50'])}, p90 {ms(q['p90'])}, p99 {ms(q['p99'])}, max {ms(q['max'])}"
          + (f" ({vs})" if vs else ""), flush=True)


async def run(args: argparse.Namespace, db_url: str, work: Path) -> None:
    people = [row["userid"] for row in roster_rows()]
    emulator = Emulator({})
    api_base = await emulator.start()
    os.environ["XIANFENG_MESSAGE_RATE_PER_MINUTE"] = str(args.message_rate)  # start_bot's environment copies ours
    server = start_bot(db_url, api_base, work, args.db)
    try:
        await wait_ready(server)
        await asyncio.sleep(args.settle)  # jieba loads at start-up; the branch chats' creation leaves
        callbacks, rng = Callbacks(server.url), random.Random(16)
        if args.idle:
            first = await idle(callbacks, emulator, people, WARM_UP, rng)
            print(f"first {WARM_UP} replies after start-up (not counted): "
                  + ", ".join(f"{s * 1000:,.0f} ms" for s in first), flush=True)
            latencies = await idle(callbacks, emulator, people, args.idle, rng)
            show(f"idle ({args.db})", quantiles(latencies), {"p50": GOALS["idle p50"], "p99": GOALS["idle p99"]})
            slow = [f"{n}: {s * 1000:,.0f}" for n, s in enumerate(latencies) if s > GOALS["idle p99"]]
            print(f"  over 250 ms: {len(slow)} (sample: ms) {', '.join(slow[:10])}", flush=True)
        if args.rate and args.seconds:
            await measure_load(args, server, callbacks, emulator, people, db_url)
    finally:
        server.stop()
        await emulator.stop()


async def measure_load(args: argparse.Namespace, server, callbacks: Callbacks, emulator, people: list[str],
                       db_url: str) -> None:
    """The open-loop run, the CPU each process took for it, and where its latency went."""
    pids = [server.proc.pid, *children(server.proc.pid)]  # web, handlers, sender
    before = [cpu_seconds([pid]) for pid in pids], time.process_time(), all_cpu(), postgres_cpu()
    spies = profile(pids, Path(args.profile), args.db) if args.profile else []
    result = await load(callbacks, emulator, people, args.rate, args.seconds, db_url)
    for spy in spies:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        spy.wait(timeout=60)
    after = [cpu_seconds([pid]) for pid in pids], time.process_time(), all_cpu(), postgres_cpu()
    per = lambda seconds: f"{seconds / result['callbacks'] * 1e6:,.0f} µs"  # noqa: E731
    print("  CPU per callback (load and its drain): " + ", ".join(
        f"{name} {per(b - a)}" for name, a, b in zip(process_names(len(pids)), before[0], after[0]))
        + f", PostgreSQL {per(sum(cpu - before[3].get(pid, 0.0) for pid, cpu in after[3].items()))}"
        + f", this process (client, emulator) {per(after[1] - before[1])}, others on the machine "
        f"{per(foreign_cpu(before[2], after[2], {*pids, os.getpid()}))}", flush=True)
    print(f"load ({args.db}): {result['callbacks']} callbacks at {result['offered']:.0f}/s offered, "
          f"{result['replies']} replies, message rate {args.message_rate:,}/min", flush=True)
    show(f"load ({args.db}) {args.rate:g}/s", quantiles(result["latencies"]), {"p99": GOALS["load p99"]})
    show("  of which callback -> reply queued", quantiles(result["handled"]), {})
    show("  and reply queued -> platform", quantiles(result["left"]), {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--idle", type=int, default=200, help="idle samples (0: none)")
    parser.add_argument("--rate", type=float, default=200.0, help="load: callbacks a second (0: no load run)")
    parser.add_argument("--seconds", type=float, default=25.0, help="load: seconds of sending")
    parser.add_argument("--message-rate", type=int, default=20_000, help="XIANFENG_MESSAGE_RATE_PER_MINUTE for the bot")
    parser.add_argument("--profile", help="directory: py-spy profiles of serve's processes during the load")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds between ready and the first callback")
    args = parser.parse_args()
    today = datetime.now(ZoneInfo(TZ)).date()
    with tempfile.TemporaryDirectory(prefix="xf_reply_latency_") as tmp:
        work = Path(tmp)
        db_url = f"sqlite:///{work / 'reply.db'}" if args.db == "sqlite" else PG_URL
        if args.db == "postgresql":
            pg_recreate(PG_URL, PG_URL.rsplit("/", 1)[1])
        try:
            started = time.monotonic()
            build_template(db_url, work, today)
            print(f"organisation built in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
            asyncio.run(asyncio.wait_for(run(args, db_url, work), timeout=args.idle * (REPLY_BOUND + 0.3)
                                         + args.seconds + LOAD_DRAIN_BOUND + 120))
        finally:
            if args.db == "postgresql":
                pg_drop(PG_URL, PG_URL.rsplit("/", 1)[1])


if __name__ == "__main__":
    main()
