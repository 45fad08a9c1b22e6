"""/承诺 支部: the secretary's branch pledge — 四定一承诺 (目标、任务、计划、措施 and the public
pledge) or, when the campaign asks for a 整改方案, 问题、责任人、措施、时限. Published to the group,
as every pledge is (publish() here serves the members' pledges too)."""
from __future__ import annotations

from typing import Any

from bot import forms
from bot.forms import Step, confirm_step
from bot.routing import Context
from bot.texts import render, vocabulary
from bot.wecom import messages
from storage import campaigns
from storage.models import CampaignRecord, CampaignTask, Pledge, Role
from storage.people import branch_of
from storage.pledges import add_pledge


def branch_pledge_task(ctx: Context, answers: dict[str, Any] | None = None
                       ) -> tuple[CampaignRecord, CampaignTask] | None:
    """The branch's pledge task whose window holds today (a 整改方案 the bot added is one too), as
    chosen when two are open."""
    return forms.campaign_task(ctx, "pledge", forms.BRANCHES, answers)


def _parts(ctx: Context, answers: dict[str, Any]) -> list[tuple[str, str]]:
    found = branch_pledge_task(ctx, answers)
    parts = vocabulary()["forms"]["rectify_parts" if found and "整改" in found[1].title else "branch_parts"]
    return list(parts.items())


class BranchPledge(forms.BaseForm):
    name = "branch_pledge"

    def steps(self, ctx: Context, answers: dict[str, Any]) -> list[Step]:
        steps = forms.task_step(forms.task_choices(ctx, "pledge", forms.BRANCHES))
        steps += [Step(key, "branch_part", kind="date" if key == "deadline" else "text", data={"part": label})
                  for key, label in _parts(ctx, answers)]
        preview = lambda: render("branch_pledge_preview", items=self.items(ctx, answers))  # noqa: E731
        return steps + [confirm_step("pledge_confirm", preview)]

    def items(self, ctx: Context, answers: dict[str, Any]) -> list[dict[str, str]]:
        return [{"standard": label, "what": answers[key], "how": "", "by": answers[key] if key == "deadline" else ""}
                for key, label in _parts(ctx, answers) if answers.get(key)]

    def submit(self, ctx: Context, answers: dict[str, Any]) -> None:
        record, task = branch_pledge_task(ctx, answers)
        pledge = add_pledge(ctx.session, campaign_id=record.id, task_id=task.id, person=ctx.person, kind="branch",
                            items=self.items(ctx, answers), at=float(ctx.update.create_time))
        campaigns.mark_done(ctx.session, task_id=task.id, subject=f"branch:{ctx.person.branch_id}")
        publish(ctx, pledge, "branch_pledge_published", title=task.title)


BRANCH_PLEDGE = forms.register(BranchPledge())


def begin(ctx: Context) -> None:
    """/承诺 支部 (routed here by /承诺): only a secretary of a branch writes it."""
    if ctx.person.role != Role.secretary or not ctx.person.branch_id:
        ctx.reply("not_allowed", command="/承诺 支部", roles=[vocabulary()["roles"][Role.secretary]])
    else:
        forms.start_if(ctx, BRANCH_PLEDGE, branch_pledge_task(ctx), "pledge_no_campaign")


def publish(ctx: Context, pledge: Pledge, template: str, **data: Any) -> None:
    """Pledges are public: each version goes to the branch's group (when it has one); the author is told."""
    branch = branch_of(ctx.session, ctx.person)
    chat_id = branch.chat_id if branch else None
    if chat_id:
        messages.to_chat(ctx.session, key=f"pledge:{pledge.id}", chat_id=chat_id, markdown=True,
                         text=render(template, branch=branch.name, items=pledge.items, version=pledge.version, **data))
    ctx.reply("pledge_submitted", published=bool(chat_id), version=pledge.version)
