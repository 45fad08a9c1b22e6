"""The one place that creates engines and sessions.

SQLite (the default) runs in WAL mode with foreign keys on, and every transaction starts with
BEGIN IMMEDIATE: a deferred transaction that reads and then writes can fail at once with
SQLITE_BUSY under concurrency instead of waiting, which would turn a duplicate callback into an
error instead of a clean "already processed". secure_delete overwrites deleted rows: a handled
vote's callback (storage/inbox.py) must not stay readable in the file's free space (Debian builds
SQLite with it on; other builds do not).
"""
from __future__ import annotations

import functools
import logging
import weakref
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlmodel import Session

from storage.writer_lock import WriterLock

log = logging.getLogger(__name__)
IN_CHUNK = 1000  # values per IN (...) list: far below SQLite's and PostgreSQL's bound on parameters


def normalise_url(url: str) -> str:
    """postgresql:// means psycopg 3 here; SQLAlchemy would otherwise pick psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (SQLAlchemy's pysqlite recipe)
        cursor = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=15000", "synchronous=NORMAL",
                       "secure_delete=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})
        _configure_sqlite(engine)
        _WRITERS[engine] = WriterLock(path if path and path != ":memory:" else None)
        return engine
    # No pre-ping: a round trip before every transaction. A connection broken by a server restart
    # fails one transaction (retried: the inbox and the outbox both lease and retry), and SQLAlchemy
    # then discards the whole pool; recycling keeps connections from outliving idle timeouts.
    return create_engine(url, pool_size=10, max_overflow=10, pool_recycle=600)


_WRITERS: weakref.WeakKeyDictionary[Engine, WriterLock] = weakref.WeakKeyDictionary()


@contextmanager
def transaction(engine: Engine, *, urgent: bool = False) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception. urgent: a request waits for
    it, so on SQLite it takes the writer's turn before other waiting transactions."""
    with _writer_turn(engine, urgent):
        with Session(engine, expire_on_commit=False) as session:
            with session.begin():
                yield session
    for action in session.info.pop(_AFTER_COMMIT, ()):
        try:
            action()
        except Exception:  # noqa: BLE001 - what it does is redone by a periodic job (it says which)
            log.exception("an action after commit failed")


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once this transaction has committed (not if it rolls back), outside the writer's
    turn, so it may open transactions of its own. For what must not happen before the commit: a
    poll's key is destroyed only once its counts are stored."""
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


_AFTER_COMMIT = "xianfeng_after_commit"


def scrub(engine: Engine, tables: tuple[str, ...]) -> None:
    """Leave no old copy of these tables' deleted rows where the database can still read it:
    SQLite writes its -wal back into the main file (where secure_delete has zeroed deleted rows) and
    truncates it to nothing; PostgreSQL vacuums the tables, so no dead row version is left in their
    pages. (PostgreSQL's own WAL is beyond an application's reach: what matters there is sealed.)"""
    if engine.dialect.name == "sqlite":
        with _writer_turn(engine, False):
            raw = engine.raw_connection()
            try:
                busy, _, _ = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                raw.close()
        if busy:
            log.warning("the -wal file could not be truncated now (a reader held it); the next close tries again")
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM " + ", ".join(tables))


@contextmanager
def core_transaction(engine: Engine, *, urgent: bool = False) -> Iterator[Connection]:
    """As ``transaction``, on a bare connection: for the callback group commit, which runs for every
    few requests and needs none of the ORM session's bookkeeping (a sixth of its cost, measured)."""
    with _writer_turn(engine, urgent):
        with engine.begin() as conn:
            yield conn


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A transaction that only reads: on SQLite it neither waits for the writer's turn nor takes it
    (a deferred BEGIN; WAL readers see the last commit). For frequent small looks, such as the
    sender's "anything due?", which otherwise queued with every write."""
    with Session(engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False) as session:
        with session.begin():
            yield session


_READ_ONLY = "xianfeng_read_only"


@contextmanager
def _writer_turn(engine: Engine, urgent: bool) -> Iterator[None]:
    writers = _WRITERS.get(engine)  # SQLite only
    if writers is not None:
        writers.acquire(urgent=urgent)
    try:
        yield
    finally:
        if writers is not None:
            writers.release()


def database_of(session: Session) -> str:
    """The key of a per-process cache of what one database holds (tests use many databases)."""
    return session.get_bind().url.render_as_string(hide_password=True)


def insert_new(bind: Session | Connection, target: Any, *keys: str, returning: str | None = None):
    """INSERT … ON CONFLICT DO NOTHING on these key columns, for SQLite or PostgreSQL: a row already
    there (a replayed callback, a second worker) is skipped, neither an error nor a duplicate.
    Built once per target: on a hot path pass the rows to ``execute`` rather than to ``.values()``
    (several rows with ``returning``: one compiled statement, which SQLAlchemy sends as one
    multi-row INSERT … RETURNING), and a Table rather than a model (the ORM's insert path costs more
    than the insert itself)."""
    dialect = bind.dialect if isinstance(bind, Connection) else bind.get_bind().dialect
    return _insert_new(dialect.name, target, keys, returning)


@functools.cache
def _insert_new(dialect_name: str, target: Any, keys: tuple[str, ...], returning: str | None):
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    stmt = dialect.insert(target).on_conflict_do_nothing(index_elements=list(keys))
    if returning:
        table = getattr(target, "__table__", target)
        stmt = stmt.returning(table.c[returning])
    return stmt
