"""Routers and the context handlers receive. One router per capability, in bot/handlers/."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable, Iterable

from sqlmodel import Session

from bot.texts import render
from bot.wecom import messages
from bot.wecom.updates import Update
from storage.models import Person, Role

ALL_ROLES = frozenset(Role)


@dataclass
class Context:
    """What a handler may touch: the open transaction, the update, the sender, and reply()."""

    session: Session
    update: Update
    person: Person
    args: str = ""
    today: date = field(default_factory=date.today)  # the sender's local date, in the configured time zone
    now: datetime | None = None  # the update's local time (aware), in the configured time zone
    available: list["Command"] = field(default_factory=list)  # commands this person's role may use
    replies: int = field(default=0, init=False)
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def once(self, key: str, compute: Callable[[], Any]) -> Any:
        """A lookup done once per update: forms rebuild their steps several times while answering."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def reply(self, template: str, **data: Any) -> None:
        """Queue a reply in this transaction; the key makes a replayed callback's reply the same row."""
        text = render(template, **{"person": self.person, "today": self.today, **data})  # today: dates' years
        messages.to_person(self.session, key=f"reply:{self.update.dedup_key}:{self.replies}",
                           userid=self.person.userid, text=text, reply=True)
        self.replies += 1


Handler = Callable[[Context], None]


@dataclass(frozen=True)
class Command:
    name: str  # with the slash, e.g. "/帮助"
    roles: frozenset[str]
    handler: Handler


TextFallback = Callable[[Context, str], bool]  # True when it took the text (e.g. a vote by number)
MediaHandler = Callable[[Context, Any], bool]  # (context, open ConversationState or None): True when taken


class Router:
    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self.card_handlers: dict[str, Handler] = {}  # card task_id prefix -> handler of its clicks
        self.text_fallbacks: list[TextFallback] = []
        self.over_forms: list[TextFallback] = []
        self.media_handlers: list[MediaHandler] = []

    def card(self, task_prefix: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.card_handlers[task_prefix] = handler
            return handler
        return register

    def text_fallback(self, handler: TextFallback) -> TextFallback:
        """Plain text that is neither a command nor a form answer is offered here before the hint."""
        self.text_fallbacks.append(handler)
        return handler

    def over_form(self, handler: TextFallback) -> TextFallback:
        """Plain text offered here before an open form takes it as its answer (e.g. a typed vote)."""
        self.over_forms.append(handler)
        return handler

    def media(self, handler: MediaHandler) -> MediaHandler:
        """An image or a file a person sent, with their open form (None if none): True when it took it."""
        self.media_handlers.append(handler)
        return handler

    def command(self, name: str, *, roles: Iterable[str] = ALL_ROLES) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.commands[name] = Command(name, frozenset(roles), handler)
            return handler
        return register
