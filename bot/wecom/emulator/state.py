"""What the emulated WeChat Work knows: the directory, tokens, chats, every call and every message.

Timelines are what each person's phone would show: the app's 1:1 chat (messages from the app and
what the person typed) and the group chats they are in. Watchers (the web page's SSE streams)
are told whenever a person's screen changes.

UserIDs are case-insensitive on the platform (PLATFORM.md): everything kept per person (the
directory, inboxes, per-member limits) is keyed by ``user_key(userid)``, and the directory keeps the
spelling it was given, which callbacks carry as FromUserName.

Setup modes (settable from tests, and through POST /emulator/modes) make the platform refuse what
a misconfigured app meets on a real tenant; api.py and the handlers apply them:
- ``mode_untrusted_ip``: the server's IP is not in the app's 企业可信IP. Every call but gettoken
  answers 60020 ("not allow to access from your ip"): the token is still issued, as developers
  report (developers.weixin.qq.com/community, "自建小程序调用api 内网项目 可以获取token 结果ip禁用";
  blog.csdn.net/LY2497935393/article/details/131595148: gettoken answered, jscode2session 60020).
- ``forbidden_apis``: these APIs answer 48002 (api forbidden); ``ALL_APIS`` ("*") for every API but gettoken.
- ``visible_root`` False: the app's visible range lacks the root department, so appchat/* answer
  60011 (90245-90247: 应用的可见范围必须是根部门; 60011 is what appchat/create then answers,
  cnblogs.com/panjinzhao/p/12522627.html) and agent/get lists no department 1.
- ``invisible_users``: people outside the app's visible range. message/send lists them in
  invaliduser, and answers 81013 when nobody else is left (90236); user/get answers 60011 (PLATFORM.md:
  60011 no privilege or user not in the app's range).
"""
from __future__ import annotations

import asyncio
import base64
import dataclasses
import itertools
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

from bot.wecom.emulator.quota import DEFAULT_PER_HOUR, DEFAULT_PER_MINUTE, ApiQuota, most_in_window


class UnknownCard(Exception):
    """The person has no such card (or it is not interactive)."""


class Call(NamedTuple):
    api: str
    body: dict[str, Any]  # the JSON body, or the query of a GET or an upload
    at: float  # time.time() when it arrived


@dataclass
class Fault:
    """Injected into the next call of one API. `drop` closes the connection without an answer."""

    errcode: int | None = None
    status: int | None = None  # an HTTP status instead of a JSON answer
    delay: float = 0.0  # seconds before answering; longer than the client's timeout is a hang
    drop: bool = False


@dataclass
class Person:
    userid: str
    name: str
    department: int
    position: str = ""  # 职务 as WeChat Work shows it, e.g. 支部书记


@dataclass
class Chat:
    chatid: str
    name: str
    owner: str
    members: list[str]
    messages: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Entry:
    """One bubble on a screen. `sender` is "app" or the userid who typed it."""

    id: int
    sender: str
    msgtype: str
    body: dict[str, Any]
    at: float = field(default_factory=time.time)
    task_id: str = ""
    state: str = ""  # for cards: "", or the replace_name set by update_template_card
    selected: dict[str, list[str]] = field(default_factory=dict)  # what the person ticked before submitting


ALL_APIS = "*"  # in forbidden_apis: every API but gettoken
RESPONSE_CODE_TTL = 72 * 3600  # 94888: a card's response_code may be used once, within 72 hours
MEDIA_TTL = 3 * 86400  # media/upload (90253): a temporary media_id is valid for three days


def user_key(userid: str) -> str:
    """One key per person, whatever the case of the id: UserIDs are case-insensitive on the platform."""
    return userid.lower()


