"""Whether typed text says something, before it is kept or published: the checks shared by every
form's free-text step (bot/forms.py, the pledge's parts in bot/handlers/pledge.py) and the typed
vote's comment (bot/handlers/vote.py).

- No words: only emoji, punctuation or symbols ("😀👍", "。。。", "→→"). Digits are words here: a
  percentage is typed in a text step ("60"), and a number may well be a comment.
- A steering word where content is asked ("不变" with nothing to keep), or most likely one mistyped:
  "跳国" for 跳过, "跳过这一项", "取消了". A near miss is one character off (or a steering word with a
  few characters more), alike in more than a particle such as 了, and not a word of its own in
  jieba's dictionary: "不会" is a word, "跳国" is not.
"""
from __future__ import annotations

import logging
import unicodedata
from typing import Callable, Collection

import jieba

from bot.answers import Invalid
from bot.texts import vocabulary

PARTICLES = frozenset("了的啊吧啦呢吗呀嘛")  # sharing only these with a steering word is no likeness
SHORTEST_NEAR_MISS, LONGEST_NEAR_MISS = 2, 5  # characters: typos of steering words are short
LONGER_THAN_WORD = 3  # "跳过这一项": a steering word and at most this many characters more
jieba.setLogLevel(logging.WARNING)  # as in bot.nlp: its dictionary's loading is not news


def has_words(text: str) -> bool:
    """Whether the text has a letter (a Chinese character counts) or a digit: not only emoji,
    punctuation or symbols."""
    return any(unicodedata.category(c)[0] in "LN" for c in text)


def steering_word_in(text: str) -> str | None:
    """The steering word (跳过, 取消, 返回, 不变 … of [forms.words]) that this short answer is, or
    most likely mistypes; None for anything else."""
    bare = _bare(text)
    if not SHORTEST_NEAR_MISS <= len(bare) <= LONGEST_NEAR_MISS:
        return None
    words = [w for kind in vocabulary()["forms"]["words"].values() for w in kind]
    if bare in words:
        return bare
    near = [w for w in words if _near(bare, w)]
    return near[0] if near and not _dictionary_word(bare) else None


def check_answer(text: str, names: Callable[[], Collection[str]] = tuple) -> None:
    """Raise Invalid (a kind note, and the form waits) when a free-text answer says nothing. `names`
    (asked only for a near miss) are answers that stand whatever they look like: the roster's names,
    which a poll's "评议哪几位党员" takes (a member may well be called 保林)."""
    if not has_words(text):
        raise Invalid("content_no_words")
    word = steering_word_in(text)
    if word is not None and (word == _bare(text) or {text.strip(), _bare(text)}.isdisjoint(names())):
        raise Invalid("content_steering_word", word=word, exact=word == _bare(text))


def _bare(text: str) -> str:
    """The letters and digits alone: "跳过！" is 跳过."""
    return "".join(c for c in text if unicodedata.category(c)[0] in "LN")


def _near(typed: str, word: str) -> bool:
    if typed.startswith(word) and len(typed) - len(word) <= LONGER_THAN_WORD:
        return True
    return _one_apart(typed, word) and bool((set(typed) & set(word)) - PARTICLES)


def _one_apart(a: str, b: str) -> bool:
    """Levenshtein distance exactly 1: one character replaced, added or left out."""
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) == 1
    shorter, longer = sorted((a, b), key=len)
    if len(longer) - len(shorter) != 1:
        return False
    return any(longer[:i] + longer[i + 1:] == shorter for i in range(len(longer)))


def _dictionary_word(text: str) -> bool:
    """A word jieba knows by itself (its dictionary also lists every word's prefixes, with frequency 0)."""
    jieba.initialize()  # once per process, about a second; bot.nlp starts it in the background at start-up
    return jieba.dt.FREQ.get(text, 0) > 0
