"""`xianfeng doctor`: the configuration checked against WeChat Work before the first message.

Each check ends in an outcome: "ok", "skipped", or what is wrong, which message_templates/cli/
doctor.j2 turns into a mark, a title and, on failure, the fix in Chinese. The checks, in order:

- the callback settings, offline: the Token is set; the EncodingAESKey is 43 letters and digits
  (加解密方案说明, document/path/91144: 长度固定为43个字符，从a-z, A-Z, 0-9共62个字符中选取), which
  always decode to the 32-byte AESKey = Base64_Decode(EncodingAESKey + "="); the corp id is letters and digits (a real one is "ww" and 16 hex digits, the 90930 example
  "wx5823bf96d3bd56c7"; 政务微信 and private deployments are not verified, so only stray characters
  from copying fail it: the callback's ReceiveId must equal it exactly);
- the keys of sealed ballots, offline (storage/sealing.py): the key directory can be written, each
  open poll's key is there and opens under this master key, and a warning while XIANFENG_SEAL_KEY
  is unset (the master key is then WECOM_AES_KEY's: a new EncodingAESKey loses the open polls);
- the token: gettoken with the corp id and secret (91039; 40013 wrong corp id, 40001 wrong secret);
- the visible range: agent/get (90227) lists department 1, the root, in allow_partys: group chats
  need it (90245-90248: 应用的可见范围必须是根部门);
- a test message to the member named by --to (90236): 60020 (server IP not in 企业可信IP), 48002,
  and a member outside the app's visible range (81013, or listed in invaliduser) show here;
- group-chat permission without posting into any group: appchat/get (90247) of a chat id that
  cannot exist answers 86003 (no such chat) when the app may use group chats, 60011 when it is not
  visible to the root department.

The calls are the four requests themselves, not WeComClient: it keeps its token in the database
(which may not exist before the first run) and turns gettoken's answer into a retryable error,
where doctor needs each errcode as the platform gave it. Neither the secret nor the token is printed.
"""
from __future__ import annotations

import asyncio
import os
import re
import secrets
import sys
import tomllib
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Mapping, TextIO

import aiohttp

from bot.config import ConfigError, Settings, load_settings
from bot.scheduler.calendar import load_calendar
from bot.texts import render
from bot.wecom import setup_errors
from bot.wecom.api import TransientError, request_json

AES_KEY_ALPHABET = re.compile(r"^[A-Za-z0-9]*$")  # 加解密方案说明: 从a-z, A-Z, 0-9共62个字符中选取
CORP_ID = re.compile(r"^[A-Za-z0-9]+$")
PLACEHOLDER_AES_KEY = "A" * 43  # lets the other checks run while the real key is reported as malformed
ROOT_DEPARTMENT = 1
NO_SUCH_CHAT = 86003
REFUSALS = {60020: "untrusted_ip", 48002: "api_forbidden", 40056: "wrong_agent_id", 301002: "wrong_agent_id"}
WARNINGS = {"holidays_unknown", "seal_key_unset"}
FROM_IP = re.compile(r"from ip: ?([0-9A-Fa-f.:]+)")


@dataclass(frozen=True)
class Check:
    name: str  # what was checked: a title in doctor.j2
    outcome: str  # "ok", "skipped", or what is wrong: a fix in doctor.j2
    detail: dict[str, Any] = field(default_factory=dict)  # what the words need: errcode, from_ip, …

    @property
    def failed(self) -> bool:
        """Not checked (no --to, or no token to check with) is not a failure of its own, nor a warning."""
        return self.outcome not in ("ok", "skipped", "needs_token") and not self.warning

    @property
    def warning(self) -> bool:
        """Works today, but will be wrong later unless someone acts (next year's holidays)."""
        return self.outcome in WARNINGS


class Unreachable(Exception):
    """No JSON answer from the API: wrong WECOM_API_BASE, no network, a proxy in the way."""


# -- the callback settings, offline --------------------------------------------------------------
def aes_key_problem(value: str) -> str | None:
    if not value:
        return "missing"
    if len(value) != 43:
        return "length"
    if not AES_KEY_ALPHABET.match(value):
        return "alphabet"
    return None  # 43 base64 characters and the "=" always decode to 32 bytes


