"""The WeChat Work server API, played locally: the stand-in every end-to-end test and the demo use.

It answers with WeChat Work's JSON shapes and error codes and applies its documented rules:
access tokens expire, ``touser`` takes at most 1000 people, a member receives at most 30 app
messages a minute (more are dropped silently, with errcode 0, as the real service does),
``enable_duplicate_check`` suppresses a repeat, and apps post only to group chats they created.
Tests inject faults per API (errcode, HTTP status, delay) and read what each person saw.
"""
from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CHATID = re.compile(r"^[0-9A-Za-z]{1,32}$")
ERRMSG = {0: "ok", -1: "system busy", 40001: "invalid credential", 40013: "invalid corpid",
          40014: "invalid access_token", 40035: "invalid parameter", 40056: "invalid agentid",
          41001: "access_token missing", 42001: "access_token expired", 45009: "api freq out of limit",
          45033: "api concurrent out of limit", 81013: "user & party & tag all invalid",
          86003: "chat not found", 86215: "chatid exists", 86216: "invalid chat member"}


@dataclass
class Fault:
    errcode: int | None = None
    status: int | None = None  # an HTTP status instead of a JSON answer
    delay: float = 0.0  # seconds before answering; longer than the client's timeout is a hang


@dataclass
class Chat:
    name: str
    owner: str
    members: list[str]
    messages: list[dict[str, Any]] = field(default_factory=list)


class WeComEmulator:
    def __init__(self, *, corp_id: str, secret: str, agent_id: int, token_ttl: int = 7200,
                 per_member_per_minute: int = 30):
        self.corp_id, self.secret, self.agent_id = corp_id, secret, agent_id
        self.token_ttl, self.per_member_per_minute = token_ttl, per_member_per_minute
        self.tokens: dict[str, float] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []  # (api, body or query), in order
        self.inbox: dict[str, list[dict[str, Any]]] = defaultdict(list)  # userid -> app messages seen
        self.dropped: dict[str, int] = defaultdict(int)  # userid -> messages dropped by the limit
        self.chats: dict[str, Chat] = {}
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._received: dict[str, deque[float]] = defaultdict(deque)
        self._recent: dict[tuple[str, str], float] = {}  # (userid, content key) -> time, for duplicate check

    # -- controls for tests -------------------------------------------------------------------
    def fail(self, api: str, *faults: Fault) -> None:
        """The next calls of `api` meet these faults, one each, in order."""
        self._faults[api].extend(faults)

    def clear_faults(self) -> None:
        self._faults.clear()

    def expire_tokens(self) -> None:
        self.tokens = {t: 0.0 for t in self.tokens}

    def count(self, api: str) -> int:
        return sum(1 for name, _ in self.calls if name == api)

    def texts(self, userid: str) -> list[str]:
        return [m[m["msgtype"]]["content"] for m in self.inbox[userid] if m["msgtype"] in ("text", "markdown")]

    # -- the API ------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/cgi-bin/{api:.+}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        api = request.match_info["api"]
        body = await request.json() if request.method == "POST" else dict(request.query)
        self.calls.append((api, body))
        if self._faults[api]:
            fault = self._faults[api].popleft()
            await asyncio.sleep(fault.delay)
            if fault.status:
                return web.Response(status=fault.status, text="upstream error")
            if fault.errcode is not None:
                return _error(fault.errcode)
        if api == "gettoken":
            return self._gettoken(body)
        token_error = self._check_token(request.query.get("access_token"))
        if token_error:
            return _error(token_error)
        handler = {"message/send": self._message_send, "appchat/create": self._appchat_create,
                   "appchat/update": self._appchat_update, "appchat/send": self._appchat_send,
                   "appchat/get": self._appchat_get}.get(api)
        return handler(body) if handler else web.json_response({"errcode": 40035, "errmsg": f"unknown api {api}"})

    def _gettoken(self, query) -> web.Response:
        if query.get("corpid") != self.corp_id:
            return _error(40013)
        if query.get("corpsecret") != self.secret:
            return _error(40001)
        token = secrets.token_urlsafe(32)
        self.tokens[token] = time.time() + self.token_ttl
        return web.json_response({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.token_ttl})

    def _check_token(self, token: str | None) -> int:
        if not token:
            return 41001
        if token not in self.tokens:
            return 40014
        return 42001 if self.tokens[token] <= time.time() else 0

    def _message_send(self, body: dict[str, Any]) -> web.Response:
        if body.get("agentid") != self.agent_id:
            return _error(40056)
        users = [u for u in str(body.get("touser", "")).split("|") if u]
        if not users or len(users) > 1000 or body.get("msgtype") not in body:
            return _error(40035)
        for userid in users:
            self._deliver(userid, body)
        return web.json_response({"errcode": 0, "errmsg": "ok", "invaliduser": "",
                                  "msgid": secrets.token_hex(16)})

    def _deliver(self, userid: str, body: dict[str, Any]) -> None:
        now = time.time()
        content_key = repr((body["msgtype"], body[body["msgtype"]]))
        if body.get("enable_duplicate_check") and \
                now - self._recent.get((userid, content_key), -1e9) < body.get("duplicate_check_interval", 1800):
            return
        window = self._received[userid]
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= self.per_member_per_minute:
            self.dropped[userid] += 1  # the real service drops these and still answers ok
            return
        window.append(now)
        self._recent[(userid, content_key)] = now
        self.inbox[userid].append({k: v for k, v in body.items() if k not in ("touser", "agentid")})

    def _appchat_create(self, body: dict[str, Any]) -> web.Response:
        chatid = body.get("chatid") or secrets.token_hex(16)
        members = list(dict.fromkeys(body.get("userlist", [])))
        if not CHATID.match(chatid) or len(members) < 2 or body.get("owner", members[0]) not in members:
            return _error(40035 if len(members) >= 2 else 86216)
        if chatid in self.chats:
            return _error(86215)
        self.chats[chatid] = Chat(body.get("name", ""), body.get("owner", members[0]), members)
        return web.json_response({"errcode": 0, "errmsg": "ok", "chatid": chatid})

    def _appchat_update(self, body: dict[str, Any]) -> web.Response:
        chat = self.chats.get(body.get("chatid", ""))
        if chat is None:
            return _error(86003)
        removed = set(body.get("del_user_list", []))
        chat.members = [m for m in chat.members if m not in removed]
        chat.members += [m for m in body.get("add_user_list", []) if m not in chat.members]
        chat.owner = body.get("owner", chat.owner)
        chat.name = body.get("name", chat.name)
        return _error(0)

    def _appchat_send(self, body: dict[str, Any]) -> web.Response:
        chat = self.chats.get(body.get("chatid", ""))
        if chat is None:
            return _error(86003)
        if body.get("msgtype") not in ("text", "markdown", "image", "file", "textcard", "news") or \
                body.get("msgtype") not in body:
            return _error(40035)  # template cards cannot go to group chats
        chat.messages.append({k: v for k, v in body.items() if k != "chatid"})
        return _error(0)

    def _appchat_get(self, body: dict[str, Any]) -> web.Response:
        chat = self.chats.get(body.get("chatid", ""))
        if chat is None:
            return _error(86003)
        info = {"chatid": body["chatid"], "name": chat.name, "owner": chat.owner, "userlist": chat.members}
        return web.json_response({"errcode": 0, "errmsg": "ok", "chat_info": info})


def _error(errcode: int) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": ERRMSG.get(errcode, "error")})
