"""Each rule of the emulator, shown against the real bot over HTTP or through the API as the bot calls it."""
from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
from aiohttp import web

from bot.app import build_app
from bot.wecom.crypto import CallbackCrypto
from bot.wecom.emulator import Fault, UnknownCard, WeComEmulator, messages
from bot.wecom.updates import parse_update, parse_xml
from tests.conftest import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, eventually

VOTE = {"card_type": "vote_interaction", "main_title": {"title": "支部满意度测评"}, "task_id": "poll-1",
        "checkbox": {"question_key": "q", "mode": 0,
                     "option_list": [{"id": "a", "text": "满意"}, {"id": "b", "text": "基本满意"}, {"id": "c", "text": "不满意"}]},
        "submit_button": {"text": "提交", "key": "submit-poll-1"}}


class Api:
    """Calls the emulator's API as the bot would: a token first, then JSON posts."""

    def __init__(self, http: aiohttp.ClientSession, base: str):
        self.http, self.base, self.token = http, base, None

    @classmethod
    async def connect(cls, http: aiohttp.ClientSession, base: str) -> "Api":
        api = cls(http, base)
        await api.renew()
        return api

    async def renew(self) -> None:
        self.token = (await self.get("gettoken", corpid=CORP_ID, corpsecret=SECRET, access_token=""))["access_token"]

    async def get(self, api: str, **params) -> dict:
        params.setdefault("access_token", self.token)
        async with self.http.get(f"{self.base}/{api}", params=params) as resp:
            return await resp.json()

    async def post(self, api: str, body: dict) -> dict:
        async with self.http.post(f"{self.base}/{api}", params={"access_token": self.token}, json=body) as resp:
            return await resp.json()

    async def send(self, **body) -> dict:
        return await self.post("message/send", {"agentid": AGENT_ID, **body})


@pytest.fixture
async def api(emulator, emulator_url):
    async with aiohttp.ClientSession() as http:
        yield await Api.connect(http, emulator_url)


async def test_token_rules(api, emulator):
    assert (await api.get("gettoken", corpid=CORP_ID, corpsecret="wrong", access_token=""))["errcode"] == 40001
    assert (await api.get("gettoken", corpid="other", corpsecret=SECRET, access_token=""))["errcode"] == 40013
    assert (await api.send(touser="li", msgtype="text", text={"content": "x"}))["errcode"] == 0
    emulator.expire_tokens()
    assert (await api.send(touser="li", msgtype="text", text={"content": "x"}))["errcode"] == 42001
    api.token = "forged"
    assert (await api.send(touser="li", msgtype="text", text={"content": "x"}))["errcode"] == 40014


async def test_message_limits(api, emulator):
    too_many = "|".join(f"u{n}" for n in range(1001))
    assert (await api.send(touser=too_many, msgtype="text", text={"content": "x"}))["errcode"] == 40032
    # 90236: a text past 2048 bytes is cut there (at a whole character: 682 of 683 three-byte ones)
    assert (await api.send(touser="li", msgtype="text", text={"content": "党" * 683}))["errcode"] == 0
    assert emulator.texts("li")[-1] == "党" * 682
    assert (await api.send(touser="li", msgtype="markdown", markdown={"content": "a" * 2049}))["errcode"] == 45002
    assert (await api.send(touser="li", msgtype="markdown", markdown={"content": "a" * 2048}))["errcode"] == 0
    assert (await api.send(touser="li", msgtype="text", text={"content": ""}))["errcode"] == 44004
    assert (await api.post("message/send", {"agentid": 1, "touser": "li", "msgtype": "text",
                                            "text": {"content": "x"}}))["errcode"] == 40056


async def test_thirty_a_minute_per_member_then_silently_dropped(api, emulator):
    for n in range(35):
        assert (await api.send(touser="li", msgtype="text", text={"content": f"第{n}条"}))["errcode"] == 0
    assert len(emulator.texts("li")) == 30 and emulator.dropped["li"] == 5


async def test_duplicate_check_suppresses_a_repeat(api, emulator):
    body = dict(touser="li", msgtype="text", text={"content": "同一条"}, enable_duplicate_check=1)
    await api.send(**body)
    await api.send(**body)
    assert emulator.texts("li") == ["同一条"]


