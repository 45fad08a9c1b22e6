"""/评议 结束: ending a poll before its deadline, asked first (issue 19: it ended at once).

Ending cannot be undone: those who have not voted lose their vote, the result goes to the branch group
at once, and under the threshold the ballots are destroyed unpublished. So the person sees which poll,
its turnout and what ending now means, and it ends only on the form's explicit yes (取消 keeps it
open); with several open, which one is asked first. `/评议 结束 编号` is asked once too: the number is
typed from memory or from a list, one digit off ends another branch's poll, and the question names
the poll it would end. One more message, for what no one can take back."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from bot import forms
from bot.forms import Step, confirm_step
from bot.polls.close import close_poll
from bot.routing import Context
from bot.texts import render
from storage import polls as store
from storage.models import Poll, Role


def visible_polls(ctx: Context) -> list[Poll]:
    """Open polls this person may watch: their branch's, or every branch's for the committee."""
    branch_id = None if ctx.person.role == Role.committee else ctx.person.branch_id
    return ctx.once(f"visible_polls:{branch_id}", lambda: store.open_polls(ctx.session, branch_id=branch_id))


def end_candidates(ctx: Context) -> list[Poll]:
    """The open polls this person may end: any for the committee; for a secretary those they issued
    (not one the committee issued about their branch)."""
    visible = visible_polls(ctx)
    return visible if ctx.person.role == Role.committee else [p for p in visible if p.issuer == ctx.person.userid]


def start(ctx: Context, number: str) -> None:
    """/评议 结束 [编号]: the question (which poll, then yes), or why there is nothing to end."""
    visible, candidates = visible_polls(ctx), end_candidates(ctx)
    chosen = [p for p in candidates if str(p.id) == number] if number else candidates
    others = [p for p in visible if p not in candidates and (not number or str(p.id) == number)]
    if not chosen and others:
        ctx.reply("poll_end_not_yours", polls=others)
    elif not chosen:
        ctx.reply("poll_end_which", polls=candidates, asked=number)
    else:
        forms.start(ctx, POLL_END_FORM, answers={"poll_id": chosen[0].id} if len(chosen) == 1 else {})


class PollEndForm(forms.BaseForm):
    name = "poll_end"

    def steps(self, ctx: Context, answers: dict[str, Any]) -> list[Step]:
        which = [] if "poll_id" in answers else \
            [Step("poll", "poll_end_choice", kind="choice", options=tuple(self._labels(ctx)))]
        return which + [confirm_step("poll_end_confirm", lambda: self._preview(ctx, answers))]

    def _labels(self, ctx: Context) -> dict[str, Poll]:
        return ctx.once("poll_end_labels", lambda: {render("poll_end_option", poll=p): p for p in end_candidates(ctx)})

    def _chosen(self, ctx: Context, answers: dict[str, Any]) -> Poll | None:
        if "poll_id" in answers:
            return ctx.session.get(Poll, answers["poll_id"])
        return self._labels(ctx).get(answers.get("poll"))

    def _preview(self, ctx: Context, answers: dict[str, Any]) -> str:
        poll = self._chosen(ctx, answers)
        deadline = datetime.fromtimestamp(poll.deadline, ctx.now.tzinfo).replace(tzinfo=None)
        return render("poll_end_preview", poll=poll, t=store.turnout(ctx.session, poll_id=poll.id), deadline=deadline)

    def submit(self, ctx: Context, answers: dict[str, Any]) -> None:
        poll = self._chosen(ctx, answers)
        if poll is None:  # the poll chosen by name ended meanwhile (its deadline) and left the list
            ctx.reply("poll_end_which", polls=end_candidates(ctx), asked="")
            return
        closed = close_poll(ctx.session, poll_id=poll.id, tz=str(ctx.now.tzinfo), now=float(ctx.update.create_time),
                            actor=ctx.person.userid)
        if closed is None or closed.issuer != ctx.person.userid:  # the issuer hears it from close_poll
            ctx.reply("poll_ended", poll=closed or poll)


POLL_END_FORM = forms.register(PollEndForm())
