"""/进度: a member sees their own tasks; a secretary their branch, task by task with who is open;
the committee every branch. Every view ends with the open polls still waiting for the reader's vote."""
from datetime import datetime

from bot.routing import Context, Router
from bot.scheduler.obligations import Obligations
from bot.texts import vocabulary
from storage import polls
from storage.models import Role
from storage.people import in_branch
from storage.pledges import latest_pledges

router = Router()


@router.command("/进度")
def show_progress(ctx: Context) -> None:
    # Each view loads only the people it is about: a member's /进度 must not read the whole roster.
    if ctx.person.role == Role.committee:
        ob = Obligations(ctx.session, today=ctx.today)
        ctx.reply("progress_all", rows=_all_branches(ob), polls=_to_vote(ctx))
    elif ctx.person.role == Role.secretary and ctx.person.branch_id:
        ob = Obligations(ctx.session, today=ctx.today, people=in_branch(ctx.session, branch_id=ctx.person.branch_id))
        ctx.reply("progress_branch", branch=ob.branches[ctx.person.branch_id].name,
                  rows=_branch_rows(ob, ctx.person.branch_id), flagged=_flagged(ctx, ob), polls=_to_vote(ctx))
    else:
        ob = Obligations(ctx.session, today=ctx.today, people=[ctx.person])
        ctx.reply("progress_member", items=ob.tasks_for(ctx.person), action=vocabulary()["task_actions"],
                  polls=_to_vote(ctx))


def _to_vote(ctx: Context) -> list[tuple]:
    """The open polls this person may still vote in, each with its deadline in the reader's time zone
    (as the weekly digest lists them: /进度 is where a member looks for what is left to do)."""
    tz = ctx.now.tzinfo if ctx.now else None
    pending = polls.pending_for(ctx.session, userid=ctx.person.userid)
    return [(poll, datetime.fromtimestamp(poll.deadline, tz)) for poll in pending]


def _branch_rows(ob: Obligations, branch_id: int) -> list[dict]:
    rows = []
    for task in ob.tasks:
        total, still_open = ob.branch_status(task, branch_id)
        if total:
            rows.append({"task": task, "total": total, "open": [p.name for p in still_open]})
    return rows


def _all_branches(ob: Obligations) -> list[dict]:
    rows = []
    for branch in ob.branches.values():  # in the order people count them
        counts = [ob.branch_status(task, branch.id) for task in ob.tasks]
        total = sum(c[0] for c in counts)
        if total:
            rows.append({"branch": branch.name, "total": total, "open": sum(len(c[1]) for c in counts)})
    return rows


def _flagged(ctx: Context, ob: Obligations) -> list[dict]:
    """Pledge items of the branch the formalism guard flagged, for the secretary to follow up."""
    names = {p.userid: p.name for p in ob.people}
    pledges = latest_pledges(ctx.session, campaign_ids=list(ob.campaigns), branch_id=ctx.person.branch_id)
    return [{"name": names.get(p.userid, p.userid), "standard": item["standard"], "what": item["what"],
             "codes": [f["code"] for f in item.get("flags", [])]}
            for p in pledges for item in p.items if item.get("flags")]
