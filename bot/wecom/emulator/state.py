"""What the emulated WeChat Work knows: the directory, tokens, chats, every call and every message.

Timelines are what each person's phone would show: the app's 1:1 chat (messages from the app and
what the person typed) and the group chats they are in. Watchers (the web page's SSE streams)
are told whenever a person's screen changes.
"""
from __future__ import annotations

import asyncio
import base64
import dataclasses
import itertools
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from bot.wecom.emulator.quota import DEFAULT_PER_MINUTE, ApiQuota, most_in_window


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


class EmulatorState:
    def __init__(self, *, corp_id: str, secret: str, agent_id: int, token_ttl: int = 7200,
                 per_member_per_minute: int = 30, api_per_minute: dict[str, int] | None = None,
                 api_default_per_minute: int = DEFAULT_PER_MINUTE, api_minute: float = 60.0):
        self.corp_id, self.secret, self.agent_id = corp_id, secret, agent_id
        self.token_ttl, self.per_member_per_minute = token_ttl, per_member_per_minute
        # Calls of each API a minute (quota.py); api_minute shortens the minute for benchmarks.
        self.quota = ApiQuota(api_per_minute, default=api_default_per_minute, minute=api_minute)
        self.departments: dict[int, dict[str, Any]] = {1: {"id": 1, "name": "教育局", "parentid": 0, "order": 1}}
        self.people: dict[str, Person] = {}
        self.tokens: dict[str, float] = {}
        self.calls: list[Call] = []  # every call, in order (refused ones included)
        self.inbox: dict[str, list[Entry]] = defaultdict(list)  # userid -> the app's 1:1 chat
        self.dropped: dict[str, int] = defaultdict(int)  # userid -> messages dropped by the limit
        self.chats: dict[str, Chat] = {}
        self.media: dict[str, tuple[str, bytes]] = {}  # media_id -> (content type, bytes)
        self.task_ids: set[str] = set()
        self.response_codes: dict[str, tuple[str, list[str]]] = {}  # code -> (task_id, userids it may update)
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.received: dict[str, deque[float]] = defaultdict(deque)
        self.recent: dict[tuple[str, str], float] = {}  # (userid, content) -> time, for duplicate check
        self._ids = itertools.count(1)
        self._watchers: dict[str, set[asyncio.Queue]] = defaultdict(set)

    # -- the directory ----------------------------------------------------------------------
    def add_department(self, dept_id: int, name: str, parent: int = 1) -> None:
        self.departments[dept_id] = {"id": dept_id, "name": name, "parentid": parent, "order": dept_id}

    def add_person(self, userid: str, name: str, department: int = 1, position: str = "") -> None:
        self.people[userid] = Person(userid, name, department, position)

    def knows(self, userid: str) -> bool:
        """With an empty directory every userid is accepted (tests that do not care about it)."""
        return not self.people or userid in self.people

    # -- screens ----------------------------------------------------------------------------
    def post(self, userid: str, sender: str, msgtype: str, body: dict[str, Any], task_id: str = "") -> Entry:
        entry = Entry(next(self._ids), sender, msgtype, body, task_id=task_id)
        self.inbox[userid].append(entry)
        self.notify(userid)
        return entry

    def post_to_chat(self, chat: Chat, sender: str, msgtype: str, body: dict[str, Any]) -> None:
        chat.messages.append({"id": next(self._ids), "sender": sender, "msgtype": msgtype,
                              msgtype: body, "at": time.time()})
        for member in chat.members:
            self.notify(member)

    def texts(self, userid: str) -> list[str]:
        """The text and markdown the app sent this person, in order."""
        return [e.body["content"] for e in self.inbox[userid] if e.sender == "app" and e.msgtype in ("text", "markdown")]

    def cards(self, userid: str) -> list[Entry]:
        return [e for e in self.inbox[userid] if e.msgtype == "template_card"]

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
        """What the real service would still know after our restart: chats, messages, used task ids,
        and the uploaded images those messages show."""
        return {"inbox": {u: [dataclasses.asdict(e) for e in es] for u, es in self.inbox.items()},
                "chats": {c: dataclasses.asdict(chat) for c, chat in self.chats.items()},
                "task_ids": sorted(self.task_ids),
                "media": {m: [kind, base64.b64encode(data).decode()] for m, (kind, data) in self.media.items()}}

    def restore(self, saved: dict[str, Any]) -> None:
        self.inbox.update({u: [Entry(**e) for e in es] for u, es in saved.get("inbox", {}).items()})
        self.chats.update({c: Chat(**chat) for c, chat in saved.get("chats", {}).items()})
        self.task_ids.update(saved.get("task_ids", []))
        self.media.update({m: (kind, base64.b64decode(data)) for m, (kind, data) in saved.get("media", {}).items()})
        ids = [e.id for es in self.inbox.values() for e in es] + \
              [m["id"] for chat in self.chats.values() for m in chat.messages]
        self._ids = itertools.count(max(ids, default=0) + 1)

    # -- live updates for the page ----------------------------------------------------------
    def watch(self, userid: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=100)
        self._watchers[userid].add(queue)
        return queue

    def unwatch(self, userid: str, queue: asyncio.Queue) -> None:
        self._watchers[userid].discard(queue)

    def close_watchers(self) -> None:
        """Shutting down: open event streams end instead of holding the server up."""
        for queues in self._watchers.values():
            for queue in queues:
                queue.put_nowait("closed") if not queue.full() else None

    def notify(self, userid: str) -> None:
        for queue in list(self._watchers.get(userid, ())):
            if not queue.full():
                queue.put_nowait("changed")
