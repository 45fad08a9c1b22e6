"""Per-API call quotas, as WeChat Work documents them (频率限制): "每企业调用单个cgi/api不可超过1万次/分",
and "按分钟拦截则被屏蔽60秒": once an API is over its minute's quota, every call of it is refused with
45009 (api freq out of limit) for the next minute.

The window slides (any 60 seconds, not calendar minutes): a client that never exceeds it also fits
calendar minutes, so it is the stricter reading. Every call that reaches this check counts, whatever
its answer, except those refused here. The documentation exempts message sending from this base
frequency and limits it per recipient instead (30 a minute per member, in messages.py); the emulator
still counts message/send like any API, so the bot is held to a per-API rate everywhere.
Benchmarks shorten the minute (``minute``) and lower the quotas to run in seconds.
"""
from __future__ import annotations

from collections import defaultdict, deque
from typing import Iterable

DEFAULT_PER_MINUTE = 10_000  # the documented base frequency, per corp and API
LIMIT_ERRCODE = 45009


class ApiQuota:
    def __init__(self, per_minute: dict[str, int] | None = None, *, default: int = DEFAULT_PER_MINUTE,
                 minute: float = 60.0):
        self.per_minute, self.default, self.minute = dict(per_minute or {}), default, minute
        self.limited: dict[str, int] = defaultdict(int)  # api -> calls refused with 45009
        self._recent: dict[str, deque[float]] = defaultdict(deque)  # api -> times of the counted calls
        self._blocked_until: dict[str, float] = {}

    def refuse(self, api: str, now: float) -> bool:
        """Count a call of `api` at `now`; True if it must be refused."""
        if now < self._blocked_until.get(api, 0.0) or self._over(api, now):
            self.limited[api] += 1
            return True
        self._recent[api].append(now)
        return False

    def _over(self, api: str, now: float) -> bool:
        recent = self._recent[api]
        while recent and recent[0] <= now - self.minute:
            recent.popleft()
        if len(recent) < self.per_minute.get(api, self.default):
            return False
        self._blocked_until[api] = now + self.minute
        return True


def most_in_window(times: Iterable[float], window: float) -> int:
    """The most of `times` in any `window` seconds, counted as ApiQuota counts: a sliding window."""
    times, most, first = sorted(times), 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most
