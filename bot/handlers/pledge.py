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
from bot.routing import Context, Router
from bot.scheduler.obligations import audiences
from bot.texts import render, vocabulary
from bot.wecom import messages
from storage import campaigns
from storage.models import Branch, CampaignRecord, Pledge, Role
from storage.pledges import latest_pledge, latest_pledges, next_version

router = Router()
MEMBER_AUDIENCES = {"members", "post_holders"}


def pledge_campaign(ctx: Context) -> CampaignRecord | None:
    """The running campaign that asks members for a pledge."""
    found = ctx.once("pledge_campaign", lambda: campaigns.find_task(
        ctx.session, today=ctx.today, kind="pledge", audiences=MEMBER_AUDIENCES))
    return found[0] if found else None


def my_pledge(ctx: Context) -> Pledge | None:
    """This person's latest pledge in the running pledge campaign."""
    record = pledge_campaign(ctx)
    return ctx.once("my_pledge", lambda: record and latest_pledge(
        ctx.session, campaign_id=record.id, kind="member", userid=ctx.person.userid))


def _item_steps(prefix: str, label: str, optional: bool) -> list[Step]:
    """What, how, by when; skipping "what" of an optional standard skips the other two."""
    what = f"{prefix}_what"
    return [Step(what, "pledge_what", optional=optional, data={"standard": label}),
            Step(f"{prefix}_how", "pledge_how", requires=what, data={"standard": label}),
            Step(f"{prefix}_by", "pledge_by", kind="date", requires=what, data={"standard": label})]


def answered_items(ctx: Context, answers: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"standard": label, "what": answers[f"{prefix}_what"], "how": answers.get(f"{prefix}_how"),
             "by": answers.get(f"{prefix}_by")} for prefix, label in _standards(ctx) if answers.get(f"{prefix}_what")]


def pledge_items(ctx: Context, answers: dict[str, Any]) -> list[dict[str, Any]]:
    """The answered items, each with the formalism guard's flags (a suggestion, never a refusal)."""
    items = answered_items(ctx, answers)
    return _flagged(ctx, items) if items else items


def _flagged(ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    record = pledge_campaign(ctx)
    others = [item["what"] for pledge in _latest_of_others(ctx, record) for item in pledge.items]
    wording = [w for s in record.content["standard_sets"].values() for w in [*s["items"], *s.get("aims", {}).values()]]
    threshold = record.content.get("rules", {}).get("copy_similarity", 0.6)
    return [{**item, "flags": [{"code": f.code, "detail": f.detail} for f in
                               check_item(item["what"], others=others, wording=wording, threshold=threshold)]}
            for item in items]


def _latest_of_others(ctx: Context, record: CampaignRecord) -> list[Pledge]:
    return [p for p in latest_pledges(ctx.session, campaign_ids=[record.id]) if p.userid != ctx.person.userid]


def _standards(ctx: Context) -> list[tuple[str, str]]:
    record = pledge_campaign(ctx)
    content = record.content if record else {"standards": {"member": ""}, "standard_sets": {}}
    names = content["standard_sets"].get(content["standards"]["member"], {}).get("items", [])
    labels = [(f"s{i}", name) for i, name in enumerate(names)]
    if "post_holders" in audiences(ctx.person):
        labels.append(("post", vocabulary()["forms"]["post_pledge"]))
    return labels


class MemberPledge:
    name, title = "member_pledge", "公开承诺"

    def steps(self, ctx: Context, answers: dict[str, Any]) -> list[Step]:
        steps: list[Step] = []
        for prefix, label in _standards(ctx):
            steps += _item_steps(prefix, label, optional=prefix != "post")
        preview = lambda: render("pledge_preview", items=pledge_items(ctx, answers))  # noqa: E731 - only when asked
        return steps + [confirm_step("pledge_confirm", preview)]

    def check(self, ctx: Context, answers: dict[str, Any], step: Step, value: Any) -> None:
        if step.kind == "date" and date.fromisoformat(value) < ctx.today:
            raise Invalid("invalid_past")
        if step.key == "confirm" and not answered_items(ctx, answers):
            raise Invalid("pledge_empty")

    def submit(self, ctx: Context, answers: dict[str, Any]) -> None:
        record = pledge_campaign(ctx)
        items = pledge_items(ctx, answers)
        version = next_version(my_pledge(ctx))
        pledge = Pledge(campaign_id=record.id, userid=ctx.person.userid, branch_id=ctx.person.branch_id,
                        kind="member", version=version, items=items,
                        submitted_at=float(ctx.update.create_time))
        ctx.session.add(pledge)
        ctx.session.flush()
        campaigns.mark_kind_done(ctx.session, campaign_id=record.id, kind="pledge", subject=ctx.person.userid,
                                 audiences=audiences(ctx.person) - {"branches"})
        branch = ctx.session.get(Branch, ctx.person.branch_id) if ctx.person.branch_id else None
        if branch and branch.chat_id:
            messages.to_chat(ctx.session, key=f"pledge:{pledge.id}", chat_id=branch.chat_id, markdown=True,
                             text=render("pledge_published", person=ctx.person, items=items, version=version))
        ctx.reply("pledge_submitted", published=bool(branch and branch.chat_id), version=version)


MEMBER_PLEDGE = forms.register(MemberPledge())


@router.command("/承诺", roles=[Role.member, Role.secretary])
def pledge(ctx: Context) -> None:
    if "支部" in ctx.args:
        _branch_pledge(ctx)
        return
    if pledge_campaign(ctx) is None:
        ctx.reply("pledge_no_campaign")
        return
    forms.start(ctx, MEMBER_PLEDGE)


def _as_answers(ctx: Context, pledge: Pledge) -> dict[str, Any]:
    by_standard = {item["standard"]: item for item in pledge.items}
    answers: dict[str, Any] = {}
    for prefix, label in _standards(ctx):
        item = by_standard.get(label)
        answers.update({f"{prefix}_what": item["what"], f"{prefix}_how": item["how"], f"{prefix}_by": item["by"]}
                       if item else {f"{prefix}_what": None})
    return answers


def _deadline(ctx: Context, record: CampaignRecord) -> date | None:
    dues = [t.due for t in campaigns.tasks_of(ctx.session, campaign_ids=[record.id])
            if t.kind == "pledge" and t.audience in audiences(ctx.person) and t.audience != "branches"]
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


def _branch_pledge(ctx: Context) -> None:
    from bot.handlers.branch_pledge import BRANCH_PLEDGE, branch_pledge_task

    if ctx.person.role != Role.secretary or not ctx.person.branch_id:
        ctx.reply("not_allowed", command="/承诺 支部", roles=[vocabulary()["roles"][Role.secretary]])
    elif branch_pledge_task(ctx) is None:
        ctx.reply("pledge_no_campaign")
    else:
        forms.start(ctx, BRANCH_PLEDGE)
