"""/承诺: a member's public pledge (公开承诺) against each standard of the campaign's member set —
what (具体事项), how (措施), by when (时限) — plus a 岗位承诺 for 有职党员. Preview, confirm, and
the pledge is published to the branch group with the member's name: pledges are public by design.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from bot import forms
from bot.answers import Invalid
from bot.formalism import flag_items
from bot.forms import Step, confirm_step
from bot.handlers import branch_pledge
from bot.routing import Context, Router
from bot.scheduler.obligations import audiences
from bot.texts import render, vocabulary
from storage import campaigns
from storage.models import CampaignRecord, CampaignTask, Pledge, Role
from storage.pledges import add_pledge, latest_pledge, written_items

router = Router()


def _own_audiences(ctx: Context) -> list[frozenset[str]]:
    """The member pledge answers the members' pledge task; a 有职党员's also the post holders' one
    (its 岗位承诺 item), which is the task looked for when the phase asks only 有职党员 (seed004)."""
    mine = audiences(ctx.person)
    return [frozenset({a}) for a in ("members", "post_holders") if a in mine]


def pledge_choices(ctx: Context) -> tuple[CampaignRecord, list[CampaignTask]] | None:
    """The pledge tasks a pledge made today may fulfil for this person (storage.campaigns.tasks_to_credit)."""
    return next(filter(None, (forms.task_choices(ctx, "pledge", a) for a in _own_audiences(ctx))), None)


def pledge_task(ctx: Context, answers: dict[str, Any] | None = None) -> tuple[CampaignRecord, CampaignTask] | None:
    """The one pledge task this pledge is for: the only one open today, or the one the person chose."""
    return forms.chosen_task(pledge_choices(ctx), answers or {})


def pledge_campaign(ctx: Context) -> CampaignRecord | None:
    """The campaign of today's pledge task, or else the running campaign that asks members for a
    pledge in any phase (where a pledge made earlier is reported on with /践诺)."""
    found = pledge_choices(ctx)
    return found[0] if found else ctx.once("pledge_campaign", lambda: campaigns.campaign_asking(
        ctx.session, today=ctx.today, kind="pledge", audiences=set(forms.MEMBER_AUDIENCES & audiences(ctx.person))))


def my_pledge(ctx: Context) -> Pledge | None:
    """This person's latest pledge in the running pledge campaign, for any of its tasks."""
    record = pledge_campaign(ctx)
    return ctx.once("my_pledge", lambda: record and latest_pledge(
        ctx.session, campaign_id=record.id, kind="member", userid=ctx.person.userid))


def _item_steps(prefix: str, label: str, optional: bool) -> list[Step]:
    """What, how, by when; skipping "what" of an optional standard skips the other two."""
    what, words = f"{prefix}_what", {"standard": label}
    return [Step(what, "pledge_what", optional=optional, data=words),
            Step(f"{prefix}_how", "pledge_how", requires=what, data=words),
            Step(f"{prefix}_by", "pledge_by", kind="date", requires=what, data=words)]


def answered_items(ctx: Context, answers: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"standard": label, "what": answers[f"{prefix}_what"], "how": answers.get(f"{prefix}_how"),
             "by": answers.get(f"{prefix}_by")} for prefix, label in _standards(ctx) if answers.get(f"{prefix}_what")]


def pledge_items(ctx: Context, answers: dict[str, Any]) -> list[dict[str, Any]]:
    """The answered items, each with the formalism guard's flags (a suggestion, never a refusal)."""
    items = answered_items(ctx, answers)
    return _flagged(ctx, items) if items else items


