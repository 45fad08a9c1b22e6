"""Callback throughput and latency of `xianfeng serve` against a peer (issue 7, benchmark 1).

    .venv/bin/python benchmarks/callback_load.py [--runs 3] \\
        [--database postgresql://postgres@127.0.0.1:5432/xf_bench_cb] [--profile DIR]

What it does, all on this machine (loopback only, every step bounded in time):

1. A roster of 1,000 people in five branches (200 each: a secretary, 159 members of whom 30 hold
   a post (有职), 40 masses) is imported with `xianfeng roster import`; the campaign
   campaigns/seed004.yaml is loaded with `xianfeng campaign load --start` so that today is inside its
   公开承诺 phase; each secretary issues a poll of the branch (`/评议 支部满意度 党员和群众 截止 …`,
   through Dispatcher.feed_update, as a phone would); the set-up's outbox rows are marked sent, except
   the branch chats' creation, which the emulator (fresh for every run) must see before pledges are
   published to the chats.
   That state is a template: a SQLite file, and with --database a PostgreSQL database `<name>_tpl`
   (createdb/dropdb; the database itself is re-created from it with `createdb -T` for every run).
2. A plan of plaintext callbacks per person (/帮助; pledge forms: /承诺, then the answers; vote-card
   taps with TaskId poll-<id>-0) is encrypted once by benchmarks/load_generator.py `prepare`; the
   same ciphertexts go to every server.
3. The floor: outer XML parse + signature check + AES decrypt + parse_update of the bot's own
   code (bot.wecom.crypto, bot.wecom.updates) over the same payloads, on one core; and
   Dispatcher.feed_update alone, in this process, one request at a time in the generator's order.
4. For each run: the peer (wecom-app-svr under gunicorn, one sync worker per core, installed in
   its own virtual environment, created when missing) and `xianfeng serve` on a fresh copy of the
   template on SQLite (and PostgreSQL), each measured by a load-generator process twice: closed
   loop (N connections, T s: requests/s) and open loop (fixed arrival rate: latency). The bot's
   WECOM_API_BASE is the WeChat Work emulator (bot.wecom.emulator) served by this driver process, so
   the outbox sender really sends every reply (--api dead: a closed port instead; then the sender
   gets no token and sends nothing). --bot-processes N adds N `xianfeng serve` on PostgreSQL, each
   person sent to one of them. The bot answers first and handles behind the answer, so after the
   load the driver waits until no answered callback waits to be handled: handled/s and the drain
   time count the real work; after an open-loop run it also waits until every message the run
   queued has been sent (sent s, sent/s: the platform's pace bounds it). The web process's own CPU
   while the load lasts, per request, is the answering cost (answer µs), set against the floor.
   The CPU of the servers (their handler and sender processes included), PostgreSQL and of any
   other process on the machine (someone else's tests) is recorded for every measurement.
5. Prints the medians per server, database and mode, the ratios to the peer and to the floor, and
   with --profile DIR one more closed-loop run per bot target under py-spy (top functions, and the
   share of each part of the bot: COMPONENTS).

Every server is started fresh for every measurement (the payloads are the same each time, and the
bot would answer a second copy of a MsgId as a duplicate).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

CORP_ID, SECRET, AGENT_ID = "wwbenchcorp0001", "bench-secret-not-real-0123456789", 1000002
TOKEN, AES_KEY = "benchtoken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TZ = "Asia/Shanghai"
BRANCHES = ["第一党支部", "第二党支部", "第三党支部", "第四党支部", "第五党支部"]
PER_BRANCH, MEMBERS, POSTS = 200, 159, 30  # per branch: 1 secretary, 159 members (30 有职), 40 masses
CAMPAIGN = ROOT / "campaigns" / "seed004.yaml"
PEER_VENV = Path("/tmp/peer-venv")
# Payloads per person: enough for the peer's closed loop (the fastest server) to run T seconds.
HELP_PER_PERSON, VOTES_PER_PERSON, FORMS_PER_MEMBER = 40, 20, 5


# -- small helpers -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def bot_env(db_url: str, api_base: str) -> dict[str, str]:
    """As tests/test_process.py `_env`: the settings `xianfeng serve` requires."""
    return {**os.environ, "DATABASE_URL": db_url, "WECOM_API_BASE": api_base, "WECOM_CORP_ID": CORP_ID,
            "WECOM_AGENT_ID": str(AGENT_ID), "WECOM_SECRET": SECRET, "WECOM_TOKEN": TOKEN,
            "WECOM_AES_KEY": AES_KEY, "XIANFENG_TZ": TZ}


def xianfeng(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"xianfeng {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip()


def cpu_seconds(pids: list[int], kernel_only: bool = False) -> float:
    """utime + stime (kernel_only: stime) of these processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (0 if kernel_only else int(fields[11])) + int(fields[12])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):  # it exited meanwhile
            pass
    return total / os.sysconf("SC_CLK_TCK")


def all_cpu() -> dict[int, float]:
    """CPU seconds of every process on the machine now."""
    return {int(entry.name): cpu_seconds([int(entry.name)]) for entry in Path("/proc").iterdir() if entry.name.isdigit()}


