"""The spine end to end: encrypted callback -> verified, decrypted, processed once -> one delivered reply."""
from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select
from sqlmodel import Session

from bot.wecom.emulator.callbacks import CallbackSigner
from storage.models import Outbox, ProcessedCallback
from tests.conftest import AES_KEY, AGENT_ID, CORP_ID, TOKEN, encrypt, eventually, post_callback, text_xml

OTHER_AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"


def _count(engine, model) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


async def test_help_from_member_leads_to_exactly_one_message(bot, emulator, rostered):
    resp = await post_callback(bot, text_xml("li", "/帮助"))
    assert resp.status == 200 and await resp.text() == ""
    await eventually(lambda: emulator.count("message/send") >= 1)
    await asyncio.sleep(0.3)  # room for a wrong second send to show up
    sends = [call.body for call in emulator.calls if call.api == "message/send"]
    assert len(sends) == 1
    assert sends[0]["touser"] == "li" and sends[0]["enable_duplicate_check"] == 1
    reply = sends[0]["text"]["content"]
    assert "李娜" in reply and "/帮助" in reply and "/我" in reply
    assert "/名单" not in reply  # a member's help lists only a member's commands


async def test_help_lists_the_secretarys_commands(bot, emulator, rostered):
    await post_callback(bot, text_xml("zhang", "帮助"))
    texts = await eventually(lambda: emulator.texts("zhang"))
    assert "/名单" in texts[0] and "/我" in texts[0]


async def test_same_callback_three_times_sequentially_gives_one_reply(bot, emulator, engine, rostered):
    xml = text_xml("li", "/我", msg_id=424242)
    for _ in range(3):
        assert (await post_callback(bot, xml)).status == 200
    await eventually(lambda: emulator.texts("li"))
    await asyncio.sleep(0.3)
    assert len(emulator.texts("li")) == 1
    assert _count(engine, ProcessedCallback) == 1


async def test_same_callback_three_times_concurrently_gives_one_reply(bot, emulator, engine, rostered):
    xml = text_xml("li", "/我", msg_id=434343)
    responses = await asyncio.gather(*(post_callback(bot, xml) for _ in range(3)))
    assert [r.status for r in responses] == [200, 200, 200]
    await eventually(lambda: emulator.texts("li"))
    await asyncio.sleep(0.3)
    assert len(emulator.texts("li")) == 1
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Outbox).where(Outbox.endpoint == "message/send")) == 1


async def test_rejected_requests_write_nothing_and_server_keeps_answering(bot, engine, rostered):
    outbox_before = _count(engine, Outbox)
    query, body = encrypt(text_xml("li", "/帮助"))

    bad_signature = dict(query, msg_signature="0" * 40)
    assert (await bot.post("/wecom/callback", params=bad_signature, data=body)).status == 403

    stale_query, stale_body = encrypt(text_xml("li", "/帮助"), timestamp=int(time.time()) - 301)
    assert (await bot.post("/wecom/callback", params=stale_query, data=stale_body)).status == 403

    oversized = body.replace("</xml>", "<Pad>" + "x" * 70_000 + "</Pad></xml>")
    assert (await bot.post("/wecom/callback", params=query, data=oversized)).status == 413

    assert (await bot.post("/wecom/callback", params=query, data=b"<xml><Encrypt>\x00garbage")).status == 400
    assert (await bot.post("/wecom/callback", params=query, data=b"not xml at all")).status == 400

    wrong_key_query, wrong_key_body = encrypt(text_xml("li", "/帮助"), aes_key=OTHER_AES_KEY)
    assert (await bot.post("/wecom/callback", params=wrong_key_query, data=wrong_key_body)).status == 400

    assert (await bot.post("/wecom/callback", data=body)).status == 403  # no signature at all
    assert _count(engine, ProcessedCallback) == 0
    assert _count(engine, Outbox) == outbox_before
    assert (await post_callback(bot, text_xml("li", "/帮助"))).status == 200  # still answering


async def test_signed_but_unparseable_plaintext_is_400(bot, engine):
    assert (await post_callback(bot, "<xml><MsgType>text</MsgType></xml>")).status == 400
    assert (await post_callback(bot, "plain words, not xml")).status == 400
    assert _count(engine, ProcessedCallback) == 0


async def test_url_verification_answers_the_plaintext(bot):
    signer = CallbackSigner(token=TOKEN, aes_key=AES_KEY, corp_id=CORP_ID, agent_id=AGENT_ID)
    query, echostr = signer.encrypt("1616140317555161061")
    params = {**query, "echostr": echostr}
    resp = await bot.get("/wecom/callback", params=params)
    assert resp.status == 200 and await resp.text() == "1616140317555161061"
    params["msg_signature"] = "f" * 40
    assert (await bot.get("/wecom/callback", params=params)).status == 403


async def test_stranger_gets_one_polite_reply_and_nothing_else(bot, emulator, engine, rostered):
    for content in ("你好", "/帮助", "/名单"):
        assert (await post_callback(bot, text_xml("stranger01", content))).status == 200
    texts = await eventually(lambda: emulator.texts("stranger01"))
    await asyncio.sleep(0.3)
    assert len(emulator.texts("stranger01")) == 1
    assert "stranger01" in texts[0] and "名单" in texts[0]
    with Session(engine) as session:
        keys = session.scalars(select(Outbox.idem_key)).all()
    assert len([k for k in keys if "stranger01" in k]) == 1


async def test_free_text_gets_a_jieba_hint(bot, emulator, rostered):
    await post_callback(bot, text_xml("zhang", "我想看看我们支部的人员名单"))
    texts = await eventually(lambda: emulator.texts("zhang"))
    assert "/名单" in texts[0]


async def test_member_asking_for_a_secretary_command_is_refused_politely(bot, emulator, rostered):
    await post_callback(bot, text_xml("li", "/名单"))
    texts = await eventually(lambda: emulator.texts("li"))
    assert "支部书记" in texts[0] and "帮助" in texts[0]
