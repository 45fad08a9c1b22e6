"""The console's routes on the bot's own aiohttp app, all under /console/: sign-in (auth.py), the
pages (views.py, rendered from message_templates/console/), file and workbook downloads, and the one
stylesheet. Pages read the database in a thread (storage.db.reading: on SQLite it never takes the
writer's turn), so a page never holds up the callbacks the same process answers.

Every response carries no-store and a Content-Security-Policy that allows nothing from elsewhere
(no script at all; the one stylesheet is the bot's): an intranet reaches nothing else anyway.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any, AsyncIterator, Callable
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from sqlalchemy import Engine

from bot.config import Settings
from bot.console import auth, views
from bot.console.views import Forbidden, NotFound, Page, Viewer
from bot.texts import html_environment
from bot.wecom.api import ApiError, WeComClient
from bot.wecom.ratelimit import TransientError
from storage.db import reading

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a code in the address never travels on to another page
}


class Console:
    """What the routes share: the settings, the database, the cookie signer and the API client."""

    def __init__(self, settings: Settings, engine: Engine):
        self.settings, self.engine = settings, engine
        # Without a master key (a bare development setup) sessions last as long as this process.
        self.signer = auth.Signer(settings.console_key() or secrets.token_bytes(32))
        self.client: WeComClient | None = None
        self.today: Callable[[], date] = lambda: datetime.now(ZoneInfo(settings.tz)).date()
        self.stylesheet = (STATIC / "console.css").read_text(encoding="utf-8")

    async def context(self, _app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as http:
            self.client = WeComClient(self.settings, self.engine, http)
            yield
            self.client = None

    async def read(self, build: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(self._read, build, *args)

    def _read(self, build: Callable[..., Any], *args: Any) -> Any:
        with reading(self.engine) as session:
            return build(session, *args)

    def html(self, page: Page, request: web.Request, viewer: Viewer | None = None,
             session: auth.Session | None = None) -> web.Response:
        zone = ZoneInfo(self.settings.tz)
        context = {**page.context, "viewer": viewer, "today": self.today(), "path": request.path,
                   "csrf": auth.csrf_token(self.signer, session) if session else "",
                   "at": lambda stamp: datetime.fromtimestamp(stamp, zone)}  # a stored Unix time, in XIANFENG_TZ
        text = html_environment().get_template(f"{page.template}.j2").render(**context)
        return web.Response(text=text, status=page.status, content_type="text/html", headers=PAGE_HEADERS)


CONSOLE = web.AppKey("console", Console)


def add_routes(app: web.Application, settings: Settings, engine: Engine) -> None:
    console = app[CONSOLE] = Console(settings, engine)
    app.cleanup_ctx.append(console.context)
    add = app.router.add_get
    add("/console", to_home)
    add("/console/", home)
    add("/console/login", login)
    app.router.add_post("/console/logout", logout)
    add("/console/static/console.css", stylesheet)
    add(r"/console/branches/{branch_id:\d{1,9}}",
        _page(lambda s, v, t, q, m: views.branch_page(s, v, t, int(m["branch_id"]), q)))
    add("/console/people/{userid}", _page(lambda s, v, t, q, m: views.person_page(s, v, t, m["userid"])))
    add("/console/polls", _page(lambda s, v, t, q, m: views.polls_page(s, v, t, q)))
    add(r"/console/polls/{poll_id:\d{1,9}}", _page(lambda s, v, t, q, m: views.poll_page(s, v, t, int(m["poll_id"]))))
    add("/console/ratings", _page(lambda s, v, t, q, m: views.ratings_page(s, v, t, q)))
    add("/console/pledges", _page(lambda s, v, t, q, m: views.pledges_page(s, v, t, q)))
    add("/console/documents", _page(lambda s, v, t, q, m: views.documents_page(s, v, t, q)))
    add(r"/console/documents/{submission_id:\d{1,9}}/file", document_file)
    add("/console/timeline", _page(lambda s, v, t, q, m: views.timeline_page(s, v, t)))
    add("/console/exports", _page(lambda s, v, t, q, m: views.exports_page(s, v, t)))
    add(r"/console/exports/{campaign_id:\d{1,9}}/{what}", export_download)
    add("/console/audit", _page(lambda s, v, t, q, m: views.audit_page(s, v, t, q, tz=settings.tz)))


async def to_home(_request: web.Request) -> web.Response:
    return _redirect(auth.HOME)  # the cookies' path is /console/


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location, **PAGE_HEADERS})


# -- who is asking -----------------------------------------------------------------------------------
async def _signed_in(request: web.Request) -> tuple[Viewer, auth.Session] | None:
    """The viewer of a valid session, read again from the roster; None without one (or for someone the
    roster no longer has)."""
    console = request.app[CONSOLE]
    session = auth.read_session(console.signer, request.cookies.get(auth.SESSION_COOKIE), now=time.time())
    if session is None:
        return None
    viewer = await console.read(views.viewer_of, session.userid)
    return (viewer, session) if viewer else None


def _sign_in(request: web.Request, wanted: str) -> web.Response:
    """Off to the platform's authorize page, remembering (in a signed cookie) the page asked for."""
    console = request.app[CONSOLE]
    cookie, state = auth.new_login(console.signer, wanted, now=time.time())
    response = _redirect(auth.authorize_url(console.settings, request, state))
    auth.set_cookie(response, auth.LOGIN_COOKIE, cookie, max_age=auth.LOGIN_SECONDS,
                    secure_only=auth.secure(console.settings, request))
    return response


