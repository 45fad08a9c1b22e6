"""/评议: a secretary (or the committee, for any branch) issues an anonymous poll — the guided form,
or one line for experienced users (/评议 支部满意度 截止 12月5日 18:00); /评议 情况 shows turnout and
who has not voted (never partial results); /评议 结束 closes a poll early (its issuer, or the committee),
once they have said yes (bot/polls/end.py)."""
from __future__ import annotations

from sqlalchemy import select

from bot import forms
from bot.answers import Invalid
from bot.polls.form import POLL_FORM, default_description, issue_all, scale_labels, task_defaults, vocabulary_key
from bot.polls import end
from bot.polls.issue import PollSpec
from bot.polls.rules import parse_deadline
from bot.routing import Context, Router
from bot.texts import vocabulary
from storage import polls as store
from storage.models import Branch, Role

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
        end.start(ctx, rest.strip())
    elif first in words["status_words"]:
        ctx.reply("poll_status", polls=[(p, store.turnout(ctx.session, poll_id=p.id),
                                         store.not_voted(ctx.session, poll_id=p.id)) for p in end.visible_polls(ctx)])
    else:
        quick(ctx)


def quick(ctx: Context) -> None:
    """The one-line form: words before 截止 describe the poll; after it, the deadline; a voters word
    (党员 / 群众代表 / 党员和群众) and, for the committee, a branch name may stand anywhere, after the
    date too (/评议 支部满意度 截止 12月5日 党员和群众)."""
    try:
        spec = _quick_spec(ctx)
    except Invalid as problem:
        ctx.reply("poll_quick_help", note=problem.template, note_data=problem.data)
        return
    issue_all(ctx, [spec])


def _quick_spec(ctx: Context) -> PollSpec:
    words, defaults = vocabulary()["poll"], task_defaults(ctx)
    before, marker, after = ctx.args.partition(words["deadline_word"])
    voter_words = list(words["voters"].values())
    branch_names = list(ctx.session.scalars(select(Branch.name)))
    # Before 截止 only whole words count ("民主评议党员" describes, it names no voters); after it, the
    # date holds no such words, so they are taken out wherever they stand, typed with a space or not.
    tokens = before.split()
    branch_name, after = _pull(after, branch_names)  # first: a branch's name may hold a voters word
    branch_name = next((t for t in tokens if t in branch_names), branch_name)
    voters_word, after = _pull(after, voter_words)
    voters_word = next((t for t in tokens if t in voter_words), voters_word)
    branch = _quick_branch(ctx, branch_name)
    description = " ".join(t for t in tokens if t not in voter_words and t != branch.name)
    deadline = parse_deadline(after, ctx.today) if marker else defaults["deadline"]
    if deadline <= ctx.now.replace(tzinfo=None):
        raise Invalid("invalid_past")
    scale = next((name for name in scale_labels(ctx).values() if name in description), defaults["scale"])
    rates = "leadership" if any(w in description for w in words["leadership_words"]) else "branch"
    voters = vocabulary_key("voters", voters_word) if voters_word else defaults["voters"]
    return PollSpec(branch=branch, rates=rates, scale=scale, voters=voters, deadline=deadline,
                    description=description or default_description(defaults, rates=rates, scale=scale, branch=branch))


def _pull(text: str, names: list[str]) -> tuple[str | None, str]:
    """The longest of `names` that `text` holds, and the text without it (None and the text if none)."""
    found = next((n for n in sorted(names, key=len, reverse=True) if n and n in text), None)
    return found, text.replace(found, " ", 1) if found else text


def _quick_branch(ctx: Context, name: str | None) -> Branch:
    named = ctx.session.scalars(select(Branch).where(Branch.name == name)).first() if name else None
    if ctx.person.role != Role.committee:
        if named is not None and named.id != ctx.person.branch_id:  # said, not silently replaced by their own
            raise Invalid("poll_other_branch", branch=named.name)
        return ctx.session.get(Branch, ctx.person.branch_id)
    if named is None:
        raise Invalid("poll_quick_branch")
    return named
