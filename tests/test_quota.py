"""Per-API quotas: the emulator refuses calls past them as WeChat Work does (45009, then a minute's
block), and the sender paces its calls to stay under the configured rate, backs off as a whole when
the platform says "too fast", and still keeps each person under 30 messages a minute."""
from __future__ import annotations

import time
from dataclasses import replace

import aiohttp
import pytest
from sqlalchemy import select
from sqlmodel import Session

from bot.config import ConfigError, load_settings
from bot.wecom import messages
from bot.wecom.api import WeComClient
from bot.wecom.ratelimit import RateLimiter, Throttled
from bot.wecom.emulator import Fault
from bot.wecom.emulator.quota import ApiQuota, most_in_window
from storage import outbox
from storage.db import transaction
from storage.models import Delivery, Outbox, OutboxStatus
from tests.test_emulator import Api
from tests.test_sender import drain, rows


def queue_one_each(engine, people: list[str], text: str = "本周待办") -> None:
    with transaction(engine) as session:
        messages.to_each(session, [(f"digest:{p}", p, f"{text}：{p}") for p in people])


def spy_pauses(pauses: list[float]):
    """A client hook for drain(): every pause the client asks of its limiter is appended to `pauses`."""
    def hook(client: WeComClient) -> None:
        pause = client.limiter.pause
        client.limiter.pause = lambda seconds: (pauses.append(seconds), pause(seconds))
    return hook


# -- the emulator ------------------------------------------------------------------------------

async def test_emulator_answers_45009_past_the_quota_and_blocks_the_api(emulator, emulator_url):
    emulator.quota = ApiQuota({"message/send": 3})
    async with aiohttp.ClientSession() as http:
        api = await Api.connect(http, emulator_url)
        answers = [await api.send(touser="li", msgtype="text", text={"content": "x"}) for _ in range(5)]
        other = await api.post("appchat/get", {"chatid": "none"})
    assert [a["errcode"] for a in answers] == [0, 0, 0, 45009, 45009]
    assert answers[3]["errmsg"] == "api freq out of limit"
    assert other["errcode"] == 86003  # the quota is per API: others still answer
    assert emulator.limited == {"message/send": 2} and len(emulator.texts("li")) == 3
    assert len(emulator.times("message/send")) == 5


def test_quota_window_slides_and_a_refusal_blocks_for_a_minute():
    quota = ApiQuota({"message/send": 3}, minute=60.0)
    assert [quota.refuse("message/send", t) for t in (0.0, 1.0, 2.0)] == [False] * 3
    assert quota.refuse("message/send", 30.0)  # a fourth within the minute: refused, and blocked until 90
    assert quota.refuse("message/send", 61.0)  # the window has room again, but the block holds
    assert not quota.refuse("message/send", 90.5)
    assert not quota.refuse("user/get", 30.0)  # each API has its own count
    assert quota.limited == {"message/send": 2}


def test_an_api_gets_150000_calls_an_hour_then_is_blocked_for_an_hour():
    """90312: 每企业调用单个cgi/api不可超过1万次/分，15万次/小时; 按小时拦截则被屏蔽60分钟."""
    quota = ApiQuota()
    spacing = 60.0 / 9_999  # just under the minute's quota, for a quarter of an hour
    assert not any(quota.refuse("user/get", n * spacing) for n in range(150_000))
    full = 150_000 * spacing
    assert quota.refuse("user/get", full)
    assert quota.refuse("user/get", full + 3599)  # blocked for the hour, not the minute
    assert not quota.refuse("appchat/send", full)  # each API has its own hour
    assert not quota.refuse("user/get", full + 3601)


def test_message_sending_is_not_held_to_the_base_frequency_unless_a_quota_names_it():
    """90454: 发消息频率不计入基础频率 (it is limited per member instead)."""
    assert not any(ApiQuota().refuse("message/send", n / 1000) for n in range(20_000))  # 20,000 in 20 s
    named = ApiQuota({"message/send": 3})
    assert [named.refuse("message/send", t) for t in (0.0, 1.0, 2.0, 3.0)] == [False, False, False, True]


async def test_the_limiter_paces_message_sending_at_its_own_rate():
    clock = FakeClock()
    limiter = RateLimiter(600, 60.0, rates={"message/send": 1200}, clock=clock, sleep=clock.sleep)
    for _ in range(11):
        await limiter.acquire("message/send")
    sending = clock.now
    for _ in range(11):
        await limiter.acquire("user/get")
    gaps = lambda rate: 10 * 60 * (1 + RateLimiter.MARGIN) / rate - 60 * RateLimiter.MARGIN * RateLimiter.CATCH_UP  # noqa: E731
    assert sending == pytest.approx(gaps(1200))  # ten gaps at 1,200 a minute (less the first call's catch-up)
    assert clock.now - sending == pytest.approx(gaps(600))  # other APIs at the base rate


# -- the limiter ---------------------------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_limiter_spaces_calls_so_no_minute_holds_more_than_the_quota():
    clock = FakeClock()
    limiter = RateLimiter(6, 60.0, clock=clock, sleep=clock.sleep)
    released = []
    for _ in range(20):
        await limiter.acquire("message/send")
        released.append(clock.now)
    jitter = 0.7  # calls arriving up to this much later or earlier than they left still fit the minute
    assert most_in_window(released, 60.0 + jitter) <= 6
    assert released[-1] - released[1] == pytest.approx(18 * 61 / 6)  # and no slower than that: 6 per 61 s
    await limiter.acquire("user/get")
    assert clock.now == released[-1]  # another API is not held up