def callback_checks(settings: Settings, aes_key: str) -> list[Check]:
    corp_id = "missing" if not settings.corp_id else None if CORP_ID.match(settings.corp_id) else "corp_id_format"
    aes = aes_key_problem(aes_key)
    return [Check("callback_token", "ok" if settings.token else "missing"),
            Check("aes_key", f"aes_{aes}" if aes else "ok", {"length": len(aes_key)}),
            Check("corp_id", corp_id or "ok")]


def holidays_check(settings: Settings, today: date) -> Check:
    """This year's 放假 and 调休 must be known, and from November (when the State Council announces
    them) next year's too: the digest moves off holidays and onto 调休 working days."""
    years = [today.year] + ([today.year + 1] if today.month >= 11 else [])
    unknown = [y for y in years if not load_calendar(settings.holidays_file).knows(y)]
    return Check("holidays", "holidays_unknown" if unknown else "ok", {"years": unknown})


def keys_check(settings: Settings) -> Check:
    """The key directory (storage/sealing.py) can be written, and every open poll's key is there and
    opens under this configuration (else the poll cannot be counted); a warning while the master key
    is WECOM_AES_KEY's, which a new EncodingAESKey would change."""
    from storage.sealing import Keystore

    directory = settings.key_directory()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = directory / f".doctor-{secrets.token_hex(4)}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return Check("keys", "keys_unwritable", {"dir": str(directory), "reason": exc.strerror or str(exc)})
    keys = Keystore(directory, settings.seal_secret) if settings.seal_secret else None
    lost = [poll_id for poll_id, name in _open_poll_keys(settings) if keys and not keys.usable(name)]
    if lost:
        return Check("keys", "keys_lost", {"dir": str(directory), "polls": lost})
    return Check("keys", "ok" if settings.seal_key else "seal_key_unset", {"dir": str(directory)})


def _open_poll_keys(settings: Settings) -> list[tuple[int, str]]:
    """(poll id, key name) of the open polls, when the database can be read; none when it cannot."""
    from sqlalchemy import select
    from sqlalchemy.engine import make_url
    from sqlmodel import Session

    from storage.db import make_engine
    from storage.models import Poll

    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and not (url.database and os.path.exists(url.database)):
        return []
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            return list(session.execute(select(Poll.id, Poll.seal_key)
                                        .where(Poll.status == "open", Poll.seal_key.is_not(None))).all())
    except Exception:  # noqa: BLE001 - no database yet, or not reachable: nothing open to check
        return []
    finally:
        engine.dispose()


