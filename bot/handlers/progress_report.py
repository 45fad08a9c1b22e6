"""/践诺: report on one item of my pledge — what was done, and (optionally) how far along."""
from __future__ import annotations

import re
from typing import Any

from bot import forms
from bot.answers import Invalid
from bot.forms import Step
from bot.handlers.pledge import my_pledge
from bot.routing import Context, Router
from bot.scheduler.obligations import audiences
from storage import campaigns
from storage.models import PledgeProgress, Role

router = Router()


def _label(item: dict[str, Any]) -> str:
    return f"【{item['standard']}】{item['what']}"[:40]


class ProgressForm(forms.BaseForm):
    name = "pledge_progress"

    def steps(self, ctx: Context, answers: dict[str, Any]) -> list[Step]:
        pledge = my_pledge(ctx)
        labels = tuple(_label(item) for item in (pledge.items if pledge else []))
        return [Step("item", "progress_item", kind="choice", options=labels),
                Step("text", "progress_text"),
                Step("percent", "progress_percent", optional=True)]

    def check(self, ctx: Context, answers: dict[str, Any], step: Step, value: Any) -> None:
        if step.key == "percent":  # a skipped step is not checked
            match = re.fullmatch(r"(\d{1,3})\s*%?", value.replace("％", "%"))
            if not match or int(match[1]) > 100:
                raise Invalid("invalid_percent")

    def submit(self, ctx: Context, answers: dict[str, Any]) -> None:
        pledge = my_pledge(ctx)
        labels = [_label(item) for item in pledge.items]
        percent = int(re.sub(r"\D", "", answers["percent"])) if answers.get("percent") else None
        ctx.session.add(PledgeProgress(pledge_id=pledge.id, item=labels.index(answers["item"]),
                                       text=answers["text"], percent=percent,
                                       reported_at=float(ctx.update.create_time)))
        _credit(ctx, pledge.campaign_id)
        ctx.reply("progress_saved")


def _credit(ctx: Context, campaign_id: int) -> None:
    """The one progress task of this person whose window holds today (the earliest due when two are
    open: a report is not asked which), in the pledge's campaign; none in another phase."""
    found = campaigns.find_task(ctx.session, today=ctx.today, kind="progress",
                                audiences=set(forms.MEMBER_AUDIENCES & audiences(ctx.person)),
                                branch_id=ctx.person.branch_id, subject=ctx.person.userid)
    if found is not None and found[0].id == campaign_id:
        campaigns.mark_done(ctx.session, task_id=found[1].id, subject=ctx.person.userid)


PROGRESS = forms.register(ProgressForm())


@router.command("/践诺", roles=[Role.member, Role.secretary])
def report_progress(ctx: Context) -> None:
    forms.start_if(ctx, PROGRESS, my_pledge(ctx), "progress_no_pledge")