def foreign_cpu(before: dict[int, float], after: dict[int, float], ours: set[int]) -> float:
    """CPU seconds that processes other than ours (and PostgreSQL's) took between two snapshots: other
    people's tests or benchmarks on this machine. Processes that started and ended in between are missed."""
    postgres = set(postgres_pids())
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items() if pid not in ours and pid not in postgres)


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of every PostgreSQL process now (backends come and go with the connection pool)."""
    return {pid: cpu_seconds([pid]) for pid in postgres_pids()}


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


# -- the peer's environment ----------------------------------------------------------------------
def ensure_peer_venv(path: Path) -> Path:
    python = path / "bin" / "python"
    check = [str(python), "-c", "import wecom_app_svr, gunicorn, flask"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return path
    log(f"creating {path} with wecom-app-svr and gunicorn from PyPI")
    venv.create(path, with_pip=True, clear=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "wecom-app-svr", "gunicorn"], check=True, timeout=600)
    subprocess.run(check, check=True)
    return path


def peer_versions(path: Path) -> str:
    code = ("import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in "
            "('wecom-app-svr', 'Flask', 'gunicorn', 'wx-crypt')))")
    return subprocess.run([str(path / "bin" / "python"), "-c", code], capture_output=True, text=True).stdout.strip()


# -- the organisation, the campaign, the polls ----------------------------------------------------
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["建国", "强", "娟", "刚", "宇", "琳", "伟", "芳", "敏", "磊", "静", "军", "丽", "勇", "艳", "杰"]


def roster_rows() -> list[dict[str, str]]:
    rows = []
    for b, branch in enumerate(BRANCHES, 1):
        for i in range(PER_BRANCH):
            role = "支部书记" if i == 0 else "党员" if i <= MEMBERS else "群众"
            post = "是" if i == 0 or (role == "党员" and i <= POSTS) else ""
            name = SURNAMES[(b * 7 + i) % len(SURNAMES)] + GIVEN[(i * 5 + b) % len(GIVEN)]
            rows.append({"userid": f"b{b}p{i:03d}", "name": name, "branch": branch, "role": role, "有职": post})
    return rows


def campaign_start(today: date) -> date:
    """seed004 starts 2012-03-01 and its 公开承诺 phase runs 2012-05-01 … 2012-06-30: put today on ~05-20."""
    return today - (date(2012, 5, 20) - date(2012, 3, 1))


def build_template(db_url: str, work: Path, today: date) -> dict[str, int]:
    """Schema, roster, campaign and one open poll per branch; returns {branch: poll id}."""
    from sqlalchemy import select, update

    from bot.dispatch import Dispatcher
    from bot.handlers import ROUTERS
    from bot.wecom.emulator.callbacks import text_message
    from bot.wecom.updates import parse_update
    from storage.db import make_engine, transaction
    from storage.models import Outbox, Person, Poll

    env = bot_env(db_url, "http://127.0.0.1:9/cgi-bin")
    roster = work / "roster.csv"
    rows = roster_rows()
    roster.write_text("userid,name,branch,role,有职\n" + "".join(
        f"{r['userid']},{r['name']},{r['branch']},{r['role']},{r['有职']}\n" for r in rows), encoding="utf-8")
    xianfeng(["db", "upgrade"], env)
    xianfeng(["roster", "import", str(roster)], env)
    xianfeng(["campaign", "load", str(CAMPAIGN), "--start", campaign_start(today).isoformat()], env)
    deadline = today + timedelta(days=20)
    engine = make_engine(db_url)
    dispatcher = Dispatcher(engine, ROUTERS, tz=TZ)
    now = int(time.time())
    for b in range(1, len(BRANCHES) + 1):
        text = f"/评议 支部满意度 党员和群众 截止 {deadline.month}月{deadline.day}日 18:00"
        xml = text_message(CORP_ID, AGENT_ID, f"b{b}p000", text, msg_id=6_000_000_000 + b, create_time=now)
        dispatcher.feed_update(parse_update(xml))
    xianfeng(["jobs", "run", "announcements"], env)
    with transaction(engine) as session:
        polls = {p.branch_id: p.id for p in session.scalars(select(Poll))}
        branches = {p.branch_id: p.userid for p in session.scalars(select(Person).where(Person.role == "secretary"))}
        # The set-up's messages are history, except the branch chats' creation (and welcome), which the
        # emulator, fresh for every run, has to see before pledges are published to the chats.
        session.execute(update(Outbox).where(~Outbox.idem_key.startswith("appchat:")).values(status="sent"))
    engine.dispose()
    if len(polls) != len(BRANCHES):
        raise SystemExit(f"expected {len(BRANCHES)} polls, found {polls}")
    return {branches[branch_id]: poll_id for branch_id, poll_id in polls.items()}


# -- what each person sends ----------------------------------------------------------------------
ACTIONS = ["每周听一节青年教师的课并交流", "每月组织一次集体备课", "每学期开展两次家访", "每两周参加一次志愿服务",
           "每月读一本教育专著并写心得", "每周辅导三名学困生", "每学期上一节公开课", "每月走访一户困难学生家庭"]
MEANS = ["建立记录台账，每月汇总一次", "和教研组结对，每周交流一次", "写进个人计划，支部每月检查", "拍照留档，学期末在支部会上报告"]
BY = ["下周五", "月底", "6月30日"]  # answers the date parser reads
POST_ACTIONS = ["把教研组的集体备课做实", "年级组每周例会前通报一次进度", "食堂每周公开一次菜单和账目"]


def conversation(rng: random.Random, post: bool) -> list[str]:
    """A member's pledge (/承诺) in seed004: 五带头 — first standard answered, the other four skipped —
    plus the 岗位承诺 for a post holder, then 1 (提交)."""
    texts = ["/承诺", rng.choice(ACTIONS) + f"（第{rng.randint(1, 99)}项）", rng.choice(MEANS), rng.choice(BY)]
    texts += ["跳过"] * 4
    if post:
        texts += [rng.choice(POST_ACTIONS), rng.choice(MEANS), rng.choice(BY)]
    return texts + ["1"]


def build_plan(polls: dict[str, int], seed: int = 7) -> tuple[dict, dict[str, tuple[str, str]]]:
    """Plaintext callbacks per person, and {response code: (task id, userid)} for first taps."""
    from bot.wecom.emulator.callbacks import card_event, text_message

    def text(userid: str, content: str, when: int) -> str:
        return text_message(CORP_ID, AGENT_ID, userid, content, msg_id=next(msg_ids), create_time=when)

    rng, now = random.Random(seed), int(time.time())
    msg_ids = iter(range(7_100_000_000_000_000_000, 8_000_000_000_000_000_000))
    codes: dict[str, tuple[str, str]] = {}
    people = []
    for row in roster_rows():
        userid = row["userid"]
        poll_id = polls[f"{userid[:2]}p000"]
        tick = iter(range(now, now + 10_000))  # distinct CreateTime per message: event dedup keys use it
        help_ = [text(userid, "/帮助", next(tick)) for _ in range(HELP_PER_PERSON)]
        votes = []
        for n in range(VOTES_PER_PERSON):
            code = f"bench{userid}{n}"
            if n == 0:
                codes[code] = (f"poll-{poll_id}-0", userid)
            option = rng.choices(["1", "2", "3"], weights=[6, 3, 1])[0]
            votes.append(card_event(CORP_ID, AGENT_ID, userid, key=f"vote-{poll_id}", task_id=f"poll-{poll_id}-0",
                                    card_type="vote_interaction", response_code=code, selected={"choice": [option]},
                                    create_time=next(tick)))
        forms = []
        if row["role"] != "群众":
            for _ in range(FORMS_PER_MEMBER):
                forms.append([text(userid, t, next(tick)) for t in conversation(rng, bool(row["有职"]))])
        people.append({"userid": userid, "role": row["role"], "help": help_, "votes": votes, "forms": forms})
    plan = {"token": TOKEN, "aes_key": AES_KEY, "corp_id": CORP_ID, "agent_id": AGENT_ID, "people": people}
    return plan, codes


# -- the floor -----------------------------------------------------------------------------------
def floor(payloads_file: Path, samples: int = 20_000, repeat: int = 5) -> dict[str, float]:
    """The bot's own per-request minimum: what bot/wecom/callback.py `receive` does before it hands the
    update to the dispatcher (outer XML, signature + timestamp check, AES, parse_update), one core."""
    import pickle

    from bot.wecom.crypto import CallbackCrypto, signature
    from bot.wecom.updates import parse_update, parse_xml

    data = pickle.loads(payloads_file.read_bytes())
    items = [item for p in data["people"] for item in (*p["help"][:4], *p["votes"][:2], *sum(p["forms"][:1], []))]
    random.Random(3).shuffle(items)
    items = items[:samples]
    ts, nonce = str(int(time.time())), "floornonce"
    signed = [(signature(TOKEN, ts, nonce, enc), body) for enc, body in items]
    crypto = CallbackCrypto(token=TOKEN, aes_key=AES_KEY, corp_id=CORP_ID)
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for msg_signature, body in signed:
            encrypted = (parse_xml(body).findtext("Encrypt") or "").strip()
            crypto.verify(msg_signature, ts, nonce, encrypted)
            parse_update(crypto.decrypt(encrypted))
        runs.append((time.perf_counter() - start) / len(signed))
    per = statistics.median(runs)
    return {"us_per_request": round(per * 1e6, 1), "rps_per_core": round(1 / per), "samples": len(signed)}


def dispatch_cost(db_url: str, payloads_file: Path, requests: int = 3000) -> dict[str, object]:
    """Dispatcher.feed_update alone, in this process, one request at a time, in the order and mix the
    load generator sends (its Crowd, one connection), on a fresh copy of the template: the bot's work
    per callback without HTTP, threads, the sender or other requests in flight."""
    import pickle

    from bot import nlp
    from bot.dispatch import Dispatcher
    from bot.handlers import ROUTERS
    from bot.texts import vocabulary
    from bot.wecom.crypto import CallbackCrypto
    from bot.wecom.updates import parse_update, parse_xml
    from load_generator import KINDS, PATTERN, Crowd
    from storage.db import make_engine

    words = {w for entry in vocabulary()["commands"].values() for w in entry.get("keywords", [])}
    nlp.warm_up(sorted(words)).join()  # as `serve` does at start-up
    crypto = CallbackCrypto(token=TOKEN, aes_key=AES_KEY, corp_id=CORP_ID)
    crowd = Crowd(pickle.loads(payloads_file.read_bytes()), ["http://127.0.0.1/wecom/callback"], random.Random(1))
    from sqlalchemy import event

    engine = make_engine(db_url)
    statements = [0]
    event.listen(engine, "before_cursor_execute", lambda *_args: statements.__setitem__(0, statements[0] + 1))
    dispatcher = Dispatcher(engine, ROUTERS, tz=TZ)
    times: dict[str, list[float]] = {k: [] for k in KINDS.values()}
    counts: dict[str, list[int]] = {k: [] for k in KINDS.values()}
    outcomes: dict[str, int] = {}
    pattern = PATTERN * (requests // len(PATTERN) + 1)
    for wanted in pattern[:requests]:
        person, kind, (_url, body) = crowd.take(wanted)
        update = parse_update(crypto.decrypt(parse_xml(body).findtext("Encrypt")))
        before, start = statements[0], time.perf_counter()
        outcome = dispatcher.feed_update(update)
        times[KINDS[kind]].append(time.perf_counter() - start)
        counts[KINDS[kind]].append(statements[0] - before)
        outcomes[str(outcome)] = outcomes.get(str(outcome), 0) + 1
        crowd.give_back(person, kind)
    engine.dispose()
    every = [t for values in times.values() for t in values]
    us = lambda v: round(v * 1e6)  # noqa: E731
    return {"requests": len(every), "mean_us": us(statistics.fmean(every)), "p50_us": us(statistics.median(every)),
            "statements": round(statistics.fmean(c for values in counts.values() for c in values), 1),
            "by_kind": {k: {"n": len(v), "mean_us": us(statistics.fmean(v)), "p50_us": us(statistics.median(v)),
                            "max_us": us(max(v)), "statements": round(statistics.fmean(counts[k]), 1)}
                        for k, v in times.items() if v},
            "outcomes": outcomes}


# -- servers -------------------------------------------------------------------------------------
class Server:
    def __init__(self, name: str, proc: subprocess.Popen, url: str, log_path: Path):
        self.name, self.proc, self.url, self.log_path = name, proc, url, log_path

    def pids(self) -> list[int]:
        return [self.proc.pid, *children(self.proc.pid)]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def wait_ready(server: Server, timeout: float = 60) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                break
            try:
                async with http.get(server.url.rsplit("/wecom", 1)[0] + "/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    server.stop()
    raise SystemExit(f"{server.name} did not start:\n{server.log_path.read_text()[-3000:]}")


def start_bot(db_url: str, api_base: str, work: Path, tag: str) -> Server:
    port = free_port()
    log_path = work / f"serve-{tag}.log"
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=bot_env(db_url, api_base), cwd=ROOT, stdout=log_path.open("w"), stderr=subprocess.STDOUT)
    return Server(f"xianfeng ({tag})", proc, f"http://127.0.0.1:{port}/wecom/callback", log_path)


def start_peer(peer_venv: Path, workers: int, work: Path, as_is: bool) -> Server:
    port = free_port()
    log_path = work / "peer.log"
    env = {**os.environ, "WECOM_APP_TOKEN": TOKEN, "WECOM_APP_AES_KEY": AES_KEY, "WECOM_APP_CORP_ID": CORP_ID,
           "PEER_AS_IS": "1" if as_is else "0"}
    proc = subprocess.Popen([str(peer_venv / "bin" / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}",
                             "--chdir", str(HERE), "peer_wecom_app_svr:app"],
                            env=env, cwd=HERE, stdout=log_path.open("w"), stderr=subprocess.STDOUT)
    return Server("wecom-app-svr", proc, f"http://127.0.0.1:{port}/wecom/callback", log_path)


def start_bare(work: Path) -> Server:
    port = free_port()
    log_path = work / "bare.log"
    proc = subprocess.Popen([sys.executable, str(HERE / "bare_aiohttp.py"), str(port)], cwd=HERE,
                            stdout=log_path.open("w"), stderr=subprocess.STDOUT)
    return Server("aiohttp (bare)", proc, f"http://127.0.0.1:{port}/wecom/callback", log_path)


class Emulator:
    """The WeChat Work emulator on a port of this process, fresh for each bot start."""

    def __init__(self, codes: dict[str, tuple[str, str]]):
        self.codes, self.runner, self.emulator = codes, None, None

    async def start(self) -> str:
        from aiohttp import web

        from bot.wecom.emulator import WeComEmulator

        self.emulator = WeComEmulator(corp_id=CORP_ID, secret=SECRET, agent_id=AGENT_ID)
        for code, (task_id, userid) in self.codes.items():  # what the platform gives each first tap
            self.emulator.response_codes[code] = (task_id, [userid])
        self.runner = web.AppRunner(self.emulator.app(), access_log=None)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        return f"http://127.0.0.1:{port}/cgi-bin"

    def sent(self) -> int:
        return sum(1 for call in self.emulator.calls if call.api in ("message/send", "appchat/send"))

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()


# -- one measurement -----------------------------------------------------------------------------
async def generate(payloads: Path, urls: list[str], mode: dict, timeout: float) -> dict:
    args = [sys.executable, str(HERE / "load_generator.py"), "run", "--payloads", str(payloads),
            *[a for url in urls for a in ("--url", url)],
            "--duration", str(mode["duration"]), "--warmup", str(mode["warmup"])]
    args += ["--rate", str(mode["rate"])] if mode.get("rate") else ["--connections", str(mode["connections"])]
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise SystemExit("load generator exceeded its time bound")
    if proc.returncode != 0:
        raise SystemExit(f"load generator failed:\n{err.decode()[-3000:]}")
    return json.loads(out.decode().strip().splitlines()[-1])


class Target:
    """How to start one server fresh: the peer, or xianfeng (one or more processes) on a fresh copy of a
    template. `start()` returns (servers, emulator or None, database URL or None)."""

    def __init__(self, label: str, db: str, start):
        self.label, self.db, self.start = label, db, start


def outbox_after(db_url: str, first_id: int) -> dict[str, int]:
    """The run's outbox rows by status: how far the sender got (replies queued vs. sent)."""
    from sqlalchemy import func, select

    from storage.db import make_engine
    from storage.models import Outbox

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Outbox.status, func.count()).where(Outbox.id > first_id).group_by(Outbox.status))
            return {str(status): count for status, count in rows}
    finally:
        engine.dispose()


