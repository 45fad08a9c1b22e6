"""/承诺: a member's public pledge (公开承诺) against each standard of the campaign's member set —
what (具体事项), how (措施), by when (时限) — plus a 岗位承诺 for 有职党员. Preview, confirm, and
the pledge is published to the branch group with the member's name: pledges are public by design.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from bot import forms
from bot.answers import Invalid
from bot.formalism import check_item
from bot.forms import Step, confirm_step
from bot.handlers import branch_pledge
from bot.routing import Context, Router
from bot.scheduler.obligations import audiences
from bot.texts import render, vocabulary
from storage import campaigns
from storage.models import CampaignRecord, Pledge, Role
from storage.pledges import add_pledge, latest_pledge, others_items

router = Router()
MEMBER_AUDIENCES = frozenset({"members", "post_holders"})


def pledge_campaign(ctx: Context) -> CampaignRecord | None:
    """The running campaign that asks members for a pledge."""
    found = forms.campaign_task(ctx, "pledge", MEMBER_AUDIENCES)
    return found[0] if found else None


def my_pledge(ctx: Context) -> Pledge | None:
    """This person's latest pledge in the running pledge campaign."""
    record = pledge_campaign(ctx)
    return ctx.once("my_pledge", lambda: record and latest_pledge(
        ctx.session, campaign_id=record.id, kind="member", userid=ctx.person.userid))


def _personal(ctx: Context) -> set[str]:
    """The audiences whose pledge tasks a person's own pledge answers (not the branch's: that is its own form)."""
    return audiences(ctx.person) - {"branches"}


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
    others = ctx.once("others_items", lambda: others_items(ctx.session, campaign_id=record.id,
                                                             userid=ctx.person.userid))
    wording = [w for s in record.content["standard_sets"].values() for w in [*s["items"], *s.get("aims", {}).values()]]
    threshold = record.content.get("rules", {}).get("copy_similarity", 0.6)
    return [{**item, "flags": [{"code": f.code, "detail": f.detail} for f in
                               check_item(item["what"], others=others, wording=wording, threshold=threshold)]}
            for item in items]


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
        steps: list[Step] = []
        for prefix, label in _standards(ctx):
            steps += _item_steps(prefix, label, optional=prefix != "post")
        preview = lambda: render("pledge_preview", items=pledge_items(ctx, answers))  # noqa: E731 - only when asked
        return steps + [confirm_step("pledge_confirm", preview)]

    def check(self, ctx: Context, answers: dict[str, Any], step: Step, value: Any) -> None:
        if step.key == "confirm" and not answered_items(ctx, answers):
            raise Invalid("pledge_empty")

    def submit(self, ctx: Context, answers: dict[str, Any]) -> None:
        record = pledge_campaign(ctx)
        pledge = add_pledge(ctx.session, campaign_id=record.id, person=ctx.person, kind="member",
                            items=pledge_items(ctx, answers), at=float(ctx.update.create_time))
        campaigns.mark_kind_done(ctx.session, campaign_id=record.id, kind="pledge", subject=ctx.person.userid,
                                 audiences=_personal(ctx))
        branch_pledge.publish(ctx, pledge, "pledge_published", person=ctx.person)


MEMBER_PLEDGE = forms.register(MemberPledge())


@router.command("/承诺", roles=[Role.member, Role.secretary])
def pledge(ctx: Context) -> None:
    if "支部" in ctx.args:
        branch_pledge.begin(ctx)
    else:
        forms.start_if(ctx, MEMBER_PLEDGE, pledge_campaign(ctx), "pledge_no_campaign")


def _as_answers(ctx: Context, pledge: Pledge) -> dict[str, Any]:
    by_standard = {item["standard"]: item for item in pledge.items}
    answers: dict[str, Any] = {}
    for prefix, label in _standards(ctx):
        item = by_standard.get(label)
        answers.update({f"{prefix}_what": item["what"], f"{prefix}_how": item["how"], f"{prefix}_by": item["by"]}
                       if item else {f"{prefix}_what": None})
    return answers


def _deadline(ctx: Context, record: CampaignRecord) -> date | None:
    personal = _personal(ctx)
    dues = [t.due for t in campaigns.tasks_of(ctx.session, campaign_ids=[record.id])
            if t.kind == "pledge" and t.audience in personal]
    return max(dues, default=None)


@router.command("/修改", roles=[Role.member, Role.secretary])
def edit(ctx: Context) -> None:
    """/修改 承诺: the pledge again, each answer shown; 不变 keeps it. Every edit is a new version."""
    if "承诺" not in ctx.args:
        ctx.reply("edit_what")
        return
    record, pledge = pledge_campaign(ctx), my_pledge(ctx)
    if pledge is None:
        ctx.reply("edit_nothing")
    elif (deadline := _deadline(ctx, record)) is not None and ctx.today > deadline:
        ctx.reply("edit_closed", deadline=deadline)
    else:
        forms.start(ctx, MEMBER_PLEDGE, previous=_as_answers(ctx, pledge))
