"""The address book (user/get, user/list, department/list), the app's own settings (agent/get),
media/upload and media/get. UserIDs are matched whatever their case; people outside the app's visible range are
refused with 60011 (no privilege)."""
from __future__ import annotations

import mimetypes
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.wecom.emulator.messages import reply
from bot.wecom.emulator.state import EmulatorState

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
    media_id = state.keep_media(data, content_type=part.headers.get("Content-Type", "application/octet-stream"),
                                filename=part.filename or "")
    return reply(0, type=kind, media_id=media_id, created_at=str(int(state.clock())))


def media_get(state: EmulatorState, query: dict[str, Any]) -> web.Response:
    """90254 (获取临时素材): the media as an ordinary HTTP download, Content-Type and Content-Disposition
    (attachment; filename=…, the name it was uploaded or sent with, else MEDIA_ID plus an extension as
    the document's example shows); an unknown media_id, or one past its three days, is JSON 40007.
    Range requests (96486) are not played: the bot never asks for more than one request returns."""
    media_id = str(query.get("media_id", ""))
    if media_id not in state.media or state.media_expires.get(media_id, 0.0) <= state.clock():
        return reply(40007)
    content_type, data = state.media[media_id]
    name = state.media_names.get(media_id) or media_id + (mimetypes.guess_extension(content_type) or "")
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
    return web.Response(body=data, content_type=content_type.split(";")[0],
                        headers={"Content-Disposition": disposition, "Cache-Control": "no-cache, must-revalidate"})