# -- against the platform ------------------------------------------------------------------------
class Platform:
    """Raw calls to the WeChat Work API: the answer as JSON, or Unreachable."""

    def __init__(self, settings: Settings, http: aiohttp.ClientSession):
        self.settings, self.http, self.token = settings, http, ""
        self.timeout = aiohttp.ClientTimeout(total=settings.http_timeout)

    async def get(self, api: str, **params: Any) -> dict[str, Any]:
        return await self._call("GET", api, params=self._with_token(api, params))

    async def post(self, api: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", api, params={"access_token": self.token}, json=body)

    def _with_token(self, api: str, params: dict[str, Any]) -> dict[str, Any]:
        return params if api == "gettoken" else {"access_token": self.token, **params}

    async def _call(self, method: str, api: str, **kwargs: Any) -> dict[str, Any]:
        """The bot's own request (bot.wecom.api.request_json), without its token cache and pacing: doctor
        runs before there is a database, and reports gettoken's errcode and errmsg as they came."""
        try:
            status, body = await request_json(self.http, method, f"{self.settings.api_base}/{api}",
                                              timeout=self.timeout, endpoint=api, **kwargs)
        except TransientError as exc:
            raise Unreachable(str(exc)) from None
        if status != 200:
            raise Unreachable(f"HTTP {status}")
        if not isinstance(body, dict):
            raise Unreachable("not a JSON object")
        return body


def refusal(answer: dict[str, Any], **outcomes: str) -> tuple[str, dict[str, Any]]:
    """The outcome for an errcode (`outcomes` maps "e<errcode>" for this check's own), and the details."""
    errcode, errmsg = int(answer.get("errcode", -1)), str(answer.get("errmsg", ""))
    outcome = outcomes.get(f"e{errcode}") or REFUSALS.get(errcode, "errcode")
    found = FROM_IP.search(errmsg)
    return outcome, {"errcode": errcode, "errmsg": errmsg, "from_ip": found.group(1) if found else "",
                     "setup": setup_errors.classify(errcode)}  # the sender's words, for what doctor has none


async def token_check(platform: Platform) -> Check:
    settings = platform.settings
    if not settings.corp_id or not settings.secret:
        return Check("token", "needs_credentials")
    answer = await platform.get("gettoken", corpid=settings.corp_id, corpsecret=settings.secret)
    if answer.get("errcode", 0) == 0 and answer.get("access_token"):
        platform.token = answer["access_token"]
        return Check("token", "ok")
    return Check("token", *refusal(answer, e40013="wrong_corp_id", e40001="wrong_secret", e40091="wrong_secret"))


async def visible_range_check(platform: Platform) -> Check:
    answer = await platform.get("agent/get", agentid=platform.settings.agent_id)
    if answer.get("errcode", 0) != 0:
        return Check("visible_range", *refusal(answer))
    parties = (answer.get("allow_partys") or {}).get("partyid") or []
    return Check("visible_range", "ok" if ROOT_DEPARTMENT in parties else "not_root", {"parties": parties})


async def message_check(platform: Platform, to: str | None) -> Check:
    if not to:
        return Check("test_message", "skipped")
    answer = await platform.post("message/send", {
        "touser": to, "msgtype": "text", "agentid": platform.settings.agent_id,
        "text": {"content": render("cli/doctor_test_message")}})
    detail = {"to": to}
    if answer.get("errcode", 0) != 0:
        outcome, more = refusal(answer, e81013="user_invalid", e60111="user_invalid", e60011="user_invalid")
        return Check("test_message", outcome, {**detail, **more})
    invalid = str(answer.get("invaliduser") or "")  # 90236: sent to the others, these listed
    return Check("test_message", "user_invalid" if invalid else "ok", detail)


async def group_chat_check(platform: Platform) -> Check:
    """Asks about a chat that cannot exist: nothing is posted, and the answer says whether asking is allowed."""
    answer = await platform.get("appchat/get", chatid="doctor" + secrets.token_hex(8))
    if answer.get("errcode") == NO_SUCH_CHAT:
        return Check("group_chats", "ok")
    return Check("group_chats", *refusal(answer, e60011="not_root"))


async def platform_checks(settings: Settings, to: str | None) -> list[Check]:
    async with aiohttp.ClientSession() as http:
        platform = Platform(settings, http)
        try:
            token = await token_check(platform)
            if token.outcome != "ok":
                return [token] + [Check(name, "needs_token") for name in ("visible_range", "test_message", "group_chats")]
            return [token, await visible_range_check(platform), await message_check(platform, to),
                    await group_chat_check(platform)]
        except Unreachable as exc:
            return [Check("platform", "unreachable", {"api_base": settings.api_base, "reason": str(exc)})]


# -- the command ---------------------------------------------------------------------------------
def _written(name: str, env: Mapping[str, str], config_file: str | None) -> str:
    """A setting as written (environment over the TOML file), before load_settings judges it."""
    if env.get(name):
        return env[name].strip()
    path = config_file or env.get("XIANFENG_CONFIG")
    if not path:
        return ""
    try:
        with open(path, "rb") as fh:
            return str(tomllib.load(fh).get(name, "")).strip()
    except (OSError, tomllib.TOMLDecodeError):
        return ""  # load_settings says what is wrong with the file


def load(env: Mapping[str, str], config_file: str | None) -> tuple[Settings, str]:
    """The settings, and the EncodingAESKey as written: a malformed key is one of the checks, so it
    does not stop the others (load_settings would refuse it)."""
    aes_key = _written("WECOM_AES_KEY", env, config_file)
    if aes_key_problem(aes_key) not in (None, "missing"):
        env = {**env, "WECOM_AES_KEY": PLACEHOLDER_AES_KEY}
    return load_settings(env, config_file), aes_key


async def diagnose(env: Mapping[str, str], config_file: str | None, to: str | None, out: TextIO) -> int:
    """Runs every check and prints them; 0 when none failed, 1 otherwise."""
    try:
        settings, aes_key = load(env, config_file)
    except ConfigError as exc:
        print(render("cli/config_error", name=exc.name, problem=exc.problem, detail=exc.detail), file=out)
        return 1
    checks = callback_checks(settings, aes_key) + [holidays_check(settings, date.today()), keys_check(settings)] \
        + await platform_checks(settings, to)
    print(render("cli/doctor", checks=checks, settings=settings), file=out, flush=True)
    return 1 if any(check.failed for check in checks) else 0


def main(*, config_file: str | None, to: str | None) -> int:
    return asyncio.run(diagnose(os.environ, config_file, to, sys.stdout))
