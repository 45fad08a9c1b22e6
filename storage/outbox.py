"""The transactional outbox: handlers add rows, the sender claims, sends and marks them.

A row is claimed with a lease, so a crashed worker's rows come back after the lease; it is marked
sent only after the API said so. Per-person limits (30 a minute, 1000 an hour, beyond which
WeChat Work silently drops messages) are checked and reserved in the claiming transaction.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import Select, bindparam, delete, func, insert, select, text, update
from sqlalchemy.orm import aliased
from sqlmodel import Session

from storage.db import IN_CHUNK, insert_new
from storage.models import Delivery, MediaBlob, Outbox, OutboxStatus

PER_PERSON_LIMITS = ((60.0, 30), (3600.0, 1000))  # (window seconds, messages) per app and member
# A reply to what a person just wrote is claimed before anything else due, whatever its id: a digest
# to every member leaves at the platform's pace (minutes), and the member answering it is waiting.
REPLY, BULK = 0, 1
ANALYZE_AFTER = 5_000  # rows queued at once after which PostgreSQL's statistics are refreshed
LEASE_SECONDS = 60.0


@dataclass(frozen=True)
class Claimed:
    id: int
    endpoint: str
    payload: dict[str, Any]
    attempts: int
    recipients: list[str] = field(default_factory=list)
    claimed_at: float = 0.0  # the time its recipients' reservations carry until stamp_deliveries
    created_at: float = 0.0


def _row(key: str, endpoint: str, payload: dict[str, Any], recipients: Iterable[str], channel: str | None,
         now: float, priority: int = BULK) -> dict[str, Any]:
    return dict(idem_key=key, endpoint=endpoint, payload=payload, recipients=list(dict.fromkeys(recipients)),
                channel=channel, priority=priority, status=OutboxStatus.pending, attempts=0, next_attempt_at=now,
                lease_until=0.0, created_at=now)


def enqueue(session: Session, *, key: str, endpoint: str, payload: dict[str, Any],
            recipients: Iterable[str] = (), channel: str | None = None, priority: int = BULK) -> bool:
    """Add a row unless one with this idempotency key exists; True when added."""
    stmt = insert_new(session, Outbox.__table__, "idem_key", returning="id")
    row = _row(key, endpoint, payload, recipients, channel, time.time(), priority)
    return session.execute(stmt, row).first() is not None


def enqueue_many(session: Session, rows: list[tuple[str, str, dict[str, Any], list[str], str | None]]) -> None:
    """Many rows in one statement (executemany): a digest to 100,000 people is one insert, not 100,000.
    Each row is (key, endpoint, payload, recipients, channel), queued as BULK; existing keys are skipped."""
    if rows:
        now = time.time()
        # On the table, not the ORM class: the ORM's bulk path costs more than the insert itself here.
        session.execute(insert_new(session, Outbox.__table__, "idem_key"), [_row(*row, now) for row in rows])
        if len(rows) >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
            # Until autovacuum gets to it (a minute or more) PostgreSQL plans claims from stale or no
            # statistics and reads all of the queue per claim (0.3-0.5 s at 100,000 rows instead of 2 ms).
            # next_candidates' OFFSET 0 does not cover this: never analyzed, the table is planned as a
            # bitmap scan of every pending row and a sort (test_a_claim_reads_the_queue_in_order...).
            # ANALYZE counts this transaction's own new rows.
            session.execute(text("ANALYZE outbox"))


def store_blob(session: Session, *, key: str, filename: str, content_type: str, data: bytes) -> None:
    """The bytes of a queued image, under its row's key; the sender uploads them when the row leaves."""
    session.execute(insert_new(session, MediaBlob, "key").values(key=key, filename=filename,
                                                              content_type=content_type, data=data))


class _RecentDeliveries:
    """Each recipient's deliveries in the per-person windows, read once for a whole claim and kept up to
    date in memory as rows are reserved: two queries per thousand people instead of two per row."""

    def __init__(self, session: Session, recipients: set[str], now: float):
        self._seen: dict[float, dict[str, list[float]]] = {}  # window -> userid -> [count, oldest]
        users = sorted(recipients)
        for window, _limit in PER_PERSON_LIMITS:
            seen = self._seen[window] = {}
            for start in range(0, len(users), IN_CHUNK):
                stmt = (select(Delivery.userid, func.count(), func.min(Delivery.sent_at))
                        .where(Delivery.userid.in_(users[start:start + IN_CHUNK]),
                               Delivery.sent_at > now - window)
                        .group_by(Delivery.userid))
                seen.update({userid: [count, oldest] for userid, count, oldest in session.execute(stmt)})

    def blocked_until(self, recipients: list[str]) -> float | None:
        """When the busiest recipient may receive again, or None if all may receive now."""
        latest = None
        for window, limit in PER_PERSON_LIMITS:
            for userid in recipients:
                count, oldest = self._seen[window].get(userid, (0, 0.0))
                if count >= limit:  # when the oldest leaves the window there is room for one more
                    free_at = oldest + window
                    latest = free_at if latest is None else max(latest, free_at)
        return latest

    def reserve(self, recipients: list[str], now: float) -> None:
        for window, _limit in PER_PERSON_LIMITS:
            for userid in recipients:
                self._seen[window].setdefault(userid, [0, now])[0] += 1


