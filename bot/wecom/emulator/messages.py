"""App messages (message/send) and card updates (message/update_template_card).

Rules applied: ``touser`` (with ``toparty``, ``@all``) at most 1000 people, matched to the
directory whatever their case; people outside the app's visible range are listed in invaliduser
(81013 when nobody is left, 90236); text and markdown at most 2048 bytes; template cards checked by
cards.py, interactive ones with a task_id the app never used before (90236: 同一个应用任务id不能重复);
an image, voice, video or file names a media_id that media/upload issued less than three days ago
(else 40007); a member receives at most 30 app messages a minute and 1,000 an hour, more are
dropped while the call still answers ok (90312); ``enable_duplicate_check`` drops a request whose
whole JSON equals one received within its ``duplicate_check_interval`` (90236: 同样内容(请求json)的
消息; default 1800 s, at most 4 hours), and still answers ok; a ``response_code`` updates cards
once, within 72 hours (94888). Where the platform does not document an error code (a spent or
expired response_code, a reused task_id), the emulator answers 40035, invalid parameter.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from itertools import takewhile
from typing import Any, Mapping

from aiohttp import web

from bot.wecom.emulator.cards import INTERACTIVE, card_problem
from bot.wecom.emulator.state import RESPONSE_CODE_TTL, EmulatorState, user_key

# 90236's message types, and 90248's for group chats: no template_card, no miniprogram_notice.
APP_MSGTYPES = {"text", "image", "voice", "video", "file", "textcard", "news", "mpnews", "markdown",
                "miniprogram_notice", "template_card"}
CHAT_MSGTYPES = {"text", "image", "voice", "video", "file", "textcard", "news", "mpnews", "markdown"}
MEDIA_MSGTYPES = {"image", "voice", "video", "file"}  # these carry a media_id that media/upload must have issued
TEXT_LIMIT = 2048
DUPLICATE_INTERVAL, LONGEST_DUPLICATE_INTERVAL = 1800, 4 * 3600
ERRMSG = {0: "ok", -1: "system busy", 48002: "api forbidden", 60011: "no privilege to access/modify contact/party/agent",
          60020: "not allow to access from your ip", 40001: "invalid credential", 40003: "invalid userid",
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


def content_problem(body: dict[str, Any], allowed: set[str], media: Mapping[str, float], now: float) -> int:
    """The errcode for what is wrong with a message's content, or 0. `media`: media id -> when it expires."""
    msgtype = body.get("msgtype")
    if msgtype not in allowed or not isinstance(body.get(msgtype), dict):
        return 40008
    if msgtype in MEDIA_MSGTYPES and media.get(body[msgtype].get("media_id"), 0.0) <= now:
        return 40007
    if msgtype in ("text", "markdown"):
        content = body[msgtype].get("content") or ""
        if not content:
            return 44004
        if msgtype == "markdown" and len(content.encode()) > TEXT_LIMIT:
            return 45002  # 90236 states the limit and not what happens past it: refused, so nothing relies on it
    if msgtype == "template_card" and card_problem(body["template_card"]):
        return 40035
    return 0


def shown(body: dict[str, Any]) -> dict[str, Any]:
    """What a phone shows of a message: a text past 2048 bytes is cut there (90236: 文本消息 content
    最长不超过2048个字节，超过将截断), at a whole character."""
    if body.get("msgtype") != "text":
        return body[body["msgtype"]]
    content = body["text"]["content"].encode()[:TEXT_LIMIT].decode(errors="ignore")
    return {**body["text"], "content": content}


def _recipients(state: EmulatorState, body: dict[str, Any]) -> list[str] | None:
    """The people a message/send names, each once and spelled as the directory holds them."""
    if body.get("touser") == "@all":
        return [p.userid for p in state.people.values()]
    users = [u for u in str(body.get("touser", "")).split("|") if u]
    parties = {p for p in str(body.get("toparty", "")).split("|") if p}
    users = state.distinct(users + [p.userid for p in state.people.values() if str(p.department) in parties])
    return users if len(users) <= 1000 else None


