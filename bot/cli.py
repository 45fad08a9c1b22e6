"""The `xianfeng` command: serve, db upgrade, roster import, campaigns, jobs, exports, the audit log."""
from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.log_config import configure_logging
from bot.texts import render

# The sheets `xianfeng export` writes: bot.exports.BOOKS's names, listed here so the parser does not import
# openpyxl and every sheet (tests/test_campaign_cli.py holds the two lists equal).
EXPORTS = ("pledges", "self-assessments", "ratings", "polls", "documents", "progress", "comments", "ledger")


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

    campaign = commands.add_parser("campaign", parents=[common], help="campaign files")
    campaign_actions = campaign.add_subparsers(dest="action", required=True)
    load = campaign_actions.add_parser("load", parents=[common])
    load.add_argument("file", type=Path)
    load.add_argument("--start", type=date.fromisoformat, help="move the plan so it starts on this date")
    campaign_actions.add_parser("show", parents=[common]).add_argument("name", nargs="?")
    rehearse = campaign_actions.add_parser("rehearse", parents=[common], help="run the whole plan on a virtual clock")
    rehearse.add_argument("file", type=Path)
    rehearse.add_argument("--start", type=date.fromisoformat, help="move the plan so it starts on this date")
    rehearse.add_argument("--roster", type=Path, help="a roster file (default: a made-up one)")
    rehearse.add_argument("--late", type=int, default=0, choices=range(0, 101), metavar="PERCENT",
                          help="this share of people and branches submit a week late")
    rehearse.add_argument("--out", type=Path, required=True, help="FILE.xlsx or FILE.html")

    jobs = commands.add_parser("jobs", parents=[common], help="scheduled jobs")
    jobs_actions = jobs.add_subparsers(dest="action", required=True)
    jobs_actions.add_parser("list", parents=[common])
    run = jobs_actions.add_parser("run", parents=[common])
    run.add_argument("job")
    run.add_argument("--now", help='run as of this local time, "YYYY-MM-DD HH:MM"')

    export = commands.add_parser("export", parents=[common], help="records as .xlsx")
    export.add_argument("action", choices=EXPORTS)
    export.add_argument("--campaign", required=True)
    export.add_argument("--out", type=Path, required=True)

    from bot import outbox_commands

    outbox_commands.add_parsers(commands, common)

    roster = commands.add_parser("roster", parents=[common], help="people and branches")
    roster_import = roster.add_subparsers(dest="action", required=True).add_parser("import", parents=[common])
    roster_import.add_argument("file", type=Path)

    audit = commands.add_parser("audit", parents=[common], help="the audit log")
    audit = audit.add_subparsers(dest="action", required=True)
    audit.add_parser("verify", parents=[common], help="check every entry's hash and link, and the head")
    show = audit.add_parser("show", parents=[common], help="the newest entries")
    show.add_argument("--limit", type=int, default=30)
    show.add_argument("--before", type=int, help="entries older than this one")

    doctor = commands.add_parser("doctor", parents=[common], help="check the WeChat Work settings against the platform")
    doctor.add_argument("--to", metavar="USERID", help="send a test message to this member")
    return parser


class SchemaOutdated(Exception):
    pass


def _engine(settings: Settings):
    """An engine on an up-to-date schema, or SchemaOutdated with the words that say how to fix it."""
    from storage.db import make_engine
    from storage.migrate import schema_status

    engine = make_engine(settings.database_url)
    current, heads = schema_status(engine)
    if current != heads:
        raise SchemaOutdated(render("cli/schema_outdated", current=", ".join(sorted(current)),
                                    heads=", ".join(sorted(heads))))
    return engine


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.app import SERVER_OPTIONS, build_app

    settings.require_wecom()
    engine = _engine(settings)
    print(render("cli/serving", host=args.host, port=args.port), flush=True)
    handlers = None
    # Before the app starts any thread: the handler processes are forked then (bot/handler_process.py).
    if settings.handler_processes:
        from bot.handler_process import HandlerProcesses

        handlers = HandlerProcesses(settings, settings.handler_processes)
        handlers.start()
    try:
        web.run_app(build_app(settings, engine, handlers), host=args.host, port=args.port, print=None,
                    handle_signals=True, shutdown_timeout=5, **SERVER_OPTIONS)
    finally:
        if handlers:
            handlers.stop()
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

    try:
        summary = import_roster(_engine(settings), args.file, actor="cli")
    except RosterRejected as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    print(render("cli/roster_imported", summary=summary))
    return 0


def _read_campaign(path: Path):
    """The validated campaign file, or None after printing its problems (file:line: field: 问题)."""
    from bot.campaigns import CampaignFileError, load_campaign_file

    try:
        return load_campaign_file(path)
    except CampaignFileError as exc:
        print(render("cli/campaign_invalid", problems=str(exc).splitlines()), file=sys.stderr)
        return None


def _campaign_load(settings: Settings, args: argparse.Namespace) -> int:
    from bot.campaigns import save_campaign
    from storage.db import transaction

    campaign = _read_campaign(args.file)
    if campaign is None:
        return 1
    moved = campaign.rebase(args.start) if args.start else None
    if moved and moved.years is None:  # moved by days: say which 七一/年底/旬 dates no longer are
        print(render("cli/campaign_anchors_moved", moved=moved), file=sys.stderr)
    campaign = moved.campaign if moved else campaign
    with transaction(_engine(settings)) as session:
        result = save_campaign(session, campaign, source_file=str(args.file), actor="cli")
    print(render("cli/campaign_loaded", campaign=campaign, status=result.status, moved=moved))
    _warn_unknown_holidays(settings, campaign.start, campaign.end)
    return 0


