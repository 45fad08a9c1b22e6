"""/请假 7天: no personal reminders for a while (group announcements still go to the group)."""
import re
from datetime import timedelta

from bot.routing import Context, Router
from storage.counting import chinese_number
from storage.models import ReminderPause

router = Router()
MAX_DAYS = 60


def parse_days(text: str) -> int | None:
    """7天, 7, 一周, 两周, 十天, 1个月 → days; None when it says no duration."""
    match = re.search(r"(\d+|[一两二三四五六七八九十]+)\s*(个)?\s*(天|日|周|星期|礼拜|月)?", text)
    if not match:
        return None
    unit = match[3] or "天"
    return chinese_number(match[1]) * {"天": 1, "日": 1, "周": 7, "星期": 7, "礼拜": 7, "月": 30}[unit]


@router.command("/请假")
def pause_reminders(ctx: Context) -> None:
    if any(word in ctx.args for word in ("取消", "恢复", "结束")):
        existing = ctx.session.get(ReminderPause, ctx.person.userid)
        if existing:
            ctx.session.delete(existing)
        ctx.reply("pause_cleared")
        return
    days = parse_days(ctx.args)
    if not days or days > MAX_DAYS:
        ctx.reply("pause_help")
        return
    # Today is the first of the days, so 7天 on 12月2日 is the 2nd to the 8th, both included: the
    # reply names that last day and the day after, when reminders come back (storage.nudges.paused).
    until = ctx.today + timedelta(days=days - 1)
    ctx.session.merge(ReminderPause(userid=ctx.person.userid, until=until))  # a new pause replaces the old one
    ctx.reply("pause_set", until=until, resume=until + timedelta(days=1), days=days)
