"""/定级: the committee's 分类定级. The bot proposes each branch's level (and 五星, 红旗) from its
inputs; a committee member confirms it, and only then is it final and posted to the branch group.
A star the branch claims (its 五星 self-assessment, with its evidence) counts only once a committee
member confirms that star, one by one (/定级 支部 星 班子建设 确认 or 不确认, with an optional comment);
the rating cannot be confirmed while a claimed star is undecided.
/定级 works on the rating round (rating task) whose window holds today; a branch rated in an earlier
round shows how its level moved (一般 → 较强).

What the committee types is read in bot/rating_requests.py, proposals are made in
bot/rating_proposals.py, and the rules are bot/ratings.py.
"""
from __future__ import annotations

from sqlmodel import Session

from bot.answers import Invalid
from bot.rating_proposals import Current, Plan, current, histories, rating_plan, rating_rounds
from bot.ratings import History, claimed
from bot.rating_requests import Request, parse
from bot.routing import Context, Router
from bot.texts import render
from bot.wecom import messages
from storage import audit, campaigns, people, ratings
from storage.models import Branch, Person, Rating, Role

router = Router()


def find_branch(session: Session, name: str) -> Branch:
    """By its name or a part of it (storage.people.branch_named)."""
    every = people.branches(session)
    found = people.branch_named(every, name)
    if found is None:
        raise Invalid("rating_unknown_branch", name=name, names=[b.name for b in every])
    return found


def _one(ctx: Context, plan: Plan, branch: Branch, entered: dict | None = None) -> Current:
    return current(ctx.session, plan, [branch.id], userid=ctx.person.userid, entered=entered)[branch.id]


def _detail(ctx: Context, plan: Plan, branch: Branch, now: Current, note: str = "", star: str = "") -> None:
    rating = now.rating
    confirmer = ctx.session.get(Person, rating.confirmed_by) if rating.confirmed_by else None
    history = histories(ctx.session, plan, {branch.id: rating})[branch.id]
    ctx.reply("rating_detail", plan=plan, branch=branch, rating=rating, p=now.proposal, inputs=now.inputs,
              note=note, star=star, confirmer=confirmer.name if confirmer else rating.confirmed_by, history=history)


def _show(ctx: Context, plan: Plan, branch: Branch, entered: dict) -> None:
    """One branch, after recording what the committee entered (never over a confirmed rating)."""
    now = _one(ctx, plan, branch, entered)
    note = ("locked" if now.rating.status == "confirmed" else "entered") if entered else ""
    if note == "entered":
        _log(ctx, "rating.entered", now.rating, branch, entered)
    _detail(ctx, plan, branch, now, note)


def _list(ctx: Context, plan: Plan) -> None:
    every = people.branches(ctx.session)
    found = current(ctx.session, plan, [b.id for b in every], userid=ctx.person.userid)
    history = histories(ctx.session, plan, {bid: now.rating for bid, now in found.items()})
    ctx.reply("rating_list", plan=plan, rows=[dict(branch=b, rating=found[b.id].rating, p=found[b.id].proposal,
                                                   inputs=found[b.id].inputs, history=history[b.id]) for b in every])


def _mark_done(ctx: Context, plan: Plan, branch: Branch) -> None:
    """This round's rating task is done for the branch; the committee's too once every branch is confirmed."""
    campaigns.mark_done(ctx.session, task_id=plan.task.id, subject=f"branch:{branch.id}")
    decided = ratings.ratings_of(ctx.session, task_id=plan.task.id)
    if all(b.id in decided and decided[b.id].status == "confirmed" for b in people.branches(ctx.session)):
        campaigns.mark_done(ctx.session, task_id=plan.task.id, subject="committee")


def find_star(plan: Plan, name: str) -> str:
    """One of the campaign's 五星 by its name or a part of it."""
    if not plan.indicators:
        raise Invalid("rating_help", problem="no_stars")
    found = [star for star in plan.indicators if star == name] or [star for star in plan.indicators if name in star]
    if len(found) != 1:
        raise Invalid("rating_help", problem="indicator", text=name, names=plan.indicators)
    return found[0]


