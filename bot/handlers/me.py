"""/我: what the roster says about me, so people can check their own registration."""
from bot.routing import Context, Router
from bot.texts import vocabulary
from storage.models import Branch

router = Router()


@router.command("/我")
def show_me(ctx: Context) -> None:
    branch = ctx.session.get(Branch, ctx.person.branch_id) if ctx.person.branch_id else None
    ctx.reply("me", role_label=vocabulary()["roles"][ctx.person.role],
              branch_name=branch.name if branch else None, attributes=ctx.person.attributes)