async def drained(db_url: str, bound: float = 300.0) -> float:
    """Seconds from now until no answered callback waits to be handled (its effect committed)."""
    from sqlalchemy import func, select

    from storage.models import InboundUpdate

    return await _until_none(db_url, select(func.count()).select_from(InboundUpdate), bound,
                             "answered callbacks still waiting")


async def delivered(db_url: str, first_id: int, bound: float = 300.0) -> float:
    """Seconds from now until none of the run's outbox rows waits to be sent: the replies have reached
    the platform (at its pace: 10,000 message/send calls a minute)."""
    from sqlalchemy import func, select

    from storage.models import Outbox, OutboxStatus

    waiting = select(func.count()).where(Outbox.id > first_id, Outbox.status == OutboxStatus.pending)
    return await _until_none(db_url, waiting, bound, "replies still waiting to be sent")


async def _until_none(db_url: str, count, bound: float, what: str) -> float:
    from storage.db import make_engine

    engine, start = make_engine(db_url), time.monotonic()
    try:
        while time.monotonic() - start < bound:
            with engine.connect() as conn:
                if not conn.execute(count).scalar():
                    return round(time.monotonic() - start, 2)
            await asyncio.sleep(0.05)
        raise SystemExit(f"{what} {bound:.0f} s after the load")
    finally:
        engine.dispose()


