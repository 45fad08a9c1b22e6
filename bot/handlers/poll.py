"""/评议: a secretary (or the committee, for any branch) issues an anonymous poll — the guided form,
or one line for experienced users (/评议 支部满意度 截止 12月5日 18:00); /评议 情况 shows turnout and
who has not voted (never partial results); /评议 结束 closes a poll early (its issuer, or the committee)."""
from __future__ import annotations

from sqlalchemy import select

from bot import forms
from bot.answers import Invalid
from bot.polls.form import POLL_FORM, issue_all, scale_labels, task_defaults
from bot.polls.close import close_poll
from bot.polls.issue import PollSpec
from bot.polls.rules import parse_deadline
from bot.routing import Context, Router
from bot.texts import vocabulary
from storage import polls as store
from storage.models import Branch, Poll, Role

router = Router()
ISSUERS = {Role.secretary, Role.committee}


@router.command("/评议")
def poll_command(ctx: Context) -> None:
    if ctx.person.role not in ISSUERS:
        ctx.reply("poll_not_issuer", pending=store.pending_for(ctx.session, userid=ctx.person.userid))
        return
    if ctx.person.role == Role.secretary and not ctx.person.branch_id:
        ctx.reply("no_branch")
        return
    words = vocabulary()["poll"]
    first, _, rest = ctx.args.partition(" ")
    if not ctx.args:
        forms.start(ctx, POLL_FORM)
    elif first in words["end_words"]:
        end(ctx, rest.strip())
    elif first in words["status_words"]:
        ctx.reply("poll_status", polls=[(p, store.turnout(ctx.session, poll_id=p.id),
                                         store.not_voted(ctx.session, poll_id=p.id)) for p in _visible(ctx)])
    else:
        quick(ctx)


def _visible(ctx: Context) -> list[Poll]:
    """Open polls this person may watch and end: their branch's, or every branch's for the committee."""
    branch_id = None if ctx.person.role == Role.committee else ctx.person.branch_id
    return store.open_polls(ctx.session, branch_id=branch_id)


def end(ctx: Context, number: str) -> None:
    # Any open poll for the committee; for a secretary those they issued (not one the committee issued
    # about their own branch)
    visible = _visible(ctx)
    candidates = visible if ctx.person.role == Role.committee else [p for p in visible if p.issuer == ctx.person.userid]
    chosen = [p for p in candidates if str(p.id) == number] if number else candidates
    others = [p for p in visible if p not in candidates and (not number or str(p.id) == number)]
    if not chosen and others:
        ctx.reply("poll_end_not_yours", polls=others)
        return
    if len(chosen) != 1:
        ctx.reply("poll_end_which", polls=candidates, asked=number)
        return
    closed = close_poll(ctx.session, poll_id=chosen[0].id, tz=str(ctx.now.tzinfo), now=float(ctx.update.create_time),
                        actor=ctx.person.userid)
    if closed is None or closed.issuer != ctx.person.userid:  # the issuer hears it from close_poll
        ctx.reply("poll_ended", poll=closed or chosen[0])


def quick(ctx: Context) -> None:
    """The one-line form: words before 截止 describe the poll; after it, the deadline; a voters word
    (党员 / 群众代表 / 党员和群众) and, for the committee, a branch name may stand anywhere."""
    try:
        spec = _quick_spec(ctx)
    except Invalid as problem:
        ctx.reply("poll_quick_help", note=problem.template, note_data=problem.data)
        return
    issue_all(ctx, [spec])


def _quick_spec(ctx: Context) -> PollSpec:
    words, defaults = vocabulary()["poll"], task_defaults(ctx)
    before, marker, after = ctx.args.partition(words["deadline_word"])
    tokens = before.split()
    voters = next((k for k, v in words["voters"].items() if v in tokens), None)
    branch = _quick_branch(ctx, tokens)
    description = " ".join(t for t in tokens if t not in words["voters"].values() and t != branch.name)
    deadline = parse_deadline(after, ctx.today) if marker else defaults["deadline"]
    if deadline <= ctx.now.replace(tzinfo=None):
        raise Invalid("invalid_past")
    scale = next((name for name in scale_labels(ctx).values() if name in description), defaults["scale"])
    rates = "leadership" if any(w in description for w in words["leadership_words"]) else "branch"
    return PollSpec(branch=branch, rates=rates, scale=scale, voters=voters or defaults["voters"],
                    deadline=deadline, description=description or defaults["title"])


def _quick_branch(ctx: Context, tokens: list[str]) -> Branch:
    named = ctx.session.scalars(select(Branch).where(Branch.name.in_(tokens))).first()
    if ctx.person.role != Role.committee:
        if named is not None and named.id != ctx.person.branch_id:  # said, not silently replaced by their own
            raise Invalid("poll_other_branch", branch=named.name)
        return ctx.session.get(Branch, ctx.person.branch_id)
    if named is None:
        raise Invalid("poll_quick_branch")
    return named
