"""Callbacks from the emulated WeChat Work to the bot: XML as the platform writes it, encrypted and
signed by wechatpy (not by the bot's own code, so the two sides are checked against each other),
POSTed to the bot, and retried like the platform: a callback the bot did not answer within 5 s, or
whose connection failed, is sent again, three times at most (90930: 若企业微信服务器在5秒内收不到
响应会断掉连接，并且重新发起请求，总共重试三次). Any HTTP answer ends it, a 4xx or 5xx too: the
older 90238 says any non-200 is retried, and PLATFORM.md chose 90930's stricter reading, so a bot
that answers an error loses that message however often the platform would have asked again."""
from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from xml.etree import ElementTree

import aiohttp
from wechatpy.enterprise.crypto import WeChatCrypto

log = logging.getLogger(__name__)


def cdata(value: object) -> str:
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _xml(corp_id: str, agent_id: int, userid: str, fields: list[tuple[str, str]],
         create_time: int | None = None) -> str:
    head = [("ToUserName", cdata(corp_id)), ("FromUserName", cdata(userid)),
            ("CreateTime", str(create_time or int(time.time())))]
    body = "".join(f"<{tag}>{value}</{tag}>" for tag, value in head + fields + [("AgentID", str(agent_id))])
    return f"<xml>{body}</xml>"


def text_message(corp_id: str, agent_id: int, userid: str, content: str, *,
                 msg_id: int | None = None, create_time: int | None = None) -> str:
    msg_id = msg_id or random.getrandbits(63)
    return _xml(corp_id, agent_id, userid, [("MsgType", cdata("text")), ("Content", cdata(content)),
                                             ("MsgId", str(msg_id))], create_time)


def media_message(corp_id: str, agent_id: int, userid: str, kind: str, media_id: str, *, pic_url: str = "",
                  file_name: str = "", msg_id: int | None = None, create_time: int | None = None) -> str:
    """An image (MsgType image: PicUrl and MediaId) or a file (MediaId, and its name when given) a person sent."""
    fields = [("MsgType", cdata(kind))] + [(tag, cdata(value)) for tag, value in
                                            (("PicUrl", pic_url), ("FileName", file_name)) if value]
    fields += [("MediaId", cdata(media_id)), ("MsgId", str(msg_id or random.getrandbits(63)))]
    return _xml(corp_id, agent_id, userid, fields, create_time)


# What the other messages a person may send carry (96467 消息格式: 语音 Format, 视频 ThumbMediaId, 位置
# Location_X/Location_Y/Scale/Label, 链接 Title/Description/Url/PicUrl), besides MsgType and MsgId.
OTHER_FIELDS = {
    "voice": (("MediaId", "voice-media"), ("Format", "amr")),
    "video": (("MediaId", "video-media"), ("ThumbMediaId", "video-thumb")),
    "location": (("Location_X", "34.26"), ("Location_Y", "108.94"), ("Scale", "15"), ("Label", "县教育局")),
    "link": (("Title", "一篇文章"), ("Description", "文章摘要"), ("Url", "https://example.invalid/a"),
             ("PicUrl", "https://example.invalid/a.jpg")),
}


def other_message(corp_id: str, agent_id: int, userid: str, kind: str, *, msg_id: int | None = None,
                  create_time: int | None = None, **fields: str) -> str:
    """A voice, video, location or link message (the documented fields, sample values unless given)."""
    values = {**dict(OTHER_FIELDS.get(kind, ())), **fields}
    return _xml(corp_id, agent_id, userid, [("MsgType", cdata(kind))]
                + [(tag, cdata(value)) for tag, value in values.items()]
                + [("MsgId", str(msg_id or random.getrandbits(63)))], create_time)


def event(corp_id: str, agent_id: int, userid: str, name: str, key: str = "") -> str:
    return _xml(corp_id, agent_id, userid, [("MsgType", cdata("event")), ("Event", cdata(name)),
                                             ("EventKey", cdata(key))])


