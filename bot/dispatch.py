"""The one entry point for updates: ``process`` in the caller's transaction, or ``feed_update``.

The webhook records a callback's dedup key before answering and calls ``process`` later, in the
transaction that deletes its recorded row (bot/inbox.py). ``feed_update`` (tests, set-up scripts)
records the key and handles the update in one transaction; either way a retried callback (also a
concurrent one) finds the key and has no second effect.
"""
from __future__ import annotations

import re
import time
from datetime import datetime
from enum import StrEnum
from typing import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session

from bot import forms, nlp
from bot.routing import Command, Context, Handler, MediaHandler, Router, TextFallback
from bot.texts import as_of, render, vocabulary
from bot.wecom import messages
from bot.wecom.updates import Update
from storage import inbox, people
from storage.db import transaction
from storage.models import ConversationState, Person

_SPACES = re.compile(r"\s+")
MEDIA = frozenset({"image", "file"})  # messages offered to the routers that take media (/报送, /践诺's photos)


class Outcome(StrEnum):
    handled = "handled"
    duplicate = "duplicate"
    unregistered = "unregistered"
    ignored = "ignored"


def warm_up_nlp() -> None:
    """jieba's dictionary loads in a background thread; the command keywords join it."""
    words = {w for entry in vocabulary()["commands"].values() for w in entry.get("keywords", [])}
    nlp.warm_up(sorted(words))


def normalise(text: str) -> str:
    """Phones type full-width slashes and spaces; treat them like their ASCII twins."""
    return _SPACES.sub(" ", text.replace("／", "/").replace("\u3000", " ")).strip()