@pytest.mark.parametrize("change,errcode", [
    ({"task_id": ""}, 40035),
    ({"checkbox": {**VOTE["checkbox"], "option_list": [{"id": f"o{n}", "text": "x"} for n in range(21)]}}, 40035),
    ({"checkbox": {**VOTE["checkbox"], "option_list": [{"id": "a", "text": "这个选项的文字实在太长了超过"}]}}, 40035),
    ({"submit_button": {"text": "提交"}}, 40035),
    ({"card_type": "poster"}, 40035),
    ({}, 0),
])
async def test_template_card_rules(api, change, errcode):
    assert (await api.send(touser="li", msgtype="template_card", template_card={**VOTE, **change}))["errcode"] == errcode


async def test_cards_cannot_go_to_group_chats_and_task_ids_are_unique(api, emulator):
    created = await api.post("appchat/create", {"name": "第一党支部·创先争优", "owner": "li", "userlist": ["li", "wang"]})
    chatid = created["chatid"]
    assert (await api.post("appchat/send", {"chatid": chatid, "msgtype": "template_card", "template_card": VOTE}))["errcode"] == 40008
    assert (await api.post("appchat/send", {"chatid": chatid, "msgtype": "text", "text": {"content": "ok"}}))["errcode"] == 0
    assert (await api.post("appchat/send", {"chatid": "nochat", "msgtype": "text", "text": {"content": "x"}}))["errcode"] == 86003
    assert (await api.send(touser="li", msgtype="template_card", template_card=VOTE))["errcode"] == 0
    assert (await api.send(touser="wang", msgtype="template_card", template_card=VOTE))["errcode"] == 40035
    info = await api.get("appchat/get", chatid=chatid)
    assert info["chat_info"]["userlist"] == ["li", "wang"] and info["chat_info"]["owner"] == "li"


async def test_response_code_updates_a_card_once(api, emulator):
    sent = await api.send(touser="li|wang", msgtype="template_card", template_card=VOTE)
    update = {"agentid": AGENT_ID, "response_code": sent["response_code"], "userids": ["li"], "button": {"replace_name": "已提交"}}
    assert (await api.post("message/update_template_card", update))["errcode"] == 0
    assert (await api.post("message/update_template_card", update))["errcode"] == 40035
    assert emulator.cards("li")[0].state == "已提交" and emulator.cards("wang")[0].state == ""


async def test_directory_and_media(api, emulator):
    emulator.add_department(2, "第一党支部")
    emulator.add_person("li", "李娜", 2, "党员")
    assert (await api.get("user/get", userid="li"))["name"] == "李娜"
    assert (await api.get("user/get", userid="ghost"))["errcode"] == 60111
    assert [d["name"] for d in (await api.get("department/list"))["department"]] == ["教育局", "第一党支部"]
    assert [u["userid"] for u in (await api.get("user/list", department_id="2"))["userlist"]] == ["li"]
    assert (await api.send(touser="ghost", msgtype="text", text={"content": "x"}))["errcode"] == 81013
    form = aiohttp.FormData()
    form.add_field("media", b"\x89PNG fake image bytes", filename="chart.png", content_type="image/png")
    async with api.http.post(f"{api.base}/media/upload", params={"access_token": api.token, "type": "image"}, data=form) as resp:
        uploaded = await resp.json()
    assert uploaded["errcode"] == 0 and emulator.media[uploaded["media_id"]][1].startswith(b"\x89PNG")


# -- callbacks into the real bot -------------------------------------------------------------------
@pytest.fixture
async def live_bot(settings, engine, emulator, rostered, aiohttp_server):
    """The real bot on a real port, and the emulator pointed at it. The 2 s retry interval leaves a
    cold first request (jieba still loading in the background) room to answer on the first attempt."""
    server = await aiohttp_server(build_app(settings, engine))
    emulator.connect_bot(url=str(server.make_url("/wecom/callback")), token=TOKEN, aes_key=AES_KEY, retry_after=2.0)
    return server


async def test_text_typed_on_the_phone_reaches_the_bot_and_the_reply_comes_back(live_bot, emulator):
    delivery = await emulator.say("li", "/我")
    assert delivery.attempts == [200]
    texts = await eventually(lambda: emulator.texts("li"))
    assert "李娜" in texts[0]
    assert [e.sender for e in emulator.inbox["li"]] == ["li", "app"]


