"""Every message a person sends gets its answer, on a platform that drops repeated requests.

WeChat Work drops a message/send whose whole request equals one it received within that request's
duplicate_check_interval (90236). The bot asks for the check so that a row sent again after a crash
is dropped; the conversations below each produce replies that say exactly what an earlier reply
said, and every one of them must still reach the phone."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlmodel import Session

from bot.wecom import payloads
from storage.models import Outbox, OutboxStatus
from tests.conftest import eventually, post_callback, text_xml
from tests.test_pledge_form import LI_PLEDGE
from tests.test_scheduler import load

TZ = ZoneInfo("Asia/Shanghai")
MOMENT = int(datetime(2026, 3, 5, 10, 7, tzinfo=TZ).timestamp())  # inside the test campaign's pledge phase

CONVERSATIONS = {
    "help twice": ("帮助", "帮助"),
    "the same wrong date twice": ("/承诺", "每周听一节课", "每月记录一次", "下辈子", "下辈子"),
    "a step back": ("/承诺", "每周听一节课", "返回"),
    "cancel and start again": ("/承诺", "取消", "/承诺"),
    "progress and continue mid-form": ("/承诺", "进度", "/继续"),
    "edit a pledge and keep it": (*LI_PLEDGE, "/修改 承诺", *["不变"] * 6, "1"),
}


def _rows_to(engine, userid: str) -> list[Outbox]:
    with Session(engine) as session:
        return list(session.scalars(select(Outbox).where(Outbox.endpoint == "message/send",
                                                         Outbox.channel == f"user:{userid}").order_by(Outbox.id)))


def _all_sent(engine, userid: str) -> bool:
    rows = _rows_to(engine, userid)
    return bool(rows) and all(r.status == OutboxStatus.sent for r in rows)


@pytest.mark.parametrize("conversation", CONVERSATIONS)
async def test_every_reply_reaches_the_phone(bot, emulator, engine, rostered, conversation):
    load(engine)
    messages = CONVERSATIONS[conversation]
    for n, text in enumerate(messages):
        await post_callback(bot, text_xml("li", text, create_time=MOMENT + n))
    await eventually(lambda: _all_sent(engine, "li"))
    queued = [r.payload["text"]["content"] for r in _rows_to(engine, "li")]
    assert len(queued) >= len(messages)  # every message has at least one answer
    assert len(set(queued)) < len(queued), "the conversation must repeat a reply to test anything"
    assert emulator.texts("li") == queued  # all of them arrived, in order, none dropped as a repeat


async def test_a_row_sent_again_after_a_crash_is_dropped_by_the_platform(bot, emulator, engine, rostered):
    """The crash between the platform's "ok" and our "sent": the same row leaves twice, arrives once."""
    await post_callback(bot, text_xml("li", "帮助", create_time=MOMENT))
    await eventually(lambda: _all_sent(engine, "li"))
    with Session(engine) as session:  # as if the sender had died before writing "sent"
        session.execute(update(Outbox).values(status=OutboxStatus.pending, lease_until=0.0, next_attempt_at=0.0))
        session.commit()
    await eventually(lambda: _all_sent(engine, "li"))
    assert emulator.count("message/send") == 2
    assert len(emulator.texts("li")) == 1


def test_rows_ask_for_intervals_of_their_own_within_the_platforms_bounds():
    intervals = [payloads.duplicate_check_interval(row_id) for row_id in range(1, 20_000)]
    assert min(intervals) >= 600 and max(intervals) <= 14_400  # outlasts a re-send; the platform's maximum
    window = intervals[:payloads.DUPLICATE_CHECK_SPAN]
    assert len(set(window)) == len(window)  # rows closer than the span never ask for the same interval
