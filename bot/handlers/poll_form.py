"""The guided /评议 form: what is rated, the scale, who votes, the deadline and a one-line description.
The committee first picks the branch; a secretary's poll is for their own branch."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot import forms
from bot.answers import Invalid
from bot.campaigns import Task, rules_of
from bot.forms import Step, confirm_step
from bot.poll_issue import PollSpec, issue
from bot.polls import DEFAULT_CLOSING
from bot.routing import Context
from bot.texts import render, vocabulary
from storage import people
from storage import polls as store
from storage.models import Branch, CampaignRecord, CampaignTask, Person, Role

NAME_SEPARATORS = re.compile(r"[、，,；;\s]+")


def poll_task(ctx: Context) -> tuple[CampaignRecord, CampaignTask] | None:
    return forms.campaign_task(ctx, "poll")


def task_defaults(ctx: Context) -> dict[str, Any]:
    """The campaign task's voters, rates and scale (a file's stored content has them all, defaults
    included), its due date at 18:00 (else a week from now) and its title. Once per update: the
    form's steps are built several times per answer."""
    return ctx.once("poll_defaults", lambda: _task_defaults(poll_task(ctx), ctx.today))


def _task_defaults(found: tuple[CampaignRecord, CampaignTask] | None, today: date) -> dict[str, Any]:
    record, task = found if found else (None, None)
    spec = next((t for p in record.content["phases"] for t in p["tasks"] if t["id"] == task.key), {}) if record else {}
    due = task.due if task and task.due >= today else today + timedelta(days=7)
    return {key: spec.get(key, Task.model_fields[key].default) for key in ("voters", "rates", "scale")} | {
        "deadline": datetime.combine(due, DEFAULT_CLOSING), "title": task.title if task else ""}


def scale_labels(ctx: Context) -> dict[str, str]:
    """The campaign's scales as the form offers them ("满意度：满意/基本满意/不满意") → their keys."""
    def labels() -> dict[str, str]:
        rules = rules_of(poll_task(ctx)[0] if poll_task(ctx) else None)
        return {f"{name}：{'/'.join(s.options)}": name for name, s in rules.scales.items()}
    return ctx.once("poll_scales", labels)


def _key(table: str, label: str) -> str:
    return next(k for k, v in vocabulary()["poll"][table].items() if v == label)


def branch_members(ctx: Context, branch_id: int) -> list[Person]:
    return [p for p in people.in_branch(ctx.session, branch_id=branch_id) if p.role in store.MEMBER_ROLES]


class PollForm(forms.BaseForm):
    name = "poll"

    def steps(self, ctx: Context, answers: dict[str, Any]) -> list[Step]:
        words = vocabulary()["poll"]
        steps = []
        if ctx.person.role == Role.committee:
            names = ctx.once("poll_branches", lambda: tuple(ctx.session.scalars(select(Branch.name).order_by(Branch.id))))
            steps.append(Step("branch", "poll_branch", kind="choice", options=names))
        steps.append(Step("rates", "poll_rates", kind="choice", options=tuple(words["rates"].values())))
        if answers.get("rates") == words["rates"]["members"]:
            steps.append(Step("members", "poll_members", data={"names": lambda: self._candidates(ctx, answers)}))
        defaults = task_defaults(ctx)
        steps += [Step("scale", "poll_scale", kind="choice", options=tuple(scale_labels(ctx))),
                  Step("voters", "poll_voters", kind="choice", options=tuple(words["voters"].values())),
                  Step("deadline", "poll_deadline", kind="datetime", optional=True,
                       data={"default": defaults["deadline"]}),
                  Step("description", "poll_description", optional=True, data={"default": defaults["title"]}),
                  confirm_step("poll_confirm", lambda: render("poll_preview", **self._preview(ctx, answers)))]
        return steps

    def _branch(self, ctx: Context, answers: dict[str, Any]) -> Branch | None:
        if ctx.person.role == Role.committee:
            name = answers.get("branch")
            return ctx.once(f"poll_branch:{name}", lambda: people.branch_by_name(ctx.session, name=name or ""))
        return ctx.session.get(Branch, ctx.person.branch_id) if ctx.person.branch_id else None

    def _candidates(self, ctx: Context, answers: dict[str, Any]) -> list[str]:
        branch = self._branch(ctx, answers)
        return [p.name for p in branch_members(ctx, branch.id)] if branch else []

    def check(self, ctx: Context, answers: dict[str, Any], step: Step, value: Any) -> None:
        if step.key == "deadline" and datetime.fromisoformat(value) <= ctx.now.replace(tzinfo=None):
            raise Invalid("invalid_past")
        if step.key == "members":
            self._members(ctx, answers, value)

    def _members(self, ctx: Context, answers: dict[str, Any], text: str) -> list[Person]:
        by_name = {p.name: p for p in branch_members(ctx, self._branch(ctx, answers).id)}
        names = [n for n in NAME_SEPARATORS.split(text) if n]
        unknown = [n for n in names if n not in by_name]
        if unknown or not names:
            raise Invalid("poll_unknown_members", unknown=unknown, known=list(by_name))
        return [by_name[n] for n in dict.fromkeys(names)]

    def specs(self, ctx: Context, answers: dict[str, Any]) -> list[PollSpec]:
        defaults, branch = task_defaults(ctx), self._branch(ctx, answers)
        rates = _key("rates", answers["rates"])
        deadline = datetime.fromisoformat(answers["deadline"]) if answers.get("deadline") else defaults["deadline"]
        common = dict(branch=branch, rates=rates, scale=scale_labels(ctx)[answers["scale"]],
                      voters=_key("voters", answers["voters"]), deadline=deadline,
                      description=answers.get("description") or defaults["title"])
        if rates != "members":
            return [PollSpec(**common)]
        return [PollSpec(**common, subject_person=p) for p in self._members(ctx, answers, answers["members"])]

    def _preview(self, ctx: Context, answers: dict[str, Any]) -> dict[str, Any]:
        specs = self.specs(ctx, answers)
        return {"specs": specs, "voters": answers["voters"], "scale": answers["scale"]}

    def submit(self, ctx: Context, answers: dict[str, Any]) -> None:
        issue_all(ctx, self.specs(ctx, answers))


def issue_all(ctx: Context, specs: list[PollSpec]) -> None:
    issued = []
    if specs and not store.eligible(ctx.session, branch_id=specs[0].branch.id, voters=specs[0].voters):
        ctx.reply("poll_no_voters", branch=specs[0].branch.name, voters=vocabulary()["poll"]["voters"][specs[0].voters])
        return
    for n, spec in enumerate(specs):
        poll, eligible = issue(ctx.session, spec=spec, issuer=ctx.person, tz=str(ctx.now.tzinfo),
                               key=f"poll:{ctx.update.dedup_key}:{n}", found=poll_task(ctx),
                               now=float(ctx.update.create_time))
        issued.append((poll, eligible))
    ctx.reply("poll_issued", issued=issued, deadline=specs[0].deadline if specs else None)


POLL_FORM = forms.register(PollForm())
