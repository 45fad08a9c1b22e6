"""/自评: a member rates themself against each standard of the member set (好/较好/一般/差) and
writes 差距 and 措施; a secretary may instead do the branch's 党组织自评 against the branch set.
Self-assessments are private: they go to the person's secretary and the committee, never to a group.
"""
from __future__ import annotations

from typing import Any

from bot import forms
from bot.answers import Invalid
from bot.campaigns import rules_of
from bot.forms import Step, confirm_step
from bot.routing import Context, Router
from bot.scheduler.obligations import audiences
from bot.texts import render, vocabulary
from storage import campaigns
from storage.models import CampaignRecord, CampaignTask, Role, SelfAssessment

router = Router()


def _audiences(ctx: Context, kind: str) -> frozenset[str]:
    """Whose self-assessment tasks this one answers: the branch's (党组织自评, 五星) or the person's own."""
    return forms.BRANCHES if kind != "member" else forms.MEMBER_AUDIENCES & audiences(ctx.person)


def _choices(ctx: Context, kind: str) -> tuple[CampaignRecord, list[CampaignTask]] | None:
    return forms.task_choices(ctx, "self_assessment", _audiences(ctx, kind)) if _audiences(ctx, kind) else None


def assessment_campaign(ctx: Context) -> CampaignRecord | None:
    """The campaign with a self-assessment task open today for this person (or, for a secretary, the branch)."""
    kinds = ("member", "branch") if ctx.person.role == Role.secretary else ("member",)
    found = next(filter(None, (_choices(ctx, kind) for kind in kinds)), None)
    return found[0] if found else None


def assessment_task(ctx: Context, answers: dict[str, Any]) -> tuple[CampaignRecord, CampaignTask] | None:
    """The one task this self-assessment fulfils (its scope's, as chosen when two are open), or none
    when no task of its scope is open today."""
    found = _choices(ctx, _kind(answers))
    return forms.chosen_task(found, answers) if found and found[0].id == assessment_campaign(ctx).id else None


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


def _asks_party_analysis(ctx: Context, answers: dict[str, Any]) -> bool:
    """Whether the task this self-assessment fulfils asks for a 党性分析 too (seed000's of 2011 does,
    its 对标定位 of 2012 does not)."""
    found = assessment_task(ctx, answers)
    return found is not None and vocabulary()["forms"]["party_analysis"] in found[1].title


def assessment_items(ctx: Context, answers: dict[str, Any]) -> list[dict[str, str]]:
    """Each standard's answer with 差距 and 措施; a 五星 claim carries its evidence instead, which the
    committee reads when it confirms the star (bot/handlers/rating.py)."""
    if _kind(answers) == "stars":
        return [{"standard": name, "rating": answers.get(f"r{i}"), "evidence": answers.get(f"e{i}")}
                for i, name in enumerate(_standards(ctx, answers)) if answers.get(f"r{i}")]
    return [{"standard": name, "rating": answers.get(f"r{i}"), "gap": answers.get(f"g{i}"),
             "measure": answers.get(f"m{i}")} for i, name in enumerate(_standards(ctx, answers)) if answers.get(f"r{i}")]


def _claims(ctx: Context) -> dict[str, Any]:
    """For a 五星 self-assessment: which answers claim a star, and whether that is this campaign's default."""
    rules = rules_of(assessment_campaign(ctx))
    return {"ratings": rules.star_self_ratings, "defaults": rules.applied_defaults("star_self_ratings")}


class SelfAssessmentForm(forms.BaseForm):
    name = "self_assessment"

    def steps(self, ctx: Context, answers: dict[str, Any]) -> list[Step]:
        steps = [Step("scope", "assess_scope", kind="choice", options=_scopes(ctx))] \
            if ctx.person.role == Role.secretary else []
        ratings, kind = tuple(vocabulary()["forms"]["ratings"]), _kind(answers)
        if "scope" in answers or ctx.person.role != Role.secretary:
            steps += forms.task_step(_choices(ctx, kind))
        for i, name in enumerate(_standards(ctx, answers)):
            claims = _claims(ctx) if kind == "stars" and i == 0 else None  # said once, at the first star
            words = {"standard": name, "branch": kind != "member", "claims": claims}
            steps.append(Step(f"r{i}", "assess_rating", kind="choice", options=ratings, data=words))
            steps += [Step(f"e{i}", "assess_evidence", data=words)] if kind == "stars" else \
                [Step(f"g{i}", "assess_gap", data=words), Step(f"m{i}", "assess_measure", data=words)]
        if kind == "member" and _asks_party_analysis(ctx, answers):
            steps.append(Step("analysis", "assess_analysis"))
        preview = lambda: render("assessment_preview", items=assessment_items(ctx, answers),  # noqa: E731
                                 analysis=answers.get("analysis"))
        return steps + [confirm_step("assess_confirm", preview)]

    def check(self, ctx: Context, answers: dict[str, Any], step: Step, value: Any) -> None:
        if step.key == "confirm" and not assessment_items(ctx, answers):
            raise Invalid("form_required")

    def submit(self, ctx: Context, answers: dict[str, Any]) -> None:
        record, kind = assessment_campaign(ctx), _kind(answers)
        found = assessment_task(ctx, answers)
        branch = kind != "member"
        items = assessment_items(ctx, answers)
        if answers.get("analysis"):
            items.append({"standard": vocabulary()["forms"]["party_analysis"], "rating": "",
                          "gap": answers["analysis"], "measure": ""})
        ctx.session.add(SelfAssessment(campaign_id=record.id, task_id=found[1].id if found else None,
                                       userid=ctx.person.userid, branch_id=ctx.person.branch_id,
                                       kind=kind, items=items, submitted_at=float(ctx.update.create_time)))
        if found is not None:
            subject = f"branch:{ctx.person.branch_id}" if branch else ctx.person.userid
            campaigns.mark_done(ctx.session, task_id=found[1].id, subject=subject)
        ctx.reply("assessment_saved", branch=branch)


SELF_ASSESSMENT = forms.register(SelfAssessmentForm())


@router.command("/自评", roles=[Role.member, Role.secretary])
def self_assessment(ctx: Context) -> None:
    forms.start_if(ctx, SELF_ASSESSMENT, assessment_campaign(ctx), "assessment_no_campaign")
