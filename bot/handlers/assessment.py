"""/自评: a member rates themself against each standard of the member set (好/较好/一般/差) and
writes 差距 and 措施; a secretary may instead do the branch's 党组织自评 against the branch set.
Self-assessments are private: they go to the person's secretary and the committee, never to a group.
"""
from __future__ import annotations

from typing import Any

from bot import forms
from bot.answers import Invalid
from bot.forms import Step
from bot.routing import Context, Router
from bot.texts import render
from storage import campaigns
from storage.models import CampaignRecord, Role, SelfAssessment

router = Router()
RATINGS = ("好", "较好", "一般", "差")
PERSONAL, BRANCH, STARS, SUBMIT = "个人自评", "党组织自评", "五星指标自评", "提交"


def assessment_campaign(ctx: Context) -> CampaignRecord | None:
    for record in campaigns.active_campaigns(ctx.session, today=ctx.today):
        if any(t.kind == "self_assessment" for t in campaigns.tasks_of(ctx.session, campaign_ids=[record.id])):
            return record
    return None


def _scope(ctx: Context, answers: dict[str, Any]) -> str:
    return answers.get("scope") or PERSONAL


def _standards(ctx: Context, answers: dict[str, Any]) -> list[str]:
    content = assessment_campaign(ctx).content
    key = {BRANCH: "branch", STARS: "stars"}.get(_scope(ctx, answers), "member")
    return content["standard_sets"][content["standards"][key]]["items"]


def _scopes(ctx: Context) -> tuple[str, ...]:
    """A secretary chooses: their own 自评, the branch's 党组织自评, or (where the campaign has 五星) the stars."""
    stars = "stars" in assessment_campaign(ctx).content["standards"]
    return (PERSONAL, BRANCH, STARS) if stars else (PERSONAL, BRANCH)


def _asks_party_analysis(ctx: Context) -> bool:
    record = assessment_campaign(ctx)
    return any(t.kind == "self_assessment" and "党性分析" in t.title
               for t in campaigns.tasks_of(ctx.session, campaign_ids=[record.id]))


def assessment_items(ctx: Context, answers: dict[str, Any]) -> list[dict[str, str]]:
    return [{"standard": name, "rating": answers.get(f"r{i}"), "gap": answers.get(f"g{i}"),
             "measure": answers.get(f"m{i}")} for i, name in enumerate(_standards(ctx, answers)) if answers.get(f"r{i}")]


class SelfAssessmentForm:
    name, title = "self_assessment", "自评"

    def steps(self, ctx: Context, answers: dict[str, Any]) -> list[Step]:
        steps = [Step("scope", "assess_scope", kind="choice", options=_scopes(ctx))] \
            if ctx.person.role == Role.secretary else []
        for i, name in enumerate(_standards(ctx, answers)):
            words = {"standard": name, "scope": _scope(ctx, answers)}
            steps += [Step(f"r{i}", "assess_rating", kind="choice", options=RATINGS, data=words),
                      Step(f"g{i}", "assess_gap", data=words), Step(f"m{i}", "assess_measure", data=words)]
        if _scope(ctx, answers) == PERSONAL and _asks_party_analysis(ctx):
            steps.append(Step("analysis", "assess_analysis"))
        preview = lambda: render("assessment_preview", items=assessment_items(ctx, answers),  # noqa: E731
                                 analysis=answers.get("analysis"))
        return steps + [Step("confirm", "assess_confirm", kind="choice", options=(SUBMIT,), data={"preview": preview})]

    def check(self, ctx: Context, answers: dict[str, Any], step: Step, value: Any) -> None:
        if step.key == "confirm" and not assessment_items(ctx, answers):
            raise Invalid("form_required")

    def submit(self, ctx: Context, answers: dict[str, Any]) -> None:
        record, branch = assessment_campaign(ctx), _scope(ctx, answers) in (BRANCH, STARS)
        items = assessment_items(ctx, answers)
        if answers.get("analysis"):
            items.append({"standard": "党性分析", "rating": "", "gap": answers["analysis"], "measure": ""})
        kind = {BRANCH: "branch", STARS: "stars"}.get(_scope(ctx, answers), "member")
        ctx.session.add(SelfAssessment(campaign_id=record.id, userid=ctx.person.userid, branch_id=ctx.person.branch_id,
                                       kind=kind, items=items))
        subject = f"branch:{ctx.person.branch_id}" if branch else ctx.person.userid
        campaigns.mark_kind_done(ctx.session, campaign_id=record.id, kind="self_assessment", subject=subject,
                                 audiences={"branches"} if branch else {"members", "post_holders"})
        ctx.reply("assessment_saved", branch=branch)


SELF_ASSESSMENT = forms.register(SelfAssessmentForm())


@router.command("/自评", roles=[Role.member, Role.secretary])
def self_assessment(ctx: Context) -> None:
    if assessment_campaign(ctx) is None:
        ctx.reply("assessment_no_campaign")
        return
    forms.start(ctx, SELF_ASSESSMENT)
