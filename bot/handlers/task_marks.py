"""/标记: the committee closes a branch's task by hand, because it was done some other way or does not
apply to that branch, and says why. The record (task_done.how, reason, marked_by) keeps the reason;
the digest, reminders and /进度 stop asking for the task like for any done one.

    /标记 第一党支部                      → the branch's open tasks, numbered
    /标记 第一党支部 2 不适用 本支部没有在职教师  → task 2 closed as not applicable, with the reason
"""
from __future__ import annotations

from bot.routing import Context, Router
from bot.scheduler.obligations import Obligations
from bot.texts import vocabulary
from storage import audit, campaigns, people
from storage.models import Branch, CampaignTask, Role

router = Router()
SHORTEST_REASON = 2


@router.command("/标记", roles=[Role.committee])
def mark(ctx: Context) -> None:
    words = ctx.args.split(maxsplit=3)
    every = people.branches(ctx.session)
    branch = people.branch_named(every, words[0]) if words else None
    if branch is None:
        ctx.reply("task_mark_which_branch", name=words[0] if words else "", names=[b.name for b in every])
        return
    tasks = _open_tasks(ctx, branch)
    choice = _choice(words[1:], len(tasks))
    if choice is None:
        ctx.reply("task_mark_list", branch=branch, tasks=tasks, asked=len(words) > 1)
        return
    number, how, reason = choice
    task = tasks[number - 1]
    if campaigns.mark_by_hand(ctx.session, task_id=task.id, subject=f"branch:{branch.id}", how=how, reason=reason,
                              by=ctx.person.userid):
        audit.append(ctx.session, actor=ctx.person.userid, action="task.marked", subject=f"task:{task.id}", details={
            "title": task.title, "branch": branch.name, "for": f"branch:{branch.id}", "how": how, "reason": reason})
    ctx.reply("task_mark_done", branch=branch, task=task, how=how, reason=reason)


def _open_tasks(ctx: Context, branch: Branch) -> list[CampaignTask]:
    """The branch's tasks that have started and are not done, as the digest counts them."""
    owed = Obligations(ctx.session, today=ctx.today, people=[])
    subject = f"branch:{branch.id}"
    return [t for t in owed.tasks if t.audience == "branches" and t.branch_id in (None, branch.id)
            and (t.id, subject) not in owed.done]


def _choice(words: list[str], count: int) -> tuple[int, str, str] | None:
    """(task number, how, reason) from "2 不适用 理由…", or None when any part is missing or wrong."""
    if len(words) < 3 or not words[0].isdecimal() or not 1 <= int(words[0]) <= count:
        return None
    how = vocabulary()["task_marks"].get(words[1])
    reason = words[2].strip()
    if how is None or len(reason) < SHORTEST_REASON:
        return None
    return int(words[0]), how, reason
