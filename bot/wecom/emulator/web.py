"""The phone-like page: pick who you are, read the app's chat and your group chats, type, tap cards.

JSON endpoints under /emulator/ serve the page; /emulator/events streams "changed" (SSE) whenever
that person's screen changes, and the page fetches the screen again. /emulator/modes reads (GET)
and sets (POST, JSON) the setup modes, for trying `xianfeng doctor` or the bot against a
misconfigured app: {"untrusted_ip": true, "forbidden_apis": ["*"], "visible_root": false,
"invisible_users": ["li"]}, any of them.
"""
from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from bot.wecom.emulator import oauth
from bot.wecom.emulator.state import UnknownCard, user_key

if TYPE_CHECKING:
    from bot.wecom.emulator.emulator import WeComEmulator

STATIC = Path(__file__).with_name("static")
MODES = {"untrusted_ip", "forbidden_apis", "visible_root", "invisible_users"}
EMULATOR = web.AppKey("emulator", object)
SEND_LIMIT = 20 << 20  # what the page sends; the bot keeps files up to 20 MB (bot/document_files.py)
IMAGE_TYPES = {"image/jpeg", "image/png"}  # sent as an image message; anything else as a file


def add_page_routes(app: web.Application, emulator: "WeComEmulator") -> None:
    app[EMULATOR] = emulator
    app.on_shutdown.append(lambda _app: _close_streams(emulator))
    app.router.add_get("/", index)
    app.router.add_static("/emulator/static", STATIC)
    app.router.add_get("/emulator/people", people)
    app.router.add_get("/emulator/screen", screen)
    app.router.add_get("/emulator/events", events)
    app.router.add_get("/emulator/media/{media_id}", media)
    app.router.add_post("/emulator/say", say)
    app.router.add_post("/emulator/send", send_file)
    app.router.add_post("/emulator/click", click)
    app.router.add_post("/emulator/enter", enter)
    app.router.add_get("/emulator/modes", modes)
    app.router.add_post("/emulator/modes", modes)
    oauth.add_routes(app, emulator)  # 网页授权: the authorize page, and the app's 应用主页 for the phone page


async def _close_streams(emulator: "WeComEmulator") -> None:
    emulator.close_watchers()


def _emulator(request: web.Request) -> "WeComEmulator":
    return request.app[EMULATOR]


def _user(request: web.Request, userid: str | None) -> str:
    person = _emulator(request).person(userid or "")
    if person is None:
        raise web.HTTPNotFound(text="unknown person")
    return person.userid


async def index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def people(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    rows = [{"userid": p.userid, "name": p.name, "position": p.position,
             "department": emulator.departments.get(p.department, {}).get("name", "")}
            for p in emulator.people.values()]
    return web.json_response(rows)


async def screen(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    userid = _user(request, request.query.get("user"))
    chats = [{"chatid": c.chatid, "name": c.name, "messages": c.messages}
             for c in emulator.chats.values() if user_key(userid) in {user_key(m) for m in c.members}]
    return web.json_response({"app": [dataclasses.asdict(e) for e in emulator.screen(userid)], "chats": chats})


async def events(request: web.Request) -> web.StreamResponse:
    emulator = _emulator(request)
    userid = _user(request, request.query.get("user"))
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    queue = emulator.watch(userid)
    try:
        await response.write(b"data: changed\n\n")
        while True:
            try:
                async with asyncio.timeout(15):  # not wait_for: on 3.11 it can swallow the stream's cancel
                    change = await queue.get()
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if change == "closed":
                break
            await response.write(b"data: changed\n\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        emulator.unwatch(userid, queue)
    return response


async def media(request: web.Request) -> web.Response:
    found = _emulator(request).media.get(request.match_info["media_id"])
    if found is None:
        raise web.HTTPNotFound()
    return web.Response(body=found[1], content_type=found[0])


async def say(request: web.Request) -> web.Response:
    body = await request.json()
    userid, text = _user(request, body.get("user")), str(body.get("text", "")).strip()
    if not text:
        raise web.HTTPBadRequest(text="empty message")
    _emulator(request).in_background(_emulator(request).say(userid, text))
    return web.json_response({"ok": True}, status=202)


async def send_file(request: web.Request) -> web.Response:
    """The page's 📎: a photo or a file from this device, sent to the app as a person would (multipart:
    `user`, then `file`). JPG and PNG arrive as image messages, anything else as a file message."""
    reader = await request.multipart()
    fields: dict[str, str] = {}
    while (part := await reader.next()) is not None:
        if part.name == "user":
            fields["user"] = await part.text()
        elif part.name == "file" and "user" in fields:
            data = await part.read(decode=False)
            if not data or len(data) > SEND_LIMIT:
                raise web.HTTPRequestEntityTooLarge(max_size=SEND_LIMIT, actual_size=len(data)) if data \
                    else web.HTTPBadRequest(text="empty file")
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            kind = "image" if content_type in IMAGE_TYPES else "file"
            emulator = _emulator(request)
            userid = _user(request, fields["user"])
            emulator.in_background(emulator.send_media(userid, kind, data, filename=part.filename or "",
                                                       content_type=content_type))
            return web.json_response({"ok": True, "kind": kind}, status=202)
    raise web.HTTPBadRequest(text="user, then file")


async def click(request: web.Request) -> web.Response:
    body = await request.json()
    emulator, userid = _emulator(request), _user(request, body.get("user"))
    try:
        emulator.open_card(userid, int(body.get("entry", 0)))
    except (UnknownCard, ValueError):
        raise web.HTTPConflict(text="card is not open") from None
    emulator.in_background(emulator.click(userid, int(body["entry"]), key=body.get("key"),
                                          selected=body.get("selected") or {}))
    return web.json_response({"ok": True}, status=202)


async def modes(request: web.Request) -> web.Response:
    wanted = await request.json() if request.method == "POST" else {}
    if not isinstance(wanted, dict) or set(wanted) - MODES:
        raise web.HTTPBadRequest(text="modes: " + ", ".join(sorted(MODES)))
    return web.json_response(_emulator(request).set_modes(**wanted))


async def enter(request: web.Request) -> web.Response:
    body = await request.json()
    userid = _user(request, body.get("user"))
    _emulator(request).in_background(_emulator(request).enter(userid))
    return web.json_response({"ok": True}, status=202)
