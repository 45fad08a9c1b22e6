"""Forms left half-filled: after the idle time each is parked and its owner told how to resume."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from bot.config import Settings
from bot.forms import FORMS, set_parked
from bot.scheduler.calendar import is_quiet
from bot.texts import render
from bot.wecom import messages
from storage.models import ConversationState


def run_idle_forms(session: Session, settings: Settings, now: datetime) -> int:
    if is_quiet(now, settings.quiet_hours):
        return 0
    cutoff = now.timestamp() - settings.form_idle_minutes * 60
    stmt = select(ConversationState).where(ConversationState.updated_at < cutoff)
    parked = 0
    for state in session.scalars(stmt):
        if state.data.get("parked") or state.form not in FORMS:
            continue
        set_parked(state, True)
        session.add(state)
        messages.to_person(session, key=f"parked:{state.userid}:{int(state.updated_at)}", userid=state.userid,
                           text=render("form_parked", title=FORMS[state.form].title))
        parked += 1
    return parked
