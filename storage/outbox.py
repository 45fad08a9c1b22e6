"""The transactional outbox: handlers add rows, the sender claims, sends and marks them.

A row is claimed with a lease, so a crashed worker's rows come back after the lease; it is marked
sent only after the API said so. Per-person limits (30 a minute, 1000 an hour, beyond which
WeChat Work silently drops messages) are checked and reserved in the claiming transaction.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlmodel import Session

from storage.models import Delivery, Outbox, OutboxStatus

PER_PERSON_LIMITS = ((60.0, 30), (3600.0, 1000))  # (window seconds, messages) per app and member
LEASE_SECONDS = 60.0


@dataclass(frozen=True)
class Claimed:
    id: int
    idem_key: str
    endpoint: str
    payload: dict[str, Any]
    attempts: int


def _row(key: str, endpoint: str, payload: dict[str, Any], recipients: Iterable[str], channel: str | None,
         now: float) -> dict[str, Any]:
    return dict(idem_key=key, endpoint=endpoint, payload=payload, recipients=list(dict.fromkeys(recipients)),
                channel=channel, status=OutboxStatus.pending, attempts=0, next_attempt_at=now,
                lease_until=0.0, created_at=now)


def _insert(session: Session):
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(Outbox).on_conflict_do_nothing(index_elements=["idem_key"])


def enqueue(session: Session, *, key: str, endpoint: str, payload: dict[str, Any],
            recipients: Iterable[str] = (), channel: str | None = None) -> bool:
    """Add a row unless one with this idempotency key exists; True when added."""
    stmt = _insert(session).values(_row(key, endpoint, payload, recipients, channel, time.time()))
    return session.execute(stmt.returning(Outbox.id)).scalar() is not None


def enqueue_many(session: Session, rows: list[tuple[str, str, dict[str, Any], list[str], str | None]]) -> None:
    """Many rows in one statement (executemany): a digest to 100,000 people is one insert, not 100,000.
    Each row is (key, endpoint, payload, recipients, channel); existing keys are skipped."""
    if rows:
        now = time.time()
        session.execute(_insert(session), [_row(*row, now) for row in rows])


def _blocked_until(session: Session, recipients: list[str], now: float) -> float | None:
    """When the busiest recipient may receive again, or None if all may receive now."""
    if not recipients:
        return None
    latest = None
    for window, limit in PER_PERSON_LIMITS:
        stmt = (select(Delivery.userid, func.count(), func.min(Delivery.sent_at))
                .where(Delivery.userid.in_(recipients), Delivery.sent_at > now - window)
                .group_by(Delivery.userid).having(func.count() >= limit))
        for _userid, _count, oldest in session.execute(stmt):
            free_at = oldest + window  # when the oldest leaves the window there is room for one more
            latest = free_at if latest is None else max(latest, free_at)
    return latest


def any_due(session: Session, *, now: float) -> bool:
    stmt = select(Outbox.id).where(Outbox.status == OutboxStatus.pending, Outbox.next_attempt_at <= now,
                                   Outbox.lease_until <= now).limit(1)
    return session.scalar(stmt) is not None


def claim_due(session: Session, *, now: float, limit: int = 20, lease: float = LEASE_SECONDS) -> list[Claimed]:
    earlier = aliased(Outbox)
    blocked_by_earlier = exists().where(
        earlier.channel == Outbox.channel, earlier.status == OutboxStatus.pending, earlier.id < Outbox.id)
    stmt = (select(Outbox)
            .where(Outbox.status == OutboxStatus.pending, Outbox.next_attempt_at <= now,
                   Outbox.lease_until <= now, ~blocked_by_earlier)
            .order_by(Outbox.id).limit(limit).with_for_update(skip_locked=True))
    claimed = []
    for row in session.scalars(stmt).all():
        wait_until = _blocked_until(session, row.recipients, now)
        if wait_until is not None:
            row.next_attempt_at = wait_until
            continue
        session.add_all(Delivery(userid=u, sent_at=now) for u in row.recipients)
        row.lease_until, row.attempts = now + lease, row.attempts + 1
        claimed.append(Claimed(row.id, row.idem_key, row.endpoint, dict(row.payload), row.attempts))
    return claimed


def _finish(session: Session, row_id: int, **values: Any) -> None:
    session.execute(update(Outbox).where(Outbox.id == row_id, Outbox.status == OutboxStatus.pending)
                    .values(**values))


def mark_sent(session: Session, *, row_id: int, now: float, result: dict[str, Any] | None = None) -> None:
    _finish(session, row_id, status=OutboxStatus.sent, sent_at=now, lease_until=0.0, result=result)


def mark_retry(session: Session, *, row_id: int, at: float, error: str) -> None:
    _finish(session, row_id, next_attempt_at=at, lease_until=0.0, last_error=error)


def mark_dead(session: Session, *, row_id: int, now: float, reason: str) -> None:
    _finish(session, row_id, status=OutboxStatus.dead, lease_until=0.0, last_error=reason, sent_at=None)


def prune_deliveries(session: Session, *, now: float) -> None:
    horizon = max(window for window, _ in PER_PERSON_LIMITS)
    session.execute(delete(Delivery).where(Delivery.sent_at < now - horizon))
