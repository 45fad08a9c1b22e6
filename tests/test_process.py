"""`xianfeng serve` as a real process: schema check at start-up, and a SIGKILL between commit and send."""
from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
import socket
import subprocess
import sys

import aiohttp
import pytest
from sqlalchemy import select
from sqlmodel import Session

from bot.wecom.emulator import Fault
from storage.models import Outbox, OutboxStatus
from tests.conftest import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, eventually, post_callback, text_xml
from tests.test_callback import OTHER_AES_KEY

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(db_url: str, api_base: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": db_url, "WECOM_API_BASE": api_base, "WECOM_CORP_ID": CORP_ID,
            "WECOM_AGENT_ID": str(AGENT_ID), "WECOM_SECRET": SECRET, "WECOM_TOKEN": TOKEN,
            "WECOM_AES_KEY": AES_KEY, **extra}


async def _start(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(f"{base}/healthz") as resp:
                    if resp.status == 200:
                        return proc, base
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    proc.kill()
    raise AssertionError(proc.stdout.read().decode())


def _replies(engine) -> list[Outbox]:
    with Session(engine) as session:
        return list(session.scalars(select(Outbox).where(Outbox.endpoint == "message/send")))


def _children(pid: int) -> list[int]:
    """Handler processes of pid: forked (its command line) or spawned (spawn_main); not a resource tracker."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and (b"spawn_main" in cmdline or b"bot.cli" in cmdline):
            found.append(int(stat.parent.name))
    return found


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


async def test_sigkill_after_commit_before_send_then_sent_once_on_restart(db_url, engine, emulator, emulator_url, rostered):
    emulator.fail("gettoken", *[Fault(delay=30)] * 5)  # the sender cannot get a token: nothing leaves
    proc, base = await _start(_env(db_url, emulator_url))
    try:
        async with aiohttp.ClientSession(base_url=base) as client:
            assert (await post_callback(client, text_xml("li", "/帮助"))).status == 200
        [pending] = await eventually(lambda: _replies(engine))  # handled by the handler process
        assert pending.status == OutboxStatus.pending
        handlers = _children(proc.pid)  # one handler process and the sender process, on either database
        assert len(handlers) == 2
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert emulator.texts("li") == []
    assert await eventually(lambda: all(_zombie(pid) for pid in handlers), timeout=10)  # none outlives it

    emulator.clear_faults()
    proc, _base = await _start(_env(db_url, emulator_url))
    try:
        # Marked sent once its call came back (within bot.wecom.outcomes.WINDOW, and a turn of the
        # writer); by then a second send would have shown too.
        assert await eventually(lambda: [r.status for r in _replies(engine)] == [OutboxStatus.sent], timeout=15)
        assert len(emulator.texts("li")) == 1 and "/帮助" in emulator.texts("li")[0]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_refuses_an_out_of_date_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--port", str(_free_port())],
                            env=_env(url, "http://127.0.0.1:9/cgi-bin"), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "xianfeng db upgrade" in result.stderr
    upgraded = subprocess.run([sys.executable, "-m", "bot.cli", "db", "upgrade"], env=_env(url, "x"),
                              capture_output=True, text=True, timeout=60)
    assert upgraded.returncode == 0 and "数据库已升级" in upgraded.stdout


async def test_secrets_never_reach_the_logs(db_url, engine, emulator, emulator_url, rostered):
    emulator.fail("message/send", Fault(errcode=42001), Fault(status=502))
    proc, base = await _start(_env(db_url, emulator_url))
    try:
        async with aiohttp.ClientSession(base_url=base) as client:
            await post_callback(client, text_xml("li", "/帮助"))
            await post_callback(client, text_xml("li", "bad"), aes_key=OTHER_AES_KEY)
        await eventually(lambda: emulator.texts("li"), timeout=15)
    finally:
        proc.terminate()
        output = proc.communicate(timeout=10)[0].decode()
    assert "outbox" in output or "POST /wecom/callback" in output  # the log did record the work
    tokens = list(emulator.tokens)
    for secret in (SECRET, TOKEN, AES_KEY, *tokens):
        assert secret not in output
