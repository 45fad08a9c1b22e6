"""The `xianfeng` command: serve, db upgrade, roster import."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.texts import render


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help="TOML settings file (environment overrides it)")
    parser = argparse.ArgumentParser(prog="xianfeng", description="先锋: 企业微信创先争优助手", parents=[common])
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", parents=[common], help="run the callback server and the sender")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=8080)

    demo = commands.add_parser("demo", parents=[common], help="the bot with a local WeChat Work emulator")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8700, help="the page's port; the bot listens on the next one")
    demo.add_argument("--reset", action="store_true", help="start over with fresh data")

    db = commands.add_parser("db", parents=[common], help="database schema")
    db.add_subparsers(dest="action", required=True).add_parser("upgrade", parents=[common])

    roster = commands.add_parser("roster", parents=[common], help="people and branches")
    roster_import = roster.add_subparsers(dest="action", required=True).add_parser("import", parents=[common])
    roster_import.add_argument("file", type=Path)
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.app import build_app
    from storage.db import make_engine
    from storage.migrate import schema_status

    settings.require_wecom()
    engine = make_engine(settings.database_url)
    current, heads = schema_status(engine)
    if current != heads:
        print(render("cli/schema_outdated", current=", ".join(sorted(current)), heads=", ".join(sorted(heads))),
              file=sys.stderr)
        return 1
    print(render("cli/serving", host=args.host, port=args.port), flush=True)
    web.run_app(build_app(settings, engine), host=args.host, port=args.port, print=None,
                handle_signals=True, shutdown_timeout=5)
    return 0


def _demo(_settings: Settings, args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from bot.demo import run_demo

    async def main() -> None:
        task = asyncio.current_task()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await run_demo(Path.cwd() / "data", host=args.host, port=args.port, reset=args.reset)

    try:
        asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    return 0


def _db_upgrade(settings: Settings, _args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from storage.db import make_engine
    from storage.migrate import schema_status, upgrade

    upgrade(settings.database_url)
    _current, heads = schema_status(make_engine(settings.database_url))
    url = make_url(settings.database_url).render_as_string(hide_password=True)
    print(render("cli/db_upgraded", heads=", ".join(sorted(heads)), url=url))
    return 0


def _roster_import(settings: Settings, args: argparse.Namespace) -> int:
    from bot.roster import RosterRejected, import_roster
    from storage.db import make_engine

    try:
        summary = import_roster(make_engine(settings.database_url), args.file)
    except RosterRejected as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    print(render("cli/roster_imported", summary=summary))
    return 0


COMMANDS = {("serve", None): _serve, ("demo", None): _demo, ("db", "upgrade"): _db_upgrade, ("roster", "import"): _roster_import}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        settings = load_settings(config_file=getattr(args, "config", None))
        return COMMANDS[(args.command, getattr(args, "action", None))](settings, args)
    except ConfigError as exc:
        print(render("cli/config_error", name=exc.name, problem=exc.problem, detail=exc.detail), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
