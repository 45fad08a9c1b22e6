"""Pacing calls to WeChat Work: no API more often than the platform allows, and a pause for all of
them when it says we were too fast."""
from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Awaitable, Callable


class TransientError(Exception):
    """HTTP 5xx or 429, a timeout, a dropped connection, or no token to be had right now: try again later."""


class Throttled(TransientError):
    """The call's turn under the rate limit would come after its deadline (usually: a pause after 45009)."""


class RateLimiter:
    """Paces the calls of each API so that no `minute` holds more than `per_minute` of them.

    Calls leave one at a time, evenly spaced, in the order they asked: a burst would spend the
    minute's quota in its first seconds (and invite 45033, too many at once). The spacing is
    computed for a minute longer by MARGIN; a caller that overslept may catch up by CATCH_UP of that
    margin, so small delays do not lower the rate, and calls reaching the platform up to the rest of
    it (0.75 s in a real minute) later or earlier than they left still fit however it cuts its
    windows. The sustained rate is per_minute / (1 + MARGIN), 98.4 % of the quota.
    """

    MARGIN = 1 / 60  # of a minute: one second in sixty
    CATCH_UP = 1 / 4  # of the margin; the rest is left for jitter (network, our event loop, the platform's)

    def __init__(self, per_minute: int, minute: float = 60.0, *, rates: dict[str, int] | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        """`rates`: APIs paced at a rate of their own (message/send is not held to the base frequency)."""
        self.interval = minute * (1 + self.MARGIN) / per_minute
        self._intervals = {api: minute * (1 + self.MARGIN) / rate for api, rate in (rates or {}).items()}
        self._catch_up = minute * self.MARGIN * self.CATCH_UP
        self._clock, self._sleep = clock, sleep
        self._next: dict[str, float] = defaultdict(lambda: float("-inf"))  # api -> when its next call may leave
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._resume_at = float("-inf")

    async def acquire(self, api: str, deadline: float | None = None) -> None:
        """Wait for this API's next turn; Throttled if it would come after `deadline` (clock time)."""
        async with self._locks[api]:  # asyncio locks are fair: callers leave in the order they came
            while (ready := max(self._next[api], self._resume_at)) > self._clock():
                if deadline is not None and ready > deadline:
                    raise Throttled(f"{api}: next turn in {ready - self._clock():.1f}s")
                await self._sleep(ready - self._clock())  # and look again: a pause may have begun meanwhile
            self._next[api] = max(self._next[api], self._clock() - self._catch_up) + self._intervals.get(api, self.interval)

    def pause(self, seconds: float) -> None:
        """No call of any API leaves before `seconds` from now: the platform said we were too fast."""
        self._resume_at = max(self._resume_at, self._clock() + seconds)

    def paused_for(self) -> float:
        return max(0.0, self._resume_at - self._clock())


