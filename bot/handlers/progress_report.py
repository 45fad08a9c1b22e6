"""/践诺: report on one item of my pledge — what was done, and (optionally) how far along."""
from __future__ import annotations

import re
from typing import Any

from bot import forms
from bot.answers import Invalid
from bot.forms import Step
from bot.handlers.pledge import MEMBER_AUDIENCES, my_pledge
from bot.routing import Context, Router
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
        campaigns.mark_kind_done(ctx.session, campaign_id=pledge.campaign_id, kind="progress",
                                 audiences=MEMBER_AUDIENCES, subject=ctx.person.userid)
        ctx.reply("progress_saved")


PROGRESS = forms.register(ProgressForm())


@router.command("/践诺", roles=[Role.member, Role.secretary])
def report_progress(ctx: Context) -> None:
    forms.start_if(ctx, PROGRESS, my_pledge(ctx), "progress_no_pledge")