def message_send(state: EmulatorState, body: dict[str, Any]) -> web.Response:
    if body.get("agentid") != state.agent_id:
        return reply(40056)
    users = _recipients(state, body)
    if users is None:
        return reply(40032)  # more than 1000 people in one call
    now = state.clock()
    problem = content_problem(body, APP_MSGTYPES, state.media_expires, now)
    if problem:
        return reply(problem)
    card = body.get("template_card") or {}
    interactive = body["msgtype"] == "template_card" and card.get("card_type") in INTERACTIVE
    if interactive and card["task_id"] in state.task_ids:
        return reply(40035)
    valid = [u for u in users if state.knows(u) and state.visible(u)]
    if not valid:
        return reply(81013, invaliduser="|".join(users))
    if not _duplicate(state, body, now):
        kind, content = body["msgtype"], shown(body)
        if kind == "file":  # a phone shows a file by the name it was uploaded with
            content = {**content, "filename": state.media_names.get(content.get("media_id"), "")}
        for userid in valid:
            if _within_member_limits(state, userid, now):
                state.post(userid, "app", kind, content, task_id=card.get("task_id", ""))
    extra: dict[str, Any] = {}
    if interactive:
        state.task_ids.add(card["task_id"])
        extra["response_code"] = new_response_code(state, card["task_id"], valid)
    invalid = [u for u in users if u not in valid]
    return reply(0, invaliduser="|".join(invalid), msgid=secrets.token_hex(16), **extra)


def _duplicate(state: EmulatorState, body: dict[str, Any], now: float) -> bool:
    """With enable_duplicate_check, a request whose whole JSON equals one received within that
    request's interval is dropped (the access_token, in the query, is not part of it). Only a
    request that was not dropped opens a window."""
    if not body.get("enable_duplicate_check"):
        return False
    request = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).digest()
    if state.recent.get(request, 0.0) > now:
        return True
    interval = body.get("duplicate_check_interval") or DUPLICATE_INTERVAL
    state.recent[request] = now + min(float(interval), LONGEST_DUPLICATE_INTERVAL)
    return False


def _within_member_limits(state: EmulatorState, userid: str, now: float) -> bool:
    """Whether this person's phone shows one more app message: at most 30 a minute and 1,000 an hour
    (more are dropped, silently)."""
    key = user_key(userid)
    window = state.received[key]
    while window and window[0] <= now - 3600:
        window.popleft()
    last_minute = sum(1 for _ in takewhile(lambda at: at > now - 60, reversed(window)))
    if len(window) >= state.per_member_per_hour or last_minute >= state.per_member_per_minute:
        state.dropped[key] += 1
        return False
    window.append(now)
    return True


def new_response_code(state: EmulatorState, task_id: str, userids: list[str]) -> str:
    """A code that updates these people's copies of the card, once (send answers carry one for all
    recipients; each click's callback carries one for the person who clicked)."""
    code = secrets.token_urlsafe(24)
    state.response_codes[code] = (task_id, userids)
    state.response_code_expires[code] = state.clock() + RESPONSE_CODE_TTL
    return code


def update_template_card(state: EmulatorState, body: dict[str, Any]) -> web.Response:
    if body.get("agentid") != state.agent_id:
        return reply(40056)
    new_card = body.get("template_card")
    if new_card is not None and card_problem(new_card):
        return reply(40035)
    code = body.get("response_code", "")
    spent = state.response_codes.pop(code, None)
    if spent is None or state.response_code_expires.pop(code, float("inf")) <= state.clock():
        return reply(40035)
    task_id, allowed = spent
    allowed_keys = {user_key(u) for u in allowed}
    wanted = allowed if body.get("atall") or not body.get("userids") else \
        [u for u in body["userids"] if user_key(u) in allowed_keys]
    for userid in wanted:
        for entry in state.cards(userid):
            if entry.task_id == task_id:
                entry.state = (body.get("button") or {}).get("replace_name", entry.state)
                entry.body = new_card or entry.body
        state.notify(userid)
    return reply(0, invaliduser=[])
