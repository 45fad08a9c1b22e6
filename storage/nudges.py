"""Personal reminders (digest, check-ins) against /请假 and the weekly cap, in bulk statements."""
from __future__ import annotations

from datetime import date

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session

from storage.models import Nudge, ReminderPause


def paused(session: Session, *, today: date) -> set[str]:
    """People who asked for no reminders today (/请假)."""
    return set(session.scalars(select(ReminderPause.userid).where(ReminderPause.until >= today)))


def held_back(session: Session, *, today: date, week: str, cap: int) -> set[str]:
    """People who get no personal reminder now: paused with /请假, or at this week's cap."""
    capped = session.scalars(select(Nudge.userid).where(Nudge.week == week, Nudge.count >= cap))
    return paused(session, today=today) | set(capped)


def count(session: Session, *, week: str, userids: list[str]) -> None:
    """One more reminder for each of these people this week: one insert and one update, whatever the number."""
    counts = dict(session.execute(select(Nudge.userid, Nudge.count).where(Nudge.week == week)).all())
    fresh = [{"userid": u, "week": week, "count": 1} for u in userids if u not in counts]
    again = [{"b_userid": u, "b_week": week, "b_count": counts[u] + 1} for u in userids if u in counts]
    if fresh:
        session.execute(insert(Nudge), fresh)
    if again:  # on the table: given a list, an update of the ORM entity is SQLAlchemy's bulk update by
        # primary key, which 2.1 refuses with this WHERE (every digest of a week with a check-in failed)
        table = Nudge.__table__
        session.execute(update(table).where(table.c.userid == bindparam("b_userid"), table.c.week == bindparam("b_week"))
                        .values(count=bindparam("b_count")), again)
