"""Settings: environment over an optional TOML file, validated once at start-up.

The environment names are a contract with deployments; do not rename them.
In the TOML file the same names may be written as keys, e.g. ``WECOM_CORP_ID = "ww..."``.
"""
from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import importlib.util
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com/cgi-bin"
# 网页授权 (91022): the page that asks the platform who opened a link and sends them back with a code.
# 政务微信 and the emulator serve it elsewhere (WECOM_OAUTH_BASE).
DEFAULT_OAUTH_BASE = "https://open.weixin.qq.com/connect/oauth2/authorize"
WECOM_REQUIRED = ("WECOM_CORP_ID", "WECOM_AGENT_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_AES_KEY")


class ConfigError(Exception):
    """One clear line naming the setting that is missing or malformed.

    ``problem`` is a code that message_templates/cli/config_error.j2 turns into words."""

    def __init__(self, name: str, problem: str, detail: str = ""):
        super().__init__(f"{name}: {problem} {detail}".strip())
        self.name, self.problem, self.detail = name, problem, detail


def _aes_key(value: str) -> str:
    try:
        raw = base64.b64decode(value + "=", validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(value) != 43 or len(raw) != 32:
        raise ValueError("aes_key")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("timezone") from None
    return value


def _database_url(value: str) -> str:
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError("database_url") from None
    # PostgreSQL's driver is an extra (`xianfeng[postgresql]`): without it, say so here instead of a
    # ModuleNotFoundError from deep inside SQLAlchemy at the first connection.
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg") and importlib.util.find_spec("psycopg") is None:
        raise ValueError("postgresql_driver")
    return value


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise ValueError("positive")
    return number


def _clock_time(value: str) -> str:
    try:
        hours, minutes = (int(part) for part in value.split(":"))
    except ValueError:
        hours = minutes = -1
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError("clock_time")
    return f"{hours:02d}:{minutes:02d}"


def _holidays_file(value: str) -> str:
    from bot.scheduler.calendar import load_calendar

    try:
        load_calendar(value)
    except FileNotFoundError:
        raise ValueError("holidays_missing") from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("XIANFENG_HOLIDAYS", "holidays", f"{value}: {exc}") from None
    return value


def _quiet_hours(value: str) -> str:
    if value.strip() in ("", "none"):
        return ""
    try:
        start, end = value.split("-")
        return f"{_clock_time(start.strip())}-{_clock_time(end.strip())}"
    except ValueError:
        raise ValueError("quiet_hours") from None


def _weekday(value: str) -> int:
    if not value.strip().isdigit() or not 1 <= int(value) <= 7:
        raise ValueError("weekday")
    return int(value)


def _count(value: str, least: int = 1, most: int | None = None) -> int:
    if not value.strip().isdigit() or int(value) < least or (most is not None and int(value) > most):
        raise ValueError("positive" if most is None else f"{least}_to_{most}")
    return int(value)


def _agent_id(value: str) -> int:
    if not str(value).strip().isdigit():
        raise ValueError("agent_id")
    return int(value)


def _web_address(value: str) -> str:
    """An http(s) address without a trailing slash (the OAuth page, the console's public address)."""
    value = value.rstrip("/")
    scheme, _, rest = value.partition("://")
    if scheme not in ("http", "https") or not rest or any(c in value for c in " ?#"):
        raise ValueError("web_address")
    return value


def _origin(value: str) -> str:
    """scheme://host[:port], nothing after it: the console's pages live at /console/ of it."""
    value = _web_address(value)
    if "/" in value.split("://", 1)[1]:
        raise ValueError("origin")
    return value


def _seal_key(value: str) -> str:
    if len(value) < 32:
        raise ValueError("seal_key")
    return value


def _default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'data' / 'xianfeng.db'}"


