"""An image to a group chat: queued with its bytes, uploaded by the real sender when it leaves, shown
in the emulator's chat; upload faults follow the send rules; the emulator refuses media it never issued."""
from __future__ import annotations

import json
import logging

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from bot.charts import bar_chart
from bot.wecom import messages
from bot.wecom.api import ApiError, WeComClient
from bot.wecom.emulator import Fault, WeComEmulator
from storage.db import transaction
from storage.models import MediaBlob, Outbox, OutboxStatus
from tests.conftest import AGENT_ID
from tests.test_sender import drain, rows

CHAT = "branch1"
PNG = bar_chart(title="第一党支部 满意度测评", labels=["满意", "基本满意", "不满意"], counts=[8, 3, 1],
                highlight={"满意", "基本满意"}, footer="满意率 = (满意+基本满意)/有效票 = 91.7%")


def queue_result(engine, key: str = "poll:1:result") -> None:
    """As a poll's close would: the chat (made earlier in real life), the result text, then the chart."""
    with transaction(engine) as session:
        messages.create_chat(session, key="chat:branch1", chat_id=CHAT, name="第一党支部", owner="zhang",
                             members=["zhang", "li", "wang"])
        messages.to_chat(session, key=f"{key}:text", chat_id=CHAT, text="测评结果如下")
        messages.image_to_chat(session, key=f"{key}:chart", chat_id=CHAT, png=PNG, filename="poll-1.png")


def chat_images(emulator) -> list[bytes]:
    return [emulator.media[m["image"]["media_id"]][1] for m in emulator.chats[CHAT].messages if m["msgtype"] == "image"]


async def test_image_reaches_the_group_chat_after_the_text(settings, engine, emulator):
    queue_result(engine)
    await drain(settings, engine)
    assert {r.status for r in rows(engine)} == {OutboxStatus.sent}
    assert [m["msgtype"] for m in emulator.chats[CHAT].messages] == ["text", "image"]
    assert chat_images(emulator) == [PNG]
    [upload] = [call for call in emulator.calls if call.api == "media/upload"]
    assert upload.body["type"] == "image"


async def test_a_replayed_call_neither_fails_nor_duplicates(engine):
    queue_result(engine)
    queue_result(engine)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(MediaBlob)) == 1
        assert session.scalar(select(func.count()).select_from(Outbox)) == 3
        assert session.get(MediaBlob, "poll:1:result:chart").data == PNG


@pytest.mark.parametrize("fault", [Fault(errcode=-1), Fault(errcode=45009), Fault(status=502), Fault(drop=True),
                                   Fault(errcode=42001)],
                         ids=["busy", "freq-limit", "http-502", "dropped", "token-expired"])
async def test_transient_upload_failure_is_retried_then_succeeds(settings, engine, emulator, fault, caplog):
    caplog.set_level(logging.DEBUG)
    emulator.fail("media/upload", fault)
    queue_result(engine)
    await drain(settings, engine)
    assert chat_images(emulator) == [PNG] and emulator.count("media/upload") == 2
    assert {r.status for r in rows(engine)} == {OutboxStatus.sent}
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")  # not the emulator's
    for token in emulator.tokens:  # neither our log nor the row's error tells the token
        assert token not in ours and all(token not in (r.last_error or "") for r in rows(engine))


async def test_permanent_upload_error_is_dead_lettered(settings, engine, emulator):
    emulator.fail("media/upload", Fault(errcode=40006))
    queue_result(engine)
    await drain(settings, engine)
    image_row = rows(engine)[-1]
    assert image_row.status == OutboxStatus.dead and image_row.last_error.startswith("40006")
    assert chat_images(emulator) == []


async def test_missing_blob_is_dead_lettered(settings, engine, emulator):
    queue_result(engine)
    with transaction(engine) as session:
        session.delete(session.get(MediaBlob, "poll:1:result:chart"))
    await drain(settings, engine)
    assert rows(engine)[-1].status == OutboxStatus.dead and emulator.count("media/upload") == 0


async def test_emulator_refuses_media_it_never_issued(settings, engine, emulator):
    emulator.chats.clear()
    async with aiohttp.ClientSession() as http:
        client = WeComClient(settings, engine, http)
        await client.call("appchat/create", {"chatid": CHAT, "name": "第一党支部", "userlist": ["zhang", "li"]})
        bogus = {"msgtype": "image", "image": {"media_id": "never-uploaded"}}
        for endpoint, to in (("appchat/send", {"chatid": CHAT}), ("message/send", {"touser": "li", "agentid": AGENT_ID})):
            with pytest.raises(ApiError) as refused:
                await client.call(endpoint, {**to, **bogus})
            assert refused.value.errcode == 40007 and refused.value.errmsg == "invalid media_id"
        media_id = await client.upload("image", filename="poll-1.png", content_type="image/png", data=PNG)
        await client.call("appchat/send", {"chatid": CHAT, "msgtype": "image", "image": {"media_id": media_id}})
    assert chat_images(emulator) == [PNG] and emulator.media[media_id][0] == "image/png"


async def test_emulator_reads_only_the_field_named_media(settings, engine, emulator):
    async with aiohttp.ClientSession() as http:
        token = await WeComClient(settings, engine, http).token()
        form = aiohttp.FormData()
        form.add_field("file", PNG, filename="poll-1.png", content_type="image/png")
        async with http.post(f"{settings.api_base}/media/upload", params={"access_token": token, "type": "image"},
                             data=form) as resp:
            assert (await resp.json())["errcode"] == 41005


async def test_demo_restart_keeps_the_images_the_chats_show(settings, engine, emulator):
    queue_result(engine)
    await drain(settings, engine)
    again = WeComEmulator(corp_id=emulator.corp_id, secret=emulator.secret, agent_id=emulator.agent_id)
    again.restore(json.loads(json.dumps(emulator.snapshot())))  # as the demo keeps it, in a JSON file
    assert chat_images(again) == [PNG]
