"""The WeChat Work server API under /cgi-bin/, played by the emulator.

Answers use WeChat Work's JSON shapes and error codes and apply its documented rules: tokens
expire; ``touser`` takes at most 1000 people; text and markdown at most 2048 bytes; template
cards are checked (cards.py) and cannot go to group chats; a member receives at most 30 app
messages a minute (more are dropped while the call still answers ok, as the real service does);
``enable_duplicate_check`` suppresses a repeat; a ``response_code`` updates a card once; apps
post only to group chats they created. Where the platform does not document an error code
(a spent response_code), the emulator answers 40035, invalid parameter.
"""
from __future__ import annotations

import asyncio
import re
import secrets
import time
from typing import Any, Callable

from aiohttp import web

from bot.wecom.emulator.cards import INTERACTIVE, card_problem
from bot.wecom.emulator.state import ERRMSG, Chat, EmulatorState

CHATID = re.compile(r"^[0-9A-Za-z]{1,32}$")
APP_MSGTYPES = {"text", "markdown", "textcard", "template_card", "image", "file", "news"}
CHAT_MSGTYPES = {"text", "markdown", "textcard", "image", "file", "news"}  # no template cards in groups
TEXT_LIMIT = 2048
MEDIA_LIMITS = {"image": 10 << 20, "voice": 2 << 20, "video": 10 << 20, "file": 20 << 20}


def reply(errcode: int = 0, **fields: Any) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": ERRMSG.get(errcode, "error"), **fields})