def _star(ctx: Context, plan: Plan, branch: Branch, request: Request) -> None:
    """The committee's decision on one star the branch claims, on the claim and evidence it was shown;
    never over a confirmed rating, nor on a star the branch has not claimed."""
    star = find_star(plan, request.star)
    now = _one(ctx, plan, branch)
    if now.rating.status == "confirmed":
        _detail(ctx, plan, branch, now, note="locked")
        return
    if not claimed(star, now.inputs, plan.rules):
        _detail(ctx, plan, branch, now, note="star_not_claimed", star=star)
        return
    decision = {"decision": request.decision, "comment": request.comment, "by": ctx.person.name,
                "claim": now.inputs.claim(star)}
    entered = {"star_decisions": {**now.inputs.star_decisions, star: decision}}
    _log(ctx, "rating.entered", now.rating, branch, {"star": star, "decision": request.decision})
    _detail(ctx, plan, branch, _one(ctx, plan, branch, entered), note=f"star_{request.decision}", star=star)


def _confirm(ctx: Context, plan: Plan, branch: Branch) -> None:
    """Only what the member was last shown is confirmed: changed inputs are shown again instead, and
    every star the branch claims must have been decided on."""
    now = _one(ctx, plan, branch)
    rating, proposal = now.rating, now.proposal
    refused = ("already" if rating.status == "confirmed" else "missing" if proposal.score is None
               else "changed" if now.changed else "stars_undecided" if proposal.undecided else "")
    if refused:
        _detail(ctx, plan, branch, now, note=refused)
        return
    ratings.confirm(ctx.session, rating=rating, userid=ctx.person.userid, at=float(ctx.update.create_time))
    _log(ctx, "rating.confirmed", rating, branch, {"level": rating.level, "score": rating.score, "stars": rating.stars,
                                                    "red_flag": rating.red_flag})
    _mark_done(ctx, plan, branch)
    history = histories(ctx.session, plan, {branch.id: rating})[branch.id]
    if branch.chat_id:
        _post(ctx, plan, branch, now, history)
    ctx.reply("rating_confirmed", branch=branch, rating=rating, posted=bool(branch.chat_id), history=history)


def _log(ctx: Context, action: str, rating: Rating, branch: Branch, details: dict) -> None:
    """An entry in the audit log: what the committee entered, confirmed or withdrew, on which round's rating."""
    audit.append(ctx.session, actor=ctx.person.userid, action=action, subject=f"rating:{rating.id}",
                 details={"branch": branch.name, "round": rating.task_id, **details})


def _post(ctx: Context, plan: Plan, branch: Branch, now: Current, history: History) -> None:
    """The confirmed rating, its evidence and its history, to the branch group."""
    card = render("rating_card", plan=plan, branch=branch, rating=now.rating, p=now.proposal, person=ctx.person,
                  inputs=now.inputs, today=ctx.today, history=history)
    messages.to_chat(ctx.session, key=f"rating:{now.rating.id}:{ctx.update.dedup_key}", chat_id=branch.chat_id,
                     text=card, markdown=True)


def _reopen(ctx: Context, plan: Plan, branch: Branch) -> None:
    [rating] = ratings.locked(ctx.session, task=plan.task, branch_ids=[branch.id]).values()
    reopened = rating.status == "confirmed"
    if reopened:
        _log(ctx, "rating.withdrawn", rating, branch, {"level": rating.level})  # the level it had
        ratings.reopen(ctx.session, rating=rating)  # recomputed below from today's inputs; what was entered stays
    _detail(ctx, plan, branch, _one(ctx, plan, branch), note="reopened" if reopened else "not_confirmed")


@router.command("/定级", roles=[Role.committee])
def rate(ctx: Context) -> None:
    plan = rating_plan(ctx.session, today=ctx.today)
    if plan is None:
        ctx.reply("rating_no_campaign", rounds=rating_rounds(ctx.session, today=ctx.today), today=ctx.today)
        return
    try:
        request = parse(ctx.args)
        branch = find_branch(ctx.session, request.branch) if request.branch else None
        if request.action == "star":
            _star(ctx, plan, branch, request)
            return
    except Invalid as exc:
        ctx.reply(exc.template, **{"stars": bool(plan.indicators), **exc.data})
        return
    if request.action == "list":
        _list(ctx, plan)
    elif request.action == "confirm":
        _confirm(ctx, plan, branch)
    elif request.action == "reopen":
        _reopen(ctx, plan, branch)
    else:
        _show(ctx, plan, branch, request.entered)
