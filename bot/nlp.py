"""Guessing which command a free-text message meant, with jieba.

jieba's dictionary takes about a second to load: `warm_up()` loads it in a background thread at
start-up, so neither start-up nor the first request pays for it on the event loop.
"""
from __future__ import annotations

import logging
import threading
from functools import cache
from typing import Mapping, Sequence

import jieba

jieba.setLogLevel(logging.WARNING)
_ready = threading.Lock()


@cache
def _initialised(words: tuple[str, ...]) -> bool:
    with _ready:
        jieba.initialize()
        for word in words:
            jieba.add_word(word, freq=20000)
    return True


def warm_up(words: Sequence[str]) -> threading.Thread:
    thread = threading.Thread(target=_initialised, args=(tuple(sorted(words)),), name="jieba-warm-up", daemon=True)
    thread.start()
    return thread


def guess_command(text: str, keywords: Mapping[str, Sequence[str]]) -> str | None:
    """The command whose keywords the message's words hit most often; None when nothing fits."""
    _initialised(tuple(sorted({w for words in keywords.values() for w in words})))
    tokens = [t for t in jieba.lcut(text) if t.strip()]
    best, best_score = None, 0
    for command, words in keywords.items():
        score = sum(1 for t in tokens if t in words) or sum(1 for w in words if len(w) > 1 and w in text) * 0.5
        if score > best_score:
            best, best_score = command, score
    return best
