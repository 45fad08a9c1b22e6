"""The aiohttp application: callback routes, plus the outbox sender started and stopped with it."""
from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

import aiohttp
from aiohttp import web
from sqlalchemy import Engine

from bot import nlp
from bot.config import Settings
from bot.dispatch import Dispatcher
from bot.handler_process import HandlerProcesses
from bot.handlers import ROUTERS
from bot.inbox import Inbox
from bot.scheduler.service import SchedulerService
from bot.texts import vocabulary
from bot.wecom import callback
from bot.wecom.api import WeComClient
from bot.wecom.crypto import CallbackCrypto
from bot.wecom.sender import Sender


class Runtime:
    """What exists only while the app runs; set up in place because a started app is frozen."""

    sender: Sender | None = None
    loop: asyncio.AbstractEventLoop | None = None

    def wake_sender(self) -> None:
        if self.sender:
            self.sender.wake()

    def wake_sender_threadsafe(self) -> None:
        if self.loop:
            self.loop.call_soon_threadsafe(self.wake_sender)


RUNTIME = web.AppKey("runtime", Runtime)
HANDLERS = web.AppKey("handlers", object)  # HandlerProcesses or None


def build_app(settings: Settings, engine: Engine, handlers: HandlerProcesses | None = None) -> web.Application:
    """handlers: processes that handle what this app records (`serve`); without, it handles itself."""
    app = web.Application(client_max_size=callback.MAX_BODY)
    app[callback.CRYPTO] = CallbackCrypto(token=settings.token, aes_key=settings.aes_key, corp_id=settings.corp_id)
    dispatcher = Dispatcher(engine, ROUTERS, tz=settings.tz, form_idle_seconds=settings.form_idle_minutes * 60)
    app[RUNTIME] = Runtime()
    app[callback.INBOX] = Inbox(engine, dispatcher, on_handled=app[RUNTIME].wake_sender_threadsafe,
                                handles=handlers is None, on_recorded=handlers.wake if handlers else lambda: None)
    app[HANDLERS] = handlers
    callback.add_routes(app)
    app.router.add_get("/healthz", _healthz)
    app.cleanup_ctx.append(_sender_context(settings, engine))
    app.cleanup_ctx.append(_scheduler_context(settings, engine))
    app.cleanup_ctx.append(_inbox_context)
    if handlers is None:  # otherwise only the handler processes dispatch, so only they need jieba (~100 MB)
        app.on_startup.append(_warm_up_nlp)
    return app


async def _inbox_context(app: web.Application) -> AsyncIterator[None]:
    """Last in, so first out: no update is handled after the sender and scheduler have stopped."""
    app[RUNTIME].loop = asyncio.get_running_loop()
    if app[HANDLERS]:
        app[HANDLERS].watch(app[RUNTIME].loop, app[RUNTIME].wake_sender)
    app[callback.INBOX].start()
    yield
    await asyncio.to_thread(app[callback.INBOX].stop)


def _sender_context(settings: Settings, engine: Engine):
    async def context(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as http:
            runtime = app[RUNTIME]
            runtime.sender = Sender(settings=settings, engine=engine, client=WeComClient(settings, engine, http))
            task = asyncio.create_task(runtime.sender.run(), name="outbox-sender")
            yield
            await _cancel(task)
            runtime.sender = None
    return context


def _scheduler_context(settings: Settings, engine: Engine):
    async def context(app: web.Application) -> AsyncIterator[None]:
        service = SchedulerService(settings, engine, on_queued=app[RUNTIME].wake_sender)
        task = asyncio.create_task(service.run(), name="scheduler-lease")
        yield
        await _cancel(task)
        await service.stop()
    return context


async def _cancel(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def warm_up_nlp() -> None:
    """jieba's dictionary loads in a background thread; the command keywords join it."""
    words = {w for entry in vocabulary()["commands"].values() for w in entry.get("keywords", [])}
    nlp.warm_up(sorted(words))


async def _warm_up_nlp(_app: web.Application) -> None:
    warm_up_nlp()


async def _healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")
