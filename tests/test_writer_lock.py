"""SQLite's one writer (storage/writer_lock.py): processes and threads take turns handed over at
once, never in SQLite's sleeping busy handler, and the group commit that answers wait for goes first."""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

from sqlalchemy import event, text

from storage.db import make_engine, reading, transaction

SPAWN = multiprocessing.get_context("spawn")


def _engine(url: str, *, busy_timeout_ms: int = 15000):
    engine = make_engine(url)
    # Applied after make_engine's PRAGMAs: with 0, SQLite would answer "database is locked" at once
    # instead of waiting, so any waiting seen here is the writer lock's.
    event.listen(engine, "connect", lambda conn, _r: conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}"))
    return engine


def _write(url: str, who: str, *, urgent: bool = False, inside=None, release=None, ready=None,
           engine=None) -> None:
    """One transaction that adds a turn; on its own engine (as a process has), or a shared one (threads)."""
    own = engine is None
    engine = _engine(url, busy_timeout_ms=0) if own else engine
    if ready is not None:
        ready.set()
    with transaction(engine, urgent=urgent) as session:
        session.execute(text("INSERT INTO turn (who) VALUES (:who)"), {"who": who})
        if inside is not None:
            inside.set()
            release.wait(20)
    if own:
        engine.dispose()


def _turns(url: str) -> list[str]:
    engine = _engine(url)
    turns = _read(engine)
    engine.dispose()
    return turns


def _read(engine) -> list[str]:
    with reading(engine) as session:
        return list(session.scalars(text("SELECT who FROM turn ORDER BY id")))


def _database(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'turns.db'}"
    engine = _engine(url)
    with transaction(engine) as session:
        session.execute(text("CREATE TABLE turn (id INTEGER PRIMARY KEY AUTOINCREMENT, who TEXT)"))
    engine.dispose()
    return url


def _thread(url: str, who: str, errors: list, **kwargs) -> threading.Thread:
    def run() -> None:
        try:
            _write(url, who, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)
    thread = threading.Thread(target=run, name=who)
    thread.start()
    return thread


def test_a_second_process_waits_for_the_writer_instead_of_being_told_the_database_is_locked(tmp_path):
    url = _database(tmp_path)
    inside, release = SPAWN.Event(), SPAWN.Event()
    holder = SPAWN.Process(target=_write, args=(url, "other process"), kwargs={"inside": inside, "release": release})
    holder.start()
    assert inside.wait(30)
    errors: list = []
    waiting = _thread(url, "this process", errors)
    time.sleep(0.3)  # its chance to fail with "database is locked", if nothing made it wait
    release.set()
    holder.join(30)
    waiting.join(30)
    assert errors == [] and _turns(url) == ["other process", "this process"]


def test_threads_of_one_process_take_turns_before_sqlite_is_asked(tmp_path):
    """The second thread begins only after the first committed (a turn handed over at once), never
    inside SQLite's busy handler, which sleeps in steps of up to 100 ms."""
    url = _database(tmp_path)
    engine = _engine(url)
    with engine.connect(), engine.connect():
        pass  # two pooled connections, so that B's is ready (a new one's PRAGMAs would wait on A too)
    order: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda conn, cursor, statement, *_: statement.startswith(
        "BEGIN") and order.append(f"begin {threading.current_thread().name}"))
    event.listen(engine, "commit", lambda conn: order.append(f"commit {threading.current_thread().name}"))
    inside, release = threading.Event(), threading.Event()
    errors: list = []
    first = _thread(url, "A", errors, inside=inside, release=release, engine=engine)
    assert inside.wait(10)
    second = _thread(url, "B", errors, engine=engine)
    time.sleep(0.3)  # B's chance to begin too early, if nothing stopped it
    release.set()
    for thread in (first, second):
        thread.join(10)
    engine.dispose()
    assert errors == [] and order == ["begin A", "commit A", "begin B", "commit B"]


