"""Group posts (appchat/send) have no duplicate check on the platform, so a post sent again is seen twice.
The bot chooses a possible repeat over a possible loss, and narrows the window in which a repeat can
happen to the call itself: its outcome is written as soon as it returns, and a stopping sender lets
calls already made finish instead of cancelling them (a cancelled call the platform had received was
sent again after its lease)."""
from __future__ import annotations

import asyncio
from dataclasses import replace

import aiohttp

from bot.wecom import messages, outcomes
from bot.wecom.api import WeComClient
from bot.wecom.emulator import Fault
from bot.wecom.sender import Sender
from storage.db import transaction
from storage.models import OutboxStatus
from tests.conftest import eventually
from tests.test_sender import rows

CHAT = "xf" + "0" * 30


def _post(engine, text: str) -> None:
    with transaction(engine) as session:
        messages.create_chat(session, key="create", chat_id=CHAT, name="第一党支部", owner="zhang", members=["zhang", "li"])
        messages.to_chat(session, key="post", chat_id=CHAT, text=text)


async def _sender(settings, engine, http) -> tuple[Sender, asyncio.Task]:
    sender = Sender(settings=settings, engine=engine, client=WeComClient(settings, engine, http), poll_interval=0.02)
    return sender, asyncio.create_task(sender.run())


async def test_a_group_posts_outcome_is_written_when_its_call_returns(settings, engine, emulator, monkeypatch):
    monkeypatch.setattr(outcomes, "WINDOW", 30.0)  # other outcomes wait for their batch; a group post must not
    _post(engine, "公告")
    async with aiohttp.ClientSession() as http:
        _sender_, task = await _sender(settings, engine, http)
        await eventually(lambda: emulator.count("appchat/send") == 1)
        await eventually(lambda: rows(engine)[-1].status == OutboxStatus.sent, timeout=5)
        task.cancel()


async def test_a_stopping_sender_lets_a_group_post_in_flight_finish(settings, engine, emulator):
    emulator.fail("appchat/send", Fault(delay=0.3))  # the platform has the post; its answer is on the way
    settings = replace(settings, http_timeout=5.0)  # the answer comes well inside it, however busy the machine
    _post(engine, "通知：周五下午开支部大会")
    async with aiohttp.ClientSession() as http:
        _sender_, task = await _sender(settings, engine, http)
        await eventually(lambda: emulator.count("appchat/send") == 1)
        task.cancel()  # a restart (SIGTERM) while the call is out
        await asyncio.gather(task, return_exceptions=True)
        assert rows(engine)[-1].status == OutboxStatus.sent  # was pending, leased: sent again after its lease
        _sender_, task = await _sender(settings, engine, http)  # the next run finds nothing to send again
        await asyncio.sleep(0.5)
        task.cancel()
    assert [m["text"]["content"] for m in emulator.chats[CHAT].messages] == ["通知：周五下午开支部大会"]
