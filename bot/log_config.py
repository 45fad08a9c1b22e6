"""How the processes log (every command, `serve`'s handler and sender processes, the demo): a line
per event a person may need, stamped in the bot's time zone."""
from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S%z"
# Their INFO lines say nothing a person needs: APScheduler writes three or four for every job run
# ("Added job", "Running job", "Job ... executed successfully"), 83 in 17 minutes of the demo, and
# pushed the page's address off the screen; our job code says when a run queued something
# (bot/scheduler/service.py). Alembic writes a line per migration step.
QUIET_LIBRARIES = ("apscheduler", "alembic")


class ZonedFormatter(logging.Formatter):
    """Times in the zone the jobs run in, offset shown (2026-12-02 21:46:15+0800): a log line is read
    beside schedules written in that zone, not in UTC or the server's own zone."""

    def __init__(self, tz: str, fmt: str = FORMAT):
        super().__init__(fmt)
        self._zone = ZoneInfo(tz)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, self._zone).strftime(datefmt or TIME_FORMAT)


def configure_logging(tz: str) -> None:
    """INFO to stderr in `tz` (settings.tz); a process whose root logger already has a handler (a
    forked child, a test) keeps it."""
    handler = logging.StreamHandler()
    handler.setFormatter(ZonedFormatter(tz))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