def test_the_urgent_writer_of_a_process_goes_before_the_others_waiting(tmp_path):
    url = _database(tmp_path)
    engine = _engine(url, busy_timeout_ms=0)  # the threads of one process share its engine
    with engine.connect(), engine.connect(), engine.connect():
        pass  # pooled connections ready, so that no thread waits on another's PRAGMAs
    inside, release = threading.Event(), threading.Event()
    errors: list = []
    holder = _thread(url, "holder", errors, inside=inside, release=release, engine=engine)
    assert inside.wait(10)
    sender = _thread(url, "sender", errors, engine=engine)
    time.sleep(0.3)  # the sender waits first
    recorder = _thread(url, "group commit", errors, urgent=True, engine=engine)
    time.sleep(0.3)
    release.set()
    for thread in (holder, sender, recorder):
        thread.join(10)
    engine.dispose()
    assert errors == [] and _turns(url) == ["holder", "group commit", "sender"]


def _handle_twice(url: str, inside, release) -> None:
    """A handler process: one transaction, then at once the next, as its loop does."""
    engine = _engine(url, busy_timeout_ms=0)
    with engine.connect():
        pass  # its connection ready: the next transaction follows without a pause
    _write(url, "handler", inside=inside, release=release, engine=engine)
    _write(url, "handler again", engine=engine)
    engine.dispose()


def test_a_handler_process_that_writes_again_at_once_lets_the_waiting_group_commit_go_first(tmp_path):
    url = _database(tmp_path)
    inside, release = SPAWN.Event(), SPAWN.Event()
    handler = SPAWN.Process(target=_handle_twice, args=(url, inside, release))
    handler.start()
    assert inside.wait(30)
    errors: list = []
    recorder = _thread(url, "group commit", errors, urgent=True)
    time.sleep(0.3)  # the group commit waits for the writer
    release.set()
    handler.join(30)
    recorder.join(30)
    assert errors == [] and _turns(url) == ["handler", "group commit", "handler again"]


def _interrupted_while_urgent(url: str, waiting, interrupted, done) -> None:
    """The group commit's thread is interrupted (Ctrl-C) while it waits; its process lives on."""
    # A suite started in the background (`cmd &` without job control) ignores SIGINT, and a spawned
    # child inherits that: Python then installs no KeyboardInterrupt handler and the test's Ctrl-C
    # would do nothing. Take Python's own handler back whatever the parent had.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    engine = _engine(url, busy_timeout_ms=0)
    waiting.set()
    try:
        _write(url, "never", urgent=True, engine=engine)
    except KeyboardInterrupt:
        interrupted.set()
    done.wait(30)


def test_an_urgent_writer_interrupted_while_waiting_does_not_keep_other_processes_at_the_gate(tmp_path):
    url = _database(tmp_path)
    inside, release = threading.Event(), threading.Event()
    errors: list = []
    holder = _thread(url, "holder", errors, inside=inside, release=release)
    assert inside.wait(10)
    waiting, interrupted, done = SPAWN.Event(), SPAWN.Event(), SPAWN.Event()
    recorder = SPAWN.Process(target=_interrupted_while_urgent, args=(url, waiting, interrupted, done))
    recorder.start()
    try:
        assert waiting.wait(30)
        time.sleep(0.3)  # it reaches the lock
        os.kill(recorder.pid, signal.SIGINT)
        assert interrupted.wait(30)
        release.set()
        holder.join(10)
        later = _thread(url, "later", errors)  # its own engine and open files, as another process has
        later.join(10)
        assert not later.is_alive(), "a writer waits at a gate nobody is waiting behind"
        assert errors == [] and _turns(url) == ["holder", "later"]
    finally:
        done.set()
        recorder.join(30)


def test_a_reading_transaction_neither_waits_for_nor_takes_the_writers_turn(tmp_path):
    """The sender's frequent "anything due?" (storage.db.reading) used to queue behind every write."""
    url = _database(tmp_path)
    engine = _engine(url)
    _write(url, "before", engine=engine)
    inside, release, errors = threading.Event(), threading.Event(), []
    writer = _thread(url, "holding", errors, engine=engine, inside=inside, release=release)
    try:
        assert inside.wait(10)  # a writer holds the turn (and SQLite's write lock) until released
        seen = []
        reader = threading.Thread(target=lambda: seen.append(_read(engine)), daemon=True)
        reader.start()
        reader.join(5)
        assert seen == [["before"]]  # it read the last commit while the writer still held its turn
    finally:
        release.set()
        writer.join(10)
    assert errors == [] and _turns(url) == ["before", "holding"]
    engine.dispose()