async def measure(target: Target, payloads: Path, mode: dict, first_outbox_id: int = 0,
                  profile: Path | None = None, profile_kind: str = "gil", profile_drain: bool = False) -> dict:
    servers, emulator, db_url = await target.start()
    try:
        for server in servers:
            await wait_ready(server)
        await asyncio.sleep(mode["settle"])  # jieba's dictionary loads in a background thread at start-up
        pids = [pid for server in servers for pid in server.pids()]
        pg = target.db == "PostgreSQL"
        pg_before = postgres_cpu() if pg else {}
        # The answering processes: the bot's web process only answers (its handler and sender processes
        # do the rest); the peer's whole server only answers.
        answering = [server.proc.pid for server in servers] if db_url else pids
        before = (cpu_seconds(pids), time.process_time(), all_cpu(), time.monotonic(),
                  resource.getrusage(resource.RUSAGE_CHILDREN), cpu_seconds(answering),
                  cpu_seconds(answering, kernel_only=True))
        spies = []
        if profile:
            which = ["--gil"] if profile_kind == "gil" else ["--idle", "--threads"]
            for n, server in enumerate(servers):
                out = profile / f"{target.label}-{target.db}-{profile_kind}-{n}.txt".replace(" ", "_").replace("×", "x")
                spies.append((out, subprocess.Popen(
                    [shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy", "record",
                     "--pid", str(server.proc.pid), "--rate", "200", "--format", "raw", *which, "--output", str(out),
                     # with profile_drain py-spy runs until the backlog is handled, then is interrupted
                     *([] if profile_drain else ["--duration", str(int(mode["warmup"] + mode["duration"]) + 2)])],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
        result = await generate(payloads, [s.url for s in servers], mode,
                                timeout=mode["warmup"] + mode["duration"] + 40)
        # while it answered: not the handling and sending behind, after the load
        answer_cpu = cpu_seconds(answering) - before[5]
        answer_kernel = cpu_seconds(answering, kernel_only=True) - before[6]
        if db_url and mode["drain_bound"] > 0:  # the bot answers first, handles behind: the real work ends later
            result["drain_s"] = await drained(db_url, mode["drain_bound"])
            busy = mode["warmup"] + mode["duration"] + result["drain_s"]
            result["handled_per_s"] = round(result["sent_total"] / busy, 1)
            if mode.get("rate"):  # and the replies sent: the end of the real work, at the platform's pace
                busy += await delivered(db_url, first_outbox_id, mode["drain_bound"])
                result["delivered_s"] = round(busy, 1)
        for _out, spy in spies if profile_drain else []:
            spy.send_signal(signal.SIGINT)
        after = (cpu_seconds(pids), time.process_time(), all_cpu(), time.monotonic(),
                 resource.getrusage(resource.RUSAGE_CHILDREN))
        pg_after = postgres_cpu() if pg else {}
        db_cpu = sum(cpu - pg_before.get(pid, 0.0) for pid, cpu in pg_after.items())
        generator_cpu = sum(getattr(after[4], f) - getattr(before[4], f) for f in ("ru_utime", "ru_stime"))
        other = foreign_cpu(before[2], after[2], {os.getpid(), *pids, *(spy.pid for _out, spy in spies)})
        other_share = other / ((after[3] - before[3]) * (os.cpu_count() or 1))
        for _out, spy in spies:
            spy.wait(timeout=60)
        total = result["sent_total"] or 1
        result.update(server=target.label, db=target.db, processes=len(servers),
                      server_cpu_s=round(after[0] - before[0], 2), db_cpu_s=round(db_cpu, 2),
                      driver_cpu_s=round(after[1] - before[1], 2), generator_cpu_s=round(generator_cpu, 2),
                      other_load=round(other_share, 3),
                      server_cpu_us_per_request=round((after[0] - before[0]) / total * 1e6),
                      web_cpu_us_per_request=round(answer_cpu / total * 1e6),
                      # of which in the kernel (sockets, wake-ups), which the floor does not include
                      web_kernel_share=round(answer_kernel / answer_cpu, 3) if answer_cpu else None)
        if profile:
            result["profiles"] = [str(out) for out, _ in spies]
        if emulator:
            result["emulator_messages"] = emulator.sent()
    finally:
        for server in servers:
            server.stop()
        if emulator:
            await emulator.stop()
    if db_url:
        result["outbox"] = outbox_after(db_url, first_outbox_id)
    return result


def pg_admin(url: str) -> list[str]:
    parts = urlsplit(url.replace("postgresql+psycopg", "postgresql"))
    return ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432), "-U", parts.username or "postgres"]


def pg_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def pg_recreate(url: str, name: str, template: str | None = None) -> None:
    if name == "test":
        raise SystemExit("refusing to touch the database named test")
    admin = pg_admin(url)
    subprocess.run(["dropdb", *admin, "--if-exists", "--force", name], check=True, timeout=60,
                   stderr=subprocess.DEVNULL)
    subprocess.run(["createdb", *admin, *(["-T", template] if template else []), name], check=True, timeout=120)


def pg_drop(url: str, name: str) -> None:
    if name != "test":
        subprocess.run(["dropdb", *pg_admin(url), "--if-exists", "--force", name], check=False, timeout=60)


# -- profiles ------------------------------------------------------------------------------------
def _samples(paths: list[str]):
    """(stack, count) of each line of py-spy raw (collapsed) files."""
    for path in paths:
        for line in Path(path).read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            yield stack, int(count)


def profile_summary(paths: list[str], top: int = 30) -> list[tuple[float, str]]:
    """py-spy raw (collapsed) stacks → the functions with the largest share of samples, each counted
    once per stack (inclusive), line numbers dropped."""
    from collections import Counter

    inclusive, total = Counter(), 0
    for stack, n in _samples(paths):
        total += n
        for frame in {re.sub(r":\d+\)$", ")", f) for f in stack.split(";")}:
            inclusive[frame] += n
    skip = ("threading.py", "concurrent/futures", "runpy", "asyncio/base_events", "bot/cli.py", "aiohttp/web.py")
    return [(100 * n / total, f) for f, n in inclusive.most_common() if not any(s in f for s in skip)][:top]


COMPONENTS = [  # (name, a frame that marks it); the first match in this order names a sample
    ("handling: formalism guard (jieba)", "check_item (bot/formalism.py"),
    ("handling: others' pledge items", "written_items (storage/pledges.py"),
    ("handling: find_task (campaign + tasks)", "find_task (storage/campaigns.py"),
    ("handling: outbox enqueue (replies)", "enqueue (storage/outbox.py"),
    ("handling: Jinja2 render", "render (bot/texts.py"),
    ("handling: commit", "_GeneratorContextManager.__exit__"),
    ("handling: the rest (ORM reads, forms, votes)", "Inbox._handle (bot/inbox.py"),
    ("recording: group commit (dedup keys, inbound rows)", "Inbox._record_arrivals (bot/inbox.py"),
    ("sender: claim, HTTP call, mark sent", "(bot/wecom/sender.py"),
    ("sender: claim, HTTP call, mark sent", "(bot/wecom/api.py"),
    ("callback: outer XML, signature, AES, parse", "receive (bot/wecom/callback.py"),
    ("aiohttp access log", "log_access"),
    ("aiohttp HTTP server and sockets", "(aiohttp/"),
    ("aiohttp HTTP server and sockets", "(asyncio/selector_events.py"),
]


def profile_components(paths: list[str]) -> list[tuple[float, str]]:
    """Share of samples per component of the bot (COMPONENTS), from py-spy raw stacks."""
    from collections import Counter

    shares, total = Counter(), 0
    for stack, count in _samples(paths):
        total += count
        handling = "Inbox._handle" in stack
        name = next((n for n, marker in COMPONENTS if marker in stack
                     and (n.startswith("handling") == handling)), "other (scheduler, threads, …)")
        shares[name] += count
    return [(100 * n / total, name) for name, n in shares.most_common()]


# -- report --------------------------------------------------------------------------------------
def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def mode_name(r: dict) -> str:
    return "closed loop" if r["mode"] == "throughput" else f"{r['target_rate']:g}/s open"


def report(results: list[dict], fl: dict, dispatch: dict[str, dict]) -> list[dict]:
    rows, keys = [], []
    for r in results:
        key = (mode_name(r), r["server"], r["db"])
        if key not in keys:
            keys.append(key)
    for mode, server, db in keys:
        runs = [r for r in results if (mode_name(r), r["server"], r["db"]) == (mode, server, db)]
        rows.append({"mode": mode, "server": server, "db": db, "runs": len(runs),
                     "rps": med([r["rps"] for r in runs]), "p50": med([r["p50_ms"] for r in runs]),
                     "p99": med([r["p99_ms"] for r in runs]), "max": med([r["max_ms"] for r in runs]),
                     "worst_max": max(r["max_ms"] or 0 for r in runs),
                     "over_1s": sum(r["over_1s"] for r in runs), "over_5s": sum(r["over_5s"] for r in runs),
                     "errors": sum(sum(r["errors"].values()) for r in runs),
                     "cpu_us": med([r["server_cpu_us_per_request"] for r in runs]),
                     "web_cpu_us": med([r.get("web_cpu_us_per_request") for r in runs
                                        if r.get("web_cpu_us_per_request") is not None]),
                     "kernel": med([r["web_kernel_share"] for r in runs if r.get("web_kernel_share") is not None]),
                     "other_load": max(r["other_load"] for r in runs),
                     "db_cpu_us": med([r["db_cpu_s"] / max(r["sent_total"], 1) * 1e6 for r in runs])
                     if db == "PostgreSQL" else None,
                     "drain_s": med([r["drain_s"] for r in runs if "drain_s" in r]),
                     "handled": med([r["handled_per_s"] for r in runs if "handled_per_s" in r]),
                     "delivered_s": med([r["delivered_s"] for r in runs if "delivered_s" in r]),
                     "replies": med([r["outbox"].get("sent", 0) / r["delivered_s"] for r in runs if "delivered_s" in r])})
    peer = {row["mode"]: row for row in rows if row["server"] == "wecom-app-svr"}
    header = (f"{'mode':<12} {'server':<15} {'DB':<10} {'runs':>4} {'req/s':>7} {'p50 ms':>9} {'p99 ms':>9} "
              f"{'max ms':>7} {'>=1s':>5} {'>=5s':>5} {'err':>4} {'CPU µs/req':>10} {'vs peer':>8} {'floor x':>8} "
              f"{'other':>6} {'handled/s':>9} {'drain s':>7} {'answer µs':>9} {'kernel':>6} {'÷ floor':>7} {'sent s':>6} "
              f"{'sent/s':>6}")
    print("\nMedians of the runs. closed loop: max throughput; N/s open: fixed arrival rate, latency from the "
          "scheduled arrival. >=1s, >=5s, err: totals over the runs.")
    print(header)
    print("-" * len(header))
    for row in rows:
        base = peer.get(row["mode"])
        if row["mode"] == "closed loop":
            ratio = row["rps"] / base["rps"] if base and base["rps"] and row["rps"] else None
            row["floor_x"] = fl["rps_per_core"] / row["rps"] if row["rps"] else None
        else:  # at a fixed rate the comparison is latency
            ratio = row["p99"] / base["p99"] if base and base["p99"] and row["p99"] else None
            row["floor_x"] = None
        row["vs_peer"] = ratio
        row["answer_floor_x"] = row["web_cpu_us"] / fl["us_per_request"] if row["web_cpu_us"] else None
        print(f"{row['mode']:<12} {row['server']:<15} {row['db']:<10} {row['runs']:>4} {fmt(row['rps'], 0):>7} "
              f"{fmt(row['p50'], 1):>9} {fmt(row['p99'], 1):>9} {fmt(row['max'], 0):>7} {row['over_1s']:>5} "
              f"{row['over_5s']:>5} {row['errors']:>4} {fmt(row['cpu_us'], 0):>10} {fmt(ratio, 2):>8} "
              f"{fmt(row['floor_x'], 1):>8} {row['other_load']:>6.0%} {fmt(row['handled'], 0):>9} "
              f"{fmt(row['drain_s'], 1):>7} {fmt(row['web_cpu_us'], 0):>9} "
              f"{format(row['kernel'], '.0%') if row['kernel'] is not None else '—':>6} "
              f"{fmt(row['answer_floor_x'], 1):>7} "
              f"{fmt(row['delivered_s'], 0):>6} {fmt(row['replies'], 0):>6}")
    print("vs peer: closed loop = req/s ÷ the peer's req/s; open loop = p99 ÷ the peer's p99. "
          "floor x = the floor's req/s per core ÷ req/s. CPU µs/req: the server's processes only. "
          "other: the most CPU that processes outside this benchmark (not PostgreSQL) took in any run, as a share "
          "of all cores. handled/s: every callback sent (warm-up included) ÷ the seconds until the last one's "
          "effect was committed; drain s: seconds after the load until nothing answered waited to be handled. "
          "answer µs: CPU per request of the answering processes while the load lasted (the bot's web process, not "
          "its handler and sender processes; the peer: all of it); kernel: the share of it spent in the kernel "
          "(sockets, wake-ups: not in the floor); ÷ floor: answer µs over the floor's µs per request. "
          "sent s (open loop): seconds from the first request until every reply and message the run queued had "
          "been sent to the platform; sent/s: those messages per second (the platform takes 10,000 a minute).")
    print(f"floor (outer XML + signature + AES decrypt + parse_update, one core): {fl['us_per_request']} µs/request "
          f"= {fl['rps_per_core']:,} req/s per core ({fl['samples']:,} payloads)")
    for bare in [row for row in rows if row["server"] == "aiohttp (bare)" and row["web_cpu_us"]]:
        both = bare["web_cpu_us"] + fl["us_per_request"]
        mine = [f"{row['db']} {row['web_cpu_us'] / both:.1f}×" for row in rows
                if row["mode"] == bare["mode"] and row["server"] == "xianfeng" and row["web_cpu_us"]]
        print(f"HTTP floor ({bare['mode']}; aiohttp answering without looking at the callback): {bare['web_cpu_us']:,.0f} "
              f"µs/request; with the floor {both:,.0f} µs; xianfeng's answer µs ÷ that: {', '.join(mine) or '—'}")
    for db, cost in dispatch.items():
        kinds = ", ".join(f"{k} {v['mean_us']:,} (p50 {v['p50_us']:,}, {v['statements']} SQL)"
                          for k, v in cost["by_kind"].items())
        print(f"Dispatcher.feed_update alone on {db}, one at a time: mean {cost['mean_us']:,} µs/request "
              f"= {cost['mean_us'] / fl['us_per_request']:.0f}× the floor, {cost['statements']} SQL statements; "
              f"by kind µs: {kinds}")
    return rows


# -- main ----------------------------------------------------------------------------------------
def remove_sqlite(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def copy_sqlite(template: Path, db: Path) -> None:
    remove_sqlite(db)
    with sqlite3.connect(template) as src, sqlite3.connect(db) as dst:
        src.backup(dst)


def max_outbox_id(db_url: str) -> int:
    from sqlalchemy import func, select

    from storage.db import make_engine
    from storage.models import Outbox

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.max(Outbox.id))).scalar() or 0
    finally:
        engine.dispose()


