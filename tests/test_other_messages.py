"""Issue 19, finding 10: every message a person sends gets an answer. A voice, a video, a location, a
link, a file outside /报送, or an image nothing waits for, gets one short, kind answer saying what the
bot understands, in words that fit the person (a 群众 has no /践诺 and no /报送); an open form waits and
its question is asked again. Events (entering the app) are not messages and stay unanswered. Through
real HTTP callbacks, on SQLite and PostgreSQL.

The roster is conftest's: zhang (secretary), li (党员), wang (群众) in 第一党支部; sun (党委).
"""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.wecom.emulator.callbacks import event, media_message, other_message
from tests.conftest import AGENT_ID, CORP_ID, post_callback, text_xml
from tests.test_dispatch import replies
from tests.test_scheduler import load

KINDS = {"voice": "语音", "video": "视频", "location": "位置", "link": "链接", "file": "文件", "image": "图片"}


def xml_of(userid: str, kind: str) -> str:
    if kind in ("file", "image"):
        return media_message(CORP_ID, AGENT_ID, userid, kind, f"{kind}-media",
                             file_name="总结.docx" if kind == "file" else "",
                             pic_url="https://wework.example/pic/1.jpg" if kind == "image" else "")
    return other_message(CORP_ID, AGENT_ID, userid, kind)


@pytest.fixture
def campaign(engine, rostered):
    today = date.today()
    return load(engine, start=str(today - timedelta(days=10)), end=str(today + timedelta(days=40)),
                due=str(today + timedelta(days=20)))


@pytest.mark.parametrize("kind", list(KINDS))
async def test_each_other_kind_of_message_gets_a_short_kind_answer_fitting_the_person(bot, engine, rostered, kind):
    for userid in ("li", "wang", "zhang", "sun"):
        assert (await post_callback(bot, xml_of(userid, kind))).status == 200
    [member], [masses], [secretary], [committee] = (replies(engine, u) for u in ("li", "wang", "zhang", "sun"))
    for answer in (member, masses, secretary, committee):
        assert f"收到了你发的{KINDS[kind]}" in answer and "帮助" in answer and len(answer) < 300
    assert "/践诺" in member and "/报送" not in member  # a member reports progress with photos
    assert "/践诺" not in masses and "/报送" not in masses  # a 群众 votes only: just the words
    assert "/践诺" in secretary and "/报送" in secretary
    assert "/报送" in committee and "/践诺" not in committee


async def test_a_message_the_form_cannot_take_is_answered_and_the_form_waits(bot, engine, campaign):
    for text in ("/承诺", "每周听一节课"):
        await post_callback(bot, text_xml("li", text))
    asked = replies(engine, "li")[-1]
    await post_callback(bot, xml_of("li", "voice"))
    answer, again = replies(engine, "li")[-2:]
    assert "收到了你发的语音" in answer
    assert again == asked  # the question, asked again, and nothing lost
    await post_callback(bot, text_xml("li", "每月记录一次"))
    assert replies(engine, "li")[-1] != asked  # the answer after it was taken: the form went on


async def test_an_image_in_a_form_that_takes_none_is_answered_and_the_form_waits(bot, engine, campaign):
    await post_callback(bot, text_xml("li", "/承诺"))
    asked = replies(engine, "li")[-1]
    await post_callback(bot, xml_of("li", "image"))
    answer, again = replies(engine, "li")[-2:]
    assert "收到了你发的图片" in answer and again == asked


async def test_events_are_not_messages_and_stay_unanswered(bot, engine, rostered):
    await post_callback(bot, event(CORP_ID, AGENT_ID, "li", "enter_agent"))
    assert replies(engine, "li") == []


async def test_a_repeated_callback_is_answered_once(bot, engine, rostered):
    xml = other_message(CORP_ID, AGENT_ID, "li", "location", msg_id=424242)
    for _ in range(2):
        await post_callback(bot, xml)
    assert len(replies(engine, "li")) == 1
