"""Group chats an app creates and posts to (appchat/*): at least 2 and at most 2000 members,
ids of at most 32 letters and digits, and no template cards."""
from __future__ import annotations

import re
import secrets
from typing import Any

from aiohttp import web

from bot.wecom.emulator.messages import CHAT_MSGTYPES, content_problem, reply
from bot.wecom.emulator.state import Chat, EmulatorState

CHATID = re.compile(r"^[0-9A-Za-z]{1,32}$")


def appchat_create(state: EmulatorState, body: dict[str, Any]) -> web.Response:
    chatid = body.get("chatid") or secrets.token_hex(16)
    members = list(dict.fromkeys(body.get("userlist") or []))
    owner = body.get("owner") or (members[0] if members else "")
    if len(members) < 2 or len(members) > 2000 or not all(state.knows(m) for m in members):
        return reply(86216)
    if not CHATID.match(chatid) or owner not in members:
        return reply(40035)
    if chatid in state.chats:
        return reply(86215)
    state.chats[chatid] = Chat(chatid, str(body.get("name", ""))[:50], owner, members)
    return reply(0, chatid=chatid)


def appchat_update(state: EmulatorState, body: dict[str, Any]) -> web.Response:
    chat = state.chats.get(body.get("chatid", ""))
    if chat is None:
        return reply(86003)
    removed = set(body.get("del_user_list") or [])
    chat.members = [m for m in chat.members if m not in removed]
    chat.members += [m for m in body.get("add_user_list") or [] if m not in chat.members]
    chat.owner = body.get("owner") or chat.owner
    chat.name = str(body.get("name") or chat.name)[:50]
    for member in chat.members:
        state.notify(member)
    return reply(0)


def appchat_send(state: EmulatorState, body: dict[str, Any]) -> web.Response:
    chat = state.chats.get(body.get("chatid", ""))
    if chat is None:
        return reply(86003)
    problem = content_problem(body, CHAT_MSGTYPES, state.media)
    if problem:
        return reply(problem)
    state.post_to_chat(chat, "app", body["msgtype"], body[body["msgtype"]])
    return reply(0)


def appchat_get(state: EmulatorState, body: dict[str, Any]) -> web.Response:
    chat = state.chats.get(body.get("chatid", ""))
    if chat is None:
        return reply(86003)
    return reply(0, chat_info={"chatid": chat.chatid, "name": chat.name, "owner": chat.owner,
                               "userlist": chat.members})