def _page(build: Callable[..., Page]) -> Callable[[web.Request], Any]:
    """A GET page: signed in (or sent to sign in), built from the database, 403 or 404 when so."""
    async def handler(request: web.Request) -> web.StreamResponse:
        signed_in = await _signed_in(request)
        if signed_in is None:
            return _sign_in(request, request.path_qs)
        return await _show(request, *signed_in, build)
    return handler


async def _show(request: web.Request, viewer: Viewer, session: auth.Session, build: Callable[..., Page]
                ) -> web.Response:
    console = request.app[CONSOLE]
    query, match = dict(request.query), dict(request.match_info)
    try:
        page = await console.read(build, viewer, console.today(), query, match)
    except Forbidden:
        page = Page("console/forbidden", status=403)
    except NotFound:
        page = Page("console/not_found", status=404)
    return console.html(page, request, viewer, session)


# -- signing in and out --------------------------------------------------------------------------------
async def home(request: web.Request) -> web.StreamResponse:
    if "code" in request.query or "state" in request.query:
        return await _finish_sign_in(request)
    signed_in = await _signed_in(request)
    if signed_in is None:
        return _sign_in(request, auth.HOME)
    return await _show(request, *signed_in, lambda s, v, t, q, m: views.home(s, v, t, q))


async def login(request: web.Request) -> web.StreamResponse:
    """Sign in again whoever is signed in (the emulator's phone page switches people)."""
    return _sign_in(request, auth.HOME)


