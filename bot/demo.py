"""`xianfeng demo`: the bot and the WeChat Work emulator in one process on one SQLite file.

Everything lives under ./data/: demo.db (the bot's database), demo.toml (credentials generated
on the first run; the emulator and the bot share them, nothing leaves this machine) and
emulator.json (what the emulated WeChat Work remembers). A second run reuses all three;
``--reset`` starts over.
"""
from __future__ import annotations

import asyncio
import json
import secrets
import string
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from aiohttp import web

import campaigns as campaign_files
from bot.app import SERVER_OPTIONS, build_app
from bot.campaigns import load_campaign_file, save_campaign
from bot.config import Settings
from bot.roster import import_roster, read_roster
from bot.texts import render, vocabulary
from bot.wecom.emulator import WeComEmulator, oauth
from storage.campaigns import campaigns
from storage.db import make_engine, transaction
from storage.migrate import upgrade

ROSTER = Path(__file__).with_name("data") / "demo_roster.csv"
CAMPAIGN = Path(campaign_files.__file__).with_name("seed004.yaml")
COMMITTEE_DEPT = 2  # department 1 is the bureau itself


@dataclass(frozen=True)
class DemoFiles:
    root: Path

    @property
    def database(self) -> Path:
        return self.root / "demo.db"

    @property
    def credentials(self) -> Path:
        return self.root / "demo.toml"

    @property
    def emulator(self) -> Path:
        return self.root / "emulator.json"

    def reset(self) -> None:
        for path in (self.database, self.credentials, self.emulator,
                     self.root / "demo.db-wal", self.root / "demo.db-shm"):
            path.unlink(missing_ok=True)


def _aes_key() -> str:
    """An EncodingAESKey as the platform makes them: 43 letters and digits (91144), no "+" or "/"."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(43))


def _credentials(files: DemoFiles) -> dict[str, str]:
    if files.credentials.exists():
        return tomllib.loads(files.credentials.read_text(encoding="utf-8"))
    values = {"WECOM_CORP_ID": "wwdemo" + secrets.token_hex(5), "WECOM_SECRET": secrets.token_urlsafe(32),
              "WECOM_TOKEN": secrets.token_urlsafe(16),
              "WECOM_AES_KEY": _aes_key()}
    files.root.mkdir(parents=True, exist_ok=True)
    files.credentials.write_text("".join(f'{k} = "{v}"\n' for k, v in values.items()), encoding="utf-8")
    files.credentials.chmod(0o600)
    return values


def demo_settings(files: DemoFiles, emulator_port: int) -> Settings:
    creds = _credentials(files)
    return Settings(corp_id=creds["WECOM_CORP_ID"], agent_id=1000002, secret=creds["WECOM_SECRET"],
                    token=creds["WECOM_TOKEN"], aes_key=creds["WECOM_AES_KEY"],
                    api_base=f"http://127.0.0.1:{emulator_port}/cgi-bin",
                    oauth_base=f"http://127.0.0.1:{emulator_port}/connect/oauth2/authorize",
                    database_url=f"sqlite:///{files.database}",
                    # A demo should show announcements whenever it is started.
                    announce_time="00:00", quiet_hours="")


PHASE_UNDER_WAY, DAYS_INTO_PHASE = "公开承诺", 7


def demo_start(plan, today: date) -> date:
    """The day the plan is moved to start on, so that its 公开承诺 phase began DAYS_INTO_PHASE days ago: the
    phase in which everyone has something to try (有职党员 pledge, secretaries write the branch's 承诺书), and
    the 查找问题 phase before it is over, its tasks overdue as a real campaign's would be somewhere."""
    phase = next(p for p in plan.phases if p.name == PHASE_UNDER_WAY)
    return today - timedelta(days=DAYS_INTO_PHASE) - (phase.start - plan.start)


def load_demo_campaign(engine, today: date | None = None) -> None:
    """Seed 004 (创五星、争红旗, a school with 第一–第四党支部), moved so its 公开承诺 phase is under way."""
    with transaction(engine) as session:
        if not campaigns(session):
            plan = load_campaign_file(CAMPAIGN)
            plan = plan.rebased(demo_start(plan, today or date.today()))
            save_campaign(session, plan, source_file=str(CAMPAIGN))


def seed_directory(emulator: WeComEmulator) -> None:
    """The emulated corp's address book: the demo roster, one department per branch."""
    labels = vocabulary()["roles"]
    departments: dict[str, int] = {"": COMMITTEE_DEPT}
    emulator.add_department(COMMITTEE_DEPT, "局党委")
    for entry in read_roster(ROSTER):
        branch = entry.branch or ""
        if branch not in departments:
            departments[branch] = len(departments) + COMMITTEE_DEPT
            emulator.add_department(departments[branch], branch)
        post = labels[entry.role] + ("（有职）" if entry.attributes.get("有职") == "是" and entry.role == "member" else "")
        emulator.add_person(entry.userid, entry.name, departments[branch], post)


def build_emulator(settings: Settings, files: DemoFiles) -> WeComEmulator:
    emulator = WeComEmulator(corp_id=settings.corp_id, secret=settings.secret, agent_id=settings.agent_id)
    seed_directory(emulator)
    if files.emulator.exists():
        emulator.restore(json.loads(files.emulator.read_text(encoding="utf-8")))
    return emulator


async def run_demo(root: Path, *, host: str = "127.0.0.1", port: int = 8700, reset: bool = False,
                   ready: asyncio.Event | None = None) -> None:
    files = DemoFiles(root)
    if reset:
        files.reset()
    settings = demo_settings(files, port)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    import_roster(engine, ROSTER)  # a no-op after the first run: the import is an upsert
    load_demo_campaign(engine)
    emulator = build_emulator(settings, files)
    emulator.connect_bot(url=f"http://127.0.0.1:{port + 1}/wecom/callback", token=settings.token,
                         aes_key=settings.aes_key)
    # The app's 应用主页 is the console; /console/login signs in whoever the phone page shows now.
    oauth.set_home(emulator, f"http://127.0.0.1:{port + 1}/console/login")
    runners = [web.AppRunner(emulator.app(), access_log=None), web.AppRunner(build_app(settings, engine), **SERVER_OPTIONS)]
    try:
        for runner, (bind, at) in zip(runners, ((host, port), ("127.0.0.1", port + 1)), strict=True):
            await runner.setup()
            await web.TCPSite(runner, bind, at).start()
        print(render("cli/demo_ready", url=f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/",
                     data=files.root), flush=True)
        if ready:
            ready.set()
        await asyncio.Event().wait()
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
        files.emulator.write_text(json.dumps(emulator.snapshot(), ensure_ascii=False), encoding="utf-8")
        engine.dispose()
