"""/请假 (issue 19, finding 8): the reply and the pause agree. `/请假 7天` on 12月2日 pauses the 2nd to the
8th, both included; the reply names the last quiet day and the day reminders come back, and a
reminder on the last day is not sent while one on the next day is. On SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from bot.dispatch import Dispatcher
from bot.handlers import ROUTERS
from bot.scheduler.jobs import run_job
from bot.wecom.updates import parse_update
from storage.models import Outbox, ReminderPause
from tests.conftest import make_settings, text_xml
from tests.test_polls import START, Town, branch, issued_poll  # noqa: F401 (branch is a fixture)

TZ = ZoneInfo("Asia/Shanghai")


def _reply(engine, userid: str) -> str:
    with Session(engine) as session:
        rows = session.scalars(select(Outbox).where(Outbox.idem_key.startswith("reply:")).order_by(Outbox.id))
        return [r.payload["text"]["content"] for r in rows if r.payload.get("touser") == userid][-1]


def test_seven_days_from_the_second_names_the_eighth_as_the_last_and_the_ninth_as_the_return(engine, rostered):
    moment = int(datetime(2026, 12, 2, 10, 0, tzinfo=TZ).timestamp())
    Dispatcher(engine, ROUTERS).feed_update(parse_update(text_xml("li", "/请假 7天", create_time=moment)))
    reply = _reply(engine, "li")
    assert "到12月8日" in reply and "12月9日起恢复" in reply and "7 天" in reply
    assert "之前" not in reply  # "12月8日之前" read as "not on the 8th", yet the 8th was paused
    with Session(engine) as session:
        assert session.get(ReminderPause, "li").until == date(2026, 12, 8)


def test_a_reminder_on_the_last_paused_day_is_held_and_the_next_day_it_is_sent(engine, branch):
    town = Town(engine)  # Monday 11 May
    poll = issued_poll(town, "/评议 支部满意度 截止 5月20日 18:00")
    reply = town.say("m2", "/请假 3天")[-1]
    assert "到5月13日" in reply and "5月14日起恢复" in reply
    cfg = make_settings("sqlite://", "http://127.0.0.1:9")

    def reminded(day: datetime) -> list[str]:
        run_job("polls", engine, cfg, day)
        [row] = town.rows(f"poll:{poll.id}:remind:{day.date().isoformat()}")
        return row.payload["touser"].split("|")

    assert "m2" not in reminded(START + timedelta(days=2))  # the 13th: the last day of the pause
    assert "m2" in reminded(START + timedelta(days=3))  # the 14th: reminders are back