def _flagged(ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    record = pledge_campaign(ctx)
    written = ctx.once("written_items", lambda: written_items(ctx.session, campaign_id=record.id))
    return flag_items(items, written=written, userid=ctx.person.userid, at=float(ctx.update.create_time),
                      campaign=record.content)


def _standards(ctx: Context) -> list[tuple[str, str]]:
    """(answer key prefix, label) of each standard of the member set, and the 岗位承诺 of a 有职党员."""
    record = pledge_campaign(ctx)
    content = record.content if record else {"standards": {"member": ""}, "standard_sets": {}}
    names = content["standard_sets"].get(content["standards"]["member"], {}).get("items", [])
    labels = [(f"s{i}", name) for i, name in enumerate(names)]
    if "post_holders" in audiences(ctx.person):
        labels.append(("post", vocabulary()["forms"]["post_pledge"]))
    return labels


class MemberPledge(forms.BaseForm):
    name = "member_pledge"

    def steps(self, ctx: Context, answers: dict[str, Any]) -> list[Step]:
        steps = forms.task_step(pledge_choices(ctx))
        for prefix, label in _standards(ctx):
            steps += _item_steps(prefix, label, optional=prefix != "post")
        preview = lambda: render("pledge_preview", items=pledge_items(ctx, answers))  # noqa: E731 - only when asked
        return steps + [confirm_step("pledge_confirm", preview)]

    def check(self, ctx: Context, answers: dict[str, Any], step: Step, value: Any) -> None:
        if step.key == "confirm" and not answered_items(ctx, answers):
            raise Invalid("pledge_empty")

    def submit(self, ctx: Context, answers: dict[str, Any]) -> None:
        record, task = pledge_task(ctx, answers)
        pledge = add_pledge(ctx.session, campaign_id=record.id, task_id=task.id, person=ctx.person, kind="member",
                            items=pledge_items(ctx, answers), at=float(ctx.update.create_time))
        campaigns.mark_done(ctx.session, task_id=task.id, subject=ctx.person.userid)
        _credit_post_pledge(ctx, record, task)
        branch_pledge.publish(ctx, pledge, "pledge_published", person=ctx.person)


def _credit_post_pledge(ctx: Context, record: CampaignRecord, task: CampaignTask) -> None:
    """A 有职党员's pledge carries the 岗位承诺 too: where the same window also asks 有职党员 for one,
    it answers that task as well (one per audience; asking which of the two would make them write
    the 岗位承诺 twice)."""
    if task.audience != "members" or "post_holders" not in audiences(ctx.person):
        return
    post = campaigns.find_task(ctx.session, today=ctx.today, kind="pledge", audiences={"post_holders"},
                               branch_id=ctx.person.branch_id, subject=ctx.person.userid)
    if post is not None and post[0].id == record.id:
        campaigns.mark_done(ctx.session, task_id=post[1].id, subject=ctx.person.userid)


MEMBER_PLEDGE = forms.register(MemberPledge())


@router.command("/承诺", roles=[Role.member, Role.secretary])
def pledge(ctx: Context) -> None:
    if "支部" in ctx.args:
        branch_pledge.begin(ctx)
    else:
        forms.start_if(ctx, MEMBER_PLEDGE, pledge_choices(ctx), "pledge_no_campaign")


def _as_answers(ctx: Context, pledge: Pledge) -> dict[str, Any]:
    by_standard = {item["standard"]: item for item in pledge.items}
    answers: dict[str, Any] = {}
    for prefix, label in _standards(ctx):
        item = by_standard.get(label)
        answers.update({f"{prefix}_what": item["what"], f"{prefix}_how": item["how"], f"{prefix}_by": item["by"]}
                       if item else {f"{prefix}_what": None})
    return answers


def _pledge_to_edit(ctx: Context) -> tuple[Pledge | None, date | None]:
    """The person's latest pledge for a pledge task whose window holds today (done or not), and that
    task's due date; else their latest pledge of the campaign and its task's due date (an edit of a
    pledge whose phase has ended is closed)."""
    record, windowed = pledge_campaign(ctx), []
    for group in _own_audiences(ctx):
        found = campaigns.tasks_to_credit(ctx.session, today=ctx.today, kind="pledge", audiences=set(group),
                                          branch_id=ctx.person.branch_id)
        windowed += found[1] if found and record and found[0].id == record.id else []
    dues = {t.id: t.due for t in windowed}
    pledges = [p for t in windowed if (p := latest_pledge(ctx.session, campaign_id=record.id, kind="member",
                                                          userid=ctx.person.userid, task_id=t.id))]
    if pledges:
        pledge = max(pledges, key=lambda p: p.id)
        return pledge, dues[pledge.task_id]
    pledge = my_pledge(ctx)
    task = ctx.session.get(CampaignTask, pledge.task_id) if pledge and pledge.task_id else None
    return pledge, task.due if task else ctx.today - timedelta(days=1)


@router.command("/修改", roles=[Role.member, Role.secretary])
def edit(ctx: Context) -> None:
    """/修改 承诺: the pledge again, each answer shown; 不变 keeps it. Every edit is a new version."""
    if "承诺" not in ctx.args:
        ctx.reply("edit_what")
        return
    pledge, deadline = _pledge_to_edit(ctx)
    if pledge is None:
        ctx.reply("edit_nothing")
    elif ctx.today > deadline:
        ctx.reply("edit_closed", deadline=deadline)
    else:
        forms.start(ctx, MEMBER_PLEDGE, previous=_as_answers(ctx, pledge))