async def main_async(args: argparse.Namespace) -> None:
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="xf_callback_load_"))
    work.mkdir(parents=True, exist_ok=True)
    log(f"work directory {work}")
    today = datetime.now(ZoneInfo(TZ)).date()
    peer_venv = ensure_peer_venv(Path(args.peer_venv)) if not args.skip_peer else None

    sqlite_tpl = work / "template.db"
    remove_sqlite(sqlite_tpl)
    log("building the SQLite template (roster, campaign, polls)")
    polls = build_template(f"sqlite:///{sqlite_tpl}", work, today)
    with sqlite3.connect(sqlite_tpl) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    first_id = max_outbox_id(f"sqlite:///{sqlite_tpl}")
    pg_url, pg_tpl, pg_first_id = args.database, None, 0
    if pg_url:
        if pg_name(pg_url) == "test":
            raise SystemExit("refusing to use the database named test")
        pg_tpl = pg_name(pg_url) + "_tpl"
        log(f"building the PostgreSQL template {pg_tpl}")
        pg_recreate(pg_url, pg_tpl)
        tpl_url = pg_url.rsplit("/", 1)[0] + "/" + pg_tpl
        pg_polls = build_template(tpl_url, work, today)
        pg_first_id = max_outbox_id(tpl_url)
        if pg_polls != polls:
            raise SystemExit(f"poll ids differ between the databases: {polls} vs {pg_polls}")

    plan, codes = build_plan(polls)
    plan_file, payloads = work / "plan.json", work / "payloads.pickle"
    plan_file.write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    log("encrypting the payloads (load_generator.py prepare)")
    prepared = subprocess.run([sys.executable, str(HERE / "load_generator.py"), "prepare", "--plan", str(plan_file),
                               "--out", str(payloads)], capture_output=True, text=True, timeout=600, check=True)
    log(prepared.stdout.strip())
    fl = floor(payloads)
    log(f"floor: {fl}")
    dispatch: dict[str, dict] = {}
    if not args.skip_dispatch:
        copy_sqlite(sqlite_tpl, work / "dispatch.db")
        import cProfile

        with cProfile.Profile() if args.profile_dispatch else contextlib.nullcontext() as prof:  # for pstats
            dispatch["SQLite"] = dispatch_cost(f"sqlite:///{work / 'dispatch.db'}", payloads, args.dispatch_requests)
        if prof:
            prof.dump_stats(args.profile_dispatch)
        log(f"Dispatcher.feed_update alone, SQLite: {dispatch['SQLite']}")
        if pg_url:
            pg_recreate(pg_url, pg_name(pg_url), template=pg_tpl)
            dispatch["PostgreSQL"] = dispatch_cost(pg_url, payloads, args.dispatch_requests)
            log(f"Dispatcher.feed_update alone, PostgreSQL: {dispatch['PostgreSQL']}")

    def bot_on(db_label: str, processes: int = 1):
        async def start():
            if db_label == "SQLite":
                db = work / "run.db"
                copy_sqlite(sqlite_tpl, db)
                url = f"sqlite:///{db}"
            else:
                pg_recreate(pg_url, pg_name(pg_url), template=pg_tpl)
                url = pg_url
            emulator = None
            if args.api == "emulator":
                emulator = Emulator(codes)
                api_base = await emulator.start()
            else:
                api_base = "http://127.0.0.1:9/cgi-bin"  # nothing listens: the sender gets no token, sends nothing
            servers = [start_bot(url, api_base, work, f"{db_label.lower()}-{n}") for n in range(processes)]
            return servers, emulator, url
        return start

    async def peer_start():
        return [start_peer(peer_venv, args.peer_workers, work, args.peer_as_is)], None, None

    async def bare_start():
        return [start_bare(work)], None, None

    targets = []
    if args.bare:
        targets.append(Target("aiohttp (bare)", "—", bare_start))
    if not args.skip_peer:
        targets.append(Target("wecom-app-svr", "—", peer_start))
    if not args.skip_sqlite:
        targets.append(Target("xianfeng", "SQLite", bot_on("SQLite")))
    if pg_url:
        targets.append(Target("xianfeng", "PostgreSQL", bot_on("PostgreSQL")))
        if args.bot_processes > 1:
            targets.append(Target(f"xianfeng ×{args.bot_processes}", "PostgreSQL",
                                  bot_on("PostgreSQL", args.bot_processes)))
    common = {"warmup": args.warmup, "settle": args.settle, "drain_bound": args.drain_bound}
    modes = [] if args.skip_closed else [{"name": "closed loop", "connections": args.connections,
                                          "duration": args.duration, **common}]
    modes += [{"name": f"{rate:g}/s open", "rate": rate, "duration": args.rate_duration, **common} for rate in args.rate]
    results = []
    try:
        for run in range(1, args.runs + 1):
            for target in targets:
                for mode in modes:
                    first = pg_first_id if target.db == "PostgreSQL" else first_id
                    result = await measure(target, payloads, mode, first_outbox_id=first)
                    result["run"] = run
                    results.append(result)
                    log(f"run {run} {target.label} {target.db} {mode['name']}: {result['rps']} req/s, "
                        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms, "
                        f"errors {result['errors']}, server CPU {result['server_cpu_s']} s, "
                        f"client CPU {result['client_cpu_s']} s, db CPU {result['db_cpu_s']} s, "
                        f"other processes {result['other_load']:.0%} of the machine, "
                        f"outbox {result.get('outbox')}")
                    (work / "partial.json").write_text(json.dumps(results))  # kept if a later run gives up
        profiles = {}
        if args.profile:
            profile = Path(args.profile)
            profile.mkdir(parents=True, exist_ok=True)
            for target in targets:
                if target.label.startswith("xianfeng"):
                    log(f"profiling {target.label} on {target.db} (py-spy; not counted above)")
                    first = pg_first_id if target.db == "PostgreSQL" else first_id
                    load = modes[0] if not args.profile_rate else {
                        "name": f"{args.profile_rate:g}/s open", "rate": args.profile_rate,
                        "duration": args.rate_duration, **common}
                    result = await measure(target, payloads, load, first_outbox_id=first, profile=profile,
                                           profile_kind=args.profile_kind, profile_drain=args.profile_drain)
                    profiles[f"{target.label} {target.db}"] = {"rps": result["rps"], "files": result["profiles"],
                                                                "top": profile_summary(result["profiles"]),
                                                                "components": profile_components(result["profiles"])}
                    log(f"profiled run: {result['rps']} req/s (py-spy slows the process a little)")
    finally:
        if pg_url and not args.keep_databases:
            pg_drop(pg_url, pg_name(pg_url))
            pg_drop(pg_url, pg_tpl)

    rows = report(results, fl, dispatch)
    for name, found in profiles.items():
        print(f"\npy-spy ({args.profile_kind}), {name}, {found['rps']} req/s while profiled "
              f"({'closed loop' if not args.profile_rate else f'{args.profile_rate:g}/s open'}); "
              f"share of samples (inclusive) — {', '.join(found['files'])}")
        for share, frame in found["top"]:
            print(f"  {share:5.1f}%  {frame}")
        print("  by component (each sample counted once):")
        for share, name in found["components"]:
            print(f"  {share:5.1f}%  {name}")
    summary = {"date": date.today().isoformat(), "cores": os.cpu_count(), "python": sys.version.split()[0],
               "sqlite": sqlite3.sqlite_version, "peer": peer_versions(peer_venv) if peer_venv else None,
               "api": args.api, "floor": fl, "dispatch": dispatch, "rows": rows, "results": results,
               "profiles": profiles, "args": vars(args)}
    out = Path(args.out or work / "results.json")
    out.write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"results: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="also PostgreSQL: postgresql://postgres@127.0.0.1:5432/xf_bench_cb "
                                           "(re-created for every run; <name>_tpl holds the template)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=20.0, help="closed loop: measured seconds")
    parser.add_argument("--rate", type=float, nargs="+", default=[500.0], help="open loop: arrivals per second")
    parser.add_argument("--rate-duration", type=float, default=15.0, help="open loop: measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds sent before measuring")
    parser.add_argument("--settle", type=float, default=1.5, help="seconds between ready and the first request")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--api", choices=["emulator", "dead"], default="emulator",
                        help="where the bot's sender sends: the emulator in this process, or a closed port")
    parser.add_argument("--bot-processes", type=int, default=1,
                        help="with --database: also N `xianfeng serve` processes on PostgreSQL, each person sent "
                             "to one of them (as a sticky proxy would)")
    parser.add_argument("--peer-venv", default=str(PEER_VENV))
    parser.add_argument("--peer-workers", type=int, default=os.cpu_count())
    parser.add_argument("--peer-as-is", action="store_true", help="no event shim (card taps answered 500)")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--bare", action="store_true",
                        help="also an aiohttp server that answers without looking at the callback (the HTTP floor)")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-closed", action="store_true", help="only the open-loop rates")
    parser.add_argument("--skip-dispatch", action="store_true", help="skip the in-process feed_update measurement")
    parser.add_argument("--dispatch-requests", type=int, default=3000)
    parser.add_argument("--profile-dispatch", help="file: cProfile stats of the in-process feed_update run on SQLite")
    parser.add_argument("--profile", help="directory: one more closed-loop run per bot target under py-spy")
    parser.add_argument("--profile-kind", choices=["gil", "wall"], default="gil",
                        help="gil: samples of the thread holding the GIL (CPU); wall: every thread, idle too")
    parser.add_argument("--profile-drain", action="store_true",
                        help="profile until the backlog is handled, not only while the load runs")
    parser.add_argument("--profile-rate", type=float, default=0.0,
                        help="profile under this open-loop rate instead of the closed loop")
    parser.add_argument("--drain-bound", type=float, default=600.0,
                        help="seconds to wait after the load for the handling (and, open loop, the sending) to end; "
                             "0: do not wait (answering figures only, no handled/s)")
    parser.add_argument("--keep-databases", action="store_true")
    parser.add_argument("--work-dir")
    parser.add_argument("--out", help="results JSON (default: in the work directory)")
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
