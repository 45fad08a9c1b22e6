"""/承诺 支部: the secretary's branch pledge — 四定一承诺 (目标、任务、计划、措施 and the public
pledge) or, when the campaign asks for a 整改方案, 问题、责任人、措施、时限. Published to the group."""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from bot import forms
from bot.answers import Invalid
from bot.forms import Step
from bot.routing import Context
from bot.texts import render
from bot.wecom import messages
from storage import campaigns
from storage.models import Branch, CampaignRecord, CampaignTask, Pledge

SIX_PARTS = (("goal", "目标"), ("tasks", "任务"), ("plan", "计划"), ("measures", "措施"), ("promise", "承诺"))
RECTIFY_PARTS = (("problem", "问题"), ("owner", "责任人"), ("measures", "措施"), ("deadline", "时限"))


def branch_pledge_task(ctx: Context) -> tuple[CampaignRecord, CampaignTask] | None:
    for record in campaigns.active_campaigns(ctx.session, today=ctx.today):
        for task in campaigns.tasks_of(ctx.session, campaign_ids=[record.id]):
            if task.kind == "pledge" and task.audience == "branches":
                return record, task
    return None


def _parts(ctx: Context) -> tuple[tuple[str, str], ...]:
    found = branch_pledge_task(ctx)
    return RECTIFY_PARTS if found and "整改" in found[1].title else SIX_PARTS


class BranchPledge:
    name, title = "branch_pledge", "支部承诺"

    def steps(self, ctx: Context, answers: dict[str, Any]) -> list[Step]:
        steps = [Step(key, "branch_part", kind="date" if key == "deadline" else "text", data={"part": label})
                 for key, label in _parts(ctx)]
        preview = lambda: render("branch_pledge_preview", items=self.items(ctx, answers))  # noqa: E731
        return steps + [Step("confirm", "pledge_confirm", kind="choice", options=("提交",), data={"preview": preview})]

    def items(self, ctx: Context, answers: dict[str, Any]) -> list[dict[str, str]]:
        return [{"standard": label, "what": answers[key], "how": "", "by": answers[key] if key == "deadline" else ""}
                for key, label in _parts(ctx) if answers.get(key)]

    def check(self, ctx: Context, answers: dict[str, Any], step: Step, value: Any) -> None:
        if step.kind == "date" and date.fromisoformat(value) < ctx.today:
            raise Invalid("invalid_past")

    def submit(self, ctx: Context, answers: dict[str, Any]) -> None:
        record, task = branch_pledge_task(ctx)
        version = 1 + (ctx.session.scalar(select(func.max(Pledge.version)).where(
            Pledge.campaign_id == record.id, Pledge.branch_id == ctx.person.branch_id, Pledge.kind == "branch")) or 0)
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
