"""/我: what the roster says about me, so people can check their own registration."""
from bot.routing import Context, Router
from bot.scheduler.obligations import POST_COLUMN, audiences
from bot.texts import vocabulary
from storage.people import branch_of

router = Router()


@router.command("/我")
def show_me(ctx: Context) -> None:
    """The 有职 column is said as what it makes of the person (有职党员, who makes a 岗位承诺), or not at
    all; any other column the roster had is shown as its header and value."""
    branch = branch_of(ctx.session, ctx.person)
    others = {key: value for key, value in ctx.person.attributes.items() if key != POST_COLUMN}
    ctx.reply("me", role_label=vocabulary()["roles"][ctx.person.role], branch_name=branch.name if branch else None,
              post_holder="post_holders" in audiences(ctx.person), attributes=others)
