"""App messages (message/send) and card updates (message/update_template_card).

Rules applied: ``touser`` (with ``toparty``, ``@all``) at most 1000 people; text and markdown at
most 2048 bytes; template cards checked by cards.py, interactive ones with a task_id unique in
the app; an image or file names a media_id that media/upload issued (else 40007); a member
receives at most 30 app messages a minute, more are dropped while the call still answers ok, as
the real service does; ``enable_duplicate_check`` suppresses a repeat; a
``response_code`` updates cards once. Where the platform does not document an error code (a
spent response_code, a reused task_id), the emulator answers 40035, invalid parameter.
"""
from __future__ import annotations

import secrets
import time
from typing import Any, Container

from aiohttp import web

from bot.wecom.emulator.cards import INTERACTIVE, card_problem
from bot.wecom.emulator.state import EmulatorState

APP_MSGTYPES = {"text", "markdown", "textcard", "template_card", "image", "file", "news"}
CHAT_MSGTYPES = APP_MSGTYPES - {"template_card"}  # group chats cannot carry template cards
MEDIA_MSGTYPES = {"image", "file"}  # these carry a media_id that media/upload must have issued
TEXT_LIMIT = 2048
ERRMSG = {0: "ok", -1: "system busy", 40001: "invalid credential", 40003: "invalid userid",
          40004: "invalid media type", 40006: "invalid file size", 40007: "invalid media_id",
          40008: "invalid message type", 40032: "invalid userid list size", 40013: "invalid corpid",
          40014: "invalid access_token", 40035: "invalid parameter", 40056: "invalid agentid",
          41001: "access_token missing", 41005: "media data missing", 42001: "access_token expired",
          44004: "empty content", 45002: "content size out of limit", 45009: "api freq out of limit",
          45033: "api concurrent out of limit", 60111: "userid not found", 60123: "invalid party id",
          81013: "user & party & tag all invalid", 86003: "chat not found", 86215: "chatid exists",
          86216: "invalid chat member"}


def reply(errcode: int = 0, **fields: Any) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": ERRMSG.get(errcode, "error"), **fields})


def content_problem(body: dict[str, Any], allowed: set[str], media: Container[str]) -> int:
    """The errcode for what is wrong with a message's content, or 0. `media`: the media ids issued."""
    msgtype = body.get("msgtype")
    if msgtype not in allowed or not isinstance(body.get(msgtype), dict):
        return 40008
    if msgtype in MEDIA_MSGTYPES and body[msgtype].get("media_id") not in media:
        return 40007
    if msgtype in ("text", "markdown"):
        content = body[msgtype].get("content") or ""
        if not content:
            return 44004
        if len(content.encode()) > TEXT_LIMIT:
            return 45002
    if msgtype == "template_card" and card_problem(body["template_card"]):
        return 40035
    return 0


def _recipients(state: EmulatorState, body: dict[str, Any]) -> list[str] | None:
    if body.get("touser") == "@all":
        return list(state.people)
    users = [u for u in str(body.get("touser", "")).split("|") if u]
    parties = {p for p in str(body.get("toparty", "")).split("|") if p}
    users += [p.userid for p in state.people.values() if str(p.department) in parties]
    return list(dict.fromkeys(users)) if len(users) <= 1000 else None


def message_send(state: EmulatorState, body: dict[str, Any]) -> web.Response:
    if body.get("agentid") != state.agent_id:
        return reply(40056)
    users = _recipients(state, body)
    if users is None:
        return reply(40032)  # more than 1000 people in one call
    problem = content_problem(body, APP_MSGTYPES, state.media)
    if problem:
        return reply(problem)
    card = body.get("template_card") or {}
    interactive = body["msgtype"] == "template_card" and card.get("card_type") in INTERACTIVE
    if interactive and card["task_id"] in state.task_ids:
        return reply(40035)
    valid = [u for u in users if state.knows(u)]
    if not valid:
        return reply(81013)
    kind, content = body["msgtype"], body[body["msgtype"]]
    now, content_key = time.time(), repr((kind, content))  # once for up to 1000 people
    for userid in valid:
        if _admitted(state, userid, body, now, content_key):
            state.post(userid, "app", kind, content, task_id=card.get("task_id", ""))
    extra: dict[str, Any] = {}
    if interactive:
        state.task_ids.add(card["task_id"])
        extra["response_code"] = new_response_code(state, card["task_id"], valid)
    invalid = [u for u in users if not state.knows(u)]
    return reply(0, invaliduser="|".join(invalid), msgid=secrets.token_hex(16), **extra)


def _admitted(state: EmulatorState, userid: str, body: dict[str, Any], now: float, content_key: str) -> bool:
    """Whether this person's phone shows the message: not a suppressed repeat, and within their 30 a
    minute (more are dropped, silently)."""
    if body.get("enable_duplicate_check") and \
            now - state.recent.get((userid, content_key), -1e9) < body.get("duplicate_check_interval", 1800):
        return False
    window = state.received[userid]
    while window and window[0] <= now - 60:
        window.popleft()
    if len(window) >= state.per_member_per_minute:
        state.dropped[userid] += 1
        return False
    window.append(now)
    state.recent[(userid, content_key)] = now
    return True


def new_response_code(state: EmulatorState, task_id: str, userids: list[str]) -> str:
    """A code that updates these people's copies of the card, once (send answers carry one for all
    recipients; each click's callback carries one for the person who clicked)."""
    code = secrets.token_urlsafe(24)
    state.response_codes[code] = (task_id, userids)
    return code


def update_template_card(state: EmulatorState, body: dict[str, Any]) -> web.Response:
    if body.get("agentid") != state.agent_id:
        return reply(40056)
    new_card = body.get("template_card")
    if new_card is not None and card_problem(new_card):
        return reply(40035)
    spent = state.response_codes.pop(body.get("response_code", ""), None)
    if spent is None:
        return reply(40035)
    task_id, allowed = spent
    wanted = allowed if body.get("atall") or not body.get("userids") else [u for u in body["userids"] if u in allowed]
    for userid in wanted:
        for entry in state.cards(userid):
            if entry.task_id == task_id:
                entry.state = (body.get("button") or {}).get("replace_name", entry.state)
                entry.body = new_card or entry.body
        state.notify(userid)
    return reply(0, invaliduser=[])
