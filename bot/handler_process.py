"""`serve` answers callbacks in its web process, handles them in XIANFENG_HANDLER_PROCESSES processes of
their own, and sends and schedules in one more (bot/background.py).

Handling and sending are CPU work in Python (the ORM, templates, jieba; HTTP calls). In the
answering process either would hold the GIL the answers need, and under a burst every answer would
wait behind it; in one process together they held each other up (measured: handling fell by half on
SQLite, to 77 a second on PostgreSQL). In processes of their own the operating system shares the
cores instead. They meet only in the database: the web process records (bot/inbox.py), a handler
claims, handles and deletes, as any number of `serve` workers do on PostgreSQL; on SQLite they take
the one writer in turns, the web process's group commit first (storage/writer_lock.py). An event per
handler wakes it when something was recorded; a pipe wakes the sender when something was handled.
The web process starts a process again in place of one that dies.
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
from bot.log_config import configure_logging

log = logging.getLogger(__name__)
RESTART_BACKOFF_CAP = 60.0  # seconds between restarts of a process that keeps dying (the database is down …)
STABLE_AFTER = 300.0  # seconds up after which a death counts as the first again


class Backoff:
    """The pause before a process that died may be started again: 1, 2, 4 … up to RESTART_BACKOFF_CAP
    seconds while it keeps dying; once it had been up for STABLE_AFTER, from 1 s again (a crash a week
    after the last must not wait a minute)."""

    def __init__(self) -> None:
        self.failures = 0

    def pause_after(self, up_for: float) -> float:
        if up_for >= STABLE_AFTER:
            self.failures = 0
        self.failures += 1
        return min(RESTART_BACKOFF_CAP, 2.0 ** (self.failures - 1))


class HandlerProcesses:
    def __init__(self, settings: Settings, count: int):
        # Forked while `serve` has no thread yet, so the children share the imported code's pages with
        # it (100,000 people: 309 MB of RSS in all when spawned); spawned once threads run.
        context = multiprocessing.get_context("fork" if threading.active_count() == 1 else "spawn")
        self._settings, self._count, self._context = settings, count, context
        self._processes: list[multiprocessing.process.BaseProcess] = []  # the handlers, then the sender
        # One event per handler, made anew with each process by the context that starts it: a forked
        # child inherits any, a spawned one can be handed only a spawn context's.
        self._wakes: list[multiprocessing.synchronize.Event] = []
        # A multiprocessing pipe, not os.pipe(): a spawned child inherits no descriptor it is not
        # handed, and a bare number would name whatever the child opened under it (its database).
        self._queued, self._queuing = context.Pipe(duplex=False)

    def start(self) -> None:
        if self._context.get_start_method() == "fork":
            gc.freeze()  # the collector would otherwise touch, and so copy, every shared object's page
        self._wakes = [None] * self._count
        self._processes = [self._start(n, self._context) for n in range(self._count + 1)]

    def _start(self, n: int, context) -> multiprocessing.process.BaseProcess:
        """Process n: handler n, or (n == count) the sender."""
        if n == self._count:
            process = context.Process(target=_sender_main, name="xianfeng-sender", daemon=True,
                                      args=(self._settings, os.getpid(), self._queued))
        else:
            self._wakes[n] = context.Event()
            self._wakes[n].set()  # look at once: what was recorded before it (or while none was there) waits
            process = context.Process(target=_handler_main, name=f"xianfeng-handler-{n}", daemon=True,
                                      args=(self._settings, os.getpid(), self._wakes[n], self._queuing))
        process.start()
        return process

    def pids(self) -> list[int]:
        """The handlers', then the sender's."""
        return [process.pid for process in self._processes if process.pid]

    def wake(self) -> None:
        """Something was recorded (called from the recording thread)."""
        for event in self._wakes:
            event.set()

    async def supervise(self, every: float = 1.0) -> None:
        """Start a process again when it dies (a crash, the OOM killer): answered callbacks would wait
        unhandled, or nothing would be sent. One that keeps dying is started again after longer and
        longer pauses."""
        backoffs = [Backoff() for _ in self._processes]
        started_at, retry_at = [time.monotonic()] * len(self._processes), [0.0] * len(self._processes)
        spawn = multiprocessing.get_context("spawn")  # threads run now: forking would copy their locks
        while True:
            await asyncio.sleep(every)
            for n, process in enumerate(self._processes):
                if process.is_alive() or time.monotonic() < retry_at[n]:
                    continue
                log.error("%s exited (code %s); starting it again", process.name, process.exitcode)
                now = time.monotonic()
                retry_at[n] = now + backoffs[n].pause_after(up_for=now - started_at[n])
                self._processes[n], started_at[n] = self._start(n, spawn), now

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: each hands back what it had claimed and exits."""
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.join(timeout)
            if process.is_alive():
                process.kill()
        self._processes.clear()


def _handler_main(settings: Settings, parent: int, wake, queuing) -> None:
    """wake: told when something was recorded; queuing: where to tell the sender that replies were queued."""
    settings.use_keys()
    _child_main(_handle(settings, parent, wake, queuing), settings.tz)


def _sender_main(settings: Settings, parent: int, queued) -> None:
    settings.use_keys()
    _child_main(_send(settings, parent, queued), settings.tz)


def _child_main(work, tz: str) -> None:
    configure_logging(tz)  # a spawned child starts without the parent's logging; a forked one keeps it
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent stops us
    asyncio.run(work)


async def _handle(settings: Settings, parent: int, wake, queuing) -> None:
    from bot.dispatch import Dispatcher, warm_up_nlp
    from bot.handlers import ROUTERS
    from bot.inbox import Inbox
    from storage.db import make_engine

    engine = make_engine(settings.database_url)
    warm_up_nlp()
    dispatcher = Dispatcher(engine, ROUTERS, tz=settings.tz, form_idle_seconds=settings.form_idle_minutes * 60)
    queued_fd = queuing.fileno()
    os.set_blocking(queued_fd, False)
    inbox = Inbox(engine, dispatcher, on_handled=lambda: _notify(queued_fd), wake=wake)
    inbox.start()
    try:
        await _until_stopped(parent)
    finally:
        await asyncio.to_thread(inbox.stop)
        engine.dispose()


async def _send(settings: Settings, parent: int, queued) -> None:
    from bot.background import Runtime, background
    from storage.db import make_engine

    engine = make_engine(settings.database_url)
    runtime, loop, queued_fd = Runtime(), asyncio.get_running_loop(), queued.fileno()
    os.set_blocking(queued_fd, False)
    loop.add_reader(queued_fd, _drained_then, queued_fd, runtime.wake_sender)
    try:
        async with background(settings, engine, runtime):
            await _until_stopped(parent)
    finally:
        loop.remove_reader(queued_fd)
        engine.dispose()


async def _until_stopped(parent: int) -> None:
    """Until SIGTERM, or until the web process has died (SIGKILL): a child must not outlive it, and a
    restart starts new ones."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    while os.getppid() == parent and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await stop.wait()


def _notify(fd: int) -> None:
    try:
        os.write(fd, b"q")
    except BlockingIOError:
        pass  # the pipe is full: the sender has been woken already (or is down, and polls when back)


def _drained_then(fd: int, wake) -> None:
    with contextlib.suppress(BlockingIOError):
        os.read(fd, 4096)
    wake()