async def test_limiter_pause_holds_every_api_and_a_deadline_gives_up():
    clock = FakeClock()
    limiter = RateLimiter(600, 60.0, clock=clock, sleep=clock.sleep)
    limiter.pause(30.0)
    with pytest.raises(Throttled):
        await limiter.acquire("message/send", deadline=clock.now + 5.0)
    assert clock.now == 0.0  # gave up at once instead of waiting past the deadline
    await limiter.acquire("appchat/send")
    assert clock.now == 30.0 and limiter.paused_for() == 0.0


# -- the sender against the emulator -----------------------------------------------------------

async def test_sender_never_exceeds_its_configured_rate_and_delivers_everything(settings, engine, emulator):
    emulator.quota = ApiQuota({"message/send": 10}, minute=2.0)  # a "minute" of 2 s keeps the test short
    people = [f"p{n:02d}" for n in range(25)]
    queue_one_each(engine, people)
    await drain(replace(settings, api_rate_per_minute=10, message_rate_per_minute=10, api_minute=2.0), engine,
                until=20.0)
    assert all(emulator.texts(p) == [f"本周待办：{p}"] for p in people)
    assert emulator.limited == {}  # never refused
    assert emulator.busiest("message/send", 2.0) <= 10


async def test_a_45009_retries_the_row_and_pauses_the_whole_sender(settings, engine, emulator):
    emulator.fail("message/send", Fault(errcode=45009))
    pauses: list[float] = []
    people = [f"p{n}" for n in range(10)]
    queue_one_each(engine, people)
    await drain(settings, engine, client_hook=spy_pauses(pauses))
    assert all(len(emulator.texts(p)) == 1 for p in people)
    assert pauses == [settings.retry_base]  # one refusal, one pause for every call
    assert emulator.count("message/send") == 11  # only the refused call went again
    refused = [r for r in rows(engine) if r.attempts == 2]
    assert len(refused) == 1 and refused[0].last_error.startswith("45009") and refused[0].status == OutboxStatus.sent


async def test_limit_answers_in_a_row_pause_longer_and_an_ok_resets(settings, engine, emulator):
    emulator.fail("message/send", *[Fault(errcode=45009)] * 3)
    pauses: list[float] = []
    queue_one_each(engine, ["li"])
    await drain(settings, engine, client_hook=spy_pauses(pauses))
    base, cap = settings.retry_base, settings.retry_cap
    assert pauses == [base, 2 * base, min(4 * base, cap)]
    emulator.fail("message/send", Fault(errcode=45033))
    queue_one_each(engine, ["zhang"])
    await drain(settings, engine, client_hook=spy_pauses(pauses))
    assert pauses[-1] == base and emulator.texts("zhang")  # a new client, and an ok between: from the start


async def test_a_sender_faster_than_the_platform_recovers_and_loses_nothing(settings, engine, emulator):
    emulator.quota = ApiQuota({"message/send": 5}, minute=1.0)  # misconfigured: the platform allows less
    people = [f"p{n:02d}" for n in range(12)]
    queue_one_each(engine, people)
    await drain(settings, engine, until=20.0)
    assert emulator.limited["message/send"] > 0
    assert all(len(emulator.texts(p)) == 1 for p in people) and {r.status for r in rows(engine)} == {OutboxStatus.sent}


# -- the per-person limit with calls waiting their turn ----------------------------------------

def test_reservations_stamped_when_the_call_returned_keep_a_late_send_within_the_minute(engine):
    """30 messages claimed at t0 but sent at t0+4 (they waited their turn): the 31st may not be claimed
    at t0+61, which the claim times alone would allow, or it could land within 60 s of the 30th."""
    with transaction(engine) as session:
        for n in range(31):
            outbox.enqueue(session, key=f"k{n}", endpoint="message/send", payload={"touser": "li"}, recipients=["li"])
    t0 = time.time()
    with transaction(engine) as session:
        first = outbox.claim_due(session, now=t0, limit=31)
        assert len(first) == 30  # the 31st is already held back by the per-person limit
        for claimed in first:
            outbox.stamp_deliveries(session, claimed, now=t0 + 4)
            outbox.mark_sent(session, row_id=claimed.id, now=t0 + 4)
    with transaction(engine) as session:
        session.execute(Outbox.__table__.update().values(next_attempt_at=t0))  # due again, to ask the limit
        assert outbox.claim_due(session, now=t0 + 61) == []
        later = outbox.claim_due(session, now=t0 + 64.5)
    assert len(later) == 1
    with Session(engine) as session:
        assert sorted(set(session.scalars(select(Delivery.sent_at)))) == [t0 + 4, t0 + 64.5]


def test_rate_setting_is_read_and_checked():
    assert load_settings({"XIANFENG_API_RATE_PER_MINUTE": "1200"}).api_rate_per_minute == 1200
    assert load_settings({}).api_rate_per_minute == 10_000
    with pytest.raises(ConfigError) as bad:
        load_settings({"XIANFENG_API_RATE_PER_MINUTE": "0"})
    assert bad.value.name == "XIANFENG_API_RATE_PER_MINUTE"
