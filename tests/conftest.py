"""Shared fixtures: a migrated database (SQLite file, and PostgreSQL when it answers), the
WeChat Work emulator on a real port, the bot on a real port, and callbacks encrypted by wechatpy."""
from __future__ import annotations

import asyncio
import atexit
import itertools
import os
import shutil
import socket
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import create_engine, text

from bot.app import build_app
from bot.config import Settings
from bot.wecom.emulator import WeComEmulator
from bot.wecom.callback import INBOX
from bot.wecom.emulator.callbacks import CallbackSigner, text_message
from storage.db import make_engine
from storage import sealing
from storage.migrate import upgrade

CORP_ID, SECRET, AGENT_ID = "wwtestcorp0001", "test-secret-not-real-0123456789", 1000002
TOKEN, AES_KEY = "testtoken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
# One key directory for this test run (storage/sealing.py), used by this process and by every `serve`
# a test starts (they inherit the environment), so a poll issued here can be closed there.
KEY_DIR = tempfile.mkdtemp(prefix="xianfeng-test-keys-")
os.environ["XIANFENG_KEY_DIR"] = KEY_DIR
atexit.register(shutil.rmtree, KEY_DIR, True)
sealing.configure(KEY_DIR, AES_KEY)
PG_ADMIN = os.environ.get("XIANFENG_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_names = itertools.count()


def _pg_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            pass
        engine = create_engine(PG_ADMIN)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001
        return False


PG = _pg_available()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> str:
    name = f"xf_tpl_{os.getpid()}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    upgrade(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}")
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _pg_database(template: str) -> tuple[str, Callable[[], None]]:
    name = f"xf_{os.getpid()}_{next(_names)}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(not PG, reason="no PostgreSQL on 127.0.0.1:5432"))])
def db_url(request, tmp_path, sqlite_template) -> str:
    """A freshly migrated database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "xianfeng.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url, drop = _pg_database(request.getfixturevalue("pg_template"))
    yield url
    drop()


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def emulator() -> WeComEmulator:
    return WeComEmulator(corp_id=CORP_ID, secret=SECRET, agent_id=AGENT_ID)


@pytest.fixture
async def emulator_url(aiohttp_server, emulator) -> str:
    server = await aiohttp_server(emulator.app())
    return str(server.make_url("/cgi-bin"))


def make_settings(db_url: str, api_base: str, **overrides: Any) -> Settings:
    values = dict(corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET, token=TOKEN, aes_key=AES_KEY,
                  api_base=api_base, database_url=db_url, http_timeout=0.5, retry_base=0.05, retry_cap=0.2,
                  key_dir=KEY_DIR)
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(db_url, emulator_url) -> Settings:
    return make_settings(db_url, emulator_url)


@pytest.fixture
async def bot(settings, engine, aiohttp_client):
    """The bot on a real port, sender and scheduler running, talking to the emulator. (aiohttp_client
    comes last so the app stops before the database is dropped.)"""
    return await aiohttp_client(build_app(settings, engine))


# -- callbacks as WeChat Work sends them ------------------------------------------------------
_msg_ids = itertools.count(7_000_000_000_000_000_000)


def text_xml(userid: str, content: str, *, msg_id: int | None = None, create_time: int | None = None) -> str:
    return text_message(CORP_ID, AGENT_ID, userid, content, msg_id=msg_id or next(_msg_ids), create_time=create_time)


def encrypt(xml: str, *, token: str = TOKEN, aes_key: str = AES_KEY, timestamp: int | None = None) -> tuple[dict, str]:
    """(query, body) exactly as WeChat Work would POST them, made by wechatpy's enterprise crypto."""
    return CallbackSigner(token=token, aes_key=aes_key, corp_id=CORP_ID, agent_id=AGENT_ID).sign(xml, timestamp=timestamp)


async def post_callback(client, xml: str, *, settle: bool = True, **kwargs: Any):
    """Post as WeChat Work does; by default also wait until the bot has handled what it answered
    (it answers first and handles behind the answer), so a test can look at the effect at once."""
    query, body = encrypt(xml, **kwargs)
    response = await client.post("/wecom/callback", params=query, data=body.encode())
    app = getattr(getattr(client, "server", None), "app", None)
    if settle and app is not None and INBOX in app:
        await app[INBOX].settled()
    return response


async def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll until check() is truthy and return its value; fail the test if it is not within `timeout`
    (the sender works asynchronously)."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"still {result!r} after {timeout} s")
        await asyncio.sleep(interval)
    return result


async def never(check: Callable[[], Any], within: float, interval: float = 0.05) -> None:
    """Fail the test as soon as check() is truthy; pass if it stays falsy for `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert not check(), "happened, and must not"
        await asyncio.sleep(interval)


def campaign_yaml(name: str, rest: str) -> str:
    """A test's campaign file: `name`, the smallest standards (五带头 and 五个好, one item each), then
    `rest` (its rules and phases, as YAML at the top level)."""
    return f"""name: {name}
source: tests
standards: {{member: 五带头, branch: 五个好}}
standard_sets:
  五带头: {{items: [带头学习提高]}}
  五个好: {{items: [领导班子好]}}
{rest.lstrip(chr(10))}"""


ROSTER_CSV = """userid,name,branch,role,有职
zhang,张伟,第一党支部,支部书记,
li,李娜,第一党支部,党员,是
wang,王芳,第一党支部,群众,
zhao,赵强,第二党支部,secretary,
qian,钱敏,第二党支部,member,
sun,孙丽,,党委,
"""


@pytest.fixture
def roster_file(tmp_path) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER_CSV, encoding="utf-8")
    return path


@pytest.fixture
def rostered(engine, roster_file):
    from bot.roster import import_roster

    return import_roster(engine, roster_file)


def index_plan(engine, stmt) -> str:
    """How the database would run `stmt` (literal values), with PostgreSQL told not to scan: on the
    tests' near-empty tables it would, whatever indexes exist. For checking that an index is usable."""
    from sqlalchemy import text
    from sqlmodel import Session

    sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
    with Session(engine) as session:
        if engine.dialect.name == "postgresql":
            session.execute(text("SET LOCAL enable_seqscan = off"))
            return " ".join(session.scalars(text("EXPLAIN " + sql)))
        return " ".join(row[3] for row in session.execute(text("EXPLAIN QUERY PLAN " + sql)))