@dataclass(frozen=True)
class Settings:
    corp_id: str = ""
    agent_id: int = 0
    secret: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    aes_key: str = field(default="", repr=False)
    api_base: str = DEFAULT_API_BASE
    database_url: str = field(default_factory=_default_database_url)
    tz: str = "Asia/Shanghai"
    # Sender tuning; the defaults suit the real service, tests shorten them.
    http_timeout: float = 10.0
    retry_base: float = 2.0
    retry_cap: float = 300.0
    # Calls of one API a minute, at most: WeChat Work's documented base frequency, "每企业调用单个
    # cgi/api不可超过1万次/分" (per corp and API; other apps of the corp share it, so lower it for them,
    # and each `serve` process paces itself, so divide it among several). api_minute is the length
    # of that minute: only tests and benchmarks shorten it, together with the emulator's.
    api_rate_per_minute: int = 10_000
    api_minute: float = 60.0
    # message/send a minute, at most. "发消息频率不计入基础频率" (90454): sending is limited per member
    # (30 a minute, 1,000 an hour) and per app and day, not by the base frequency above, and no
    # per-minute cap is documented for it. Twice the base rate keeps 200 replies a second clear of
    # our own pacing and a 100,000-person digest to five minutes, without bursts that invite 45033.
    message_rate_per_minute: int = 20_000
    # Reminders: the weekly digest (1 = Monday), the time of group announcements, the hours in
    # which nobody is nudged, and how many personal reminders one person gets in a week at most.
    # The default times miss :00 and :30, when WeChat Work delivers slower
    # (developer.work.weixin.qq.com/document/path/90236); the end of the quiet hours is when what
    # they held back (poll reminders, parked forms, announcements) goes out. A configured time is
    # kept as written.
    # 放假 and 调休上班 days for the years the chinese_calendar package does not know yet (a TOML file,
    # bot/scheduler/calendar.py; README says its form).
    holidays_file: str = ""
    digest_weekday: int = 1
    digest_time: str = "09:07"
    announce_time: str = "09:07"
    quiet_hours: str = "22:00-07:07"
    nudge_cap: int = 3
    leader_ttl: float = 45.0  # seconds a scheduler lease lasts without renewal
    form_idle_minutes: float = 30.0  # a half-filled form is parked after this long without an answer
    # Processes of `serve` that handle the callbacks its web process answered, beside one that sends
    # and schedules (bot/handler_process.py); 0: the web process does all of it (one process, no
    # second copy in memory).
    handler_processes: int = 1
    # Sealing (storage/sealing.py): the master key the poll and inbox keys are wrapped under (any
    # long random string; WECOM_AES_KEY when unset, but then a new EncodingAESKey loses the open
    # polls' ballots), and the directory of those keys (beside a SQLite file, else data/keys).
    seal_key: str = field(default="", repr=False)
    key_dir: str = ""
    # The console (bot/console/): the platform's 网页授权 page, and the address people open it at when a
    # reverse proxy stands in front ("https://xf.example.cn"; it decides the OAuth redirect_uri and
    # whether the session cookie is Secure). Unset: the address the request came to.
    oauth_base: str = DEFAULT_OAUTH_BASE
    public_url: str = ""

    def key_directory(self) -> Path:
        if self.key_dir:
            return Path(self.key_dir)
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return Path(f"{url.database}.keys")
        return Path.cwd() / "data" / "keys"

    @property
    def seal_secret(self) -> str:
        """The master key sealing derives from: XIANFENG_SEAL_KEY, else WECOM_AES_KEY ("" without both)."""
        return self.seal_key or self.aes_key

    def use_keys(self) -> None:
        """Seal under this configuration's keys in this process (serve and each of its processes)."""
        from storage import sealing

        if self.seal_secret:
            sealing.configure(self.key_directory(), self.seal_secret)

    def console_key(self) -> bytes | None:
        """The key the console signs its cookies with: derived from the sealing master key (never the
        master itself, never logged), so a deployment has one secret fewer to keep. None without one."""
        master = self.seal_secret
        if not master:
            return None
        return hmac.new(master.encode(), b"xianfeng console session v1", hashlib.sha256).digest()

    def require_wecom(self) -> "Settings":
        """`serve` cannot run without the app's credentials; other commands can."""
        for name in WECOM_REQUIRED:
            if not getattr(self, _FIELDS[name][0]):
                raise ConfigError(name, "required")
        return self


# env/TOML name -> (attribute, parser)
_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "WECOM_CORP_ID": ("corp_id", str),
    "WECOM_AGENT_ID": ("agent_id", _agent_id),
    "WECOM_SECRET": ("secret", str),
    "WECOM_TOKEN": ("token", str),
    "WECOM_AES_KEY": ("aes_key", _aes_key),
    "WECOM_API_BASE": ("api_base", lambda v: v.rstrip("/")),
    "WECOM_OAUTH_BASE": ("oauth_base", _web_address),
    "XIANFENG_PUBLIC_URL": ("public_url", _origin),
    "DATABASE_URL": ("database_url", _database_url),
    "XIANFENG_TZ": ("tz", _timezone),
    "XIANFENG_HTTP_TIMEOUT": ("http_timeout", _positive_float),
    "XIANFENG_RETRY_BASE": ("retry_base", _positive_float),
    "XIANFENG_RETRY_CAP": ("retry_cap", _positive_float),
    "XIANFENG_API_RATE_PER_MINUTE": ("api_rate_per_minute", _count),
    "XIANFENG_MESSAGE_RATE_PER_MINUTE": ("message_rate_per_minute", _count),
    "XIANFENG_HOLIDAYS": ("holidays_file", _holidays_file),
    "XIANFENG_DIGEST_WEEKDAY": ("digest_weekday", _weekday),
    "XIANFENG_DIGEST_TIME": ("digest_time", _clock_time),
    "XIANFENG_ANNOUNCE_TIME": ("announce_time", _clock_time),
    "XIANFENG_QUIET_HOURS": ("quiet_hours", _quiet_hours),
    "XIANFENG_NUDGE_CAP": ("nudge_cap", _count),
    "XIANFENG_LEADER_TTL": ("leader_ttl", _positive_float),
    "XIANFENG_FORM_IDLE_MINUTES": ("form_idle_minutes", _positive_float),
    "XIANFENG_HANDLER_PROCESSES": ("handler_processes", functools.partial(_count, least=0, most=16)),
    "XIANFENG_SEAL_KEY": ("seal_key", _seal_key),
    "XIANFENG_KEY_DIR": ("key_dir", str),
}


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError("XIANFENG_CONFIG", "file_missing", path) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("XIANFENG_CONFIG", "toml", f"{path}: {exc}") from None
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ConfigError(unknown[0], "unknown", path)
    return data


def load_settings(env: Mapping[str, str] | None = None, config_file: str | None = None) -> Settings:
    env = os.environ if env is None else env
    path = config_file or env.get("XIANFENG_CONFIG")
    raw: dict[str, Any] = _read_toml(path) if path else {}
    raw.update({k: env[k] for k in _FIELDS if env.get(k, "") != ""})
    values = {}
    for name, value in raw.items():
        attr, parse = _FIELDS[name]
        try:
            values[attr] = parse(str(value).strip())
        except ValueError as exc:
            raise ConfigError(name, str(exc)) from None
    return Settings(**values)