def _due(now: float, *, by_attempt_index: bool = True) -> tuple:
    """by_attempt_index=False: `+ 0` keeps SQLite (no statistics) off ix_outbox_due for a query that
    walks due rows in claiming order; through that index a claim checked and sorted every due row
    (130 ms for 200 rows of a 100,000-person digest), through ix_outbox_claim it stops at its limit
    (14-20 ms)."""
    attempt_at = Outbox.next_attempt_at if by_attempt_index else Outbox.next_attempt_at + 0
    return Outbox.status == OutboxStatus.pending, attempt_at <= now, Outbox.lease_until <= now


def any_pending(session: Session, *, endpoint: str) -> bool:
    """Whether any call of this API waits, due or not, leased or not."""
    return session.scalar(select(Outbox.id).where(Outbox.status == OutboxStatus.pending,
                                                  Outbox.endpoint == endpoint).limit(1)) is not None


def any_due(session: Session, *, now: float) -> bool:
    return session.scalar(select(Outbox.id).where(*_due(now)).limit(1)) is not None


def next_candidates(now: float, limit: int, endpoint: str | None = None) -> Select:
    """Due rows in claiming order: replies first (REPLY before BULK), then by id; a row waits while an
    earlier row of its channel (a person's, a chat's) is pending. A reply may overtake its person's
    earlier digest, never an earlier reply (a form's questions keep their order); chats carry only BULK
    rows, so a chat's message never overtakes the chat's creation."""
    earlier = aliased(Outbox)
    # OFFSET 0 keeps PostgreSQL from turning this NOT EXISTS into an anti-join. Replies reach the queue
    # faster than autovacuum counts them (it looks once a minute), and planned for the empty queue it
    # had counted, that join read every pending row for each candidate: claims of 0.3-1.2 s behind a
    # burst. Checked per candidate instead, the check is one probe of ix_outbox_channel_order.
    blocked_by_earlier = select(earlier.id).where(
        earlier.channel == Outbox.channel, earlier.status == OutboxStatus.pending, earlier.id < Outbox.id,
        earlier.priority <= Outbox.priority).offset(0).exists()
    only = (Outbox.endpoint == endpoint,) if endpoint else ()
    return (select(Outbox.id, Outbox.endpoint, Outbox.payload, Outbox.recipients, Outbox.attempts, Outbox.created_at)
            .where(*_due(now, by_attempt_index=False), ~blocked_by_earlier, *only)
            .order_by(Outbox.priority, Outbox.id).limit(limit).with_for_update(skip_locked=True))


def claim_due(session: Session, *, now: float, limit: int = 20, lease: float = LEASE_SECONDS,
              max_recipients: int = 10_000, endpoint: str | None = None) -> list[Claimed]:
    """Lease up to `limit` due rows (`next_candidates`; only calls of `endpoint` if given) and reserve
    their recipients' per-person limits; a row that would exceed them is postponed. `max_recipients`
    keeps one claim's reservations to a few thousand."""
    candidates = session.execute(next_candidates(now, limit, endpoint)).all()
    recent = _RecentDeliveries(session, {u for row in candidates for u in row.recipients}, now)
    claimed: list[Claimed] = []
    postponed: list[dict[str, Any]] = []
    reserved = 0
    for row in candidates:
        if claimed and reserved + len(row.recipients) > max_recipients:
            break  # the rest stay due for the next claim
        wait_until = recent.blocked_until(row.recipients)
        if wait_until is not None:
            postponed.append({"id": row.id, "next_attempt_at": wait_until})
            continue
        recent.reserve(row.recipients, now)
        reserved += len(row.recipients)
        claimed.append(Claimed(row.id, row.endpoint, dict(row.payload), row.attempts + 1, list(row.recipients), now,
                               row.created_at))
    if postponed:  # one executemany by primary key, not one UPDATE per row
        session.execute(update(Outbox), postponed)
    _lease(session, claimed, now, lease)
    return claimed


def _lease(session: Session, claimed: list[Claimed], now: float, lease: float) -> None:
    deliveries = [{"userid": u, "sent_at": now} for c in claimed for u in c.recipients]
    if deliveries:
        session.execute(insert(Delivery), deliveries)
    if claimed:
        stmt = (update(Outbox).where(Outbox.id.in_([c.id for c in claimed]))
                .values(lease_until=now + lease, attempts=Outbox.attempts + 1))
        session.execute(stmt.execution_options(synchronize_session=False))


