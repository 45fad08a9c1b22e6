"""`xianfeng serve` with a 100,000-person roster: time from start to the first answered callback, and
resident memory after a load of callbacks. Goals (issue 7): first callback within 3 s, RSS under
250 MB. Run:

    .venv/bin/python benchmarks/startup_memory.py [--people 100000] [--callbacks 3000] [--repeat 3]

Prints per run: seconds to /healthz, seconds to the first answered callback and to its handling, RSS,
peak RSS and PSS (from /proc, summed over `serve`, its handler processes and its sender process,
and each process's: _0 the web process, then the handlers, last the sender) once the load has been
handled; then medians and ratios against the goals. The sender points at a closed port, so replies
wait in the outbox (its retries cost nothing here); a fresh SQLite file per run.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.callback_load import (AES_KEY, AGENT_ID, CORP_ID, TOKEN, bot_env, children,  # noqa: E402
                                      drained, free_port)
from benchmarks.digest_queries import seed  # noqa: E402
from bot.wecom.emulator.callbacks import CallbackSigner, text_message  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402

GOAL_FIRST, GOAL_RSS_MB = 3.0, 250.0
TEXTS = ["/帮助", "/进度", "/我", "帮助", "我想写承诺"]
SIGNER = CallbackSigner(token=TOKEN, aes_key=AES_KEY, corp_id=CORP_ID, agent_id=AGENT_ID)


def callback(userid: str, text: str, n: int) -> tuple[dict, bytes]:
    query, body = SIGNER.sign(text_message(CORP_ID, AGENT_ID, userid, text, msg_id=9_000_000_000 + n))
    return query, body.encode()


async def until_ok(http: aiohttp.ClientSession, method: str, url: str, started: float, **kwargs) -> float:
    while True:
        try:
            async with http.request(method, url, **kwargs) as resp:
                if resp.status == 200:
                    return time.perf_counter() - started
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.01)


async def load(http: aiohttp.ClientSession, url: str, callbacks: int, people: int) -> None:
    payloads = [callback(f"u{(n * 7919) % people:06d}", TEXTS[n % len(TEXTS)], n) for n in range(callbacks)]
    queue = asyncio.Queue()
    for item in payloads:
        queue.put_nowait(item)

    async def worker() -> None:
        while not queue.empty():
            query, body = queue.get_nowait()
            async with http.post(url, params=query, data=body) as resp:
                await resp.read()
    await asyncio.gather(*(worker() for _ in range(20)))


def memory_mb(pid: int) -> dict[str, float]:
    """RSS, peak RSS and PSS (shared pages divided among their processes) of the process and its
    children (the handler processes and the sender process), summed and each process's."""
    found = {"rss_mb": 0.0, "peak_rss_mb": 0.0, "pss_mb": 0.0}
    for n, one in enumerate([pid, *children(pid)]):  # the web process, the handlers, the sender
        fields = _kb_fields(f"/proc/{one}/status") | _kb_fields(f"/proc/{one}/smaps_rollup")
        for key, field in (("rss_mb", "VmRSS"), ("peak_rss_mb", "VmHWM"), ("pss_mb", "Pss")):
            found[key] += fields[field] / 1024
            found[f"{key[:-3]}_{n}_mb"] = fields[field] / 1024
    return found


def _kb_fields(path: str) -> dict[str, int]:
    return {name: int(value.split()[0]) for name, _, value in
            (line.partition(":") for line in Path(path).read_text().splitlines()) if value.strip().endswith("kB")}


async def one_run(people: int, callbacks: int) -> dict[str, float]:
    tmp = tempfile.mkdtemp()
    url = f"sqlite:///{tmp}/bench.db"
    upgrade(url)
    engine = make_engine(url)
    seed(engine, people)
    engine.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=bot_env(url, "http://127.0.0.1:9/cgi-bin"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async with aiohttp.ClientSession() as http:
            health = await until_ok(http, "GET", f"{base}/healthz", started)
            query, body = callback("u000001", "/帮助", 0)
            first = await until_ok(http, "POST", f"{base}/wecom/callback", started, params=query, data=body)
            first_handled = first + await drained(url)  # answered first, handled behind the answer
            await load(http, f"{base}/wecom/callback", callbacks, people)
            await drained(url)
        memory = memory_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"healthz_s": health, "first_callback_s": first, "first_handled_s": first_handled, **memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--callbacks", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for n in range(args.repeat):
        runs.append(asyncio.run(one_run(args.people, args.callbacks)))
        print(f"run {n + 1}: " + "  ".join(f"{k} {v:.2f}" for k, v in runs[-1].items()))
    medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print("median: " + "  ".join(f"{k} {v:.2f}" for k, v in medians.items()))
    print(f"first callback / goal {medians['first_callback_s'] / GOAL_FIRST:.2f}  "
          f"RSS / goal {medians['rss_mb'] / GOAL_RSS_MB:.2f}  peak RSS / goal {medians['peak_rss_mb'] / GOAL_RSS_MB:.2f}  "
          f"PSS / goal {medians['pss_mb'] / GOAL_RSS_MB:.2f}")


if __name__ == "__main__":
    main()