async def test_card_click_is_a_signed_template_card_event(live_bot, emulator, api):
    sent = await api.send(touser="li", msgtype="template_card", template_card=VOTE)
    assert sent["errcode"] == 0
    entry = emulator.cards("li")[0]
    delivery = await emulator.click("li", entry.id, selected={"q": ["b"]})
    assert delivery.attempts == [200]  # the bot verified, decrypted and parsed it (a 400 otherwise)
    assert (await emulator.enter("li")).attempts == [200]


async def test_unanswered_callback_is_retried_three_times(aiohttp_server, emulator):
    signatures = []

    async def hanging(request):
        signatures.append(request.query["msg_signature"])
        await asyncio.sleep(1.0)  # past the 0.1 s the platform waits (5 s on the real one)
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/wecom/callback", hanging)
    server = await aiohttp_server(app)
    emulator.connect_bot(url=str(server.make_url("/wecom/callback")), token=TOKEN, aes_key=AES_KEY, retry_after=0.1)
    delivery = await emulator.say("li", "有人吗")
    assert delivery.attempts == [None, None, None, None] and not delivery.delivered
    assert len(set(signatures)) == 4  # each retry is signed afresh


@pytest.mark.parametrize("status", [400, 403, 500, 503])
async def test_an_error_answer_is_not_retried(aiohttp_server, emulator, status):
    """90930: the platform retries after a timeout or a failed connection only; an answer, even an
    error, ends the delivery."""
    seen = []

    async def refusing(request):
        seen.append(1)
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/wecom/callback", refusing)
    server = await aiohttp_server(app)
    emulator.connect_bot(url=str(server.make_url("/wecom/callback")), token=TOKEN, aes_key=AES_KEY, retry_after=0.1)
    delivery = await emulator.say("li", "有人吗")
    assert delivery.attempts == [status] and not delivery.delivered and seen == [1]


async def test_callback_to_a_dead_bot_is_retried_then_given_up(emulator):
    emulator.connect_bot(url="http://127.0.0.1:9/wecom/callback", token=TOKEN, aes_key=AES_KEY, retry_after=0.05)
    assert (await emulator.say("li", "x")).attempts == [None] * 4


async def test_slow_bot_gets_the_same_message_again_but_answers_once(live_bot, emulator, aiohttp_server):
    """A proxy holds the first attempt past the 0.3 s retry interval: the platform retries, the bot
    sees the same MsgId twice, and the member still gets one reply."""
    seen = []

    async def slow_proxy(request):
        seen.append(1)
        if len(seen) == 1:
            await asyncio.sleep(0.6)
        async with aiohttp.ClientSession() as http:
            async with http.post(live_bot.make_url("/wecom/callback"), params=request.query, data=await request.read()) as resp:
                return web.Response(status=resp.status, body=await resp.read())

    app = web.Application()
    app.router.add_post("/wecom/callback", slow_proxy)
    assert (await emulator.say("zhang", "/我")).attempts == [200]  # straight to the bot, to warm it up
    proxy = await aiohttp_server(app)
    emulator.connect_bot(url=str(proxy.make_url("/wecom/callback")), token=TOKEN, aes_key=AES_KEY, retry_after=0.3)
    delivery = await emulator.say("li", "/我")
    assert delivery.attempts == [None, 200]
    await asyncio.sleep(1.0)  # the held first attempt reaches the bot too
    assert len(seen) == 2 and len(emulator.texts("li")) == 1


async def test_dropped_connection_is_retried_by_the_sender(live_bot, emulator):
    emulator.fail("message/send", Fault(drop=True))
    await emulator.say("li", "/我")
    texts = await eventually(lambda: emulator.texts("li"))
    await asyncio.sleep(0.3)
    assert len(texts) == 1 and emulator.count("message/send") == 2


async def test_roster_group_chats_exist_in_the_emulator_after_the_bot_ran(live_bot, emulator):
    await eventually(lambda: len(emulator.chats) == 2 and all(c.messages for c in emulator.chats.values()))
    members = sorted(sorted(c.members) for c in emulator.chats.values())
    assert members == [["li", "wang", "zhang"], ["qian", "zhao"]]


