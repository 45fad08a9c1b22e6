"""The audit log: loading a campaign, importing a roster, issuing and closing a poll, entering,
confirming and withdrawing a rating, and marking a task by hand each append an entry, hash-chained so
that `xianfeng audit verify` finds an entry edited or deleted afterwards.

The chain. Entry n has seq n (1, 2, 3… without gaps) and
    hash = sha256(UTF-8 of the JSON object {seq, at, actor, action, subject, details, prev_hash}
                  with keys sorted, no spaces (separators "," and ":"), non-ASCII as itself,
                  `at` as text with six decimals ("1764900000.123456"))
where prev_hash is entry n-1's hash (GENESIS for entry 1). The head, in bot_state "audit_head"
({"seq": n, "hash": …}), records the last entry written, so a deleted last entry shows too.

Writing. `append` only notes the entry in the session; it is written when that transaction commits
(a `before_commit` listener), in it, so the entry commits with the change it records or not at all.
Writing takes the head row's lock (SELECT … FOR UPDATE on PostgreSQL; SQLite has one writer at a
time already) as the transaction's last act: the chain never forks between two `serve` processes or
handler processes, the lock is held only for the moment before the commit, and no transaction waits
for the head while holding something another one wants after it (no deadlock). So seq is the order
in which the changes committed, and `at` the moment each entry was written.

What it cannot tell (docs/architecture.md): the hash needs no secret, so whoever can write the
database at will can rewrite the log from any entry on, or drop it whole, and compute it all afresh.
Each entry's seq and hash also go to the log (INFO) once committed: a copy of the head kept outside
the database is what shows such a rewrite.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Iterator

from sqlalchemy import Row, event, select, update
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from storage.db import after_commit, insert_new
from storage.models import AuditEntry, BotState

log = logging.getLogger(__name__)
GENESIS = "0" * 64  # entry 1's prev_hash
HEAD = "audit_head"
TEXT_LIMIT = 200  # characters of any text in details: the log says what happened, the record keeps the whole text
SHOW_LIMIT = 500  # entries at most per page of the log (entries())
_PENDING = "xianfeng_audit_pending"


def append(session: Session, *, actor: str, action: str, subject: str, details: dict[str, Any] | None = None) -> None:
    """Log this change with the transaction that makes it. actor: a userid, "cli" or "system" (the
    scheduler, the demo's set-up); action: a short code ("poll.closed"); subject: what it concerns
    ("poll:12"); details: a few facts as JSON (texts cut to TEXT_LIMIT; never a vote)."""
    entry = {"actor": actor, "action": action, "subject": subject, "details": _small(details or {})}
    session.info.setdefault(_PENDING, []).append(entry)


def _small(details: dict[str, Any]) -> dict[str, Any]:
    """details as they will read back from the database (JSON types only), long texts cut."""
    def cut(value: Any) -> Any:
        if isinstance(value, str):
            return value if len(value) <= TEXT_LIMIT else value[:TEXT_LIMIT - 1] + "…"
        if isinstance(value, dict):
            return {str(k): cut(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [cut(v) for v in value]
        return value
    return json.loads(json.dumps(cut(details), ensure_ascii=False, allow_nan=False, default=str))


def entry_hash(*, seq: int, at: float, actor: str, action: str, subject: str, details: dict[str, Any],
               prev_hash: str) -> str:
    """The canonical form (module docstring) and its sha256, in hex."""
    canonical = json.dumps({"seq": seq, "at": f"{at:.6f}", "actor": actor, "action": action, "subject": subject,
                            "details": details, "prev_hash": prev_hash},
                           sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@event.listens_for(OrmSession, "before_commit")
def _write_pending(session: OrmSession) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        _write(session, pending)


@event.listens_for(OrmSession, "after_soft_rollback")
def _forget_pending(session: OrmSession, _previous) -> None:
    session.info.pop(_PENDING, None)  # what rolled back did not happen: nothing to log


def _write(session: OrmSession, pending: list[dict[str, Any]]) -> None:
    session.flush()  # the change itself first: once the head is locked, this transaction only writes the log
    seq, prev_hash = _locked_head(session)
    written = []
    for entry in pending:
        seq, prev_hash = _add(session, seq + 1, prev_hash, entry)
        written.append((seq, entry["action"], entry["subject"], prev_hash))
    session.execute(update(BotState).where(BotState.key == HEAD)
                    .values(value={"seq": seq, "hash": prev_hash}, updated_at=time.time()))
    after_commit(session, lambda: _say_written(written))


def _add(session: OrmSession, seq: int, prev_hash: str, entry: dict[str, Any]) -> tuple[int, str]:
    at = round(time.time(), 6)
    digest = entry_hash(seq=seq, at=at, prev_hash=prev_hash, **entry)
    session.add(AuditEntry(seq=seq, at=at, prev_hash=prev_hash, hash=digest, **entry))
    return seq, digest


def _say_written(written: list[tuple[int, str, str, str]]) -> None:
    """A copy of each new head outside the database (the log): what shows a rewritten log."""
    for seq, action, subject, digest in written:
        log.info("audit #%d %s %s %s", seq, action, subject, digest)


def _locked_head(session: OrmSession) -> tuple[int, str]:
    """(seq, hash) of the last entry, the head row locked for this transaction. A database without a
    head gets one (two first appenders: the second's insert waits for the first's commit, then skips);
    if entries exist nonetheless, the head was deleted: continue after the last entry and say so in the
    log itself, so the deletion stays visible once the head is written again."""
    locked = select(BotState.value).where(BotState.key == HEAD).with_for_update()
    head = session.scalar(locked)
    if head is not None:
        return int(head["seq"]), str(head["hash"])
    last = session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
    start = {"seq": last.seq, "hash": last.hash} if last else {"seq": 0, "hash": GENESIS}
    created = session.execute(insert_new(session, BotState, "key", returning="key").values(
        key=HEAD, value=start, updated_at=time.time())).first()
    head = session.scalar(locked)
    if created and last:
        log.warning("the audit log's head was missing; entry %d says so", last.seq + 1)
        return _add(session, last.seq + 1, last.hash, {"actor": "system", "action": "audit.head_missing",
                                                       "subject": "audit", "details": {"last_seq": last.seq}})
    return int(head["seq"]), str(head["hash"])


@dataclass(frozen=True)
class Problem:
    """What verify found, about entries `first`..`last` (one entry: first == last). kind:
    edited — its hash does not match its fields; relinked — its prev_hash is not the hash of the entry
    before it (that one was rewritten with a new hash, or an entry was put in between); missing — no
    such entries (deleted); head_missing — entries but no head; beyond_head — entries after the one
    the head records (added around the log); head_differs — the last entry is not the one the head
    records (replaced)."""

    kind: str
    first: int
    last: int
    entry: Row | None = None  # the entry it concerns (its seq, time, action, subject), if there is one


@dataclass(frozen=True)
class Report:
    count: int  # entries read
    head: dict[str, Any] | None  # {"seq", "hash"} as bot_state holds it
    problems: list[Problem]


def verify(session: Session) -> Report:
    """Read the whole log in seq order (in pages, so memory stays small) and check every hash and link,
    then the head. The head is read first under a share lock (PostgreSQL): no entry is appended while
    the log is read, so what was read is one consistent log."""
    head = session.scalar(select(BotState.value).where(BotState.key == HEAD).with_for_update(read=True))
    problems: list[Problem] = []
    expected, prev_hash, count, last = 1, GENESIS, 0, None
    for entry in _in_order(session):
        count += 1
        if entry.seq != expected:
            problems.append(Problem("missing", expected, entry.seq - 1, entry))
        elif entry.prev_hash != prev_hash:
            problems.append(Problem("relinked", entry.seq, entry.seq, entry))
        if entry_hash(seq=entry.seq, at=entry.at, actor=entry.actor, action=entry.action, subject=entry.subject,
                      details=entry.details, prev_hash=entry.prev_hash) != entry.hash:
            problems.append(Problem("edited", entry.seq, entry.seq, entry))
        expected, prev_hash, last = entry.seq + 1, entry.hash, entry
    problems += _head_problems(head, last, count)
    return Report(count, dict(head) if head else None, problems)


def _in_order(session: Session) -> Iterator[Row]:
    """Every entry as a plain row (not kept in the session), a page at a time."""
    after, page, table = 0, 1000, AuditEntry.__table__
    while True:
        rows = session.execute(select(table).where(table.c.seq > after).order_by(table.c.seq).limit(page)).all()
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1].seq


def _head_problems(head: dict | None, last: Row | None, count: int) -> list[Problem]:
    if head is None:
        return [Problem("head_missing", last.seq, last.seq, last)] if count else []
    seq = int(head["seq"])
    if last is None or last.seq < seq:
        return [Problem("missing", last.seq + 1 if last else 1, seq, None)] if seq else []
    if last.seq > seq:
        return [Problem("beyond_head", seq + 1, last.seq, last)]
    return [Problem("head_differs", last.seq, last.seq, last)] if last.hash != head["hash"] else []


def entries(session: Session, *, limit: int, before: int | None = None) -> list[AuditEntry]:
    """The newest entries first, at most `limit` (and never more than SHOW_LIMIT); with `before`, those
    older than entry `before` (the next page: pass the last seq shown)."""
    stmt = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(max(0, min(limit, SHOW_LIMIT)))
    if before is not None:
        stmt = stmt.where(AuditEntry.seq < before)
    return list(session.scalars(stmt))
