"""`xianfeng status` and `xianfeng outbox dead|retry`: what the sender is doing, and dead letters sent again."""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.texts import render
from bot.wecom import setup_errors
from storage import bot_state, outbox
from storage.db import reading, transaction


def add_parsers(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    commands.add_parser("status", parents=[common], help="is sending paused, what waits, what is dead")
    actions = commands.add_parser("outbox", parents=[common], help="messages waiting or dead-lettered") \
        .add_subparsers(dest="action", required=True)
    actions.add_parser("dead", parents=[common], help="dead letters with their reasons")
    retry = actions.add_parser("retry", parents=[common], help="queue dead letters again")
    retry.add_argument("ids", nargs="*", type=int)
    retry.add_argument("--all", action="store_true")


def status(engine, settings: Settings, _args: argparse.Namespace) -> int:
    now = time.time()
    with reading(engine) as session:
        pause = bot_state.pause(session)
        queue = outbox.queue_counts(session, now=now, held_prefix=f"{setup_errors.HELD} ")
    error = setup_errors.classify(pause["errcode"]) if pause else None
    held = [(setup_errors.classify(setup_errors.held_errcode(reason)), count) for reason, count in queue["held"].items()]
    since = datetime.fromtimestamp(pause["since"], ZoneInfo(settings.tz)).strftime("%Y-%m-%d %H:%M") if pause else ""
    print(render("cli/status", pause=pause, since=since, error=error, queue=queue, held=held,
                 oldest_minutes=round(queue["oldest_wait"] / 60)))
    return 1 if pause else 0


def dead(engine, _settings: Settings, _args: argparse.Namespace) -> int:
    with reading(engine) as session:
        rows = outbox.dead_letters(session)
    print(render("cli/outbox_dead", rows=rows))
    return 0


def retry(engine, _settings: Settings, args: argparse.Namespace) -> int:
    if not args.all and not args.ids:
        print(render("cli/outbox_retry_what"), file=sys.stderr)
        return 2
    with transaction(engine) as session:
        count = outbox.requeue_dead(session, ids=None if args.all else args.ids, now=time.time())
    print(render("cli/outbox_retried", count=count))
    return 0
