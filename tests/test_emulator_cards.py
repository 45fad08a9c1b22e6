"""The emulator's template cards as 90236 and 94888 document them, for the poll cards of issue 19: a
main_title.desc longer than the documented 44 characters is refused (the bot's card must fit, not be
cut by the platform), and a response_code the platform issued is still known after the emulator
restarts (the real service does not forget it when our demo restarts), once and within 72 hours."""
from __future__ import annotations

import json

from bot.wecom.emulator import WeComEmulator, messages
from tests.conftest import AGENT_ID, CORP_ID, SECRET
from tests.test_emulator import VOTE, api, clock  # noqa: F401 - fixtures


async def test_a_card_description_past_44_characters_is_refused(api):  # noqa: F811
    fits = {**VOTE, "main_title": {"title": "第一党支部评议", "desc": "评" * 44}}
    assert (await api.send(touser="li", msgtype="template_card", template_card=fits))["errcode"] == 0
    too_long = {**VOTE, "task_id": "poll-2", "main_title": {"title": "第一党支部评议", "desc": "评" * 45}}
    assert (await api.send(touser="li", msgtype="template_card", template_card=too_long))["errcode"] == 40035


def restarted(emulator: WeComEmulator) -> WeComEmulator:
    again = WeComEmulator(corp_id=CORP_ID, secret=SECRET, agent_id=AGENT_ID)
    again.clock = emulator.clock
    again.restore(json.loads(json.dumps(emulator.snapshot())))
    return again


def update(emulator: WeComEmulator, code: str) -> int:
    body = {"agentid": AGENT_ID, "response_code": code, "userids": ["li"], "button": {"replace_name": "评议已结束"}}
    return json.loads(messages.update_template_card(emulator, body).text)["errcode"]


async def test_a_response_code_outlives_a_restart_once_within_72_hours(api, emulator, clock):  # noqa: F811
    sent = await api.send(touser="li|wang", msgtype="template_card", template_card=VOTE)
    later = await api.send(touser="li", msgtype="template_card", template_card={**VOTE, "task_id": "poll-2"})
    again = restarted(emulator)
    clock.advance(72 * 3600 - 60)
    assert update(again, sent["response_code"]) == 0
    assert update(restarted(again), sent["response_code"]) == 40035  # used: once, restart or not
    clock.advance(120)
    assert update(again, later["response_code"]) == 40035  # past 72 hours
    assert [c.state for c in again.cards("li")] == ["评议已结束", ""] and again.cards("wang")[0].state == ""
