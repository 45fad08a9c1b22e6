"""A vote: the poll checked (open, in time, a real option), the voter marked in poll_voter and the
choice sealed into ballot, the thanks, and the card turned into "已提交".

Anonymity: the voter's mark and the ballot are written in one transaction, with nothing joining the
two but that transaction (PostgreSQL stamps both rows with its id), which is why the ballot is sealed
under the poll's key (storage/sealing.py). No reply, log line or outbox row carries the choice, and
the thanks are the same with or without a comment.
"""
from __future__ import annotations

import json

from sqlmodel import Session

from bot.campaigns import rules_of
from bot.polls import rules as poll_rules
from bot.routing import Context
from bot.texts import vocabulary
from bot.wecom.updates import Update
from storage import outbox
from storage import polls as store
from storage.models import CampaignRecord, Poll
from storage.sealing import CARD_SIZE, keystore

CARD_UPDATE = "message/update_template_card"


def cast(ctx: Context, poll_id: int, number: int, comment: str | None) -> None:
    poll = store.lock(ctx.session, poll_id=poll_id, share=True)
    if poll is None:
        ctx.reply("vote_no_poll")
    elif poll.status != "open" or ctx.update.create_time > poll.deadline:
        ctx.reply("vote_late", poll=poll)
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
    _mark_card(ctx.session, poll, ctx.update, ctx.person.userid)


def _mark_card(session: Session, poll: Poll, update: Update, userid: str) -> None:
    """Turn this person's card into "已提交" (the click's response_code updates their copy once). Every
    vote queues the same row, sealed under the poll's key: a tap's holds the call, a typed vote's
    nothing (the sender then skips it). A row only taps left would tell, by its transaction, who tapped
    and so who could not have written the comments published later."""
    call = {"userids": [userid], "response_code": update.response_code,
            "button": {"replace_name": vocabulary()["poll"]["submitted"]}} if update.response_code else {}
    if poll.seal_key is None:  # a poll open when sealing came (0021): as before
        if call:
            outbox.enqueue(session, key=f"card-done:{update.dedup_key}", endpoint=CARD_UPDATE, payload=call,
                           recipients=[], channel=f"user:{userid}", priority=outbox.REPLY)
        return
    sealed = keystore().seal(poll.seal_key, json.dumps(call, ensure_ascii=False).encode(), CARD_SIZE)
    outbox.enqueue(session, key=f"card-done:{update.dedup_key}", endpoint=CARD_UPDATE, payload={"sealed": sealed},
                   recipients=[], channel=None, priority=outbox.REPLY)
