"""The polls job, every minute: close polls whose deadline has passed (also the ones missed while
no scheduler ran: the deadline is in the row, not in the job store), destroy keys left behind
(storage/sealing.py: a crash between a close and its erasing, inbox keys no longer needed), and remind, at most once a
day and outside quiet hours, only the people who have not voted."""
from __future__ import annotations

import functools
from datetime import datetime

from sqlmodel import Session

from bot.config import Settings
from bot.polls.close import close_poll
from bot.scheduler.calendar import is_quiet
from bot.texts import render
from bot.wecom import messages
from storage import inbox, nudges
from storage.db import after_commit
from storage import polls as store


def run_polls(session: Session, settings: Settings, now: datetime) -> int:
    at = now.timestamp()  # the job's moment (a rerun for a missed minute too): the close's, for its cards
    closed = [close_poll(session, poll_id=i, tz=settings.tz, now=at) for i in store.due_to_close(session, now=at)]
    store.sweep_keys(session, now=now.timestamp())
    after_commit(session, functools.partial(inbox.retire_keys, session.get_bind()))
    reminded = 0 if is_quiet(now, settings.quiet_hours) else remind(session, now)
    return sum(1 for poll in closed if poll is not None) + reminded


def remind(session: Session, now: datetime) -> int:
    """One reminder a day per open poll to those who have not voted, not on the day it was issued
    (their card just arrived), and not to people on /请假."""
    today, sent = now.date(), 0
    paused = nudges.paused(session, today=today)  # poll reminders are daily and few: no weekly cap
    for poll in store.open_polls(session):
        issued_on = datetime.fromtimestamp(poll.created_at, now.tzinfo).date()
        if issued_on >= today or poll.deadline <= now.timestamp():
            continue
        people = [u for u in store.to_remind(session, poll_id=poll.id, today=today) if u not in paused]
        if people:
            deadline = datetime.fromtimestamp(poll.deadline, now.tzinfo)
            messages.to_people(session, key=f"poll:{poll.id}:remind:{today.isoformat()}", userids=people,
                               text=render("poll_reminder", poll=poll, deadline=deadline))
            store.mark_reminded(session, poll_id=poll.id, userids=people, today=today)
            sent += len(people)
    return sent