class EmulatorState:
    def __init__(self, *, corp_id: str, secret: str, agent_id: int, token_ttl: int = 7200,
                 per_member_per_minute: int = 30, per_member_per_hour: int = 1000,
                 api_per_minute: dict[str, int] | None = None, api_default_per_minute: int = DEFAULT_PER_MINUTE,
                 api_per_hour: int = DEFAULT_PER_HOUR, api_minute: float = 60.0):
        self.corp_id, self.secret, self.agent_id = corp_id, secret, agent_id
        self.token_ttl = token_ttl
        # 90312: 每应用对同一个成员不可超过30次/分钟，1000次/小时，超过部分会被丢弃不下发
        self.per_member_per_minute, self.per_member_per_hour = per_member_per_minute, per_member_per_hour
        # Calls of each API a minute and an hour (quota.py); api_minute shortens both for benchmarks.
        self.quota = ApiQuota(api_per_minute, default=api_default_per_minute, per_hour=api_per_hour, minute=api_minute)
        self.clock: Callable[[], float] = time.time  # tests move it on to see codes and media expire
        self.mode_untrusted_ip = False
        self.forbidden_apis: set[str] = set()
        self.visible_root = True
        self.invisible_users: set[str] = set()  # user_key()s
        self.departments: dict[int, dict[str, Any]] = {1: {"id": 1, "name": "教育局", "parentid": 0, "order": 1}}
        self.people: dict[str, Person] = {}
        self.tokens: dict[str, float] = {}
        self.calls: list[Call] = []  # every call, in order (refused ones included)
        self.inbox: dict[str, list[Entry]] = defaultdict(list)  # userid -> the app's 1:1 chat
        self.dropped: dict[str, int] = defaultdict(int)  # userid -> messages dropped by the limit
        self.chats: dict[str, Chat] = {}
        self.media: dict[str, tuple[str, bytes]] = {}  # media_id -> (content type, bytes)
        self.media_expires: dict[str, float] = {}  # media_id -> when the API stops accepting it
        self.media_names: dict[str, str] = {}  # media_id -> the file name it was uploaded or sent with
        self.task_ids: set[str] = set()
        self.response_codes: dict[str, tuple[str, list[str]]] = {}  # code -> (task_id, userids it may update)
        self.response_code_expires: dict[str, float] = {}  # code -> when it stops working
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.received: dict[str, deque[float]] = defaultdict(deque)  # user_key -> app messages in the last hour
        self.recent: dict[bytes, float] = {}  # sha256 of a request's canonical JSON -> when its duplicate check ends
        self._ids = itertools.count(1)
        self._watchers: dict[str, set[asyncio.Queue]] = defaultdict(set)

    # -- the directory ----------------------------------------------------------------------
    def add_department(self, dept_id: int, name: str, parent: int = 1) -> None:
        self.departments[dept_id] = {"id": dept_id, "name": name, "parentid": parent, "order": dept_id}

    def add_person(self, userid: str, name: str, department: int = 1, position: str = "") -> None:
        self.people[user_key(userid)] = Person(userid, name, department, position)

    def person(self, userid: str) -> Person | None:
        return self.people.get(user_key(userid))

    def knows(self, userid: str) -> bool:
        """With an empty directory every userid is accepted (tests that do not care about it)."""
        return not self.people or user_key(userid) in self.people

    def spelling(self, userid: str) -> str:
        """The userid as the directory holds it (as given when the directory does not know it)."""
        person = self.person(userid)
        return person.userid if person else userid

    def distinct(self, userids: list[str]) -> list[str]:
        """Each person once, in the order first named, spelled as the directory holds them."""
        unique: dict[str, str] = {}
        for userid in userids:
            unique.setdefault(user_key(userid), self.spelling(userid))
        return list(unique.values())

    def visible(self, userid: str) -> bool:
        return user_key(userid) not in self.invisible_users

    # -- media --------------------------------------------------------------------------------
    def keep_media(self, data: bytes, *, content_type: str, filename: str = "") -> str:
        """Media uploaded by the app or sent by a person: a new media_id, valid for three days."""
        media_id = secrets.token_urlsafe(24)
        self.media[media_id] = (content_type, data)
        self.media_expires[media_id] = self.clock() + MEDIA_TTL
        if filename:
            self.media_names[media_id] = filename
        return media_id

    # -- screens ----------------------------------------------------------------------------
    def post(self, userid: str, sender: str, msgtype: str, body: dict[str, Any], task_id: str = "") -> Entry:
        entry = Entry(next(self._ids), sender, msgtype, body, task_id=task_id)
        self.inbox[user_key(userid)].append(entry)
        self.notify(userid)
        return entry

    def post_to_chat(self, chat: Chat, sender: str, msgtype: str, body: dict[str, Any]) -> None:
        chat.messages.append({"id": next(self._ids), "sender": sender, "msgtype": msgtype,
                              msgtype: body, "at": time.time()})
        for member in chat.members:
            self.notify(member)

    def texts(self, userid: str) -> list[str]:
        """The text and markdown the app sent this person, in order."""
        return [e.body["content"] for e in self.inbox[user_key(userid)] if e.sender == "app" and e.msgtype in ("text", "markdown")]

    def cards(self, userid: str) -> list[Entry]:
        return [e for e in self.inbox[user_key(userid)] if e.msgtype == "template_card"]

    def screen(self, userid: str) -> list[Entry]:
        """The app's 1:1 chat as this person sees it."""
        return self.inbox[user_key(userid)]

    def count(self, api: str) -> int:
        return sum(1 for call in self.calls if call.api == api)

    def times(self, api: str) -> list[float]:
        """When each call of `api` arrived, in order (refused ones included)."""
        return [call.at for call in self.calls if call.api == api]

    def busiest(self, api: str, window: float) -> int:
        """The most calls of `api` in any `window` seconds, counted as the quota counts them."""
        return most_in_window(self.times(api), window)

    @property
    def limited(self) -> dict[str, int]:
        """api -> calls answered 45009 because the API was over its quota."""
        return self.quota.limited

    # -- kept between demo runs --------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """What the real service would still know after our restart: chats, messages, used task ids
        (refused forever, 90236), the response_codes not yet used (a poll closed after the demo
        restarted still updates its cards), and the uploaded images those messages show, with their expiry."""
        return {"inbox": {u: [dataclasses.asdict(e) for e in es] for u, es in self.inbox.items()},
                "chats": {c: dataclasses.asdict(chat) for c, chat in self.chats.items()},
                "task_ids": sorted(self.task_ids),
                "response_codes": {c: [task, users, self.response_code_expires[c]]
                                   for c, (task, users) in self.response_codes.items()},
                "media": {m: [kind, base64.b64encode(data).decode()] for m, (kind, data) in self.media.items()},
                "media_expires": self.media_expires, "media_names": self.media_names}

    def restore(self, saved: dict[str, Any]) -> None:
        for userid, entries in saved.get("inbox", {}).items():
            self.inbox[user_key(userid)].extend(Entry(**e) for e in entries)
        self.chats.update({c: Chat(**chat) for c, chat in saved.get("chats", {}).items()})
        self.task_ids.update(saved.get("task_ids", []))
        for code, (task_id, userids, expires) in saved.get("response_codes", {}).items():
            self.response_codes[code], self.response_code_expires[code] = (task_id, userids), expires
        self.media.update({m: (kind, base64.b64decode(data)) for m, (kind, data) in saved.get("media", {}).items()})
        # A snapshot from before media expired: its images get three days from now.
        self.media_expires.update({m: self.clock() + MEDIA_TTL for m in saved.get("media", {})})
        self.media_expires.update(saved.get("media_expires", {}))
        self.media_names.update(saved.get("media_names", {}))
        ids = [e.id for es in self.inbox.values() for e in es] + \
              [m["id"] for chat in self.chats.values() for m in chat.messages]
        self._ids = itertools.count(max(ids, default=0) + 1)

    # -- live updates for the page ----------------------------------------------------------
    def watch(self, userid: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=100)
        self._watchers[user_key(userid)].add(queue)
        return queue

    def unwatch(self, userid: str, queue: asyncio.Queue) -> None:
        self._watchers[user_key(userid)].discard(queue)

    def close_watchers(self) -> None:
        """Shutting down: open event streams end instead of holding the server up."""
        for queues in self._watchers.values():
            for queue in queues:
                queue.put_nowait("closed") if not queue.full() else None

    def notify(self, userid: str) -> None:
        for queue in list(self._watchers.get(user_key(userid), ())):
            if not queue.full():
                queue.put_nowait("changed")