def test_snapshot_restores_screens_and_chats():
    first = WeComEmulator(corp_id=CORP_ID, secret=SECRET, agent_id=AGENT_ID)
    first.post("li", "app", "text", {"content": "你好"})
    second = WeComEmulator(corp_id=CORP_ID, secret=SECRET, agent_id=AGENT_ID)
    second.restore(first.snapshot())
    assert second.texts("li") == ["你好"]
    assert second.post("li", "li", "text", {"content": "再见"}).id == 2


async def capturing_bot(aiohttp_server, emulator) -> list[tuple[dict, bytes]]:
    """A bot that only records each callback (its query and body) and answers it with nothing."""
    received = []

    async def capture(request):
        received.append((dict(request.query), await request.read()))
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/wecom/callback", capture)
    server = await aiohttp_server(app)
    emulator.connect_bot(url=str(server.make_url("/wecom/callback")), token=TOKEN, aes_key=AES_KEY, retry_after=0.3)
    return received


async def test_button_card_click_carries_the_button_key(aiohttp_server, emulator, api):
    received = await capturing_bot(aiohttp_server, emulator)
    card = {"card_type": "button_interaction", "main_title": {"title": "承诺已公开"}, "task_id": "btn-1",
            "button_list": [{"text": "查看", "key": "view"}, {"text": "修改", "key": "edit"}]}
    assert (await api.send(touser="li", msgtype="template_card", template_card=card))["errcode"] == 0
    entry = emulator.cards("li")[0]
    with pytest.raises(UnknownCard, match="no button"):
        await emulator.click("li", entry.id, key="delete")
    assert (await emulator.click("li", entry.id, key="edit")).attempts == [200]
    query, body = received[0]
    crypto = CallbackCrypto(token=TOKEN, aes_key=AES_KEY, corp_id=CORP_ID)
    encrypted = parse_xml(body).findtext("Encrypt")
    crypto.verify(query["msg_signature"], query["timestamp"], query["nonce"], encrypted)
    update = parse_update(crypto.decrypt(encrypted))
    assert (update.event, update.event_key, update.task_id, update.card_type) == \
        ("template_card_event", "edit", "btn-1", "button_interaction")
    assert update.response_code in emulator.response_codes


