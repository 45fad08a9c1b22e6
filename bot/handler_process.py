"""`serve` answers callbacks in its own process and handles them in others (XIANFENG_HANDLER_PROCESSES).

Handling is CPU work in Python (the ORM, templates, jieba). In the answering process it would hold
the GIL the answers need, and under a burst every answer would wait behind it. In processes of
their own the operating system shares the cores instead. They meet only in the database: the web
process records (bot/inbox.py), a handler process claims, handles and deletes, as any number of
`serve` workers do on PostgreSQL; on SQLite they take the one writer in turns, the web process's
group commit first (storage/writer_lock.py). A shared event wakes the handlers when something was
recorded, a pipe wakes the web process's sender when something was handled.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import threading
from typing import Callable

from bot.config import Settings


class HandlerProcesses:
    def __init__(self, settings: Settings, count: int):
        # Forked while `serve` has no thread yet, so the children share the imported code's pages with
        # it (100,000 people: 309 MB of RSS in all when spawned); spawned once threads run.
        context = multiprocessing.get_context("fork" if threading.active_count() == 1 else "spawn")
        self._settings, self._count, self._context = settings, count, context
        self._wake = context.Event()
        # A multiprocessing pipe, not os.pipe(): a spawned child inherits no descriptor it is not
        # handed, and a bare number would name whatever the child opened under it (its database).
        self._read, self._write = context.Pipe(duplex=False)
        os.set_blocking(self._read.fileno(), False)
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._watching: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        if self._context.get_start_method() == "fork":
            gc.freeze()  # the collector would otherwise touch, and so copy, every shared object's page
        for n in range(self._count):
            process = self._context.Process(target=_main, name=f"xianfeng-handler-{n}", daemon=True,
                                            args=(self._settings, self._wake, self._write, os.getpid()))
            process.start()
            self._processes.append(process)

    def wake(self) -> None:
        """Something was recorded (called from the recording thread)."""
        self._wake.set()

    def watch(self, loop: asyncio.AbstractEventLoop, on_handled: Callable[[], None]) -> None:
        def readable() -> None:
            try:
                os.read(self._read.fileno(), 4096)
            except BlockingIOError:
                return
            on_handled()
        loop.add_reader(self._read.fileno(), readable)
        self._watching = loop

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: each hands back what it had claimed and exits."""
        if self._watching:
            self._watching.remove_reader(self._read.fileno())  # nothing once the loop is closed
            self._watching = None
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.join(timeout)
            if process.is_alive():
                process.kill()
        self._processes.clear()


def _main(settings: Settings, wake, notify, parent: int) -> None:
    from bot.app import warm_up_nlp
    from bot.dispatch import Dispatcher
    from bot.handlers import ROUTERS
    from bot.inbox import Inbox
    from storage.db import make_engine

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent stops us
    notify_fd = notify.fileno()
    os.set_blocking(notify_fd, False)
    engine = make_engine(settings.database_url)
    warm_up_nlp()
    dispatcher = Dispatcher(engine, ROUTERS, tz=settings.tz, form_idle_seconds=settings.form_idle_minutes * 60)
    inbox = Inbox(engine, dispatcher, on_handled=lambda: _notify(notify_fd), wake=wake)
    inbox.start()
    while not stop.wait(1.0):
        if os.getppid() != parent:
            break  # the web process died (SIGKILL): do not outlive it; a restart starts new handlers
    inbox.stop()
    engine.dispose()


def _notify(fd: int) -> None:
    try:
        os.write(fd, b"h")
    except BlockingIOError:
        pass  # the pipe is full: the sender has been woken already
