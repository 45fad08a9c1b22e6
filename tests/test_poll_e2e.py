"""End to end through encrypted callbacks and the emulator: a secretary issues /评议, 12 voters vote
by card and 3 by number, one tries twice, an outsider tries, the deadline passes, and the branch
group receives the result text and its chart with the right counts and 满意率."""
from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import select
from sqlmodel import Session

from bot.app import build_app
from bot.scheduler.jobs import run_job
from storage.models import Branch, Poll
from tests.conftest import AES_KEY, TOKEN, eventually
from tests.test_polls import POLL_CAMPAIGN, populate

TZ = ZoneInfo("Asia/Shanghai")
CARD_VOTES = ["1"] * 7 + ["2"] * 3 + ["3"] * 2           # 12 voters tap the card
MEMBERS = [f"m{i:02d}" for i in range(1, 12)]               # 11 members + the secretary
MASSES = [f"q{i}" for i in range(1, 7)]                      # 6 群众 representatives
ROSTER = ("userid,name,branch,role\nsec,书记甲,第一党支部,支部书记\n"
          + "".join(f"{u},党员{u},第一党支部,党员\n" for u in MEMBERS)
          + "".join(f"{u},群众{u},第一党支部,群众\n" for u in MASSES) + "out,外人,第二党支部,党员\n")


@pytest.fixture
def town(engine, tmp_path, emulator):
    today = date.today()
    populate(engine, tmp_path, ROSTER, POLL_CAMPAIGN.replace("2026-05-01", str(today - timedelta(days=10)))
             .replace("2026-06-30", str(today + timedelta(days=40))).replace("2026-05-20", str(today + timedelta(days=5))))


@pytest.fixture
async def live(settings, engine, emulator, town, aiohttp_server):
    server = await aiohttp_server(build_app(settings, engine))
    emulator.connect_bot(url=str(server.make_url("/wecom/callback")), token=TOKEN, aes_key=AES_KEY, retry_after=2.0)
    return server


def chat_of(engine, name: str) -> str:
    with Session(engine) as session:
        return session.scalars(select(Branch.chat_id).where(Branch.name == name)).one()


async def test_poll_end_to_end(live, emulator, engine, settings):
    deadline = (datetime.now(TZ) + timedelta(days=2)).replace(hour=18, minute=0, second=0, microsecond=0)
    await emulator.say("sec", f"/评议 支部满意度 截止 {deadline.month}月{deadline.day}日 18:00")
    voters = ["sec", *MEMBERS, *MASSES]
    assert await eventually(lambda: all(emulator.cards(u) for u in voters), timeout=15)
    with Session(engine) as session:
        poll = session.scalars(select(Poll)).one()
    assert not emulator.cards("out")

    for userid, option in zip(voters[:12], CARD_VOTES):
        card = emulator.cards(userid)[0]
        assert (await emulator.click(userid, card.id, selected={"choice": [option]})).attempts == [200]
    await emulator.say(voters[12], "1")
    await emulator.say(voters[13], "2 希望多组织教研活动")
    await emulator.say(voters[14], f"{poll.id}-1")
    await emulator.say(voters[0], "3")                 # a second vote: refused
    await emulator.say("out", f"{poll.id}-1")          # not in this branch: refused

    assert await eventually(lambda: all(e.state == "已提交" for u in voters[:12] for e in emulator.cards(u)))
    assert await eventually(lambda: any("已经投过" in t for t in emulator.texts("sec")))
    assert await eventually(lambda: any("不在" in t for t in emulator.texts("out")))
    assert all(any("已收到" in t for t in emulator.texts(u)) for u in voters[:15])

    run_job("polls", engine, settings, deadline + timedelta(minutes=1))
    chat = emulator.chats[chat_of(engine, "第一党支部")]
    images = await eventually(lambda: [m for m in chat.messages if m["msgtype"] == "image"], timeout=15)
    result = next(m["markdown"]["content"] for m in chat.messages if m["msgtype"] == "markdown"
                  and "评议结果" in m["markdown"]["content"])
    # 满意 7 + 1 + 1 = 9, 基本满意 3 + 1 = 4, 不满意 2: (9 + 4) / 15 = 86.7 %
    assert "满意：9 票" in result and "基本满意：4 票" in result and "不满意：2 票" in result
    assert "13 ÷ 15 = 86.7%" in result and "参评：15/18" in result and "希望多组织教研活动" in result
    [image] = images
    kind, data = emulator.media[image["image"]["media_id"]]
    assert kind == "image/png" and Image.open(io.BytesIO(data)).size[0] >= 400
    assert [m["msgtype"] for m in chat.messages].index("image") > [m["msgtype"] for m in chat.messages].index("markdown")