def _warn_unknown_holidays(settings: Settings, start: date, end: date) -> None:
    """Years whose 放假 and 调休 nobody told us: the digest then counts Monday to Friday as working days."""
    from bot.scheduler.calendar import load_calendar

    unknown = load_calendar(settings.holidays_file).unknown_years(start, end)
    if unknown:
        print(render("cli/holidays_unknown", years=unknown), file=sys.stderr)


def _campaign_rehearse(settings: Settings, args: argparse.Namespace) -> int:
    from bot.rehearsal import rehearse, write_report

    campaign = _read_campaign(args.file)
    if campaign is None:
        return 1
    result = rehearse(campaign, settings, roster=args.roster, late_percent=args.late, start=args.start)
    write_report(result, args.out)
    print(render("cli/rehearsal_done", result=result, late=args.late, out=args.out))
    return 0


def _campaign_show(settings: Settings, args: argparse.Namespace) -> int:
    from bot.campaigns import Campaign
    from storage.campaigns import campaigns
    from storage.db import transaction

    with transaction(_engine(settings)) as session:
        records = campaigns(session, name=args.name)
    loaded = [Campaign.model_validate(r.content) for r in records]
    print(render("cli/campaign_show", campaigns=loaded, name=args.name))
    return 0 if loaded or not args.name else 1


def _jobs_list(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.scheduler.jobs import JOBS

    print(render("cli/jobs_list", jobs=[(job.id, job.describe(settings)) for job in JOBS.values()]))
    return 0


def _jobs_run(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot.scheduler.jobs import JOBS, run_job

    if args.job not in JOBS:
        print(render("cli/jobs_unknown", job=args.job, jobs=sorted(JOBS)), file=sys.stderr)
        return 2
    tz = ZoneInfo(settings.tz)
    try:
        now = datetime.strptime(args.now, "%Y-%m-%d %H:%M").replace(tzinfo=tz) if args.now else datetime.now(tz)
    except ValueError:
        print(render("cli/config_error", name="--now", problem="now_format", detail=args.now), file=sys.stderr)
        return 2
    queued = run_job(args.job, _engine(settings), settings, now)
    print(render("cli/jobs_ran", job=args.job, now=now.strftime("%Y-%m-%d %H:%M"), queued=queued))
    return 0


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.exports import export
    from storage.db import transaction

    with transaction(_engine(settings)) as session:
        count = export(session, what=args.action, campaign=args.campaign, out=args.out, tz=settings.tz)
    if count < 0:
        print(render("cli/export_no_campaign", campaign=args.campaign), file=sys.stderr)
        return 1
    from bot.exports.documents import files_folder

    files = files_folder(args.out) if args.action in ("documents", "progress") else None
    print(render("cli/exported" if args.action in ("pledges", "self-assessments") else "cli/exported_table",
                 count=count, out=args.out, files=files if files and files.exists() else None))
    return 0


def _audit_verify(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.audit_log import verify_words
    from storage import audit
    from storage.db import reading

    with reading(_engine(settings)) as session:
        report = audit.verify(session)
    print(verify_words(report, settings.tz), file=sys.stderr if report.problems else sys.stdout)
    return 1 if report.problems else 0


def _audit_show(settings: Settings, args: argparse.Namespace) -> int:
    from bot.audit_log import shown
    from storage import audit
    from storage.db import reading

    limit = max(1, min(args.limit, audit.SHOW_LIMIT - 1))  # one more is read, to tell whether there are older ones
    with reading(_engine(settings)) as session:
        entries = shown(session, limit=limit + 1, before=args.before, tz=settings.tz)
    print(render("cli/audit_show", entries=entries[:limit], more=len(entries) > limit))
    return 0


def _outbox_command(name: str):
    def run(settings: Settings, args: argparse.Namespace) -> int:
        from bot import outbox_commands

        return getattr(outbox_commands, name)(_engine(settings), settings, args)
    return run


COMMANDS = {("status", None): _outbox_command("status"), ("outbox", "dead"): _outbox_command("dead"),
            ("outbox", "retry"): _outbox_command("retry"),
            **{("export", what): _export for what in EXPORTS},
            ("campaign", "load"): _campaign_load, ("campaign", "show"): _campaign_show,
            ("campaign", "rehearse"): _campaign_rehearse,
            ("jobs", "list"): _jobs_list, ("jobs", "run"): _jobs_run,
            ("audit", "verify"): _audit_verify, ("audit", "show"): _audit_show,
            ("serve", None): _serve, ("demo", None): _demo, ("db", "upgrade"): _db_upgrade, ("roster", "import"): _roster_import}


def _log_zone(args: argparse.Namespace) -> str:
    """The configured zone; the default while the settings do not load (the command says why)."""
    try:
        return load_settings(config_file=getattr(args, "config", None)).tz
    except ConfigError:
        return Settings.tz


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(_log_zone(args))
    if args.command == "doctor":  # it loads the settings itself: a malformed key is one of its checks
        from bot.doctor import main as doctor

        return doctor(config_file=getattr(args, "config", None), to=args.to)
    try:
        settings = load_settings(config_file=getattr(args, "config", None))
        settings.use_keys()  # a poll closed from here (jobs run polls) opens its ballots with serve's keys
        return COMMANDS[(args.command, getattr(args, "action", None))](settings, args)
    except ConfigError as exc:
        print(render("cli/config_error", name=exc.name, problem=exc.problem, detail=exc.detail), file=sys.stderr)
        return 2
    except SchemaOutdated as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
