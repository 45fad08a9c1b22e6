"""What works behind the callbacks: the outbox sender and the scheduler, started and stopped together.

They run in the web process when it handles its own callbacks (tests, the demo,
XIANFENG_HANDLER_PROCESSES=0), and otherwise in a sender process of their own
(bot/handler_process.py), so the process that answers the platform does nothing else: sending
from it took a third of its CPU at 500 callbacks a second (issue 7).
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

import aiohttp
from sqlalchemy import Engine

from bot.config import Settings
from bot.document_files import MediaFetcher
from bot.scheduler.service import SchedulerService
from bot.wecom.api import WeComClient
from bot.wecom.sender import Sender


class Runtime:
    """The running sender, for whoever queues messages (the inbox thread, the scheduler) to wake."""

    sender: Sender | None = None
    loop: asyncio.AbstractEventLoop | None = None

    def wake_sender(self) -> None:
        if self.sender:
            self.sender.wake()

    def wake_sender_threadsafe(self) -> None:
        if self.loop:
            self.loop.call_soon_threadsafe(self.wake_sender)


@contextlib.asynccontextmanager
async def background(settings: Settings, engine: Engine, runtime: Runtime) -> AsyncIterator[Runtime]:
    """The sender, the scheduler and the fetcher of /报送 files and 践诺 photos (sharing the sender's
    client: one token, one pacing) while the block runs; the scheduler stops first, so nothing it queues on the way out
    waits for a sender that has gone."""
    runtime.loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as http:
        client = WeComClient(settings, engine, http)
        runtime.sender = Sender(settings=settings, engine=engine, client=client)
        sending = asyncio.create_task(runtime.sender.run(), name="outbox-sender")
        fetcher = MediaFetcher(settings=settings, engine=engine, client=client, on_queued=runtime.wake_sender)
        fetching = asyncio.create_task(fetcher.run(), name="media-fetcher")
        service = SchedulerService(settings, engine, on_queued=runtime.wake_sender)
        scheduling = asyncio.create_task(service.run(), name="scheduler-lease")
        try:
            yield runtime
        finally:
            await cancel(scheduling)
            await service.stop()
            await cancel(fetching)
            await cancel(sending)
            runtime.sender = None


async def cancel(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
