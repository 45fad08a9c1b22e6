"""/定级: the committee's 分类定级. The bot proposes each branch's level (and 五星, 红旗) from its
inputs; a committee member confirms it, and only then is it final and posted to the branch group.

What the committee types is read in bot/rating_requests.py, proposals are made in
bot/rating_proposals.py, and the rules are bot/ratings.py.
"""
from __future__ import annotations

from bot.answers import Invalid
from bot.rating_proposals import Plan, current, rating_plan
from bot.rating_requests import parse
from bot.ratings import Inputs
from bot.routing import Context, Router
from bot.texts import render
from bot.wecom import messages
from storage import campaigns, ratings
from storage.models import Branch, CampaignRecord, Person, Role

router = Router()


def find_branch(ctx: Context, name: str) -> Branch:
    """By its name, or by a part of it that names one branch only (第一 → 第一党支部)."""
    every = ratings.branches(ctx.session)
    found = [b for b in every if b.name == name] or [b for b in every if name in b.name]
    if len(found) != 1:
        raise Invalid("rating_unknown_branch", name=name, names=[b.name for b in every])
    return found[0]


def _show(ctx: Context, plan: Plan, branch: Branch, note: str = "", entered: dict | None = None) -> None:
    found = current(ctx.session, plan, [branch.id], userid=ctx.person.userid, entered=entered)
    rating, proposal, _ = found[branch.id]
    confirmer = ctx.session.get(Person, rating.confirmed_by) if rating.confirmed_by else None
    ctx.reply("rating_detail", plan=plan, branch=branch, rating=rating, p=proposal, note=note,
              inputs=Inputs.from_json(rating.inputs), confirmer=confirmer.name if confirmer else rating.confirmed_by)


def _list(ctx: Context, plan: Plan) -> None:
    every = ratings.branches(ctx.session)
    found = current(ctx.session, plan, [b.id for b in every], userid=ctx.person.userid)
    rows = [dict(branch=b, rating=found[b.id][0], p=found[b.id][1], inputs=Inputs.from_json(found[b.id][0].inputs))
            for b in every]
    ctx.reply("rating_list", plan=plan, rows=rows)


def _rating_task_id(ctx: Context, record: CampaignRecord, branch: Branch) -> int:
    """The rating task in hand: the first not yet due, else the last (a campaign may rate twice)."""
    tasks = [t for t in campaigns.tasks_of(ctx.session, campaign_ids=[record.id])
             if t.kind == "rating" and t.branch_id in (None, branch.id)]
    return next((t for t in tasks if t.due >= ctx.today), tasks[-1]).id


def _confirm(ctx: Context, plan: Plan, branch: Branch) -> None:
    """Only what the member was last shown is confirmed: changed inputs are shown again instead."""
    if ratings.locked(ctx.session, campaign_id=plan.record.id, branch_id=branch.id).status == "confirmed":
        _show(ctx, plan, branch, note="already")
        return
    rating, proposal, changed = current(ctx.session, plan, [branch.id], userid=ctx.person.userid)[branch.id]
    if proposal.score is None or changed:
        _show(ctx, plan, branch, note="missing" if proposal.score is None else "changed")
        return
    ratings.confirm(ctx.session, rating=rating, userid=ctx.person.userid, at=float(ctx.update.create_time))
    task_id = _rating_task_id(ctx, plan.record, branch)
    campaigns.mark_done(ctx.session, task_id=task_id, subject=f"branch:{branch.id}")
    decided = ratings.ratings_of(ctx.session, campaign_id=plan.record.id)
    if all(b.id in decided and decided[b.id].status == "confirmed" for b in ratings.branches(ctx.session)):
        campaigns.mark_done(ctx.session, task_id=task_id, subject="committee")  # the last branch rated
    if branch.chat_id:
        card = render("rating_card", plan=plan, branch=branch, rating=rating, p=proposal, person=ctx.person,
                      inputs=Inputs.from_json(rating.inputs), today=ctx.today)
        messages.to_chat(ctx.session, key=f"rating:{rating.id}:{ctx.update.dedup_key}", chat_id=branch.chat_id,
                         text=card, markdown=True)
    ctx.reply("rating_confirmed", branch=branch, rating=rating, posted=bool(branch.chat_id))


def _reopen(ctx: Context, plan: Plan, branch: Branch) -> None:
    rating = ratings.locked(ctx.session, campaign_id=plan.record.id, branch_id=branch.id)
    if rating.status != "confirmed":
        _show(ctx, plan, branch, note="not_confirmed")
        return
    ratings.reopen(ctx.session, rating=rating)  # recomputed below from today's inputs; what was entered stays
    _show(ctx, plan, branch, note="reopened")


def _enter(ctx: Context, plan: Plan, branch: Branch, entered: dict) -> None:
    if ratings.locked(ctx.session, campaign_id=plan.record.id, branch_id=branch.id).status == "confirmed":
        _show(ctx, plan, branch, note="locked")
        return
    _show(ctx, plan, branch, note="entered", entered=entered)


@router.command("/定级", roles=[Role.committee])
def rate(ctx: Context) -> None:
    plan = rating_plan(ctx.session, today=ctx.today)
    if plan is None:
        ctx.reply("rating_no_campaign")
        return
    try:
        request = parse(ctx.args)
        branch = find_branch(ctx, request.branch) if request.branch else None
    except Invalid as exc:
        ctx.reply(exc.template, **exc.data)
        return
    if request.action == "list":
        _list(ctx, plan)
    elif request.action == "confirm":
        _confirm(ctx, plan, branch)
    elif request.action == "reopen":
        _reopen(ctx, plan, branch)
    elif request.action == "set":
        _enter(ctx, plan, branch, dict(request.entered))
    else:
        _show(ctx, plan, branch)
