"""/承诺 支部: the secretary's branch pledge — 四定一承诺 (目标、任务、计划、措施 and the public
pledge) or, when the campaign asks for a 整改方案, 问题、责任人、措施、时限. Published to the group."""
from __future__ import annotations

from datetime import date
from typing import Any

from bot import forms
from bot.answers import Invalid
from bot.forms import Step, confirm_step
from bot.routing import Context
from bot.texts import render, vocabulary
from bot.wecom import messages
from storage import campaigns
from storage.models import Branch, CampaignRecord, CampaignTask, Pledge
from storage.pledges import latest_pledge, next_version

def branch_pledge_task(ctx: Context) -> tuple[CampaignRecord, CampaignTask] | None:
    return ctx.once("branch_pledge_task", lambda: campaigns.find_task(
        ctx.session, today=ctx.today, kind="pledge", audiences={"branches"}, branch_id=ctx.person.branch_id))


def _parts(ctx: Context) -> list[tuple[str, str]]:
    found = branch_pledge_task(ctx)
    parts = vocabulary()["forms"]["rectify_parts" if found and "整改" in found[1].title else "branch_parts"]
    return list(parts.items())


class BranchPledge:
    name, title = "branch_pledge", "支部承诺"

    def steps(self, ctx: Context, answers: dict[str, Any]) -> list[Step]:
        steps = [Step(key, "branch_part", kind="date" if key == "deadline" else "text", data={"part": label})
                 for key, label in _parts(ctx)]
        preview = lambda: render("branch_pledge_preview", items=self.items(ctx, answers))  # noqa: E731
        return steps + [confirm_step("pledge_confirm", preview)]

    def items(self, ctx: Context, answers: dict[str, Any]) -> list[dict[str, str]]:
        return [{"standard": label, "what": answers[key], "how": "", "by": answers[key] if key == "deadline" else ""}
                for key, label in _parts(ctx) if answers.get(key)]

    def check(self, ctx: Context, answers: dict[str, Any], step: Step, value: Any) -> None:
        if step.kind == "date" and date.fromisoformat(value) < ctx.today:
            raise Invalid("invalid_past")

    def submit(self, ctx: Context, answers: dict[str, Any]) -> None:
        record, task = branch_pledge_task(ctx)
        version = next_version(latest_pledge(ctx.session, campaign_id=record.id, kind="branch",
                                             branch_id=ctx.person.branch_id))
        pledge = Pledge(campaign_id=record.id, userid=ctx.person.userid, branch_id=ctx.person.branch_id, kind="branch",
                        version=version, items=self.items(ctx, answers), submitted_at=float(ctx.update.create_time))
        ctx.session.add(pledge)
        ctx.session.flush()
        campaigns.mark_done(ctx.session, task_id=task.id, subject=f"branch:{ctx.person.branch_id}")
        branch = ctx.session.get(Branch, ctx.person.branch_id)
        if branch and branch.chat_id:
            messages.to_chat(ctx.session, key=f"pledge:{pledge.id}", chat_id=branch.chat_id, markdown=True,
                             text=render("branch_pledge_published", branch=branch.name, title=task.title,
                                         items=pledge.items, version=version))
        ctx.reply("pledge_submitted", published=bool(branch and branch.chat_id), version=version)


BRANCH_PLEDGE = forms.register(BranchPledge())