def card_event(corp_id: str, agent_id: int, userid: str, *, key: str, task_id: str, card_type: str,
               response_code: str, selected: dict[str, list[str]], create_time: int | None = None) -> str:
    items = "".join(
        f"<SelectedItem><QuestionKey>{cdata(q)}</QuestionKey><OptionIds>"
        + "".join(f"<OptionId>{cdata(o)}</OptionId>" for o in options) + "</OptionIds></SelectedItem>"
        for q, options in selected.items())
    fields = [("MsgType", cdata("event")), ("Event", cdata("template_card_event")), ("EventKey", cdata(key)),
              ("TaskId", cdata(task_id)), ("CardType", cdata(card_type)), ("ResponseCode", cdata(response_code))]
    if items:
        fields.append(("SelectedItems", items))
    return _xml(corp_id, agent_id, userid, fields, create_time)


class CallbackSigner:
    """Encrypts and signs callbacks as WeChat Work does, with wechatpy: the platform's side, also for
    tests and benchmarks that post callbacks themselves."""

    def __init__(self, *, token: str, aes_key: str, corp_id: str, agent_id: int | str):
        self.corp_id, self.agent_id = corp_id, agent_id
        self._crypto = WeChatCrypto(token, aes_key, corp_id)

    def encrypt(self, plaintext: str, *, timestamp: int | str | None = None,
                nonce: str | None = None) -> tuple[dict[str, str], str]:
        """(query, ciphertext): msg_signature, timestamp and nonce, and the Encrypt value they sign."""
        nonce, timestamp = nonce or uuid.uuid4().hex[:10], str(timestamp or int(time.time()))
        root = ElementTree.fromstring(self._crypto.encrypt_message(plaintext, nonce, timestamp))
        query = {"msg_signature": root.findtext("MsgSignature"), "timestamp": timestamp, "nonce": nonce}
        return query, root.findtext("Encrypt")

    def envelope(self, encrypted: str) -> str:
        return (f"<xml><ToUserName>{cdata(self.corp_id)}</ToUserName><Encrypt>{cdata(encrypted)}"
                f"</Encrypt><AgentID>{cdata(self.agent_id)}</AgentID></xml>")

    def sign(self, xml: str, **when: int | str | None) -> tuple[dict[str, str], str]:
        """(query, body) as WeChat Work POSTs a callback; `when`: timestamp and nonce, if not now and random."""
        query, encrypted = self.encrypt(xml, **when)
        return query, self.envelope(encrypted)


@dataclass
class Delivery:
    """What happened to one callback: the HTTP status of each attempt (None: no answer in time)."""

    attempts: list[int | None] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return 200 in self.attempts

    @property
    def answered(self) -> bool:
        """The bot gave an HTTP answer (whatever its status): the platform does not ask again."""
        return any(status is not None for status in self.attempts)


class BotEndpoint:
    def __init__(self, *, url: str, token: str, aes_key: str, corp_id: str, agent_id: int,
                 retry_after: float = 5.0, retries: int = 3):
        self.url, self.retry_after, self.retries = url, retry_after, retries
        self._signer = CallbackSigner(token=token, aes_key=aes_key, corp_id=corp_id, agent_id=agent_id)

    async def deliver(self, xml: str) -> Delivery:
        delivery = Delivery()
        timeout = aiohttp.ClientTimeout(total=self.retry_after)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            for attempt in range(1 + self.retries):
                started = time.monotonic()
                query, body = self._signer.sign(xml)  # each attempt is signed afresh, the message is the same
                try:
                    async with http.post(self.url, params=query, data=body.encode()) as resp:
                        delivery.attempts.append(resp.status)
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    delivery.attempts.append(None)
                if delivery.answered:
                    break
                if attempt < self.retries:
                    await asyncio.sleep(max(0.0, self.retry_after - (time.monotonic() - started)))
        if not delivery.delivered:
            log.warning("callback not accepted: %s", delivery.attempts)
        return delivery
