"""Callbacks answered at once and handled behind the answer.

A callback is recorded (its dedup key and its decrypted XML, sealed under the inbox key) before the
200 goes back; its row is deleted in the same transaction as its effect, so each is handled exactly
once however often the platform sends it and whichever process crashes. A person's updates are
handled in arrival order: a claim skips a person whose earlier update another process holds.

The XML of a vote names the voter and the choice, and a deleted row lives on in the database's
files and WAL, so it is stored sealed (storage/sealing.py) under the inbox key of the moment, named
in bot_state; `rotate_key` puts a new one in its place (at every poll's close) and `retire_keys`
destroys the old ones once no waiting row needs them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session

from storage.bot_state import INSTALLATION, installation_id
from storage.db import insert_new, reading, transaction
from storage.models import BotState, InboundUpdate, ProcessedCallback
from storage.sealing import CALLBACK_SIZE, INBOX_NAME_LENGTH, Keystore, keystore

MAX_ATTEMPTS = 3
RETRY_SECONDS = 5.0
CLAIM_LIMIT = 100
_INBOX = InboundUpdate.__table__
_STATE = BotState.__table__
INBOX_KEY = "inbox_key"  # bot_state: {"name": the key callbacks are sealed under now}


@dataclass(frozen=True)
class Received:
    key: str
    userid: str
    payload: str


def new_keys(conn: Connection, keys: list[str], *, now: float) -> set[str]:
    """Store the dedup keys not seen before, in one multi-row statement (on PostgreSQL a round trip
    per callback was most of a group commit); those are returned. The statement is compiled once:
    built with .values() for each batch, compiling it was half the group commit's CPU."""
    seen = insert_new(conn, ProcessedCallback.__table__, "key", returning="key")
    return set(conn.execute(seen, [{"key": key, "received_at": now} for key in dict.fromkeys(keys)]).scalars())


def record(conn: Connection, received: list[Received], *, now: float) -> list[bool]:
    """Record each callback not seen before; True for those (False: a retry, already recorded)."""
    fresh = new_keys(conn, [r.key for r in received], now=now)
    new = []
    for r in received:  # the same callback twice in one batch: the first is new, the second a retry
        new.append(r.key in fresh)
        fresh.discard(r.key)
    if any(new):
        keys, key = keystore(), current_key(conn)
        conn.execute(insert(_INBOX), [{"userid": r.userid, "received_at": now, "lease_until": 0.0, "attempts": 0,
                                       "payload": keys.seal(key, r.payload.encode(), CALLBACK_SIZE)}
                                      for r, is_new in zip(received, new) if is_new])
    return new


def current_key(conn: Connection) -> str:
    """The inbox key, read under a share lock on PostgreSQL: a rotation's update waits for the
    recordings sealing under the old key, so once it commits every row that uses the old key is
    visible to `retire_keys`. The first recording of a database makes the first key."""
    query = select(_STATE.c.value).where(_STATE.c.key == INBOX_KEY)
    query = query.with_for_update(read=True) if conn.dialect.name == "postgresql" else query
    value = conn.execute(query).scalar()
    if value is None:
        keys = keystore()
        made = keys.new_key("inbox", installation_id(conn))
        added = conn.execute(insert_new(conn, _STATE, "key", returning="key"),
                             [{"key": INBOX_KEY, "value": {"name": made}, "updated_at": time.time()}]).first()
        if added is None:  # another process made one first
            keys.destroy(made)
        value = conn.execute(query).scalar()
    return str(value["name"])


def unseal(payload: str) -> str:
    """The callback XML of a claimed row (a row recorded before sealing existed is the XML itself)."""
    return payload if payload.startswith("<") else keystore().open(payload).decode()


def rotate_key(engine: Engine) -> None:
    """A new inbox key from now on; the old one goes as soon as nothing waiting needs it."""
    keys = keystore()
    with keys.rotating():
        with transaction(engine) as session:
            made = keys.new_key("inbox", installation_id(session))
            moved = session.execute(update(_STATE).where(_STATE.c.key == INBOX_KEY)
                                    .values(value={"name": made}, updated_at=time.time()))
            if moved.rowcount == 0:  # nothing recorded yet in this database
                session.execute(insert(_STATE).values(key=INBOX_KEY, value={"name": made}, updated_at=time.time()))
        _retire(engine, keys)


