"""The aiohttp application: callback routes, plus the inbox thread, and the sender and scheduler
(bot/background.py) unless handler processes run them."""
from __future__ import annotations

import asyncio
from typing import AsyncIterator

from aiohttp import web
from sqlalchemy import Engine

from bot import console
from bot.background import Runtime, background, cancel
from bot.config import Settings
from bot.dispatch import Dispatcher, warm_up_nlp
from bot.handler_process import HandlerProcesses
from bot.handlers import ROUTERS
from bot.inbox import Inbox
from bot.wecom import callback
from bot.wecom.crypto import CallbackCrypto

RUNTIME = web.AppKey("runtime", Runtime)

# How the bot's HTTP server runs, the same for `serve` (web.run_app) and the demo (web.AppRunner).
# aiohttp closes a connection that has not sent a whole request head within keepalive_timeout of
# connecting or of its last answer; its defaults (75 s in run_app, an hour in AppRunner) let silent
# or trickling connections (slowloris) pile up. The platform connects and sends at once, and a
# proxy's idle connection is simply opened again. The body's bound is callback.BODY_SECONDS.
# No access log line per callback (2-4 % of a callback's time, issue 7): the reverse proxy in
# front keeps one, and a line per message adds nothing the outbox and job_run do not record.
SERVER_OPTIONS = {"keepalive_timeout": 5.0, "access_log": None}


def build_app(settings: Settings, engine: Engine, handlers: HandlerProcesses | None = None) -> web.Application:
    """handlers: the processes that handle what this app records, send and schedule (`serve`);
    without them, this process does all of that too."""
    settings.use_keys()
    app = web.Application(client_max_size=callback.MAX_BODY)
    app[callback.CRYPTO] = CallbackCrypto(token=settings.token, aes_key=settings.aes_key, corp_id=settings.corp_id)
    dispatcher = Dispatcher(engine, ROUTERS, tz=settings.tz, form_idle_seconds=settings.form_idle_minutes * 60)
    app[RUNTIME] = Runtime()
    app[callback.INBOX] = Inbox(engine, dispatcher, on_handled=app[RUNTIME].wake_sender_threadsafe,
                                handles=handlers is None, on_recorded=handlers.wake if handlers else lambda: None)
    callback.add_routes(app)
    app.router.add_get("/healthz", _healthz)
    console.add_routes(app, settings, engine)
    if handlers is None:  # otherwise only the handler processes dispatch, so only they need jieba (~100 MB)
        app.cleanup_ctx.append(_background_context(settings, engine))
        app.on_startup.append(_warm_up_nlp)
    else:
        app.cleanup_ctx.append(_supervision_context(handlers))
    app.cleanup_ctx.append(_inbox_context)
    return app


async def _inbox_context(app: web.Application) -> AsyncIterator[None]:
    """Last in, so first out: no update is handled after the sender and scheduler have stopped."""
    app[callback.INBOX].start()
    yield
    await asyncio.to_thread(app[callback.INBOX].stop)


def _background_context(settings: Settings, engine: Engine):
    async def context(app: web.Application) -> AsyncIterator[None]:
        async with background(settings, engine, app[RUNTIME]):
            yield
    return context


def _supervision_context(handlers: HandlerProcesses):
    async def context(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(handlers.supervise(), name="handler-supervisor")
        yield
        await cancel(task)
    return context


async def _warm_up_nlp(_app: web.Application) -> None:
    warm_up_nlp()


async def _healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")