async def _finish_sign_in(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    secure_only = auth.secure(console.settings, request)
    wanted = auth.read_login(console.signer, request.cookies.get(auth.LOGIN_COOKIE), request.query.get("state"),
                             now=time.time())
    code = request.query.get("code")
    if wanted is None or not auth.plausible_code(code):
        return _refused(request, "state" if wanted is None else "code", 400)
    try:
        answer = await _exchange(console.client, code)
    except ApiError as exc:  # 40029: a used, expired or made-up code; 50001: the domain is not trusted
        log.warning("console sign-in: auth/getuserinfo answered %s", exc.errcode)
        return _refused(request, "trusted_domain" if exc.errcode == 50001 else "code", 400)
    except TransientError:
        return _refused(request, "unreachable", 503)
    userid = answer.get("userid") or answer.get("UserId")  # none for someone outside the corp (openid)
    viewer = await console.read(views.viewer_of, userid) if isinstance(userid, str) and userid else None
    if viewer is None:
        response = console.html(Page("console/not_in_roster", status=403), request)
        auth.clear_cookie(response, auth.LOGIN_COOKIE, secure_only=secure_only)
        return response
    cookie, _session = auth.new_session(console.signer, viewer.userid, now=time.time())
    response = _redirect(wanted)
    auth.set_cookie(response, auth.SESSION_COOKIE, cookie, max_age=auth.SESSION_SECONDS, secure_only=secure_only)
    auth.clear_cookie(response, auth.LOGIN_COOKIE, secure_only=secure_only)
    return response


async def _exchange(client: WeComClient, code: str) -> dict:
    """auth/getuserinfo for the code. The token it needs is fetched first, and tried a second time when
    that fails on the way (nothing is used up by a token fetch); the exchange itself is sent once: the
    platform uses a code up, so after a lost answer only the person reopening the app can help."""
    try:
        await client.token()
    except TransientError:
        await client.token()
    return await client.query("auth/getuserinfo", {"code": code})


def _refused(request: web.Request, problem: str, status: int) -> web.Response:
    console = request.app[CONSOLE]
    response = console.html(Page("console/sign_in_problem", {"problem": problem}, status=status), request)
    auth.clear_cookie(response, auth.LOGIN_COOKIE, secure_only=auth.secure(console.settings, request))
    return response


async def _checked_post(request: web.Request) -> tuple[Viewer, auth.Session] | web.Response:
    """A POST changes something: only with a session and the CSRF token bound to it (403 otherwise)."""
    console = request.app[CONSOLE]
    signed_in = await _signed_in(request)
    form = await request.post()
    if signed_in is None or not auth.csrf_ok(console.signer, signed_in[1], form.get("csrf")):
        return console.html(Page("console/forbidden", {"token_refused": True}, status=403), request,
                            *(signed_in or (None, None)))
    return signed_in


async def logout(request: web.Request) -> web.StreamResponse:
    checked = await _checked_post(request)
    if isinstance(checked, web.Response):
        return checked
    console = request.app[CONSOLE]
    response = console.html(Page("console/signed_out"), request)
    auth.clear_cookie(response, auth.SESSION_COOKIE, secure_only=auth.secure(console.settings, request))
    return response


# -- files -----------------------------------------------------------------------------------------------
async def stylesheet(request: web.Request) -> web.Response:
    return web.Response(text=request.app[CONSOLE].stylesheet, content_type="text/css",
                        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"})


def _attachment(name: str) -> dict[str, str]:
    """A download, never shown in the page's origin (a submitted .html or .svg runs nothing)."""
    ascii_name = "".join(c for c in name if c.isascii() and (c.isalnum() or c in "._-")) or "download"
    return {"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}",
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}


async def document_file(request: web.Request) -> web.StreamResponse:
    signed_in = await _signed_in(request)
    if signed_in is None:
        return _sign_in(request, request.path_qs)
    console, (viewer, session) = request.app[CONSOLE], signed_in
    try:
        name, content_type, data = await console.read(views.document_file, viewer,
                                                      int(request.match_info["submission_id"]))
    except Forbidden:
        return console.html(Page("console/forbidden", status=403), request, viewer, session)
    except NotFound:
        return console.html(Page("console/not_found", status=404), request, viewer, session)
    return web.Response(body=data, content_type=content_type or "application/octet-stream", headers=_attachment(name))


async def export_download(request: web.Request) -> web.StreamResponse:
    """A workbook of `xianfeng export`, written for this request into a folder of its own and streamed."""
    signed_in = await _signed_in(request)
    if signed_in is None:
        return _sign_in(request, request.path_qs)
    console, (viewer, session) = request.app[CONSOLE], signed_in
    folder = Path(tempfile.mkdtemp(prefix="xianfeng-export-"))
    try:
        path = await console.read(views.export_file, viewer, int(request.match_info["campaign_id"]),
                                  request.match_info["what"], console.settings.tz, folder)
        response = web.StreamResponse(headers=_attachment(path.name))
        response.content_type = "application/zip" if path.suffix == ".zip" else \
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        response.content_length = path.stat().st_size
        await response.prepare(request)
        with path.open("rb") as fh:
            while chunk := await asyncio.to_thread(fh.read, 1 << 20):
                await response.write(chunk)
        await response.write_eof()
        return response
    except Forbidden:
        return console.html(Page("console/forbidden", status=403), request, viewer, session)
    except NotFound:
        return console.html(Page("console/not_found", status=404), request, viewer, session)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
