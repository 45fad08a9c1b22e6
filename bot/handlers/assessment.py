"""/自评: a member rates themself against each standard of the member set (好/较好/一般/差) and
writes 差距 and 措施; a secretary may instead do the branch's 党组织自评 against the branch set.
Self-assessments are private: they go to the person's secretary and the committee, never to a group.
"""
from __future__ import annotations

from typing import Any

from bot import forms
from bot.answers import Invalid
from bot.forms import Step, confirm_step
from bot.routing import Context, Router
from bot.texts import render, vocabulary
from storage import campaigns
from storage.models import CampaignRecord, Role, SelfAssessment

router = Router()


def assessment_campaign(ctx: Context) -> CampaignRecord | None:
    found = forms.campaign_task(ctx, "self_assessment")
    return found[0] if found else None


def _kind(answers: dict[str, Any]) -> str:
    """"member", "branch" or "stars": which standard set, from the scope a secretary chose."""
    kinds = vocabulary()["forms"]["assessment_kinds"]
    return next((kind for kind, label in kinds.items() if label == answers.get("scope")), "member")


def _standards(ctx: Context, answers: dict[str, Any]) -> list[str]:
    content = assessment_campaign(ctx).content
    return content["standard_sets"][content["standards"][_kind(answers)]]["items"]


def _scopes(ctx: Context) -> tuple[str, ...]:
    """A secretary chooses: their own 自评, the branch's 党组织自评, or (where the campaign has 五星) the stars."""
    standards = assessment_campaign(ctx).content["standards"]
    kinds = vocabulary()["forms"]["assessment_kinds"]
    return tuple(label for kind, label in kinds.items() if kind == "member" or kind in standards)


def _asks_party_analysis(ctx: Context) -> bool:
    """Whether a self-assessment task asks for a 党性分析 too; once per update, as the steps are built
    several times per answer."""
    record = assessment_campaign(ctx)
    return ctx.once("party_analysis", lambda: any(t.kind == "self_assessment" and "党性分析" in t.title
                                                 for t in campaigns.tasks_of(ctx.session, campaign_ids=[record.id])))


def assessment_items(ctx: Context, answers: dict[str, Any]) -> list[dict[str, str]]:
    return [{"standard": name, "rating": answers.get(f"r{i}"), "gap": answers.get(f"g{i}"),
             "measure": answers.get(f"m{i}")} for i, name in enumerate(_standards(ctx, answers)) if answers.get(f"r{i}")]


class SelfAssessmentForm(forms.BaseForm):
    name = "self_assessment"

    def steps(self, ctx: Context, answers: dict[str, Any]) -> list[Step]:
        steps = [Step("scope", "assess_scope", kind="choice", options=_scopes(ctx))] \
            if ctx.person.role == Role.secretary else []
        ratings, kind = tuple(vocabulary()["forms"]["ratings"]), _kind(answers)
        for i, name in enumerate(_standards(ctx, answers)):
            words = {"standard": name, "branch": kind != "member"}
            steps += [Step(f"r{i}", "assess_rating", kind="choice", options=ratings, data=words),
                      Step(f"g{i}", "assess_gap", data=words), Step(f"m{i}", "assess_measure", data=words)]
        if kind == "member" and _asks_party_analysis(ctx):
            steps.append(Step("analysis", "assess_analysis"))
        preview = lambda: render("assessment_preview", items=assessment_items(ctx, answers),  # noqa: E731
                                 analysis=answers.get("analysis"))
        return steps + [confirm_step("assess_confirm", preview)]

    def check(self, ctx: Context, answers: dict[str, Any], step: Step, value: Any) -> None:
        if step.key == "confirm" and not assessment_items(ctx, answers):
            raise Invalid("form_required")

    def submit(self, ctx: Context, answers: dict[str, Any]) -> None:
        record, kind = assessment_campaign(ctx), _kind(answers)
        branch = kind != "member"
        items = assessment_items(ctx, answers)
        if answers.get("analysis"):
            items.append({"standard": vocabulary()["forms"]["party_analysis"], "rating": "",
                          "gap": answers["analysis"], "measure": ""})
        ctx.session.add(SelfAssessment(campaign_id=record.id, userid=ctx.person.userid, branch_id=ctx.person.branch_id,
                                       kind=kind, items=items, submitted_at=float(ctx.update.create_time)))
        subject = f"branch:{ctx.person.branch_id}" if branch else ctx.person.userid
        campaigns.mark_kind_done(ctx.session, campaign_id=record.id, kind="self_assessment", subject=subject,
                                 audiences={"branches"} if branch else {"members", "post_holders"})
        ctx.reply("assessment_saved", branch=branch)


SELF_ASSESSMENT = forms.register(SelfAssessmentForm())


@router.command("/自评", roles=[Role.member, Role.secretary])
def self_assessment(ctx: Context) -> None:
    forms.start_if(ctx, SELF_ASSESSMENT, assessment_campaign(ctx), "assessment_no_campaign")