class Dispatcher:
    def __init__(self, engine: Engine, routers: Iterable[Router], *, tz: str = "Asia/Shanghai",
                 form_idle_seconds: float = 1800):
        self._engine, self._form_idle = engine, form_idle_seconds
        self._tz = ZoneInfo(tz)
        self.commands: dict[str, Command] = {}
        self._cards: dict[str, Handler] = {}
        self._fallbacks: list[TextFallback] = []
        self._over_forms: list[TextFallback] = []
        self._media: list[MediaHandler] = []
        for router in routers:
            self.commands.update(router.commands)
            self._cards.update(router.card_handlers)
            self._fallbacks += router.text_fallbacks
            self._over_forms += router.over_forms
            self._media += router.media_handlers
        words = vocabulary()["commands"]
        self._aliases = {alias.lower(): name for name in self.commands for alias in words.get(name, {}).get("aliases", [])}
        self._aliases.update({name.lstrip("/"): name for name in self.commands})
        self._longest_first = sorted(self.commands, key=len, reverse=True)  # /承诺汇总 before /承诺
        self._keywords = {name: words.get(name, {}).get("keywords", []) for name in words}

    def feed_update(self, update: Update) -> Outcome:
        with transaction(self._engine) as session:
            if not inbox.new_keys(session.connection(), [update.dedup_key], now=time.time()):
                return Outcome.duplicate
            return self.process(session, update)

    def process(self, session: Session, update: Update) -> Outcome:
        with as_of(self._local(update).date()):  # what a handler renders reads on the sender's day (dates' years)
            return self._process(session, update)

    def _process(self, session: Session, update: Update) -> Outcome:
        person = people.find(session, update.userid)  # in the roster's spelling, whatever the callback's letters
        if person is None:
            return self._answer_stranger(session, update)
        if update.kind == "event" and update.event == "template_card_event":
            return self._card(session, update, person)
        if update.kind == "event":
            return Outcome.ignored  # other events (enter_agent …) are not messages: nobody waits for an answer
        if update.kind != "text":
            return self._other_message(session, update, person)
        text = normalise(update.content)
        command, args = self._match(text)
        ctx = self._context(session, update, person, args)
        form, parked_now = self._active_form(ctx)
        if command is None and (form or parked_now) and self._taken_over_form(ctx, form, text):
            if form:
                forms.resume(ctx, form)  # like a command typed mid-form: the question is asked again
        elif command is None and parked_now:
            pass  # most likely an answer to a question they no longer see: the parking notice is the answer
        elif command is None and form:
            forms.handle(ctx, form, update.content)
        elif command is None:
            if not any(fallback(ctx, text) for fallback in self._fallbacks):
                self._hint(ctx, text)
        elif person.role not in command.roles:
            ctx.reply("not_allowed", command=command.name, roles=self.role_labels(command.roles))
        else:
            self._run(ctx, command, form)
        return Outcome.handled

    def _context(self, session: Session, update: Update, person: Person, args: str = "") -> Context:
        local = self._local(update)
        return Context(session=session, update=update, person=person, args=args, today=local.date(), now=local,
                       available=self.available_to(person.role))

    def _card(self, session: Session, update: Update, person: Person) -> Outcome:
        handler = next((h for prefix, h in self._cards.items() if update.task_id.startswith(prefix)), None)
        if handler is None:
            return Outcome.ignored
        handler(self._context(session, update, person))
        return Outcome.handled

    def _other_message(self, session: Session, update: Update, person: Person) -> Outcome:
        """Any message but text. An image or a file is offered, with the person's open form, to the
        routers that take media (a /报送 form waiting for its document, a /践诺 form taking photos).
        Whatever nothing takes (a voice, a video, a location, a link, media nothing waits for) gets one
        short, kind answer saying what the bot reads, in this person's commands; an open form waits,
        its question asked again."""
        ctx = self._context(session, update, person)
        form, parked_now = self._active_form(ctx)
        if parked_now:  # the parking notice said where the form is; say the media went nowhere
            if update.kind in MEDIA:
                ctx.reply("media_not_taken_parked", kind=update.kind)
            return Outcome.handled
        if update.kind in MEDIA and any(take(ctx, form) for take in self._media):
            return Outcome.handled
        ctx.reply("other_message", kind=update.kind, commands={c.name for c in ctx.available}, form=form is not None)
        if form:
            forms.resume(ctx, form)
        return Outcome.handled

    def _active_form(self, ctx: Context) -> tuple[ConversationState | None, bool]:
        """(the person's unparked form, whether it was parked just now for being idle too long)."""
        state = forms.current_state(ctx.session, ctx.person.userid)
        if state is None or state.data.get("parked"):
            return None, False
        if forms.is_idle(state, self._form_idle):
            forms.park(ctx, state)
            return None, True
        return state, False

    def _taken_over_form(self, ctx: Context, form: ConversationState | None, text: str) -> bool:
        """Whether text typed while a form is open was taken by something else (a typed vote, see
        bot.handlers.vote.vote_over_form); never what the form's current step reads as a date, a time
        or a choice: that answer shows in the form and 返回 undoes it, a vote cannot be undone."""
        if form and forms.reads_as_structured(ctx, form, text):
            return False
        return any(take(ctx, text) for take in self._over_forms)

    @staticmethod
    def _run(ctx: Context, command: Command, form: ConversationState | None) -> None:
        """A command typed mid-form is answered, then the form's question is asked again."""
        touched = form.updated_at if form else None
        command.handler(ctx)
        if form and form.updated_at == touched and ctx.session.get(ConversationState, ctx.person.userid):
            forms.resume(ctx, form)

    def _local(self, update: Update) -> datetime:
        return datetime.fromtimestamp(update.create_time, self._tz)

    def _match(self, text: str) -> tuple[Command | None, str]:
        name = self._aliases.get(text.lower())
        if name:
            return self.commands[name], ""
        if text.startswith("/"):
            for name in self._longest_first:
                if text.startswith(name):
                    return self.commands[name], text[len(name):].strip()
        return None, ""

    def _hint(self, ctx: Context, text: str) -> None:
        names = {c.name for c in ctx.available}
        available = {name: words for name, words in self._keywords.items() if name in names}
        guess = nlp.guess_command(text, available) if text else None
        if guess:
            ctx.reply("hint", command=guess, summary=vocabulary()["commands"][guess]["summary"])
        else:
            ctx.reply("unknown")

    def _answer_stranger(self, session: Session, update: Update) -> Outcome:
        """One polite answer a day, however often a stranger writes: the key folds repeats together."""
        day = self._local(update).strftime("%Y%m%d")
        messages.to_person(session, key=f"stranger:{update.userid}:{day}", userid=update.userid,
                           text=render("unregistered", userid=update.userid), reply=True)
        return Outcome.unregistered

    def available_to(self, role: str) -> list[Command]:
        return [c for c in self.commands.values() if role in c.roles]

    @staticmethod
    def role_labels(roles: Iterable[str]) -> list[str]:
        labels = vocabulary()["roles"]
        return [labels[r] for r in sorted(roles)]

