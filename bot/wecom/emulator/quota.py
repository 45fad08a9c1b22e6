"""Per-API call quotas, as WeChat Work documents them (频率限制, 90312): "每企业调用单个cgi/api不可超过
1万次/分，15万次/小时", and "按分钟拦截则被屏蔽60秒 … 按小时拦截则被屏蔽60分钟": once an API is over its
minute's quota, every call of it is refused with 45009 (api freq out of limit) for the next minute;
over its hour's quota, for the next hour. The documentation names no separate errcode for the hour
(90313 lists 45009 接口调用超过限制 and 45011 for other products' minute quotas), so both answer 45009.

The window slides (any 60 seconds, not calendar minutes): a client that never exceeds it also fits
calendar minutes, so it is the stricter reading. Every call that reaches this check counts, whatever
its answer, except those refused here. Message sending is exempt from this base frequency
("发消息频率不计入基础频率", 90454) and limited per member instead (30 a minute, 1,000 an hour, in
messages.py): message/send is counted here only when a quota is set for it by name (benchmarks and
tests that hold the bot to a pace).
Benchmarks shorten the minute (``minute``) and lower the quotas to run in seconds.
"""
from __future__ import annotations

from collections import defaultdict, deque
from typing import Iterable

DEFAULT_PER_MINUTE = 10_000  # the documented base frequency, per corp and API
DEFAULT_PER_HOUR = 150_000
LIMIT_ERRCODE = 45009


class ApiQuota:
    def __init__(self, per_minute: dict[str, int] | None = None, *, default: int = DEFAULT_PER_MINUTE,
                 per_hour: int = DEFAULT_PER_HOUR, minute: float = 60.0):
        self.per_minute, self.default, self.minute = dict(per_minute or {}), default, minute
        self.per_hour, self.hour = per_hour, 60 * minute
        self.exempt = {"message/send"} - set(self.per_minute)
        self.limited: dict[str, int] = defaultdict(int)  # api -> calls refused with 45009
        self._minute: dict[str, deque[float]] = defaultdict(deque)  # api -> times of the counted calls
        self._hour: dict[str, deque[float]] = defaultdict(deque)  # the same, for the last hour
        self._blocked_until: dict[str, float] = {}

    def refuse(self, api: str, now: float) -> bool:
        """Count a call of `api` at `now`; True if it must be refused."""
        if api in self.exempt:
            return False
        if now < self._blocked_until.get(api, 0.0) or self._over(api, now):
            self.limited[api] += 1
            return True
        self._minute[api].append(now)
        self._hour[api].append(now)
        return False

    def _over(self, api: str, now: float) -> bool:
        """Over the hour's or the minute's quota: then blocked for an hour or a minute from now."""
        for recent, window, most in ((self._hour[api], self.hour, self.per_hour),
                                     (self._minute[api], self.minute, self.per_minute.get(api, self.default))):
            while recent and recent[0] <= now - window:
                recent.popleft()
            if len(recent) >= most:
                self._blocked_until[api] = now + window
                return True
        return False


def most_in_window(times: Iterable[float], window: float) -> int:
    """The most of `times` in any `window` seconds, counted as ApiQuota counts: a sliding window."""
    times, most, first = sorted(times), 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most
