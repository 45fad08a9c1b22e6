"""A small async client for the WeChat Work server API, sharing one access token through the database.

The token is fetched once and cached in the ``access_token`` table, so several workers share it;
on 40014/42001 it is refreshed once, however many sends saw the stale token at the same time.
Every request waits its turn in a RateLimiter, so no API is called more often than WeChat Work
allows (每企业调用单个cgi/api不可超过1万次/分); an answer saying a limit was hit pauses them all.
Neither the secret nor the token is ever logged.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import aiohttp
from sqlalchemy import Engine, update

from bot.config import Settings
from bot.wecom.ratelimit import RateLimiter, TransientError
from storage.db import insert_new, transaction
from storage.models import AccessToken

log = logging.getLogger(__name__)

TOKEN_ERRORS = {40014, 42001, 41001}  # invalid, expired, missing access_token
LIMIT_ERRCODES = {45009, 45011, 45033}  # frequency, minute quota, concurrency: the platform wants us slower
TOKEN_MARGIN = 300.0  # refresh this long before the platform's expiry


class ApiError(Exception):
    def __init__(self, errcode: int, errmsg: str = ""):
        super().__init__(f"{errcode} {errmsg}".strip())
        self.errcode, self.errmsg = errcode, errmsg


async def request_json(http: aiohttp.ClientSession, method: str, url: str, *, timeout: aiohttp.ClientTimeout,
                       endpoint: str, **kwargs: Any) -> tuple[int, Any]:
    """(HTTP status, the body read as JSON when the status is 200). A timeout, a dropped connection or an
    unreadable body is a TransientError naming the exception's type only: aiohttp puts the URL, with the
    secret or the token in it, into its messages. Shared by the client and `xianfeng doctor`."""
    try:
        async with http.request(method, url, timeout=timeout, **kwargs) as resp:
            return resp.status, (await resp.json(content_type=None) if resp.status == 200 else None)
    except (asyncio.TimeoutError, aiohttp.ClientError, ValueError) as exc:
        raise TransientError(f"{type(exc).__name__} calling {endpoint}") from None


@dataclass(frozen=True)
class Media:
    """What media/get returned: the bytes, their Content-Type and the Content-Disposition file name."""

    data: bytes
    content_type: str
    filename: str | None


class MediaTooLarge(Exception):
    """media/get would return more than the caller keeps (one request returns at most 20 MB: 96486)."""


class TokenRefused(TransientError):
    """gettoken answered an errcode: usually a wrong corp id or secret, or an untrusted server IP
    (bot.wecom.setup_errors), never the fault of a message, so nothing is claimed or dead-lettered."""

    def __init__(self, errcode: int, errmsg: str = ""):
        super().__init__(f"gettoken failed: {errcode} {errmsg}".strip())
        self.errcode = errcode


class WeComClient:
    def __init__(self, settings: Settings, engine: Engine, http: aiohttp.ClientSession,
                 limiter: RateLimiter | None = None):
        self._settings, self._engine, self._http = settings, engine, http
        self._token: tuple[str, float] | None = None
        self._lock = asyncio.Lock()
        self._key = f"{settings.corp_id}:{settings.agent_id}"
        self.limiter = limiter or RateLimiter(settings.api_rate_per_minute, settings.api_minute,
                                              rates={"message/send": settings.message_rate_per_minute})
        self._timeout = aiohttp.ClientTimeout(total=settings.http_timeout)
        self._limit_hits = 0  # limit answers in a row: each one pauses longer

    async def call(self, endpoint: str, payload: dict[str, Any], *, deadline: float | None = None) -> dict[str, Any]:
        """`deadline` (time.monotonic()): raise Throttled rather than wait for a turn after it."""
        return await self._with_token(lambda token: self._post(endpoint, token, payload, deadline))

    async def query(self, endpoint: str, params: dict[str, str]) -> dict[str, Any]:
        """A GET call with the token in its query (auth/getuserinfo: the console's sign-in); its answer,
        or ApiError with the platform's errcode."""
        return await self._with_token(
            lambda token: self._request("GET", endpoint, params={**params, "access_token": token}))

    async def upload(self, kind: str, *, filename: str, content_type: str, data: bytes,
                     deadline: float | None = None) -> str:
        """media/upload (multipart, field "media"): the media_id, valid for three days."""
        def send(token: str) -> Awaitable[dict[str, Any]]:
            # A fresh form each time: aiohttp will not send one twice. The file name goes as UTF-8, as a
            # browser sends it: quoted (aiohttp's default) the platform would show a Chinese name as %E6%B4….
            form = aiohttp.FormData(quote_fields=False)
            form.add_field("media", data, filename=filename, content_type=content_type)
            return self._request("POST", "media/upload", params={"access_token": token, "type": kind}, data=form,
                                 deadline=deadline)
        body = await self._with_token(send)
        if not body.get("media_id"):
            raise TransientError("media/upload answered without a media_id")
        return str(body["media_id"])

    async def download(self, media_id: str, *, max_bytes: int) -> Media:
        """media/get (90254): the media a person sent, as an ordinary HTTP download (Content-Type,
        Content-Disposition: attachment; filename=…), or a JSON errcode (40007: invalid media_id, which
        includes one past its three days). A stalled download times out; a steady slow one does not."""
        token = await self.token()
        got = await self._get_media(token, media_id, max_bytes)
        if isinstance(got, dict) and got.get("errcode") in TOKEN_ERRORS:
            token = await self.refresh(stale=token)
            got = await self._get_media(token, media_id, max_bytes)
        if isinstance(got, dict):
            raise ApiError(int(got.get("errcode") or -1), str(got.get("errmsg", "")))
        return got

    async def _get_media(self, token: str, media_id: str, max_bytes: int) -> Media | dict[str, Any]:
        endpoint = "media/get"
        await self.limiter.acquire(endpoint)
        timeout = aiohttp.ClientTimeout(connect=self._timeout.total, sock_read=self._timeout.total)
        try:
            async with self._http.get(f"{self._settings.api_base}/{endpoint}", timeout=timeout,
                                      params={"access_token": token, "media_id": media_id}) as resp:
                if resp.status >= 500 or resp.status == 429:
                    raise TransientError(f"HTTP {resp.status} from {endpoint}")
                if resp.status != 200:
                    raise ApiError(-resp.status, f"HTTP {resp.status} from {endpoint}")
                disposition = resp.content_disposition
                if disposition is None:  # not a download: the errcode answer, in JSON
                    body = json.loads(await resp.content.read(1 << 16) or b"{}")
                    self._note_limits(endpoint, body)
                    return body if isinstance(body, dict) else {"errcode": -1}
                if (resp.content_length or 0) > max_bytes:
                    raise MediaTooLarge(f"{resp.content_length} bytes")
                data = await resp.content.read(max_bytes + 1)
                while len(data) <= max_bytes and not resp.content.at_eof():
                    data += await resp.content.read(max_bytes + 1 - len(data))
                if len(data) > max_bytes:
                    raise MediaTooLarge(f"more than {max_bytes} bytes")
                self._limit_hits = 0
                return Media(data, resp.content_type or "application/octet-stream", disposition.filename)
        except (asyncio.TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise TransientError(f"{type(exc).__name__} calling {endpoint}") from None

    async def _with_token(self, send: Callable[[str], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        """Send with the current token; on a token error refresh once and send again."""
        token = await self.token()
        body = await send(token)
        if body.get("errcode") in TOKEN_ERRORS:
            token = await self.refresh(stale=token)
            body = await send(token)
        if body.get("errcode", 0) != 0:
            raise ApiError(int(body["errcode"]), str(body.get("errmsg", "")))
        return body

    async def token(self) -> str:
        if self._token and self._token[1] > time.time():
            return self._token[0]
        return await self.refresh(stale=None)

    async def refresh(self, *, stale: str | None) -> str:
        """A fresh token, fetching one only if nobody (here or in another worker) already has."""
        async with self._lock:
            now = time.time()
            if self._token and self._token[0] != stale and self._token[1] > now:
                return self._token[0]
            cached = await asyncio.to_thread(self._load_cached)
            if cached and cached[0] != stale and cached[1] > now:
                self._token = cached
                return cached[0]
            self._token = await self._fetch()
            await asyncio.to_thread(self._store, *self._token)
            return self._token[0]

    async def _fetch(self) -> tuple[str, float]:
        params = {"corpid": self._settings.corp_id, "corpsecret": self._settings.secret}
        body = await self._request("GET", "gettoken", params=params)
        if body.get("errcode", 0) != 0 or "access_token" not in body:
            raise TokenRefused(int(body.get("errcode") or -1), str(body.get("errmsg", "")))
        expires_in = float(body.get("expires_in", 7200))
        return body["access_token"], time.time() + max(expires_in - TOKEN_MARGIN, expires_in / 2)

    def _load_cached(self) -> tuple[str, float] | None:
        with transaction(self._engine) as session:
            row = session.get(AccessToken, self._key)
            return (row.token, row.expires_at) if row else None

    def _store(self, token: str, expires_at: float) -> None:
        """Insert or replace: another client of the app (the sender, the console's sign-in, another
        process) may be storing the one it fetched at the same moment."""
        with transaction(self._engine) as session:
            session.execute(insert_new(session, AccessToken, "key").values(key=self._key, token=token,
                                                                         expires_at=expires_at))
            session.execute(update(AccessToken).where(AccessToken.key == self._key)
                            .values(token=token, expires_at=expires_at))

    async def _post(self, endpoint: str, token: str, payload: dict[str, Any],
                    deadline: float | None) -> dict[str, Any]:
        return await self._request("POST", endpoint, params={"access_token": token}, json=payload, deadline=deadline)

    async def _request(self, method: str, endpoint: str, *, deadline: float | None = None,
                       **kwargs: Any) -> dict[str, Any]:
        await self.limiter.acquire(endpoint, deadline)
        status, body = await request_json(self._http, method, f"{self._settings.api_base}/{endpoint}",
                                          timeout=self._timeout, endpoint=endpoint, **kwargs)
        if status >= 500 or status == 429:
            raise TransientError(f"HTTP {status} from {endpoint}")
        if status != 200:
            raise ApiError(-status, f"HTTP {status} from {endpoint}")
        self._note_limits(endpoint, body)
        return body

    def _note_limits(self, endpoint: str, body: Any) -> None:
        """A limit answer pauses every call, longer each time in a row (at most the platform's one-minute
        block, 按分钟拦截则被屏蔽60秒): retrying the refused call alone would only meet the limit again."""
        errcode = body.get("errcode", 0) if isinstance(body, dict) else 0
        if errcode not in LIMIT_ERRCODES:
            if errcode == 0:  # an ok ends the run of limit answers; other errors say nothing about it
                self._limit_hits = 0
            return
        self._limit_hits += 1
        s = self._settings
        pause = min(s.retry_base * 2 ** (self._limit_hits - 1), s.retry_cap, s.api_minute)
        self.limiter.pause(pause)
        (log.warning if self._limit_hits == 1 else log.info)(
            "%s answered %s: every call waits %.1fs", endpoint, errcode, pause)
