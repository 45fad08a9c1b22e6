"""Pure functions of the wire format: crypto round trips, update parsing, dedup keys, text splitting."""
from __future__ import annotations

import pytest

from bot.texts import split_message
from bot.wecom.crypto import CallbackCrypto, SignatureError
from bot.wecom.emulator.callbacks import CallbackSigner
from bot.wecom.updates import MalformedUpdate, parse_update, parse_xml
from tests.conftest import AES_KEY, AGENT_ID, CORP_ID, TOKEN

CARD = """<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[li]]></FromUserName>
<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event>
<EventKey><![CDATA[vote]]></EventKey><TaskId><![CDATA[poll-7]]></TaskId><CardType><![CDATA[vote_interaction]]></CardType>
<ResponseCode><![CDATA[rc-1]]></ResponseCode><AgentID>1000002</AgentID><SelectedItems>{items}</SelectedItems></xml>"""
ITEM = "<SelectedItem><QuestionKey><![CDATA[{q}]]></QuestionKey><OptionIds>{opts}</OptionIds></SelectedItem>"


def _item(q: str, *opts: str) -> str:
    return ITEM.format(q=q, opts="".join(f"<OptionId><![CDATA[{o}]]></OptionId>" for o in opts))


def test_our_decrypt_reads_what_wechatpy_encrypts():
    ours = CallbackCrypto(token=TOKEN, aes_key=AES_KEY, corp_id=CORP_ID)
    signer = CallbackSigner(token=TOKEN, aes_key=AES_KEY, corp_id=CORP_ID, agent_id=AGENT_ID)
    query, encrypted = signer.encrypt("<xml>你好</xml>", timestamp=1700000000, nonce="n0nce")
    ours.verify(query["msg_signature"], "1700000000", "n0nce", encrypted, now=1700000100)
    assert ours.decrypt(encrypted) == "<xml>你好</xml>"
    with pytest.raises(SignatureError):
        ours.verify(query["msg_signature"], "1700000000", "n0nce", encrypted, now=1700000301)


def test_card_event_with_a_single_selected_item_is_still_a_list():
    update = parse_update(CARD.format(corp=CORP_ID, items=_item("q1", "opt2")))
    assert update.kind == "event" and update.event == "template_card_event" and update.card_type == "vote_interaction"
    assert len(update.selected_items) == 1
    assert update.selected_items[0].question_key == "q1" and update.selected_items[0].option_ids == ("opt2",)
    assert update.task_id == "poll-7" and update.response_code == "rc-1"


def test_card_event_with_several_items_and_options():
    update = parse_update(CARD.format(corp=CORP_ID, items=_item("q1", "a", "b") + _item("q2", "c")))
    assert [(i.question_key, i.option_ids) for i in update.selected_items] == [("q1", ("a", "b")), ("q2", ("c",))]


def test_dedup_keys_message_by_msgid_and_event_by_its_fields():
    text = "<xml><FromUserName>li</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>x</Content><MsgId>{}</MsgId></xml>"
    assert parse_update(text.format(1)).dedup_key == parse_update(text.format(1).replace(">x<", ">y<")).dedup_key
    assert parse_update(text.format(1)).dedup_key != parse_update(text.format(2)).dedup_key
    one = parse_update(CARD.format(corp=CORP_ID, items=_item("q1", "a")))
    other_task = parse_update(CARD.format(corp=CORP_ID, items=_item("q1", "a")).replace("poll-7", "poll-8"))
    assert one.dedup_key != other_task.dedup_key and len(one.dedup_key) == 64


@pytest.mark.parametrize("xml", ["<xml><MsgType>text</MsgType></xml>", "<notxml/>", "<xml>", "",
                                 '<!DOCTYPE x [<!ENTITY a "aaaa">]><xml>&a;</xml>',
                                 "<xml><FromUserName>li</FromUserName><CreateTime>soon</CreateTime><MsgType>text</MsgType></xml>"])
def test_malformed_updates_are_refused(xml):
    with pytest.raises(MalformedUpdate):
        parse_update(xml)


ENTITY_TRICKS = [
    # billion laughs, external entities (file and network), each where a DOCTYPE could hide
    '<!DOCTYPE x [<!ENTITY a "aa"><!ENTITY b "&a;&a;&a;&a;">]><xml><FromUserName>&b;</FromUserName></xml>',
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>',
    '<?pi <xml?><!DOCTYPE x [<!ENTITY e SYSTEM "http://127.0.0.1:9/">]><xml><Encrypt>&e;</Encrypt></xml>',
    '<!-- <xml> --><!DOCTYPE x [<!ENTITY e "x">]><xml><Encrypt>&e;</Encrypt></xml>',
    '<xml><!DOCTYPE x [<!ENTITY e "x">]><Encrypt>&e;</Encrypt></xml>',
    '<xml><Encrypt>&e;</Encrypt></xml>',
    '<xml><Encrypt>x</Encrypt></xml><!DOCTYPE y>',
]


@pytest.mark.parametrize("xml", ENTITY_TRICKS)
def test_entity_tricks_are_refused_as_text_and_as_bytes(xml):
    for form in (xml, xml.encode(), xml.encode("utf-16")):  # UTF-16 must not slip a DOCTYPE past the check
        with pytest.raises(MalformedUpdate):
            parse_xml(form)


def test_what_a_member_types_is_never_taken_for_markup():
    """A DOCTYPE in a message's text (CDATA) is text: refusing it would make the platform retry forever."""
    typed = '<!DOCTYPE x [<!ENTITY a "b">]> &a; <xml>'
    xml = ("<xml><FromUserName><![CDATA[li]]></FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType>"
           f"<Content><![CDATA[{typed}]]></Content><MsgId>9</MsgId></xml>")
    assert parse_update(xml).content == typed
    assert parse_xml(b"\xef\xbb\xbf" + xml.encode()).findtext("Content") == typed  # a byte-order mark is fine
    assert parse_xml('<?xml version="1.0" encoding="UTF-8"?>\n' + xml).findtext("Content") == typed


@pytest.mark.parametrize("text", [
    "短消息",
    "\n".join(f"第{n}条：公开承诺" for n in range(300)),
    "党" * 3000,  # one line longer than the limit: cut between characters
    "a" * 2047 + "党" + "b" * 10,  # a three-byte character straddling the limit
])
def test_split_message_respects_bytes_and_characters(text):
    parts = split_message(text)
    assert all(len(p.encode()) <= 2048 for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")