# -- the platform's refusals (issue 16, point 10) ----------------------------------------------------
class Clock:
    """The emulator's clock, moved on by a test instead of waiting hours."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock(emulator) -> Clock:
    emulator.clock = Clock()
    return emulator.clock


async def test_duplicate_check_compares_the_whole_request_within_its_interval(api, emulator, clock):
    """90236: 同样内容(请求json)的消息 within duplicate_check_interval are dropped, and the call answers ok."""
    def text(content, **extra):
        return dict(touser="li", msgtype="text", text={"content": content}, enable_duplicate_check=1, **extra)

    answers = [await api.send(**text("帮助", duplicate_check_interval=1801)),
               await api.send(**text("帮助", duplicate_check_interval=1802)),  # another row: another request
               await api.send(**text("帮助", duplicate_check_interval=1801))]  # the first one sent again
    assert [a["errcode"] for a in answers] == [0, 0, 0]
    assert emulator.texts("li") == ["帮助", "帮助"]
    reordered = '{"text": {"content": "帮助"}, "duplicate_check_interval": 1801, "msgtype": "text", ' \
                f'"enable_duplicate_check": 1, "touser": "li", "agentid": {AGENT_ID}}}'
    async with api.http.post(f"{api.base}/message/send", params={"access_token": api.token}, data=reordered) as resp:
        assert (await resp.json())["errcode"] == 0
    assert len(emulator.texts("li")) == 2  # the same JSON, keys in another order: still the same request
    await api.send(touser="li|wang", msgtype="text", text={"content": "帮助"}, enable_duplicate_check=1,
                   duplicate_check_interval=1801)
    assert emulator.texts("wang") == ["帮助"] and len(emulator.texts("li")) == 3  # another touser, another request
    clock.advance(1802)
    await api.renew()
    await api.send(**text("帮助", duplicate_check_interval=1801))
    assert len(emulator.texts("li")) == 4  # the interval is over


async def test_duplicate_check_defaults_to_half_an_hour_and_lasts_at_most_four_hours(api, emulator, clock):
    await api.send(touser="li", msgtype="text", text={"content": "默认"}, enable_duplicate_check=1)
    await api.send(touser="wang", msgtype="text", text={"content": "最长"}, enable_duplicate_check=1,
                   duplicate_check_interval=86400)
    clock.advance(1799)
    await api.send(touser="li", msgtype="text", text={"content": "默认"}, enable_duplicate_check=1)
    assert emulator.texts("li") == ["默认"]
    clock.advance(2)
    await api.send(touser="li", msgtype="text", text={"content": "默认"}, enable_duplicate_check=1)
    assert emulator.texts("li") == ["默认", "默认"]
    clock.advance(4 * 3600 - 1800)
    await api.renew()
    await api.send(touser="wang", msgtype="text", text={"content": "最长"}, enable_duplicate_check=1,
                   duplicate_check_interval=86400)
    assert emulator.texts("wang") == ["最长", "最长"]


async def test_untrusted_ip_refuses_every_call_but_gettoken(api, emulator):
    emulator.mode_untrusted_ip = True
    await api.renew()  # developers report gettoken answering while every other call answers 60020
    answers = [await api.send(touser="li", msgtype="text", text={"content": "x"}),
               await api.get("agent/get", agentid=AGENT_ID), await api.get("appchat/get", chatid="nochat"),
               await api.post("appchat/create", {"name": "群", "owner": "li", "userlist": ["li", "wang"]})]
    assert [a["errcode"] for a in answers] == [60020] * 4
    assert answers[0]["errmsg"].startswith("not allow to access from your ip")
    assert emulator.texts("li") == [] and emulator.chats == {}


async def test_forbidden_apis_answer_48002(api, emulator):
    emulator.forbidden_apis = {"appchat/create"}
    assert (await api.post("appchat/create", {"owner": "li", "userlist": ["li", "wang"]}))["errcode"] == 48002
    assert (await api.send(touser="li", msgtype="text", text={"content": "x"}))["errcode"] == 0
    emulator.forbidden_apis = {"*"}
    assert (await api.send(touser="li", msgtype="text", text={"content": "x"}))["errcode"] == 48002
    await api.renew()


async def test_an_app_not_visible_to_the_root_department_cannot_use_group_chats(api, emulator):
    assert (await api.get("agent/get", agentid=AGENT_ID))["allow_partys"]["partyid"] == [1]
    created = await api.post("appchat/create", {"owner": "li", "userlist": ["li", "wang"]})
    emulator.add_department(2, "第一党支部")
    emulator.visible_root = False
    assert (await api.get("agent/get", agentid=AGENT_ID))["allow_partys"]["partyid"] == [2]
    assert (await api.get("agent/get", agentid=1))["errcode"] == 40056
    refused = [await api.post("appchat/create", {"owner": "li", "userlist": ["li", "wang"]}),
               await api.get("appchat/get", chatid=created["chatid"]),
               await api.post("appchat/send", {"chatid": created["chatid"], "msgtype": "text", "text": {"content": "x"}}),
               await api.post("appchat/update", {"chatid": created["chatid"], "add_user_list": ["zhao"]})]
    assert [r["errcode"] for r in refused] == [60011] * 4
    assert (await api.send(touser="li", msgtype="text", text={"content": "x"}))["errcode"] == 0


async def test_people_outside_the_visible_range_are_invalid_recipients(api, emulator):
    emulator.add_person("li", "李娜")
    emulator.add_person("Wang", "王芳")
    emulator.invisible_users = {"wang"}
    assert (await api.send(touser="Wang", msgtype="text", text={"content": "x"}))["errcode"] == 81013
    both = await api.send(touser="li|Wang", msgtype="text", text={"content": "你好"})
    assert both["errcode"] == 0 and both["invaliduser"] == "Wang"
    assert emulator.texts("li") == ["你好"] and emulator.texts("Wang") == []
    assert (await api.get("user/get", userid="Wang"))["errcode"] == 60011


async def test_userids_are_one_person_whatever_their_case(api, emulator, aiohttp_server):
    emulator.add_person("LiMing", "李明")
    emulator.add_person("wang", "王芳")
    assert (await api.get("user/get", userid="liming"))["userid"] == "LiMing"
    for n in range(20):
        await api.send(touser="LiMing", msgtype="text", text={"content": f"第{n}条"})
    for n in range(15):
        await api.send(touser="liming", msgtype="text", text={"content": f"又{n}条"})
    assert len(emulator.texts("LiMing")) == 30 and emulator.texts("liming") == emulator.texts("LiMing")
    assert emulator.dropped["liming"] == 5  # one person's thirty a minute, whichever spelling was used
    once = await api.send(touser="liming|LIMING|wang", msgtype="text", text={"content": "一次"})
    assert once["errcode"] == 0 and emulator.texts("wang") == ["一次"] and emulator.dropped["liming"] == 6
    chat = await api.post("appchat/create", {"owner": "liming", "userlist": ["liming", "LiMing", "wang"]})
    assert (await api.get("appchat/get", chatid=chat["chatid"]))["chat_info"]["userlist"] == ["LiMing", "wang"]

    received = []

    async def capture(request):
        received.append(await request.read())
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/wecom/callback", capture)
    server = await aiohttp_server(app)
    emulator.connect_bot(url=str(server.make_url("/wecom/callback")), token=TOKEN, aes_key=AES_KEY, retry_after=0.3)
    await emulator.say("liming", "你好")
    crypto = CallbackCrypto(token=TOKEN, aes_key=AES_KEY, corp_id=CORP_ID)
    update = parse_update(crypto.decrypt(parse_xml(received[0]).findtext("Encrypt")))
    assert update.userid == "LiMing"  # the directory's spelling


async def test_a_member_gets_at_most_a_thousand_app_messages_an_hour(emulator, clock):
    """90312: 每应用对同一个成员不可超过30次/分钟，1000次/小时，超过部分会被丢弃不下发 (the call answers ok)."""
    answers = []
    for minute in range(34):  # thirty a minute: within the minute's limit, 1,020 in 34 minutes
        for n in range(30):
            body = {"agentid": AGENT_ID, "touser": "li", "msgtype": "text", "text": {"content": f"{minute}-{n}"}}
            answers.append(json.loads(messages.message_send(emulator, body).text)["errcode"])
        clock.advance(60.5)
    assert set(answers) == {0}
    assert len(emulator.texts("li")) == 1000 and emulator.dropped["li"] == 20
    clock.advance(3600)
    messages.message_send(emulator, {"agentid": AGENT_ID, "touser": "li", "msgtype": "text", "text": {"content": "新"}})
    assert emulator.texts("li")[-1] == "新"


async def test_a_response_code_works_once_within_72_hours(api, emulator, clock):
    first = await api.send(touser="li", msgtype="template_card", template_card=VOTE)
    second = await api.send(touser="li", msgtype="template_card", template_card={**VOTE, "task_id": "poll-2"})
    update = {"agentid": AGENT_ID, "userids": ["li"], "button": {"replace_name": "已提交"}}
    clock.advance(72 * 3600 - 60)
    await api.renew()
    assert (await api.post("message/update_template_card", {**update, "response_code": first["response_code"]}))["errcode"] == 0
    clock.advance(120)
    assert (await api.post("message/update_template_card", {**update, "response_code": second["response_code"]}))["errcode"] == 40035
    assert [c.state for c in emulator.cards("li")] == ["已提交", ""]


async def upload(api: Api, data: bytes = b"\x89PNG fake image bytes") -> str:
    form = aiohttp.FormData()
    form.add_field("media", data, filename="chart.png", content_type="image/png")
    async with api.http.post(f"{api.base}/media/upload", params={"access_token": api.token, "type": "image"}, data=form) as resp:
        return (await resp.json())["media_id"]


async def test_a_media_id_is_refused_after_three_days(api, emulator, clock):
    media_id = await upload(api)
    chatid = (await api.post("appchat/create", {"owner": "li", "userlist": ["li", "wang"]}))["chatid"]
    image = {"msgtype": "image", "image": {"media_id": media_id}}
    clock.advance(3 * 86400 - 60)
    await api.renew()
    assert (await api.send(touser="li", **image))["errcode"] == 0
    clock.advance(120)
    assert (await api.send(touser="li", **image))["errcode"] == 40007
    assert (await api.post("appchat/send", {"chatid": chatid, **image}))["errcode"] == 40007
    assert emulator.media[media_id][1].startswith(b"\x89PNG")  # phones still show what they received


async def test_a_task_id_is_refused_after_the_emulator_restarts(api, emulator):
    assert (await api.send(touser="li", msgtype="template_card", template_card=VOTE))["errcode"] == 0
    again = WeComEmulator(corp_id=CORP_ID, secret=SECRET, agent_id=AGENT_ID)
    again.restore(json.loads(json.dumps(emulator.snapshot())))
    body = {"agentid": AGENT_ID, "touser": "wang", "msgtype": "template_card", "template_card": VOTE}
    assert json.loads(messages.message_send(again, body).text)["errcode"] == 40035


async def test_group_chats_take_only_their_documented_message_types(api, emulator):
    """90248: text, image, voice, video, file, textcard, news, mpnews, markdown; no cards."""
    chatid = (await api.post("appchat/create", {"owner": "li", "userlist": ["li", "wang"]}))["chatid"]
    media_id = await upload(api)
    voice = await api.post("appchat/send", {"chatid": chatid, "msgtype": "voice", "voice": {"media_id": media_id}})
    notice = await api.post("appchat/send", {"chatid": chatid, "msgtype": "miniprogram_notice",
                                             "miniprogram_notice": {"appid": "wx1", "title": "x"}})
    card = await api.post("appchat/send", {"chatid": chatid, "msgtype": "template_card", "template_card": VOTE})
    assert [voice["errcode"], notice["errcode"], card["errcode"]] == [0, 40008, 40008]


async def test_modes_are_set_through_the_page_server(api, emulator, emulator_url):
    modes_url = emulator_url.replace("/cgi-bin", "/emulator/modes")
    async with api.http.post(modes_url, json={"untrusted_ip": True, "invisible_users": ["Li"]}) as resp:
        assert (await resp.json())["untrusted_ip"] is True
    assert (await api.send(touser="li", msgtype="text", text={"content": "x"}))["errcode"] == 60020
    async with api.http.post(modes_url, json={"untrusted_ip": False}) as resp:
        assert (await resp.json()) == {"untrusted_ip": False, "forbidden_apis": [], "visible_root": True,
                                       "invisible_users": ["li"]}
    assert (await api.send(touser="li", msgtype="text", text={"content": "x"}))["errcode"] == 81013
    async with api.http.post(modes_url, json={"ip": "1.2.3.4"}) as resp:
        assert resp.status == 400


async def test_the_pages_attachment_arrives_as_a_photo_or_a_file(aiohttp_server, emulator, emulator_url):
    """The phone page's 📎 (POST /emulator/send): a JPG or PNG reaches the bot as an image message with a
    MediaId that media/get serves, anything else as a file message with its name; too large, empty or
    without a person, refused."""
    received = await capturing_bot(aiohttp_server, emulator)
    emulator.add_person("li", "李娜")
    page = emulator_url.replace("/cgi-bin", "/emulator/send")
    crypto = CallbackCrypto(token=TOKEN, aes_key=AES_KEY, corp_id=CORP_ID)

    async def send(data: bytes, name: str, content_type: str, user: str = "li") -> int:
        form = aiohttp.FormData(quote_fields=False)  # as a browser sends a name: UTF-8, not %-quoted
        form.add_field("user", user)
        form.add_field("file", data, filename=name, content_type=content_type)
        async with aiohttp.ClientSession() as http, http.post(page, data=form) as resp:
            return resp.status

    assert await send(b"\x89PNG photo", "课堂.png", "image/png") == 202
    assert await send(b"PK docx", "总结.docx", "application/octet-stream") == 202
    await eventually(lambda: len(received) == 2)
    updates = [parse_update(crypto.decrypt(parse_xml(body).findtext("Encrypt"))) for _query, body in received]
    kinds = {u.kind: u for u in updates}
    assert set(kinds) == {"image", "file"} and kinds["file"].file_name == "总结.docx"
    assert emulator.media[kinds["image"].media_id][1] == b"\x89PNG photo" and kinds["image"].pic_url
    assert [e.msgtype for e in emulator.screen("li")] == ["image", "file"]  # on the sender's own screen
    assert await send(b"x" * ((20 << 20) + 1), "big.png", "image/png") == 413
    assert await send(b"", "empty.png", "image/png") == 400
    assert await send(b"\x89PNG", "a.png", "image/png", user="nobody") == 404
    assert len(received) == 2
