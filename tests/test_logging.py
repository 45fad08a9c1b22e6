"""Logs a person can read (issue 16, point 11): the demo's console and `serve`'s processes carry no
APScheduler chatter, their times are in the bot's zone with the offset shown, and no default send
time falls on :00 or :30, the minutes WeChat Work delivers slower."""
from __future__ import annotations

import logging
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings, load_settings
from bot.log_config import ZonedFormatter
from bot.scheduler.calendar import clock
from bot.scheduler.jobs import JOBS
from tests.conftest import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN

SHANGHAI = ZoneInfo("Asia/Shanghai")
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)([+-]\d{4}) (INFO|WARNING|ERROR|CRITICAL|DEBUG) ", re.M)
ROOT = Path(__file__).resolve().parent.parent


def _free_port_pair() -> int:
    """A free port whose successor is free too: the demo's bot listens on the next one."""
    while True:
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port


class _Output:
    """A process's output read in a thread (a readline on the pipe alone can stall)."""

    def __init__(self, proc: subprocess.Popen):
        self.proc, self._lines, self.seen = proc, queue.Queue(), []
        threading.Thread(target=lambda: [self._lines.put(raw.decode(errors="replace")) for raw in proc.stdout],
                         daemon=True).start()

    def wait_for(self, needle: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not any(needle in line for line in self.seen):
            assert time.monotonic() < deadline and self.proc.poll() is None, "".join(self.seen[-40:])
            try:
                self.seen.append(self._lines.get(timeout=1))
            except queue.Empty:
                pass

    def stop(self) -> str:
        """SIGTERM, then everything it wrote until it exited (its shutdown's lines too)."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        time.sleep(0.2)  # the reader thread drains the pipe
        while not self._lines.empty():
            self.seen.append(self._lines.get())
        return "".join(self.seen)


def _run(args: list[str], cwd: Path, **env: str) -> _Output:
    # TZ=UTC: the machine's own zone must not be what makes the times right.
    environment = {**os.environ, "TZ": "UTC", "PYTHONPATH": str(ROOT), **env}
    environment.pop("XIANFENG_TZ", None)
    return _Output(subprocess.Popen([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=environment,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT))


def _assert_readable(output: str, our_line: str) -> None:
    assert our_line in output  # our own INFO lines are still there
    assert [line for line in output.splitlines() if "apscheduler" in line] == []
    stamps = STAMP.findall(output)
    assert stamps, output
    for wall, offset, _level in stamps:
        assert offset == "+0800"
        logged = datetime.strptime(wall + offset, "%Y-%m-%d %H:%M:%S%z")
        # A UTC time labelled +0800 would be 8 hours off; this is no timing check.
        assert abs(logged - datetime.now(SHANGHAI)) < timedelta(hours=1)


@pytest.mark.slow
def test_the_demo_console_shows_its_address_and_no_scheduler_chatter(tmp_path):
    port = _free_port_pair()
    demo = _run(["demo", "--port", str(port)], tmp_path)
    try:
        demo.wait_for(f"http://127.0.0.1:{port}/")
        demo.wait_for("job announcements queued")  # a job has run (the demo campaign's phase has begun)
    finally:
        output = demo.stop()
    _assert_readable(output, "this process now runs the scheduler")


@pytest.mark.slow
def test_serve_and_its_sender_process_log_no_scheduler_chatter(tmp_path, sqlite_template):
    shutil.copy(sqlite_template, tmp_path / "bot.db")
    port = _free_port_pair()
    serve = _run(["serve", "--host", "127.0.0.1", "--port", str(port)], tmp_path,
                 DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}", WECOM_API_BASE=f"http://127.0.0.1:{port + 1}/cgi-bin",
                 WECOM_CORP_ID=CORP_ID, WECOM_AGENT_ID=str(AGENT_ID), WECOM_SECRET=SECRET, WECOM_TOKEN=TOKEN,
                 WECOM_AES_KEY=AES_KEY, XIANFENG_HANDLER_PROCESSES="1")
    try:
        serve.wait_for("this process now runs the scheduler")  # in the sender process
    finally:
        output = serve.stop()
    _assert_readable(output, "this process now runs the scheduler")


def test_a_log_time_is_written_in_the_configured_zone():
    moment = datetime(2026, 12, 2, 13, 46, 15, tzinfo=ZoneInfo("UTC"))
    record = logging.LogRecord("bot", logging.INFO, __file__, 1, "hello", None, None)
    record.created = moment.timestamp()
    assert ZonedFormatter("Asia/Shanghai").format(record) == "2026-12-02 21:46:15+0800 INFO bot: hello"
    assert ZonedFormatter("America/New_York").format(record).startswith("2026-12-02 08:46:15-0500 ")


def _on_the_hour_or_half(value: str) -> bool:
    return clock(value).minute in (0, 30)


def test_no_default_send_time_is_on_the_hour_or_the_half_hour():
    """developer.work.weixin.qq.com/document/path/90236: delivery at :00 and :30 is slower."""
    defaults = Settings()
    quiet_end = defaults.quiet_hours.split("-")[1]  # when what the quiet hours held back goes out
    for value in (defaults.digest_time, defaults.announce_time, quiet_end):
        assert not _on_the_hour_or_half(value), value
    for job in JOBS.values():
        schedule = job.schedule(defaults)
        assert schedule["trigger"] != "cron" or schedule["minute"] not in (0, 30), job.id


def test_a_configured_send_time_is_kept_as_set():
    settings = load_settings({"XIANFENG_DIGEST_TIME": "09:00", "XIANFENG_ANNOUNCE_TIME": "8:30",
                              "XIANFENG_QUIET_HOURS": "22:00-07:00"})
    assert (settings.digest_time, settings.announce_time, settings.quiet_hours) == ("09:00", "08:30", "22:00-07:00")
    assert JOBS["digest"].schedule(settings) == {"trigger": "cron", "hour": 9, "minute": 0}
