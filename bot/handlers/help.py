"""/帮助: the commands this person's role may use."""
from bot.routing import Context, Router
from bot.texts import vocabulary

router = Router()


@router.command("/帮助")
def show_help(ctx: Context) -> None:
    words = vocabulary()["commands"]
    commands = [{"name": c.name, "summary": words.get(c.name, {}).get("summary", "")} for c in ctx.available]
    ctx.reply("help", commands=commands)
