"""Reminder counts per person and week: a second reminder in a week is counted, not a crash.

Found by `xianfeng campaign rehearse`: with SQLAlchemy 2.1 the bulk update of the ORM entity wanted
primary keys in its parameters, so once a check-in had reminded someone, every digest of that week
failed and was rolled back (188 lost digest runs over seed000)."""
from __future__ import annotations

from datetime import date

from sqlmodel import Session, select

from storage import nudges
from storage.db import transaction
from storage.models import Nudge


def test_a_second_and_third_reminder_in_a_week_are_counted(engine):
    for people in (["li", "zhang"], ["li"], ["li", "wang"]):
        with transaction(engine) as session:
            nudges.count(session, week="2026-W49", userids=people)
    with Session(engine) as session:
        counted = {n.userid: n.count for n in session.exec(select(Nudge))}
    assert counted == {"li": 3, "zhang": 1, "wang": 1}
    with Session(engine) as session:
        assert nudges.held_back(session, today=date(2026, 12, 2), week="2026-W49", cap=3) == {"li"}
