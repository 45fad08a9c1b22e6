"""Small shared facts in `bot_state`: this installation's id and the sender's pause on a setup error."""
from __future__ import annotations

import secrets
import time
from typing import Any

from sqlalchemy import delete, select
from sqlmodel import Session

from storage.db import insert_new
from storage.models import BotState

INSTALLATION, SENDER_PAUSE = "installation", "sender_pause"


def installation_id(session: Session) -> str:
    """Twelve hex digits drawn once per database. The platform refuses a card task_id the app has ever
    used (90236), so a second installation of the same app, or this one after a reset, must not
    repeat the first one's `poll-<id>-<batch>`."""
    stored = session.scalar(select(BotState.value).where(BotState.key == INSTALLATION))
    if stored is None:  # once per database; every card tap reads it, so look before writing
        session.execute(insert_new(session, BotState, "key").values(
            key=INSTALLATION, value={"id": secrets.token_hex(6)}, updated_at=time.time()))
        stored = session.scalar(select(BotState.value).where(BotState.key == INSTALLATION))
    return str(stored["id"])


def record_pause(session: Session, *, errcode: int, endpoint: str, now: float) -> bool:
    """Sending is paused by a setup error; True if it was not paused already (the first to say so logs)."""
    added = session.execute(insert_new(session, BotState, "key", returning="key").values(
        key=SENDER_PAUSE, value={"errcode": errcode, "endpoint": endpoint, "since": now}, updated_at=now)).first()
    if added is None:
        row = session.get(BotState, SENDER_PAUSE)
        row.value, row.updated_at = {**row.value, "errcode": errcode, "endpoint": endpoint}, now
    return added is not None


def clear_pause(session: Session) -> dict[str, Any] | None:
    """The pause that ended, if there was one."""
    row = session.get(BotState, SENDER_PAUSE)
    if row is None:
        return None
    value = dict(row.value)
    session.execute(delete(BotState).where(BotState.key == SENDER_PAUSE))
    return value


def pause(session: Session) -> dict[str, Any] | None:
    """{"errcode", "endpoint", "since"} while sending is paused, else None."""
    value = session.scalar(select(BotState.value).where(BotState.key == SENDER_PAUSE))
    return dict(value) if value else None