def stamp_deliveries(session: Session, claimed: Claimed, *, now: float) -> None:
    """Move a finished row's reservations from its claim to `now`, when its call came back.

    A claimed row may wait a few seconds for its turn under the rate limit, so it can reach WeChat Work
    well after it was claimed; counted at the claim, a person's 31st message could then land within a
    minute of the 30th and be dropped. Stamped no earlier than the message could have arrived, the
    reservations make the claim-time check exact again. The same people's reservations made after
    this claim move too (rows still in flight, or stamped already): a little late is safe, early is not."""
    if claimed.recipients:
        session.execute(_RESTAMP, {"people": claimed.recipients, "claimed_at": claimed.claimed_at, "now": now})


# Built once, on the tables (the ORM's update path costs more than the update): every sent row runs both.
_DELIVERY, _OUTBOX = Delivery.__table__, Outbox.__table__
_RESTAMP = (update(_DELIVERY).where(_DELIVERY.c.userid.in_(bindparam("people", expanding=True)),
                                    _DELIVERY.c.sent_at >= bindparam("claimed_at"), _DELIVERY.c.sent_at < bindparam("now"))
            .values(sent_at=bindparam("now")))
_FINISH = update(_OUTBOX).where(_OUTBOX.c.id == bindparam("row_id"), _OUTBOX.c.status == OutboxStatus.pending)


def _finish(session: Session, row_id: int, **values: Any) -> None:
    session.execute(_FINISH, {"row_id": row_id, **values})


def mark_sent(session: Session, *, row_id: int, now: float, result: dict[str, Any] | None = None) -> None:
    _finish(session, row_id, status=OutboxStatus.sent, sent_at=now, lease_until=0.0, result=result)


def mark_retry(session: Session, *, row_id: int, at: float, error: str) -> None:
    _finish(session, row_id, next_attempt_at=at, lease_until=0.0, last_error=error)


def mark_held(session: Session, *, row_id: int, at: float, error: str) -> None:
    """Back to the queue without counting the attempt: a setup error (bot.wecom.setup_errors) is not the
    message's fault, and it must still be there, with all its tries, once a person has fixed it."""
    session.execute(_FINISH.values(attempts=_OUTBOX.c.attempts - 1),
                    {"row_id": row_id, "next_attempt_at": at, "lease_until": 0.0, "last_error": error})


def mark_dead(session: Session, *, row_id: int, now: float, reason: str) -> None:
    _finish(session, row_id, status=OutboxStatus.dead, lease_until=0.0, last_error=reason, sent_at=None)


def sent_rows(session: Session, *, keys: Iterable[str]) -> list[Outbox]:
    """The rows with these keys that were sent: what the platform answered (result) and when (sent_at)."""
    return list(session.scalars(select(Outbox).where(Outbox.idem_key.in_(list(keys)),
                                                     Outbox.status == OutboxStatus.sent).order_by(Outbox.id)))


def dead_letters(session: Session, *, limit: int = 200) -> list[Outbox]:
    """The newest dead letters first, with their reasons in last_error."""
    return list(session.scalars(select(Outbox).where(Outbox.status == OutboxStatus.dead)
                                .order_by(Outbox.id.desc()).limit(limit)))


def requeue_dead(session: Session, *, ids: Iterable[int] | None = None, now: float) -> int:
    """Dead letters (these, or all) queued again with a fresh count of attempts; how many."""
    stmt = update(Outbox).where(Outbox.status == OutboxStatus.dead)
    if ids is not None:
        stmt = stmt.where(Outbox.id.in_(list(ids)))
    stmt = stmt.values(status=OutboxStatus.pending, attempts=0, next_attempt_at=now, lease_until=0.0)
    return session.execute(stmt.execution_options(synchronize_session=False)).rowcount


def queue_counts(session: Session, *, now: float, held_prefix: str) -> dict[str, Any]:
    """What `xianfeng status` shows of the queue: pending, held (pending rows whose last_error begins
    with `held_prefix`: a setup error's, by reason), dead, and how long the oldest pending row has waited."""
    pending = session.execute(select(func.count(), func.min(Outbox.created_at))
                              .where(Outbox.status == OutboxStatus.pending)).one()
    held = session.execute(select(Outbox.last_error, func.count())
                           .where(Outbox.status == OutboxStatus.pending, Outbox.last_error.startswith(held_prefix))
                           .group_by(Outbox.last_error)).all()
    dead = session.scalar(select(func.count()).where(Outbox.status == OutboxStatus.dead))
    return {"pending": pending[0], "oldest_wait": now - pending[1] if pending[1] else 0.0,
            "held": {error: count for error, count in held}, "dead": dead}


def prune_deliveries(session: Session, *, now: float) -> None:
    horizon = max(window for window, _ in PER_PERSON_LIMITS)
    session.execute(delete(Delivery).where(Delivery.sent_at < now - horizon))
