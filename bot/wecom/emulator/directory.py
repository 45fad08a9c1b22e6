"""The address book (user/get, user/list, department/list), the app's own settings (agent/get) and
media/upload. UserIDs are matched whatever their case; people outside the app's visible range are
refused with 60011 (no privilege)."""
from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from bot.wecom.emulator.messages import reply
from bot.wecom.emulator.state import MEDIA_TTL, EmulatorState

MEDIA_LIMITS = {"image": 10 << 20, "voice": 2 << 20, "video": 10 << 20, "file": 20 << 20}


def user_get(state: EmulatorState, query: dict[str, Any]) -> web.Response:
    person = state.person(query.get("userid", ""))
    if person is None:
        return reply(60111)
    if not state.visible(person.userid):
        return reply(60011)
    return reply(0, userid=person.userid, name=person.name, department=[person.department],
                 position=person.position, status=1)


def user_list(state: EmulatorState, query: dict[str, Any]) -> web.Response:
    dept = str(query.get("department_id", ""))
    if not dept.isdigit() or int(dept) not in state.departments:
        return reply(60123)
    people = [p for p in state.people.values() if p.department == int(dept) or int(dept) == 1]
    return reply(0, userlist=[{"userid": p.userid, "name": p.name, "department": [p.department],
                               "position": p.position} for p in people])


def department_list(state: EmulatorState, _query: dict[str, Any]) -> web.Response:
    return reply(0, department=list(state.departments.values()))


def agent_get(state: EmulatorState, query: dict[str, Any]) -> web.Response:
    """90227: the app's details; allow_partys is its visible range by department (1 is the root).
    A corp app may read only the app its token belongs to (90227 权限说明: 企业仅可获取当前凭证对应的
    应用); 90227 names no errcode for another agentid, so the emulator answers 40056 (invalid agentid)."""
    if str(query.get("agentid", "")) != str(state.agent_id):
        return reply(40056)
    parties = [1] if state.visible_root else sorted(d for d in state.departments if d != 1)
    return reply(0, agentid=state.agent_id, name="先锋", allow_userinfos={"user": []},
                 allow_partys={"partyid": parties}, allow_tags={"tagid": []}, close=0)


async def media_upload(state: EmulatorState, request: web.Request) -> web.Response:
    kind = request.query.get("type", "")
    if kind not in MEDIA_LIMITS:
        return reply(40004)
    reader = await request.multipart()
    part = await reader.next()
    if part is None or part.name != "media":  # the platform reads only the field named "media"
        return reply(41005)
    data = await part.read()
    if not 5 <= len(data) <= MEDIA_LIMITS[kind]:
        return reply(40006)
    media_id, now = secrets.token_urlsafe(24), state.clock()
    state.media[media_id] = (part.headers.get("Content-Type", "application/octet-stream"), data)
    state.media_expires[media_id] = now + MEDIA_TTL
    return reply(0, type=kind, media_id=media_id, created_at=str(int(now)))
