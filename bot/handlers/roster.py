"""/名单: a secretary sees their branch; the committee sees every branch and its group chat."""
from bot.routing import Context, Router
from bot.texts import vocabulary
from storage import people
from storage.models import Branch, Role

router = Router()
ORDER = (Role.secretary, Role.member, Role.masses, Role.committee)  # how a branch's people are listed


@router.command("/名单", roles=[Role.secretary, Role.committee])
def show_roster(ctx: Context) -> None:
    if ctx.person.role == Role.committee and not ctx.args:
        ctx.reply("roster_all", rows=people.branch_overview(ctx.session))
        return
    branch = branch_asked_for(ctx)
    if branch is None:
        ctx.reply("no_branch")
        return
    members = people.in_branch(ctx.session, branch_id=branch.id)
    labels = vocabulary()["roles"]
    groups = [(labels[role], [p.name for p in members if p.role == role]) for role in ORDER]
    ctx.reply("roster_branch", branch=branch, people=members, groups=[g for g in groups if g[1]])


def branch_asked_for(ctx: Context) -> Branch | None:
    """A secretary's own branch, always; the committee's is the one it names (/名单 第一党支部), if any."""
    if ctx.person.role == Role.committee:
        return people.branch_by_name(ctx.session, name=ctx.args) if ctx.args else None
    return people.branch_of(ctx.session, ctx.person)
