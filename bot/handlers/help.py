"""/帮助: the commands this person's role may use."""
from bot.routing import Context, Router
from bot.texts import vocabulary

router = Router()


@router.command("/帮助")
def show_help(ctx: Context) -> None:
    words = vocabulary()["commands"]
    commands = [{"name": c.name, "summary": _summary(words.get(c.name, {}), ctx.person.role)} for c in ctx.available]
    ctx.reply("help", commands=commands)


def _summary(words: dict, role: str) -> str:
    """A command's line in the help; some commands do something else for some roles (/评议 lists a
    member's pending polls instead of issuing one)."""
    return words.get("summary_by_role", {}).get(role, words.get("summary", ""))
