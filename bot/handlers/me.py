"""/我: what the roster says about me, so people can check their own registration."""
from bot.routing import Context, Router
from bot.texts import vocabulary
from storage.people import branch_of

router = Router()


@router.command("/我")
def show_me(ctx: Context) -> None:
    branch = branch_of(ctx.session, ctx.person)
    ctx.reply("me", role_label=vocabulary()["roles"][ctx.person.role],
              branch_name=branch.name if branch else None, attributes=ctx.person.attributes)