class EmulatorApi:
    def __init__(self, state: EmulatorState):
        self.state = state
        self._routes: dict[str, Callable[..., Any]] = {
            "message/send": self.message_send, "message/update_template_card": self.update_card,
            "appchat/create": self.appchat_create, "appchat/update": self.appchat_update,
            "appchat/send": self.appchat_send, "appchat/get": self.appchat_get, "user/get": self.user_get,
            "user/list": self.user_list, "department/list": self.department_list}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/cgi-bin/{api:.+}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        api = request.match_info["api"]
        if api == "media/upload":
            body: dict[str, Any] = dict(request.query)
        elif request.method == "POST":
            try:
                body = await request.json()
            except ValueError:
                return reply(40035)
        else:
            body = dict(request.query)
        self.state.calls.append((api, body))
        faulted = await self._fault(request, api)
        if faulted is not None:
            return faulted
        if api == "gettoken":
            return self.gettoken(body)
        token_error = self._token_error(request.query.get("access_token"))
        if token_error:
            return reply(token_error)
        if api == "media/upload":
            return await self.media_upload(request)
        handler = self._routes.get(api)
        return handler(body) if handler else reply(40035)

    async def _fault(self, request: web.Request, api: str) -> web.StreamResponse | None:
        if not self.state.faults[api]:
            return None
        fault = self.state.faults[api].popleft()
        await asyncio.sleep(fault.delay)
        if fault.drop:
            request.transport.close()
            return web.Response(status=500)  # never reaches the client: the connection is gone
        if fault.status:
            return web.Response(status=fault.status, text="upstream error")
        return reply(fault.errcode) if fault.errcode is not None else None

    def gettoken(self, query: dict[str, Any]) -> web.Response:
        if query.get("corpid") != self.state.corp_id:
            return reply(40013)
        if query.get("corpsecret") != self.state.secret:
            return reply(40001)
        token = secrets.token_urlsafe(32)
        self.state.tokens[token] = time.time() + self.state.token_ttl
        return reply(0, access_token=token, expires_in=self.state.token_ttl)

    def _token_error(self, token: str | None) -> int:
        if not token:
            return 41001
        if token not in self.state.tokens:
            return 40014
        return 42001 if self.state.tokens[token] <= time.time() else 0

    # -- messages ---------------------------------------------------------------------------
    def _recipients(self, body: dict[str, Any]) -> list[str] | None:
        if body.get("touser") == "@all":
            return list(self.state.people)
        users = [u for u in str(body.get("touser", "")).split("|") if u]
        parties = {p for p in str(body.get("toparty", "")).split("|") if p}
        users += [p.userid for p in self.state.people.values() if str(p.department) in parties]
        return list(dict.fromkeys(users)) if len(users) <= 1000 else None

    def _content_problem(self, body: dict[str, Any], allowed: set[str]) -> int:
        msgtype = body.get("msgtype")
        if msgtype not in allowed or not isinstance(body.get(msgtype), dict):
            return 40008
        if msgtype in ("text", "markdown"):
            content = body[msgtype].get("content") or ""
            if not content:
                return 44004
            if len(content.encode()) > TEXT_LIMIT:
                return 45002
        if msgtype == "template_card" and card_problem(body["template_card"]):
            return 40035
        return 0

    def message_send(self, body: dict[str, Any]) -> web.Response:
        if body.get("agentid") != self.state.agent_id:
            return reply(40056)
        users = self._recipients(body)
        if users is None:
            return reply(40032)  # more than 1000 people in one call
        problem = self._content_problem(body, APP_MSGTYPES)
        if problem:
            return reply(problem)
        card = body.get("template_card") or {}
        interactive = body["msgtype"] == "template_card" and card.get("card_type") in INTERACTIVE
        if interactive and card["task_id"] in self.state.task_ids:
            return reply(40035)  # task_id must be unique within the app
        valid = [u for u in users if self.state.knows(u)]
        invalid = [u for u in users if not self.state.knows(u)]
        if not valid:
            return reply(81013)
        for userid in valid:
            self._deliver(userid, body)
        extra: dict[str, Any] = {}
        if interactive:
            self.state.task_ids.add(card["task_id"])
            extra["response_code"] = self._new_response_code(card["task_id"], valid)
        return reply(0, invaliduser="|".join(invalid), msgid=secrets.token_hex(16), **extra)

    def _deliver(self, userid: str, body: dict[str, Any]) -> None:
        state, now = self.state, time.time()
        content_key = repr((body["msgtype"], body[body["msgtype"]]))
        if body.get("enable_duplicate_check") and \
                now - state.recent.get((userid, content_key), -1e9) < body.get("duplicate_check_interval", 1800):
            return
        window = state.received[userid]
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= state.per_member_per_minute:
            state.dropped[userid] += 1  # the real service drops these and still answers ok
            return
        window.append(now)
        state.recent[(userid, content_key)] = now
        task_id = (body.get("template_card") or {}).get("task_id", "")
        state.post(userid, "app", body["msgtype"], body[body["msgtype"]], task_id=task_id)

    def _new_response_code(self, task_id: str, userids: list[str]) -> str:
        code = secrets.token_urlsafe(24)
        self.state.response_codes[code] = (task_id, userids)
        return code

    def update_card(self, body: dict[str, Any]) -> web.Response:
        if body.get("agentid") != self.state.agent_id:
            return reply(40056)
        spent = self.state.response_codes.pop(body.get("response_code", ""), None)
        if spent is None:
            return reply(40035)  # unknown, expired or already used: each code works once
        task_id, allowed = spent
        wanted = allowed if body.get("atall") or not body.get("userids") else \
            [u for u in body["userids"] if u in allowed]
        new_card = body.get("template_card")
        if new_card is not None and card_problem(new_card):
            return reply(40035)
        for userid in wanted:
            for entry in self.state.cards(userid):
                if entry.task_id == task_id:
                    entry.state = (body.get("button") or {}).get("replace_name", entry.state)
                    entry.body = new_card or entry.body
            self.state.notify(userid)
        return reply(0, invaliduser=[])

    def new_click_code(self, task_id: str, userid: str) -> str:
        """The response_code a card click carries in its callback: it updates that person's card once."""
        return self._new_response_code(task_id, [userid])

    # -- group chats --------------------------------------------------------------------------
    def appchat_create(self, body: dict[str, Any]) -> web.Response:
        chatid = body.get("chatid") or secrets.token_hex(16)
        members = list(dict.fromkeys(body.get("userlist") or []))
        owner = body.get("owner") or (members[0] if members else "")
        if len(members) < 2 or len(members) > 2000 or not all(self.state.knows(m) for m in members):
            return reply(86216)
        if not CHATID.match(chatid) or owner not in members:
            return reply(40035)
        if chatid in self.state.chats:
            return reply(86215)
        self.state.chats[chatid] = Chat(chatid, str(body.get("name", ""))[:50], owner, members)
        return reply(0, chatid=chatid)

    def appchat_update(self, body: dict[str, Any]) -> web.Response:
        chat = self.state.chats.get(body.get("chatid", ""))
        if chat is None:
            return reply(86003)
        removed = set(body.get("del_user_list") or [])
        chat.members = [m for m in chat.members if m not in removed]
        chat.members += [m for m in body.get("add_user_list") or [] if m not in chat.members]
        chat.owner = body.get("owner") or chat.owner
        chat.name = str(body.get("name") or chat.name)[:50]
        for member in chat.members:
            self.state.notify(member)
        return reply(0)

    def appchat_send(self, body: dict[str, Any]) -> web.Response:
        chat = self.state.chats.get(body.get("chatid", ""))
        if chat is None:
            return reply(86003)
        problem = self._content_problem(body, CHAT_MSGTYPES)
        if problem:
            return reply(problem)
        self.state.post_to_chat(chat, "app", body["msgtype"], body[body["msgtype"]])
        return reply(0)

    def appchat_get(self, body: dict[str, Any]) -> web.Response:
        chat = self.state.chats.get(body.get("chatid", ""))
        if chat is None:
            return reply(86003)
        return reply(0, chat_info={"chatid": chat.chatid, "name": chat.name, "owner": chat.owner,
                                   "userlist": chat.members})

    # -- directory and media ------------------------------------------------------------------
    def user_get(self, query: dict[str, Any]) -> web.Response:
        person = self.state.people.get(query.get("userid", ""))
        if person is None:
            return reply(60111)
        return reply(0, userid=person.userid, name=person.name, department=[person.department],
                     position=person.position, status=1)

    def user_list(self, query: dict[str, Any]) -> web.Response:
        dept = str(query.get("department_id", ""))
        if not dept.isdigit() or int(dept) not in self.state.departments:
            return reply(60123)
        people = [p for p in self.state.people.values() if p.department == int(dept) or int(dept) == 1]
        return reply(0, userlist=[{"userid": p.userid, "name": p.name, "department": [p.department],
                                   "position": p.position} for p in people])

    def department_list(self, _query: dict[str, Any]) -> web.Response:
        return reply(0, department=list(self.state.departments.values()))

    async def media_upload(self, request: web.Request) -> web.Response:
        kind = request.query.get("type", "")
        if kind not in MEDIA_LIMITS:
            return reply(40004)
        reader = await request.multipart()
        part = await reader.next()
        data = await part.read() if part is not None else b""
        if not 5 <= len(data) <= MEDIA_LIMITS[kind]:
            return reply(40006)
        media_id = secrets.token_urlsafe(24)
        self.state.media[media_id] = (part.headers.get("Content-Type", "application/octet-stream"), data)
        return reply(0, type=kind, media_id=media_id, created_at=str(int(time.time())))
