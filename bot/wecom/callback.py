"""GET|POST /wecom/callback: verify, decrypt, parse, record in the inbox, answer 200 fast.

The update is handled after the answer (bot/inbox.py); the 200 goes only once it is stored, so
an answered callback is never lost. Bad input never causes a 500: an unsigned or stale request
is 403, anything unreadable 400, a body over 64 KiB 413 (aiohttp's client_max_size), and a body
still arriving after BODY_SECONDS has its connection closed. The platform retries until it gets a
200, and the recorded dedup key makes those retries harmless.
"""
from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.inbox import Inbox
from bot.wecom.crypto import CallbackCrypto, DecryptError, SignatureError
from bot.wecom.updates import MalformedUpdate, parse_update, parse_xml

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024
# The platform sends a callback in one piece and waits at most 5 s for the answer
# (developer.work.weixin.qq.com/document/path/90930), so a body still arriving after this long is
# nobody's callback. aiohttp never times out a body by itself: 50 connections that declared 60,000
# bytes and sent 5 were held over 200 s. (The head's bound is the server's, bot/app.py.)
BODY_SECONDS = 5.0
CRYPTO = web.AppKey("crypto", CallbackCrypto)
INBOX = web.AppKey("inbox", Inbox)


def _signed(request: web.Request, encrypted: str) -> None:
    query = request.query
    if not all(query.get(k) for k in ("msg_signature", "timestamp", "nonce")):
        raise web.HTTPForbidden(text="missing signature")
    try:
        request.app[CRYPTO].verify(query["msg_signature"], query["timestamp"], query["nonce"], encrypted)
    except SignatureError as exc:
        raise web.HTTPForbidden(text=str(exc)) from None


def _decrypt(request: web.Request, encrypted: str) -> str:
    try:
        return request.app[CRYPTO].decrypt(encrypted)
    except DecryptError:
        raise web.HTTPBadRequest(text="cannot decrypt") from None


async def verify_url(request: web.Request) -> web.Response:
    """The platform's URL check: decrypt echostr and answer it in plain text."""
    echostr = request.query.get("echostr", "").replace(" ", "+")  # a '+' left unescaped reads as a space
    if not echostr:
        raise web.HTTPBadRequest(text="missing echostr")
    _signed(request, echostr)
    return web.Response(text=_decrypt(request, echostr))


async def _body(request: web.Request) -> bytes:
    try:
        async with asyncio.timeout(BODY_SECONDS):
            return await request.read()
    except TimeoutError:
        log.info("a callback body took over %ss; its connection is closed", BODY_SECONDS)
        # Closed without an answer: an answer would make aiohttp read (and wait for) the rest first.
        if request.transport is not None:
            request.transport.close()
        raise web.HTTPRequestTimeout() from None


async def receive(request: web.Request) -> web.Response:
    body = await _body(request)
    try:
        encrypted = (parse_xml(body).findtext("Encrypt") or "").strip()
    except MalformedUpdate as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    if not encrypted:
        raise web.HTTPBadRequest(text="no Encrypt element")
    _signed(request, encrypted)
    plaintext = _decrypt(request, encrypted)
    try:
        update = parse_update(plaintext)
    except MalformedUpdate as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    await request.app[INBOX].accept(update, plaintext)
    return web.Response(text="")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/wecom/callback", verify_url)
    app.router.add_post("/wecom/callback", receive)
