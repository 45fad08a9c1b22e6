"""SQLite's one writer, taken in turns that are handed over at once, the answering path first.

Every transaction here begins IMMEDIATE, so each is a writer. Without this lock writers meet in
SQLite's busy handler, which sleeps in steps of up to 100 ms: the callback thread and the sender
stalled each other for tens of milliseconds, and a handler process (bot/handler_process.py) stalled
the web process for seconds (p99 4.6 s at 500 callbacks/s, measured). Threads of a process take
turns on a condition, processes on an flock of a file beside the database; both hand over at once.

An urgent writer (the group commit that 200s wait for, bot/inbox.py) goes first. In its process no
other thread takes a turn while it waits. Across processes the others pass a gate, an exclusive
flock of a second file, which an urgent writer holds shared while it waits. So an answer waits for
the transactions already holding or entering the lock, never for a queue of handling transactions.
(One open file per thread instead, with no condition, was measured slower: p99 56–74 ms against
45–64 ms at 500 callbacks/s, and 350 handled a second against 430–450.)
"""
from __future__ import annotations

import fcntl
import os
import threading
import weakref


class WriterLock:
    def __init__(self, path: str | None):
        """path: the database file; None (an in-memory database) takes turns among threads only."""
        self._turn = threading.Condition()
        self._owner: int | None = None
        self._depth = self._urgent_waiting = 0
        self._files = None
        if path:
            self._files = tuple(os.open(f"{path}-{name}", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                                for name in ("writer", "writer-gate"))
            for fd in self._files:
                weakref.finalize(self, os.close, fd)

    def acquire(self, *, urgent: bool = False) -> None:
        me = threading.get_ident()
        with self._turn:
            if self._owner == me:  # a transaction inside a transaction of the same thread
                self._depth += 1
                return
            self._urgent_waiting += urgent
            while self._owner is not None or (self._urgent_waiting and not urgent):
                self._turn.wait()
            self._urgent_waiting -= urgent
            self._owner, self._depth = me, 1
        if self._files:
            try:
                self._lock_file(urgent)
            except BaseException:  # noqa: BLE001 - e.g. KeyboardInterrupt while waiting: give the turn back
                self._depth = 1
                self.release()
                raise

    def release(self) -> None:
        with self._turn:
            self._depth -= 1
            if self._depth:
                return
            if self._files:
                fcntl.flock(self._files[0], fcntl.LOCK_UN)
            self._owner = None
            self._turn.notify_all()

    def _lock_file(self, urgent: bool) -> None:
        writer, gate = self._files
        if urgent:
            fcntl.flock(gate, fcntl.LOCK_SH)
            try:
                fcntl.flock(writer, fcntl.LOCK_EX)
            finally:  # also when interrupted: a gate left shut would keep other processes out for good
                fcntl.flock(gate, fcntl.LOCK_UN)
        else:
            fcntl.flock(gate, fcntl.LOCK_EX)  # waits while an urgent writer of any process waits
            fcntl.flock(gate, fcntl.LOCK_UN)
            fcntl.flock(writer, fcntl.LOCK_EX)
