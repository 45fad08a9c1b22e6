"""/继续: back to a form that was parked after a pause, at the question where it stopped."""
from bot import forms
from bot.routing import Context, Router

router = Router()


@router.command("/继续")
def resume(ctx: Context) -> None:
    state = forms.current_state(ctx.session, ctx.person.userid)
    if state is None:
        ctx.reply("form_none")
    else:
        forms.resume(ctx, state)
