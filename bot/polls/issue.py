"""Issuing a poll: the Poll row, its eligible voters, and one vote card per voter (sent by
message/send in batches of 1000 with one task_id per batch; group chats cannot carry cards)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.campaigns import rules_of
from bot.texts import render, vocabulary
from bot.wecom import messages
from storage import audit, bot_state, campaigns, outbox
from storage import polls as store
from storage.models import Branch, CampaignRecord, CampaignTask, Person, Poll

TOUSER_LIMIT = messages.TOUSER_LIMIT
# 90236, vote_interaction: main_title.title 建议不超过36个字, main_title.desc 建议不超过44个字 (the
# emulator refuses more, so nothing relies on the platform cutting it).
CARD_TITLE_CHARS, CARD_DESC_CHARS = 36, 44
TASK_PREFIX = "poll-"
# poll-<installation>-<poll>-<batch>; cards sent before installations had ids say poll-<poll>-<batch>.
# Bounded digits: a forged TaskId of forty digits is not a poll (and int() of it overflows SQL integers).
_TASK_ID = re.compile(r"poll-(?:(?P<installation>[0-9a-f]{12})-)?(?P<poll>[0-9]{1,15})-[0-9]{1,6}")


@dataclass(frozen=True)
class PollSpec:
    branch: Branch
    rates: str  # branch | leadership | members
    scale: str  # a key of rules.scales
    voters: str  # members | masses | both
    deadline: datetime  # local
    description: str = ""
    subject_person: Person | None = None  # 民主评议党员: the member rated


def subject_words(spec: PollSpec) -> str:
    if spec.subject_person is not None:
        return spec.subject_person.name
    label = vocabulary()["poll"]["rates"]["leadership"] if spec.rates == "leadership" else ""
    return f"{spec.branch.name}{label}"


def issue(session: Session, *, spec: PollSpec, issuer: Person, tz: str, key: str, now: float,
          found: tuple[CampaignRecord, CampaignTask | None] | None) -> tuple[Poll, int]:
    """Create the poll and queue its cards; (the poll, how many may vote). `found` is its campaign and
    the one task it fulfils for its branch (none: an ad-hoc poll under the campaign's rules)."""
    record, task = found if found else (None, None)
    rules = rules_of(record)
    scale = rules.scales[spec.scale]
    exclude = spec.subject_person.userid if spec.subject_person else None
    voters = store.eligible(session, branch_id=spec.branch.id, voters=spec.voters, exclude=exclude)
    poll = store.create(session, voters=voters, poll=Poll(
        campaign_id=record.id if record else None, task_id=task.id if task else None, branch_id=spec.branch.id,
        issuer=issuer.userid, rates=spec.rates, subject=subject_words(spec), subject_userid=exclude,
        description=spec.description, scale=spec.scale, options=list(scale.options),
        satisfied=list(scale.satisfied), voters=spec.voters, min_ballots=rules.min_ballots,
        deadline=spec.deadline.replace(tzinfo=ZoneInfo(tz)).timestamp(), created_at=now))
    send_cards(session, poll=poll, userids=voters, deadline=spec.deadline)
    audit.append(session, actor=issuer.userid, action="poll.issued", subject=f"poll:{poll.id}", details={
        "branch": spec.branch.name, "rates": poll.rates, "voters": poll.voters, "eligible": len(voters)})
    if task is not None:
        campaigns.mark_done(session, task_id=task.id, subject=f"branch:{spec.branch.id}")
    if spec.branch.chat_id:
        messages.to_chat(session, key=f"{key}:announce:{poll.id}", chat_id=spec.branch.chat_id,
                         text=render("poll_announced", poll=poll, deadline=spec.deadline, eligible=len(voters),
                                     voters=vocabulary()["poll"]["voters"][spec.voters]), markdown=True)
    return poll, len(voters)


def card(poll: Poll, deadline: datetime, task_id: str) -> dict:
    words = vocabulary()["poll"]
    return {"card_type": "vote_interaction", "task_id": task_id,
            "source": {"desc": render("poll_card_source")},
            "main_title": {"title": render("poll_card_title", poll=poll)[:CARD_TITLE_CHARS],
                           "desc": card_desc(poll, deadline)},
            "checkbox": {"question_key": "choice", "mode": 0,
                         "option_list": [{"id": str(n), "text": o} for n, o in enumerate(poll.options, 1)]},
            "submit_button": {"text": words["submit_button"], "key": f"vote-{poll.id}"}}


def card_desc(poll: Poll, deadline: datetime) -> str:
    """The description, the deadline and anonymity within the card's 44 characters: the hint to vote by
    number too where there is room; a description too long for the rest is shortened, marked with "…"."""
    def desc(description: str, hint: bool) -> str:
        return render("poll_card_desc", poll=poll, deadline=deadline, description=description, hint=hint)

    text = next((t for hint in (True, False) if len(t := desc(poll.description, hint)) <= CARD_DESC_CHARS), None)
    if text is not None:
        return text
    over = len(desc(poll.description, False)) - CARD_DESC_CHARS
    return desc(poll.description[:max(0, len(poll.description) - over - 1)] + vocabulary()["poll"]["cut"], False)


def card_key(poll_id: int, batch_no: int) -> str:
    """The outbox key of a poll's batch of cards: the close finds the batch's response_code by it."""
    return f"poll:{poll_id}:card:{batch_no}"


def send_cards(session: Session, *, poll: Poll, userids: list[str], deadline: datetime) -> None:
    installation = bot_state.installation_id(session)
    for batch_no, start in enumerate(range(0, len(userids), TOUSER_LIMIT)):
        batch = userids[start:start + TOUSER_LIMIT]
        task_id = f"{TASK_PREFIX}{installation}-{poll.id}-{batch_no}"
        outbox.enqueue(session, key=card_key(poll.id, batch_no), endpoint="message/send",
                       payload={"touser": "|".join(batch), "msgtype": "template_card",
                                "template_card": card(poll, deadline, task_id)}, recipients=batch)


def poll_id_of(session: Session, task_id: str) -> int | None:
    """The poll a card's task_id belongs to ("poll-0a1b2c3d4e5f-12-0" → 12), or None when it is malformed
    or another installation's (the same app's callbacks all reach one URL)."""
    match = _TASK_ID.fullmatch(task_id)
    if match is None:
        return None
    if match["installation"] and match["installation"] != bot_state.installation_id(session):
        return None
    return int(match["poll"])
