"""Load generator for benchmarks/callback_load.py: encrypted WeChat Work callbacks over loopback.

A separate process (the driver starts it), so its CPU is not the server's. Two sub-commands:

    load_generator.py prepare --plan plan.json --out payloads.pickle
        Encrypts every plaintext callback of the plan once, with wechatpy's enterprise WeChatCrypto
        as the emulator's CallbackSigner does (the same ciphertexts then go to every server).

    load_generator.py run --payloads payloads.pickle --url http://127.0.0.1:PORT/wecom/callback [--url …]
                          (--connections 64 --duration 20 | --rate 500 --duration 15) [--warmup 2]
        Signs every payload afresh (timestamp = now, a random nonce, SHA1 as WeChat Work signs:
        bot.wecom.crypto.signature) so it is inside the bot's ±300 s window, then
        posts them: closed loop with N connections for T seconds (max throughput), or open loop at
        a fixed arrival rate for T seconds (latency measured from each request's scheduled time,
        so a slow server cannot hide its queueing). Prints one JSON line with the results.

Order: a person's messages are never in flight at the same time, and a form is answered message
by message (the next answer only after the previous one was acknowledged). Each request's kind
follows the repeating pattern F H F V H (40 % form answers, 40 % /帮助, 20 % card votes):
F continues a form someone is filling, or starts one (/承诺) for a member not in a form; H and V
go to people not in a form. A person's first card tap is their vote; later taps are answered
"already voted". Masses have no pledge form, so their requests are H and V only.
Everything is bounded: T seconds of sending, then at most --drain seconds for answers in flight
(client timeout 10 s; WeChat Work itself gives up on a callback after 5 s).
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import pickle
import random
import resource
import secrets
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from itertools import cycle
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the bot's signing code, from this checkout

PATTERN = "FHFVH"
KINDS = {"F": "form", "H": "help", "V": "vote"}
CLIENT_TIMEOUT = 10.0


# -- prepare -------------------------------------------------------------------------------------
def prepare(plan_path: Path, out: Path) -> None:
    from bot.wecom.emulator.callbacks import CallbackSigner

    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    signer = CallbackSigner(token=plan["token"], aes_key=plan["aes_key"], corp_id=plan["corp_id"],
                            agent_id=plan["agent_id"])

    def body(xml: str) -> tuple[str, bytes]:
        _query, encrypted = signer.encrypt(xml)  # signed again for each run, with that run's time
        return encrypted, signer.envelope(encrypted).encode()

    people = []
    for person in plan["people"]:
        people.append({"userid": person["userid"], "role": person["role"],
                       "help": [body(x) for x in person["help"]],
                       "votes": [body(x) for x in person["votes"]],
                       "forms": [[body(x) for x in conversation] for conversation in person["forms"]]})
    out.write_bytes(pickle.dumps({"token": plan["token"], "people": people}, protocol=pickle.HIGHEST_PROTOCOL))
    total = sum(len(p["help"]) + len(p["votes"]) + sum(map(len, p["forms"])) for p in people)
    print(json.dumps({"prepared": total, "people": len(people)}))


# -- run -----------------------------------------------------------------------------------------
@dataclass
class Person:
    userid: str
    help: deque
    votes: deque
    forms: deque  # of deques: conversations not yet finished
    in_form: bool = False


@dataclass
class Stats:
    warm_until: float
    latencies: list[float] = field(default_factory=list)  # seconds, measured requests only
    by_kind: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS.values()})
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    sent: int = 0
    measured: int = 0
    fallbacks: int = 0  # a kind had nobody ready; another kind was sent
    unserved: int = 0  # open loop: nobody ready at all at an arrival
    max_lag: float = 0.0  # open loop: how late the generator itself started a request


class Crowd:
    """Who may be sent what next; a person is in at most one request at a time."""

    def __init__(self, data: dict, urls: list[str], rng: random.Random):
        import yarl

        from bot.wecom.crypto import signature

        token, bases = data["token"], [yarl.URL(url) for url in urls]
        ts = str(int(time.time()))

        def signed(base: yarl.URL, item: tuple[str, bytes]) -> tuple[yarl.URL, bytes]:
            encrypted, body = item
            nonce = secrets.token_hex(5)
            sig = signature(token, ts, nonce, encrypted)
            return base.with_query(msg_signature=sig, timestamp=ts, nonce=nonce), body

        self.members: deque[Person] = deque()  # idle, may start a form
        self.others: deque[Person] = deque()  # idle, no form to start (masses, or all forms done)
        self.filling: deque[Person] = deque()  # in a form, waiting for their next answer to be sent
        self.rng = rng
        for n, p in enumerate(data["people"]):  # several servers: each person sticks to one, as behind a proxy
            sign = lambda item, base=bases[n % len(bases)]: signed(base, item)  # noqa: E731
            person = Person(p["userid"], deque(map(sign, p["help"])), deque(map(sign, p["votes"])),
                            deque(deque(map(sign, c)) for c in p["forms"] if c))
            (self.members if person.forms else self.others).append(person)
        rng.shuffle(self.members)
        rng.shuffle(self.others)

    def _idle(self, want) -> Person | None:
        """An idle person (members and others in proportion) who still has `want` to send."""
        pools = [q for q in (self.members, self.others) if q]
        if not pools:
            return None
        total = sum(map(len, pools))
        first = pools[0] if self.rng.random() * total < len(pools[0]) else pools[-1]
        for pool in (first, *[q for q in pools if q is not first]):
            for _ in range(min(len(pool), 50)):
                person = pool.popleft()
                if want(person):
                    return person
                pool.append(person)
        return None

    def take(self, kind: str):
        """(person, kind actually sent, (url, body)) or None when nobody can send anything."""
        order = {"F": "FHV", "H": "HVF", "V": "VHF"}[kind]
        for k in order:
            if k == "F":
                person = self.filling.popleft() if self.filling else None
                if person is None and self.members:
                    person = self.members.popleft()
                    person.in_form = True
                if person is not None:
                    return person, "F", person.forms[0].popleft()
            else:
                queue = "help" if k == "H" else "votes"
                person = self._idle(lambda p, q=queue: bool(getattr(p, q)))
                if person is not None:
                    return person, k, getattr(person, queue).popleft()
        return None

    def give_back(self, person: Person, kind: str) -> None:
        if kind == "F":
            if person.forms[0]:
                self.filling.append(person)
                return
            person.forms.popleft()
            person.in_form = False
        (self.members if person.forms else self.others).append(person)


async def _post(http, url, body: bytes, stats: Stats, kind: str, started: float) -> None:
    try:
        async with http.post(url, data=body, headers={"Content-Type": "text/xml"}) as resp:
            await resp.read()
            status = resp.status
    except asyncio.TimeoutError:
        status = "timeout"
    except Exception as exc:  # noqa: BLE001 - counted, never fatal: the run goes on
        status = type(exc).__name__
    done = time.perf_counter()
    stats.sent += 1
    if status == 200:
        stats.statuses[200] += 1
    else:
        stats.errors[str(status)] += 1
    if started >= stats.warm_until:
        stats.measured += 1
        stats.latencies.append(done - started)
        stats.by_kind[KINDS[kind]].append(done - started)


async def closed_loop(crowd: Crowd, connections: int, duration: float, warmup: float) -> tuple[Stats, float]:
    import aiohttp

    start = time.perf_counter()
    stats, end = Stats(warm_until=start + warmup), start + warmup + duration
    kinds = cycle(PATTERN)
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        async def worker() -> None:
            while time.perf_counter() < end:
                wanted = next(kinds)
                taken = crowd.take(wanted)
                if taken is None:
                    stats.errors["exhausted"] += 1
                    return
                person, kind, (target, body) = taken
                stats.fallbacks += kind != wanted
                await _post(http, target, body, stats, kind, time.perf_counter())
                crowd.give_back(person, kind)
        await asyncio.gather(*(worker() for _ in range(connections)))
    return stats, min(time.perf_counter(), end + CLIENT_TIMEOUT) - (start + warmup)


async def open_loop(crowd: Crowd, rate: float, duration: float, warmup: float, drain: float) -> tuple[Stats, float]:
    import aiohttp

    start = time.perf_counter() + 0.05
    stats = Stats(warm_until=start + warmup)
    total = int(rate * (warmup + duration))
    kinds, pending = cycle(PATTERN), set()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)

    async def one(person, kind, target, body, scheduled) -> None:
        await _post(http, target, body, stats, kind, scheduled)
        crowd.give_back(person, kind)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        for i in range(total):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                stats.max_lag = max(stats.max_lag, -delay)
            wanted = next(kinds)
            taken = crowd.take(wanted)
            if taken is None:
                stats.unserved += 1
                continue
            person, kind, (target, body) = taken
            stats.fallbacks += kind != wanted
            task = asyncio.create_task(one(person, kind, target, body, scheduled))
            pending.add(task)
            task.add_done_callback(pending.discard)
        sent_until = time.perf_counter()
        if pending:
            await asyncio.wait(list(pending), timeout=drain)
        for task in list(pending):
            task.cancel()
            stats.errors["not answered before drain"] += 1
    return stats, sent_until - (start + warmup)


def _quantile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def summary(stats: Stats, elapsed: float) -> dict:
    values = sorted(stats.latencies)
    ms = lambda v: None if v is None else round(v * 1000, 2)  # noqa: E731
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "requests": stats.measured, "sent_total": stats.sent, "seconds": round(elapsed, 3),
        "rps": round(stats.measured / elapsed, 1) if elapsed > 0 else None,
        "ok": stats.statuses[200], "errors": dict(stats.errors),
        "p50_ms": ms(_quantile(values, .5)), "p90_ms": ms(_quantile(values, .9)), "p99_ms": ms(_quantile(values, .99)),
        "max_ms": ms(values[-1] if values else None),
        "over_1s": sum(v >= 1 for v in values), "over_5s": sum(v >= 5 for v in values),
        "by_kind": {k: {"n": len(v), "p50_ms": ms(_quantile(sorted(v), .5)), "p99_ms": ms(_quantile(sorted(v), .99))}
                    for k, v in stats.by_kind.items()},
        "fallbacks": stats.fallbacks, "unserved": stats.unserved, "max_lag_ms": ms(stats.max_lag),
        "client_cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
    }


def run(args: argparse.Namespace) -> None:
    data = pickle.loads(Path(args.payloads).read_bytes())
    crowd = Crowd(data, args.url, random.Random(args.seed))
    del data
    gc.collect()
    gc.freeze()  # the payloads live for the whole run; keep the collector off them
    if args.rate:
        stats, elapsed = asyncio.run(open_loop(crowd, args.rate, args.duration, args.warmup, args.drain))
    else:
        stats, elapsed = asyncio.run(closed_loop(crowd, args.connections, args.duration, args.warmup))
    result = summary(stats, elapsed)
    result.update(mode="rate" if args.rate else "throughput", target_rate=args.rate, connections=args.connections)
    print(json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare")
    p.add_argument("--plan", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    r = commands.add_parser("run")
    r.add_argument("--payloads", type=Path, required=True)
    r.add_argument("--url", required=True, action="append", help="the callback URL; repeat for several servers")
    r.add_argument("--duration", type=float, default=20.0, help="measured seconds (after the warm-up)")
    r.add_argument("--warmup", type=float, default=2.0, help="seconds sent but not measured")
    r.add_argument("--connections", type=int, default=64, help="closed loop: concurrent requests")
    r.add_argument("--rate", type=float, default=0.0, help="open loop: arrivals per second (0: closed loop)")
    r.add_argument("--drain", type=float, default=12.0, help="open loop: seconds to wait for answers in flight")
    r.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.plan, args.out)
    else:
        if not all(url.startswith(("http://127.", "http://localhost", "http://[::1]")) for url in args.url):
            sys.exit("loopback targets only")
        run(args)


if __name__ == "__main__":
    main()
