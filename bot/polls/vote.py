"""A vote: the poll checked (open, in time, a real option), the voter marked in poll_voter and the
choice sealed into ballot, the thanks, and the card turned into "已提交". A vote too late is told that
the poll ended and where its result is, and the card tapped is closed.

Anonymity: the voter's mark and the ballot are written in one transaction, with nothing joining the
two but that transaction (PostgreSQL stamps both rows with its id), which is why the ballot is sealed
under the poll's key (storage/sealing.py). No reply, log line or outbox row carries the choice, and
the thanks are the same with or without a comment.
"""
from __future__ import annotations

import json

from bot.campaigns import rules_of
from bot.polls import rules as poll_rules
from bot.routing import Context
from bot.texts import render, vocabulary
from bot.wecom import messages
from storage import outbox
from storage import polls as store
from storage.models import Branch, CampaignRecord, Poll
from storage.sealing import CARD_SIZE, keystore


def cast(ctx: Context, poll_id: int, number: int | None, comment: str | None) -> None:
    """number: the option chosen, None for a card submitted with no single option (after the end the
    end is what is said)."""
    poll = store.lock(ctx.session, poll_id=poll_id, share=True)
    if poll is None:
        ctx.reply("vote_no_poll")
    elif poll.status != "open" or ctx.update.create_time > poll.deadline:
        _late(ctx, poll)
    elif number is None:
        ctx.reply("vote_pick_one")
    elif not 1 <= number <= len(poll.options):
        ctx.reply("vote_bad_option", poll=poll)
    else:
        _record(ctx, poll, poll.options[number - 1], comment)


def _record(ctx: Context, poll: Poll, choice: str, comment: str | None) -> None:
    claimed = store.claim_vote(ctx.session, poll_id=poll.id, userid=ctx.person.userid)
    if claimed != "ok":
        ctx.reply("vote_ineligible" if claimed == "ineligible" else "vote_already", poll=poll)
        return
    apart = poll_rules.counts_apart(rules_of(ctx.session.get(CampaignRecord, poll.campaign_id) if poll.campaign_id
                                        else None), voters=poll.voters, rates=poll.rates)
    store.add_ballot(ctx.session, poll=poll, choice=choice, comment=comment,
                     voter_group=poll_rules.group_of(ctx.person.role) if apart else None)
    ctx.reply("vote_thanks", poll=poll)
    _card_done(ctx, poll)


def _card_done(ctx: Context, poll: Poll) -> None:
    """Turn this person's card into "已提交". Every vote queues the same row, sealed under the poll's
    key: a tap's holds the call, a typed vote's nothing (the sender then skips it). A row only taps
    left would tell, by its transaction, who tapped and so who could not have written the comments
    published later."""
    submitted = vocabulary()["poll"]["submitted"]
    if poll.seal_key is None:  # a poll open when sealing came (0021): as before
        _mark_card(ctx, "card-done", submitted)
        return
    call = {"userids": [ctx.person.userid], "response_code": ctx.update.response_code,
            "button": {"replace_name": submitted}} if ctx.update.response_code else {}
    sealed = keystore().seal(poll.seal_key, json.dumps(call, ensure_ascii=False).encode(), CARD_SIZE)
    outbox.enqueue(ctx.session, key=f"card-done:{ctx.update.dedup_key}", endpoint="message/update_template_card",
                   payload={"sealed": sealed}, recipients=[], channel=None, priority=outbox.REPLY)


def _late(ctx: Context, poll: Poll) -> None:
    """A vote after the deadline: when the poll ended, what became of the result and where it is, and
    the card tapped (one the close could not reach: sent more than 72 hours before) closed."""
    branch = ctx.session.get(Branch, poll.branch_id)
    chat = render("chat_name", branch=branch.name) if branch is not None and branch.chat_id else None
    ctx.reply("vote_late", poll=poll, chat=chat)
    _mark_card(ctx, "card-ended", vocabulary()["poll"]["ended"])


def _mark_card(ctx: Context, kind: str, text: str) -> None:
    """Turn the tapped card's button into `text` (the click's response_code updates this person's copy once)."""
    if ctx.update.response_code:
        messages.replace_card_button(ctx.session, key=f"{kind}:{ctx.update.dedup_key}", text=text,
                                     response_code=ctx.update.response_code, userids=[ctx.person.userid],
                                     reply_to=ctx.person.userid)