def retire_keys(engine: Engine) -> int:
    """Destroy the inbox keys that are not current and that no waiting row was sealed under; how many."""
    keys = keystore()
    with keys.rotating():
        return _retire(engine, keys)


def _retire(engine: Engine, keys: Keystore) -> int:
    with reading(engine) as session:
        stored = session.get(BotState, INSTALLATION)  # none yet: nothing was ever recorded here
        current = session.scalar(select(_STATE.c.value).where(_STATE.c.key == INBOX_KEY))
        waiting = set(session.scalars(select(func.substr(_INBOX.c.payload, 1, INBOX_NAME_LENGTH)).distinct()))
    if stored is None or current is None:
        return 0
    found = keys.names("inbox", str(stored.value["id"]))
    if not found:
        return 0
    newest = max(found, key=lambda item: item[1])[0]  # made by a first recording, maybe not yet committed
    gone = [name for name, _ in found if name not in (current["name"], newest) and name not in waiting]
    return sum(keys.destroy(name) for name in gone)




def claim(session: Session, *, now: float, lease_seconds: float, limit: int = CLAIM_LIMIT) -> list[tuple[int, str]]:
    """Up to ``limit`` (id, payload) in arrival order, leased to the caller; a person whose earlier
    update is leased elsewhere (or waits for a retry) is left for later, so their order holds."""
    held = aliased(InboundUpdate)
    someone_holds = exists().where(held.userid == InboundUpdate.userid, held.lease_until >= now)
    query = (select(InboundUpdate.id, InboundUpdate.userid, InboundUpdate.payload)
             .where(InboundUpdate.lease_until < now, ~someone_holds).order_by(InboundUpdate.id).limit(limit)
             .with_for_update(skip_locked=True))  # SQLite has no FOR UPDATE (and needs none: one writer)
    rows = session.execute(query).all()
    if not rows:
        return []
    first = dict(session.execute(select(InboundUpdate.userid, func.min(InboundUpdate.id))
                                 .where(InboundUpdate.userid.in_({r.userid for r in rows}))
                                 .group_by(InboundUpdate.userid)).all())
    mine = {r.userid: r.id for r in reversed(rows)}  # each person's first row in this claim
    # A first row elsewhere is locked by a concurrent claim (PostgreSQL's SKIP LOCKED passed it by).
    taken = [(r.id, r.payload) for r in rows if first[r.userid] == mine[r.userid]]
    if taken:
        session.execute(update(InboundUpdate).where(InboundUpdate.id.in_([i for i, _ in taken]))
                        .values(lease_until=now + lease_seconds))
    return taken


_FINISH = delete(_INBOX).where(_INBOX.c.id == bindparam("row_id")).returning(_INBOX.c.id)  # once, on the table: per update


def finish(session: Session, row_id: int) -> bool:
    """Delete the row in the effect's transaction; False when it is gone (taken over after a lost lease)."""
    return session.execute(_FINISH, {"row_id": row_id}).first() is not None


def fail(session: Session, row_id: int, *, now: float) -> bool:
    """Count a failed attempt and retry later; after MAX_ATTEMPTS the row is dropped (True)."""
    attempts = session.execute(update(InboundUpdate).where(InboundUpdate.id == row_id)
                               .values(attempts=InboundUpdate.attempts + 1)
                               .returning(InboundUpdate.attempts)).scalar()
    if attempts is None or attempts >= MAX_ATTEMPTS:
        finish(session, row_id)
        return True
    session.execute(update(InboundUpdate).where(InboundUpdate.id == row_id)
                    .values(lease_until=now + RETRY_SECONDS * 2 ** (attempts - 1)))
    return False


def release(session: Session, row_ids: list[int]) -> None:
    """Leases given back at shutdown, so a restart handles the rows at once."""
    if row_ids:
        session.execute(update(InboundUpdate).where(InboundUpdate.id.in_(row_ids)).values(lease_until=0.0))
