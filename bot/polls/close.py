"""Closing a poll, exactly once (the row is locked and its status checked in the closing
transaction, and every message it queues has a key of its own): count, store the result, post it
with its chart to the branch group, close the cards of those who did not vote, and apply the
campaign's rules: only the consequences its file defines (below its line a 整改方案 task for the
branch, or for the member a 民主评议党员 rated, where it sets rectify_days), its defaults named as such."""
from __future__ import annotations

import logging
import math
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.campaigns import Rules, rules_of
from bot.polls import issue
from bot.polls import rules as poll_rules
from bot.texts import render, vocabulary
from bot.wecom import messages
from storage import audit, outbox
from storage import polls as store
from storage.models import Branch, CampaignRecord, CampaignTask, Poll
from storage.sealing import KeyGone

log = logging.getLogger(__name__)


def close_poll(session: Session, *, poll_id: int, tz: str, now: float | None = None, actor: str = "system",
               ) -> Poll | None:
    """Close the poll if it is still open; the closed poll, or None if someone else closed it first.
    actor: who closed it (a userid; "system" when its deadline did), for the audit log."""
    poll = store.lock(session, poll_id=poll_id, share=False)
    if poll is None or poll.status != "open":
        return None
    record = session.get(CampaignRecord, poll.campaign_id) if poll.campaign_id else None
    rules = rules_of(record)
    try:
        opened = store.open_ballots(session, poll=poll)
    except KeyGone:  # nothing written yet: the poll stays open, and is tried again every minute
        log.error("poll %d cannot be counted: its key %s is not in the key directory (XIANFENG_KEY_DIR) or not "
                  "under this XIANFENG_SEAL_KEY; put the directory and the key back and it closes", poll.id, poll.seal_key)
        return None
    result = _result(session, poll, rules, opened, planned=record is not None)
    poll.status, poll.closed_at, poll.result = "closed", now or time.time(), result
    session.add(poll)
    audit.append(session, actor=actor, action="poll.closed", subject=f"poll:{poll.id}",  # turnout, never a vote
                 details={"voted": result["voted"], "eligible": result["eligible"], "published": result["published"]})
    store.discard_ballots(session, poll_id=poll.id)
    store.erase_after_close(session, key=poll.seal_key)
    closed_on = datetime.fromtimestamp(poll.closed_at, ZoneInfo(tz)).date()
    rated = poll.subject_userid if poll.rates == "members" else None
    if "rectify" in result["consequences"] and record is not None and (poll.rates != "members" or rated):
        task = _rectify_task(session, poll=poll, record=record, today=closed_on, days=rules.rectify_days, userid=rated)
        if rated:
            messages.to_person(session, key=f"poll:{poll.id}:rectify", userid=rated,
                               text=render("poll_rectify_member", poll=poll, task=task, r=result))
    _publish(session, poll)
    _close_cards(session, poll)
    return poll


def _result(session: Session, poll: Poll, rules: Rules, opened: store.Opened, *, planned: bool) -> dict:
    """The stored result, with the campaign lines that applied (the file may change later); a poll
    outside any campaign (not planned) has no plan to leave anything open."""
    counted = opened.counts()
    result = poll_rules.result(counts={o: counted.get(o, 0) for o in poll.options}, satisfied=poll.satisfied,
                          min_ballots=poll.min_ballots, comments=opened.comments,
                          **store.turnout(session, poll_id=poll.id))
    if poll_rules.counts_apart(rules, voters=poll.voters, rates=poll.rates):
        result["groups"] = poll_rules.group_results(opened.group_counts(), poll.options,
                                               poll.satisfied, poll.min_ballots) if result["published"] else {}
    masses = (result.get("groups") or {}).get("masses") or {}
    masses_rate = result["rate"] if poll.voters == "masses" else masses.get("rate")
    result["consequences"] = poll_rules.consequences(result["rate"], rules, masses_rate)
    result["formula"] = render("poll_formula", r=result) if result["published"] else ""
    result["rules"] = {"lose": rules.lose_eligibility_below, "star": rules.star_satisfaction_min,
                       "red_flag": rules.red_flag_min, "rectify_days": rules.rectify_days,
                       "red_flag_voters": rules.red_flag_voters}
    result["defaults"] = _applied_defaults(poll, rules, result) if planned else []
    return result


