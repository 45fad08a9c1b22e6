"""Votes, routed: a tap on the vote card, or (for phones without card support) a reply with the
option's number — "2", or "7-2" when several polls wait, optionally followed by a comment. What a
vote does is bot/polls/vote.py."""
from __future__ import annotations

import re

from bot.content import has_words
from bot.polls.issue import poll_id_of
from bot.polls.vote import cast
from bot.routing import Context, Router
from storage import polls as store
from storage.models import PollVoter

router = Router()
# "2", "2 意见", "7-2 意见"; \d and int() take full-width digits as phones type them
TEXT_VOTE = re.compile(r"^(?:(\d{1,9})\s*[-－—]\s*)?(\d{1,2})(?:[\s,，:：]+(.+))?$", re.S)
COMMENT_LIMIT = 200


def kept_comment(typed: str | None) -> str | None:
    """The comment a typed vote keeps: none for only emoji, punctuation or symbols ("2 😀👍": the vote
    counts, the comment is dropped). Not asked about either: the thanks must read the same with a
    comment or without, and a follow-up question would tell who commented."""
    comment = (typed or "").strip()[:COMMENT_LIMIT]
    return comment if has_words(comment) else None


@router.card("poll-")
def card_vote(ctx: Context) -> None:
    poll_id = poll_id_of(ctx.session, ctx.update.task_id)
    options = [o for item in ctx.update.selected_items for o in item.option_ids]
    if poll_id is None:
        return
    if len(options) != 1 or not options[0].isdigit():
        ctx.reply("vote_pick_one")
        return
    cast(ctx, poll_id, int(options[0]), None)


@router.text_fallback
def text_vote(ctx: Context, text: str) -> bool:
    match = TEXT_VOTE.match(text)
    if not match:
        return False
    number = int(match[2])
    comment = kept_comment(match[3])
    if match[1]:  # "7-2": poll 7 named; cast() answers an outsider, a late or a second vote
        cast(ctx, int(match[1]), number, comment)
        return True
    pending = store.pending_for(ctx.session, userid=ctx.person.userid)
    if len(pending) == 1:
        cast(ctx, pending[0].id, number, comment)
    elif pending:
        ctx.reply("vote_which", polls=pending)
    else:
        voted = store.pending_for(ctx.session, userid=ctx.person.userid, voted=True)
        if not voted:
            return False  # just a number: the hint answers it
        ctx.reply("vote_already", poll=voted[0])  # most likely a second try at the poll just voted in
    return True


@router.over_form
def vote_over_form(ctx: Context, text: str) -> bool:
    """"7-2" typed while a form is open is a vote, not the form's answer, when poll 7 has this person
    on its voter list (voted or not, open or closed: cast() then answers as usual), since that is the
    form printed on their vote card. A number that names no poll of theirs stays the answer: forms
    may well take "1-1" as text. A bare "2" always does (the dispatcher also leaves what the current
    step reads as a date or a choice to the form)."""
    match = TEXT_VOTE.match(text)
    if not match or not match[1] or ctx.session.get(PollVoter, (int(match[1]), ctx.person.userid)) is None:
        return False
    return text_vote(ctx, text)
