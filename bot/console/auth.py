"""Sign-in by the platform, no passwords (网页授权: developer.work.weixin.qq.com/document/path/91022,
91023), and the console's session.

GET /console/ without a session goes to the platform's authorize page (WECOM_OAUTH_BASE) with a fresh
`state`, kept beside the page that was asked for in a short signed cookie; the platform sends the
browser back to /console/?code=…&state=…. The state must equal the cookie's (a login started elsewhere
is refused: CSRF on the login), the code is exchanged once with auth/getuserinfo (one use, 5 minutes,
at most 512 bytes), and the person it names gets a session cookie: signed (HMAC-SHA256 under a key
derived from the sealing master key, Settings.console_key), HttpOnly, SameSite=Lax, Secure when served
over https, valid 8 hours. The session names the person only: their role and branch are read again on
every request, so a roster change applies at once. Every POST carries a CSRF token bound to the
session's random nonce. Neither the key, nor a cookie, nor a code is ever logged.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.config import Settings

SESSION_COOKIE = "xf_console"
LOGIN_COOKIE = "xf_console_login"
SESSION_SECONDS = 8 * 3600
LOGIN_SECONDS = 600  # from leaving for the authorize page to coming back with its code
HOME = "/console/"
CODE_MAX_BYTES = 512  # 91022: code长度最大为512字节
STATE = re.compile(r"[A-Za-z0-9]{1,128}")  # 91022: a-zA-Z0-9, at most 128 bytes


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signed values (payload.mac) for the cookies; `purpose` is part of the signature, so a login
    cookie never passes for a session and no token for another use."""

    def __init__(self, key: bytes):
        self._key = key

    def mac(self, purpose: str, data: bytes) -> bytes:
        return hmac.new(self._key, purpose.encode() + b"\x00" + data, hashlib.sha256).digest()

    def dumps(self, purpose: str, payload: dict[str, Any]) -> str:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        return f"{_b64(body)}.{_b64(self.mac(purpose, body))}"

    def loads(self, purpose: str, value: str | None, *, now: float) -> dict[str, Any] | None:
        """The payload, if the value is ours, for this purpose, and not expired; else None."""
        if not value or value.count(".") != 1 or len(value) > 4096:
            return None
        body_text, mac_text = value.split(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except (ValueError, TypeError):
            return None
        if not hmac.compare_digest(mac, self.mac(purpose, body)):
            return None
        try:
            payload = json.loads(body)
        except ValueError:
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("e"), (int, float)) or payload["e"] <= now:
            return None
        return payload


@dataclass(frozen=True)
class Session:
    userid: str
    nonce: str
    expires: float


def new_session(signer: Signer, userid: str, *, now: float) -> tuple[str, Session]:
    session = Session(userid, secrets.token_urlsafe(16), now + SESSION_SECONDS)
    return signer.dumps("session", {"u": userid, "n": session.nonce, "e": session.expires, "i": now}), session


def read_session(signer: Signer, value: str | None, *, now: float) -> Session | None:
    payload = signer.loads("session", value, now=now)
    if payload is None or not isinstance(payload.get("u"), str) or not isinstance(payload.get("n"), str):
        return None
    return Session(payload["u"], payload["n"], payload["e"])


def csrf_token(signer: Signer, session: Session) -> str:
    return _b64(signer.mac("csrf", session.nonce.encode()))


def csrf_ok(signer: Signer, session: Session, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(str(token), csrf_token(signer, session))


def new_login(signer: Signer, wanted: str, *, now: float) -> tuple[str, str]:
    """(the login cookie, the state to send): the page to return to travels in the cookie, not the URL."""
    state = secrets.token_hex(16)
    return signer.dumps("login", {"s": state, "w": safe_path(wanted), "e": now + LOGIN_SECONDS}), state


def read_login(signer: Signer, value: str | None, state: str | None, *, now: float) -> str | None:
    """The page to return to, if `state` is the one this browser was sent away with; else None."""
    payload = signer.loads("login", value, now=now)
    if payload is None or not state or not STATE.fullmatch(state):
        return None
    if not hmac.compare_digest(str(payload.get("s", "")), state):
        return None
    return safe_path(str(payload.get("w", HOME)))


def safe_path(path: str) -> str:
    """Only a page of the console: never another site (no open redirect)."""
    if not path.startswith(HOME) or path.startswith("//") or "\\" in path or any(ord(c) < 32 for c in path):
        return HOME
    return path


def origin(settings: Settings, request: web.Request) -> str:
    """The address the browser uses: XIANFENG_PUBLIC_URL behind a proxy, else the request's own."""
    return settings.public_url or f"{request.scheme}://{request.host}"


def secure(settings: Settings, request: web.Request) -> bool:
    return origin(settings, request).startswith("https://")


def authorize_url(settings: Settings, request: web.Request, state: str) -> str:
    """91022: 构造网页授权链接, snsapi_base (静默授权: the member's UserId, no page to agree on)."""
    query = urlencode({"appid": settings.corp_id, "redirect_uri": origin(settings, request) + HOME,
                       "response_type": "code", "scope": "snsapi_base", "state": state,
                       "agentid": settings.agent_id})
    return f"{settings.oauth_base}?{query}#wechat_redirect"


def plausible_code(code: str | None) -> bool:
    return bool(code) and len(code.encode()) <= CODE_MAX_BYTES and code.isprintable()


def set_cookie(response: web.StreamResponse, name: str, value: str, *, max_age: int, secure_only: bool) -> None:
    response.set_cookie(name, value, max_age=max_age, path=HOME, httponly=True, samesite="Lax", secure=secure_only)


def clear_cookie(response: web.StreamResponse, name: str, *, secure_only: bool) -> None:
    response.del_cookie(name, path=HOME, httponly=True, samesite="Lax", secure=secure_only)