def _applied_defaults(poll: Poll, rules: Rules, result: dict) -> list[list]:
    """[rule, value] for each rule this result applies that the plan leaves open (方案未规定，本活动默认…)."""
    # the default 满意度 scale counts satisfied_options; any other scale counts its own `satisfied`
    by = "satisfied_options" if poll.scale == "满意度" and rules.is_default("scales") else "scales"
    lines = [(name, getattr(rules, name)) for name in ("lose_eligibility_below", "star_satisfaction_min", "red_flag_min")
             if getattr(rules, name) is not None]
    applied = [(by, poll.satisfied), ("min_ballots", poll.min_ballots), *lines] if result["published"] \
        else [("min_ballots", poll.min_ballots)]
    if "rectify" in result["consequences"]:
        applied.append(("rectify_days", rules.rectify_days))
    return [[name, value] for name, value in applied if rules.is_default(name)]


def _publish(session: Session, poll: Poll) -> None:
    branch = session.get(Branch, poll.branch_id)
    text = render("poll_result", poll=poll, r=poll.result, voters=vocabulary()["poll"]["voters"][poll.voters])
    if branch is not None and branch.chat_id:
        messages.to_chat(session, key=f"poll:{poll.id}:result", chat_id=branch.chat_id, text=text, markdown=True)
        if poll.result["published"]:
            messages.image_to_chat(session, key=f"poll:{poll.id}:chart", chat_id=branch.chat_id,
                                   png=chart(poll), filename=f"poll-{poll.id}.png")
    messages.to_person(session, key=f"poll:{poll.id}:issuer", userid=poll.issuer,
                       text=render("poll_closed_issuer", poll=poll, r=poll.result, posted=bool(branch and branch.chat_id)))


# The card update waits its turn in the outbox; a code that might expire on the way is not used (the
# platform would refuse it, and the row would be a dead letter for the operator to wonder about).
CARD_UPDATE_MARGIN = 600.0


def _close_cards(session: Session, poll: Poll) -> None:
    """The cards of those who did not vote say the poll ended (issue 19: they stayed open and a tap was
    refused): one update per batch of cards, with the response_code its send returned, while that is
    valid (messages.RESPONSE_CODE_SECONDS from the send). A batch not sent, or sent longer ago, is left
    as it is: a tap on such a card is answered kindly and closes that one card (vote.py). Voters' cards
    say 已提交 already, or (voted by number) stay as they are: one code, one text for all it updates."""
    missing = {p.userid for p in store.not_voted(session, poll_id=poll.id)}
    batches = math.ceil(poll.result["eligible"] / issue.TOUSER_LIMIT)
    for row in outbox.sent_rows(session, keys=[issue.card_key(poll.id, n) for n in range(batches)]):
        code = (row.result or {}).get("response_code")
        people = [u for u in row.recipients if u in missing]
        if code and people and row.sent_at + messages.RESPONSE_CODE_SECONDS - CARD_UPDATE_MARGIN > poll.closed_at:
            messages.replace_card_button(session, key=f"{row.idem_key}:ended", response_code=code, userids=people,
                                         text=vocabulary()["poll"]["ended"])


def chart(poll: Poll) -> bytes:
    from bot.charts import bar_chart  # Pillow and the font load only when a result is drawn

    r = poll.result
    return bar_chart(title=render("poll_chart_title", poll=poll), labels=list(poll.options),
                     counts=[r["counts"][o] for o in poll.options], highlight=set(poll.satisfied),
                     footer=render("poll_formula", r=r, result=True))


def _rectify_task(session: Session, *, poll: Poll, record: CampaignRecord, today: date, days: int,
                  userid: str | None = None) -> CampaignTask:
    """Below the line a 整改方案 is owed, due `days` (rules.rectify_days) after the result: by the
    branch (/承诺 支部 writes it), or, when the poll rated one member (民主评议党员), by that member
    alone (/承诺)."""
    due = max(min(today + timedelta(days=days), record.end), today)
    phase = next((i for i, p in enumerate(record.content["phases"]) if date.fromisoformat(p["start"]) <= today
                  <= date.fromisoformat(p["end"])), len(record.content["phases"]) - 1)
    task = CampaignTask(campaign_id=record.id, key=f"rectify-poll-{poll.id}", phase_index=phase,
                        title=render("poll_rectify_title", poll=poll), kind="pledge",
                        audience="members" if userid else "branches", due=due, remind_days=[3, 1],
                        branch_id=poll.branch_id, userid=userid)
    session.add(task)
    return task
