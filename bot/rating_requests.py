"""Reading what the committee types after /定级: a branch, an action, and what it enters.

/定级 → the list; /定级 支部 → one branch; /定级 支部 上级 88 表彰 有 → enter the 上级党组织评定
and 县级以上表彰; /定级 支部 星 班子建设 确认 [意见] (or 不确认 [意见]) → decide on one claimed star;
/定级 确认 支部 → confirm; /定级 重新 支部 → reopen a confirmed rating. The words (确认, 重新, 上级,
表彰, 有/无, 星, 不确认) are in vocabulary.toml [rating]; a wrong answer raises Invalid.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.answers import Invalid
from bot.texts import vocabulary

_NARROW = str.maketrans("０１２３４５６７８９．：", "0123456789.:")  # what phones type in full width


@dataclass(frozen=True)
class Request:
    action: str  # list | show | confirm | reopen | star
    branch: str = ""
    entered: dict[str, object] = field(default_factory=dict)  # with show: {"superior": 88.0, "honoured": True}
    star: str = ""  # with star: the indicator as typed, the decision ("confirmed" | "refused") and a comment
    decision: str = ""
    comment: str = ""


def _take(text: str, names: list[str], value: str) -> tuple[str | None, str]:
    """Find "上级 88" (one of names, then a value) in text; the value, and the text without it."""
    alternatives = "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
    match = re.search(rf"(?:{alternatives})\s*[:：]?\s*{value}", text)
    return (match[1], text[:match.start()] + text[match.end():]) if match else (None, text)


def _entered(text: str) -> dict[str, object]:
    words = vocabulary()["rating"]
    superior, rest = _take(text, words["superior"], r"(\d+(?:\.\d+)?)\s*分?")
    answers = sorted(words["yes"] + words["no"], key=len, reverse=True)  # 没有 before 有
    honour, rest = _take(rest, words["honour"], f"({'|'.join(map(re.escape, answers))})")
    if rest.strip():
        raise Invalid("rating_help", problem="unclear", text=rest.strip())
    if superior is not None and not 0 <= float(superior) <= 100:
        raise Invalid("rating_help", problem="range", text=superior)
    entered: dict[str, object] = {}
    if superior is not None:
        entered["superior"] = float(superior)
    if honour is not None:
        entered["honoured"] = honour in words["yes"]
    return entered


def parse(args: str) -> Request:
    words, tokens = vocabulary()["rating"], args.translate(_NARROW).split()
    if not tokens:
        return Request("list")
    for action in ("confirm", "reopen"):
        if tokens[0] in words[action]:
            if len(tokens) != 2:
                raise Invalid("rating_help", problem="branch")
            return Request(action, tokens[1])
    if len(tokens) > 1 and tokens[1] in words["star"]:
        return _star(tokens[0], tokens[2:])
    return Request("show", tokens[0], _entered(" ".join(tokens[1:])))


def _star(branch: str, tokens: list[str]) -> Request:
    """支部 星 班子建设 确认 意见…: one star, one decision, the rest is the comment."""
    words = vocabulary()["rating"]
    decisions = {**dict.fromkeys(words["star_yes"], "confirmed"), **dict.fromkeys(words["star_no"], "refused")}
    if len(tokens) < 2 or tokens[1] not in decisions:
        raise Invalid("rating_help", problem="star")
    return Request("star", branch, star=tokens[0], decision=decisions[tokens[1]], comment=" ".join(tokens[2:]))
