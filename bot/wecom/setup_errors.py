"""Errors that no retry fixes but a person can: a wrong secret, an untrusted server IP, people outside
the app's visible range. The words (what went wrong, how to fix it) are in
message_templates/cli/setup_errors.toml, keyed by errcode (90313).

An app-wide one ("app") pauses all sending: every message would meet it, and dead-lettering them
would lose the whole queue on a first deployment whose IP is not yet trusted. A recipient's one
("recipient") holds only that message, and tries it again now and then until it is fixed (or given up
after HOLD_LIMIT): the other members still get theirs.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from bot.texts import vocabulary

HOLD_RETRY = 600.0  # a held message is tried again this often
HOLD_LIMIT = 3 * 86_400.0  # and dead-lettered (with its reason; `xianfeng outbox retry`) after this long

ENGLISH = {60020: "server IP not in the app's trusted IPs", 48002: "API forbidden for this app",
           48001: "API unauthorized for this secret", 40001: "invalid secret", 40091: "invalid secret",
           41004: "secret missing", 40013: "invalid corp id", 41002: "corp id missing", 40056: "invalid agent id",
           301002: "no privilege for this agent", 60011: "recipient outside the app's visible range",
           60111: "userid not found", 81013: "every recipient invalid", 86003: "chat not found",
           86004: "invalid chat owner", 86216: "invalid chat member"}


@dataclass(frozen=True)
class SetupError:
    errcode: int
    scope: str  # "app" or "recipient"
    what: str  # Chinese, for people
    fix: str  # Chinese, for people
    english: str
    in_config: bool = False  # fixed in our own settings (a restart), not in the platform's admin console

    def log_line(self, endpoint: str) -> str:
        return f"{endpoint} answered {self.errcode} ({self.english}) / {self.what}：{self.fix}"

    @property
    def held_reason(self) -> str:
        """What a held row's last_error says; held_errcode reads it back (`xianfeng status` groups by it)."""
        return f"{HELD} {self.errcode}: {self.english}"


HELD = "setup"


def held_errcode(reason: str) -> int | None:
    """The errcode of a row held by a setup error, from its last_error; None for any other error."""
    kind, _, rest = reason.partition(" ")
    code = rest.split(":", 1)[0]
    return int(code) if kind == HELD and code.isdecimal() else None


@functools.cache
def _words() -> dict[str, dict[str, str]]:
    return vocabulary("cli/setup_errors")


def classify(errcode: int) -> SetupError | None:
    words = _words().get(str(errcode))
    if words is None:
        return None
    return SetupError(errcode, words["scope"], words["what"], words["fix"], ENGLISH.get(errcode, "setup error"),
                      words.get("in_config", False))
