"""The address book (user/get, user/list, department/list) and media/upload."""
from __future__ import annotations

import secrets
import time
from typing import Any

from aiohttp import web

from bot.wecom.emulator.messages import reply
from bot.wecom.emulator.state import EmulatorState

MEDIA_LIMITS = {"image": 10 << 20, "voice": 2 << 20, "video": 10 << 20, "file": 20 << 20}


def user_get(state: EmulatorState, query: dict[str, Any]) -> web.Response:
    person = state.people.get(query.get("userid", ""))
    if person is None:
        return reply(60111)
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
    media_id = secrets.token_urlsafe(24)
    state.media[media_id] = (part.headers.get("Content-Type", "application/octet-stream"), data)
    return reply(0, type=kind, media_id=media_id, created_at=str(int(time.time())))
