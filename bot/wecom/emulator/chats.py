"""Group chats an app creates and posts to (appchat/*, 90245-90248): only an app visible to the root
department may (else 60011), at least 2 and at most 2000 members, ids of at most 32 letters and
digits, and only 90248's message types (no template cards). Members are kept as the directory spells
them and matched whatever their case."""
from __future__ import annotations

import functools
import re
import secrets
from typing import Any, Callable

from aiohttp import web

from bot.wecom.emulator.messages import CHAT_MSGTYPES, content_problem, reply, shown
from bot.wecom.emulator.state import Chat, EmulatorState, user_key

CHATID = re.compile(r"^[0-9A-Za-z]{1,32}$")
NOT_VISIBLE_TO_ROOT = 60011


def root_visible(handler: Callable[[EmulatorState, dict[str, Any]], web.Response]):
    """Every appchat API requires an app visible to the root department (权限说明 of 90245-90248)."""
    @functools.wraps(handler)
    def checked(state: EmulatorState, body: dict[str, Any]) -> web.Response:
        return handler(state, body) if state.visible_root else reply(NOT_VISIBLE_TO_ROOT)
    return checked


@root_visible
def appchat_create(state: EmulatorState, body: dict[str, Any]) -> web.Response:
    chatid = body.get("chatid") or secrets.token_hex(16)
    members = state.distinct(body.get("userlist") or [])
    owner = state.spelling(body.get("owner") or (members[0] if members else ""))
    if len(members) < 2 or len(members) > 2000 or not all(state.knows(m) for m in members):
        return reply(86216)
    if not CHATID.match(chatid) or owner not in members:
        return reply(40035)
    if chatid in state.chats:
        return reply(86215)
    state.chats[chatid] = Chat(chatid, str(body.get("name", ""))[:50], owner, members)
    return reply(0, chatid=chatid)


@root_visible
def appchat_update(state: EmulatorState, body: dict[str, Any]) -> web.Response:
    chat = state.chats.get(body.get("chatid", ""))
    if chat is None:
        return reply(86003)
    removed = {user_key(u) for u in body.get("del_user_list") or []}
    kept = [m for m in chat.members if user_key(m) not in removed]
    chat.members = state.distinct(kept + list(body.get("add_user_list") or []))
    chat.owner = state.spelling(body.get("owner") or chat.owner)
    chat.name = str(body.get("name") or chat.name)[:50]
    for member in chat.members:
        state.notify(member)
    return reply(0)


@root_visible
def appchat_send(state: EmulatorState, body: dict[str, Any]) -> web.Response:
    chat = state.chats.get(body.get("chatid", ""))
    if chat is None:
        return reply(86003)
    problem = content_problem(body, CHAT_MSGTYPES, state.media_expires, state.clock())
    if problem:
        return reply(problem)
    state.post_to_chat(chat, "app", body["msgtype"], shown(body))
    return reply(0)


@root_visible
def appchat_get(state: EmulatorState, body: dict[str, Any]) -> web.Response:
    chat = state.chats.get(body.get("chatid", ""))
    if chat is None:
        return reply(86003)
    return reply(0, chat_info={"chatid": chat.chatid, "name": chat.name, "owner": chat.owner,
                               "userlist": chat.members})
