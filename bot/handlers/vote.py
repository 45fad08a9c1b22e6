"""Votes, routed: a tap on the vote card, or (for phones without card support) a reply with the
option's number or its words — "2", "二", "满意", or "7-2" / "7-满意" when several polls wait,
optionally followed by a comment. What a vote does is bot/polls/vote.py."""
from __future__ import annotations

import re

from bot.answers import Invalid, choice_index, is_yes, option_number
from bot.content import has_words
from bot.polls.issue import poll_id_of
from bot.polls.vote import cast
from bot.routing import Context, Router
from storage import polls as store
from storage.models import Poll, PollVoter

router = Router()
# "2", "一", "满意", "2 意见", "满意，意见", "7-2 意见"; \d and int() take full-width digits as phones type them
TEXT_VOTE = re.compile(r"^(?:(\d{1,9})\s*[-－—]\s*)?([^\s,，:：;；。!！]+)(?:[\s,，:：;；。!！]+(.*))?$", re.S)
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
    cast(ctx, poll_id, int(options[0]) if len(options) == 1 and options[0].isdigit() else None, None)


def _number(choice: str) -> int | None:
    """An option number (2, ２, 二, ②) of at most two digits: "7-2026" is no vote but a form's answer."""
    number = option_number(choice)
    return number if number is not None and number < 100 else None


def _names_an_option(choice: str, polls: list[Poll]) -> bool:
    """A number (any script), or the words of an option of one of these polls."""
    return _number(choice) is not None or any(choice in poll.options for poll in polls)


def _vote(ctx: Context, poll: Poll, choice: str, comment: str | None, *, named: bool) -> None:
    """Cast what `choice` names in `poll`, unless it could mean two things: a vote cannot be undone, so
    好 (an option, and what people type for "OK") and 一 where 一般 is an option are asked about."""
    if choice in poll.options and is_yes(choice):
        ctx.reply("vote_unclear", poll=poll, typed=choice, number=poll.options.index(choice) + 1, named=named)
        return
    try:
        number = choice_index(choice, poll.options, prefixes=False) + 1
    except Invalid:
        number = _number(choice) or 0
        if 1 <= number <= len(poll.options):  # a numeral that also starts another option
            ctx.reply("vote_unclear", poll=poll, typed=choice, number=number, named=named,
                      starting=[o for o in poll.options if o.startswith(choice)])
            return
    cast(ctx, poll.id, number, comment)  # a number out of range gets the options listed


@router.text_fallback
def text_vote(ctx: Context, text: str) -> bool:
    match = TEXT_VOTE.match(text)
    if not match:
        return False
    choice = match[2].rstrip(".、)）")
    comment = kept_comment(match[3])
    if match[1]:  # "7-2": poll 7 named; cast() answers an outsider, a late or a second vote
        poll = ctx.session.get(Poll, int(match[1]))
        if _number(choice) is None and (poll is None or choice not in poll.options):
            return False  # "2026-06-15", or words that are no option of poll 7
        if poll is None:
            cast(ctx, int(match[1]), _number(choice), comment)
        else:
            _vote(ctx, poll, choice, comment, named=True)
        return True
    pending = store.pending_for(ctx.session, userid=ctx.person.userid)
    if pending and _names_an_option(choice, pending):
        if len(pending) == 1:
            _vote(ctx, pending[0], choice, comment, named=False)
        else:
            ctx.reply("vote_which", polls=pending)
        return True
    if pending:
        return False  # words that are no option: the hint answers them
    voted = [p for p in store.pending_for(ctx.session, userid=ctx.person.userid, voted=True)
             if _number(choice) is not None or (choice in p.options and not is_yes(choice))]
    if not voted:
        return False  # just a number, or a word: the hint answers it
    ctx.reply("vote_already", poll=voted[0])  # most likely a second try at the poll just voted in
    return True


@router.over_form
def vote_over_form(ctx: Context, text: str) -> bool:
    """"7-2" (or "7-满意") typed while a form is open is a vote, not the form's answer, when poll 7 has
    this person on its voter list (voted or not, open or closed: cast() then answers as usual), since
    that is the form printed on their vote card. A number that names no poll of theirs stays the
    answer: forms may well take "1-1" as text. A bare "2" and a bare option word (满意) always do (the
    dispatcher also leaves what the current step reads as a date or a choice to the form)."""
    match = TEXT_VOTE.match(text)
    if not match or not match[1] or ctx.session.get(PollVoter, (int(match[1]), ctx.person.userid)) is None:
        return False
    return text_vote(ctx, text)
