"""Decrypted callback XML -> Update.

wechatpy's parser does not know ``template_card_event``, and xmltodict would turn a single
``SelectedItem`` into a dict instead of a list, so the XML is read here with ElementTree.

The outer envelope comes from anyone on the internet. Entity tricks (billion laughs, external
entities) need a DOCTYPE, which can only stand before the root element, so a document must begin
with ``<xml`` (after an optional XML declaration): then ElementTree's C parser knows no entity but
XML's own five. defusedxml did the same job with ElementTree's pure-Python parser, which was a
tenth of the answering process's CPU (two parses per callback).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError, XML

_STARTS_AT_ROOT = re.compile(r"\s*(?:<\?xml\s[^<>]*\?>\s*)?<xml[\s/>]")


class MalformedUpdate(Exception):
    """Not a callback we can read: answer 400."""


@dataclass(frozen=True)
class SelectedItem:
    question_key: str
    option_ids: tuple[str, ...]


@dataclass(frozen=True)
class Update:
    kind: str  # "text", "event", or another MsgType (image, voice, …) we only acknowledge
    userid: str
    create_time: int
    agent_id: str = ""
    msg_id: str = ""
    content: str = ""
    event: str = ""
    event_key: str = ""
    task_id: str = ""
    card_type: str = ""
    response_code: str = ""
    selected_items: tuple[SelectedItem, ...] = field(default_factory=tuple)
    media_id: str = ""  # image and file messages: the platform's id for fetching it (valid three days)
    pic_url: str = ""  # image messages
    file_name: str = ""  # file messages, when the callback names it

    @property
    def dedup_key(self) -> str:
        """MsgId for messages; sender + time + event fields for events (which carry no MsgId)."""
        if self.msg_id:
            raw = f"msg:{self.msg_id}"
        else:
            raw = "|".join(("event", self.userid, str(self.create_time), self.event, self.event_key, self.task_id))
        return hashlib.sha256(raw.encode()).hexdigest()


def parse_xml(text: str | bytes) -> Element:
    """The <xml> root of a callback; MalformedUpdate for anything else (a DOCTYPE included)."""
    try:
        # Read as a str, so the parser takes it as UTF-8 whatever its declaration claims: an
        # encoding such as UTF-16 cannot hide a DOCTYPE from the check below.
        text = text.decode("utf-8-sig") if isinstance(text, bytes) else text
    except UnicodeDecodeError:
        raise MalformedUpdate("not UTF-8") from None
    if not _STARTS_AT_ROOT.match(text):
        raise MalformedUpdate("does not begin with the <xml> root element")
    try:
        root = XML(text)
    except ParseError as exc:  # also a DOCTYPE or an entity inside the root: expat refuses both there
        raise MalformedUpdate(f"not XML: {exc}") from None
    if root.tag != "xml":
        raise MalformedUpdate("root element is not <xml>")
    return root


def _text(root: Element, tag: str) -> str:
    return (root.findtext(tag) or "").strip()


def _selected_items(root: Element) -> tuple[SelectedItem, ...]:
    items = root.findall("./SelectedItems/SelectedItem")
    return tuple(
        SelectedItem(_text(item, "QuestionKey"), tuple((o.text or "").strip() for o in item.findall("./OptionIds/OptionId")))
        for item in items)


def parse_update(plaintext: str) -> Update:
    root = parse_xml(plaintext)
    kind, userid = _text(root, "MsgType"), _text(root, "FromUserName")
    try:
        create_time = int(_text(root, "CreateTime"))
    except ValueError:
        raise MalformedUpdate("CreateTime is not a number") from None
    if not kind or not userid:
        raise MalformedUpdate("MsgType or FromUserName missing")
    return Update(
        kind=kind, userid=userid, create_time=create_time, agent_id=_text(root, "AgentID"),
        msg_id=_text(root, "MsgId"), content=(root.findtext("Content") or ""),
        event=_text(root, "Event"), event_key=_text(root, "EventKey"), task_id=_text(root, "TaskId"),
        card_type=_text(root, "CardType"), response_code=_text(root, "ResponseCode"),
        selected_items=_selected_items(root), media_id=_text(root, "MediaId"), pic_url=_text(root, "PicUrl"),
        file_name=_text(root, "FileName"))
