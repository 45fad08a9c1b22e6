"""`serve` answers callbacks in its own process and handles them in others (XIANFENG_HANDLER_PROCESSES).

Handling is CPU work in Python (the ORM, templates, jieba), and so is sending. In the answering
process either would hold the GIL the answers need, and under a burst every answer would wait
behind it. In processes of their own the operating system shares the cores instead. They meet only
in the database: the web process records (bot/inbox.py), a handler process claims, handles and
deletes, as any number of `serve` workers do on PostgreSQL; on SQLite they take the one writer in
turns, the web process's group commit first (storage/writer_lock.py). A shared event wakes the
handlers when something was recorded. The first handler process also runs the sender and the
scheduler (bot/background.py), so the replies it queues are sent from where they were queued.
The web process starts a new handler in place of one that dies.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import multiprocessing.synchronize
import os
import signal
import threading
import time

from bot.config import Settings

log = logging.getLogger(__name__)
RESTART_BACKOFF_CAP = 60.0  # seconds between restarts of a handler that keeps dying (the database is down …)


class HandlerProcesses:
    def __init__(self, settings: Settings, count: int):
        # Forked while `serve` has no thread yet, so the children share the imported code's pages with
        # it (100,000 people: 309 MB of RSS in all when spawned); spawned once threads run.
        context = multiprocessing.get_context("fork" if threading.active_count() == 1 else "spawn")
        self._settings, self._count, self._context = settings, count, context
        self._processes: list[multiprocessing.process.BaseProcess] = []
        # One event per process, made by the context that starts it: a forked child inherits any,
        # a spawned one can be handed only a spawn context's (which starts a resource tracker process).
        self._wakes: list[multiprocessing.synchronize.Event] = []
        self._failures: list[int] = []

    def start(self) -> None:
        if self._context.get_start_method() == "fork":
            gc.freeze()  # the collector would otherwise touch, and so copy, every shared object's page
        self._processes, self._wakes = [], []
        for n in range(self._count):
            self._wakes.append(self._context.Event())
            self._processes.append(self._start(n, self._context))
        self._failures = [0] * self._count

    def _start(self, n: int, context) -> multiprocessing.process.BaseProcess:
        process = context.Process(target=_main, name=f"xianfeng-handler-{n}", daemon=True,
                                  args=(self._settings, self._wakes[n], os.getpid(), n == 0))
        process.start()
        return process

    def pids(self) -> list[int]:
        return [process.pid for process in self._processes if process.pid]

    def wake(self) -> None:
        """Something was recorded (called from the recording thread)."""
        for event in self._wakes:
            event.set()

    async def supervise(self, every: float = 1.0) -> None:
        """Start a handler again when it dies (a crash, the OOM killer): answered callbacks would wait
        unhandled, and without the first one nothing would be sent. One that keeps dying is started
        again after longer and longer pauses."""
        retry_at = [0.0] * self._count
        while True:
            await asyncio.sleep(every)
            for n, process in enumerate(self._processes):
                if process.is_alive() or time.monotonic() < retry_at[n]:
                    continue
                self._failures[n] += 1
                pause = min(RESTART_BACKOFF_CAP, 2.0 ** (self._failures[n] - 1))
                log.error("%s exited (code %s); starting it again", process.name, process.exitcode)
                spawn = multiprocessing.get_context("spawn")  # threads run now: forking would copy their locks
                self._wakes[n] = spawn.Event()
                self._processes[n] = self._start(n, spawn)
                self._wakes[n].set()  # what was recorded while none was there waits for it
                retry_at[n] = time.monotonic() + pause

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: each hands back what it had claimed and exits."""
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.join(timeout)
            if process.is_alive():
                process.kill()
        self._processes.clear()


def _main(settings: Settings, wake, parent: int, sends: bool) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent stops us
    asyncio.run(_handle(settings, wake, parent, sends))


async def _handle(settings: Settings, wake, parent: int, sends: bool) -> None:
    from bot.app import warm_up_nlp
    from bot.background import Runtime, background
    from bot.dispatch import Dispatcher
    from bot.handlers import ROUTERS
    from bot.inbox import Inbox
    from storage.db import make_engine

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    engine = make_engine(settings.database_url)
    warm_up_nlp()
    dispatcher = Dispatcher(engine, ROUTERS, tz=settings.tz, form_idle_seconds=settings.form_idle_minutes * 60)
    runtime = Runtime()
    inbox = Inbox(engine, dispatcher, on_handled=runtime.wake_sender_threadsafe, wake=wake)
    async with background(settings, engine, runtime) if sends else contextlib.nullcontext():
        inbox.start()
        try:
            # The web process died (SIGKILL): do not outlive it; a restart starts new handlers.
            while os.getppid() == parent and not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await stop.wait()
        finally:
            await asyncio.to_thread(inbox.stop)  # before the sender stops: what it handles gets woken
    engine.dispose()
