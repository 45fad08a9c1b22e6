"""The guided /评议 form: what is rated, the scale, who votes, the deadline and a one-line description.
The committee first picks the branch; a secretary's poll is for their own branch."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any


from bot import forms
from bot.answers import Invalid
from bot.campaigns import Task, rules_of
from bot.forms import Step, confirm_step
from bot.polls.issue import PollSpec, issue
from bot.polls.rules import default_deadline
from bot.routing import Context
from bot.texts import render, vocabulary
from storage import campaigns, people
from storage import polls as store
from storage.models import Branch, CampaignRecord, CampaignTask, Person, Role

NAME_SEPARATORS = re.compile(r"[、，,；;\s]+")
# The longest description the form takes as typed: what the card's main_title.desc (90236: 建议不超过44个字)
# holds beside a deadline in another year ("｜不记名，2027年12月31日 18:00截止", issue.card_desc); a longer
# one (a task's title, the one-line /评议) is shortened on the card and read whole in the group.
DESCRIPTION_CHARS = 20


def _spec(record: CampaignRecord | None, task: CampaignTask | None) -> dict[str, Any]:
    """The task as its campaign file wrote it (voters, rates, scale), or nothing."""
    return next((t for p in record.content["phases"] for t in p["tasks"] if t["id"] == task.key), {}) \
        if record and task else {}


def _rates(record: CampaignRecord, task: CampaignTask) -> str:
    return _spec(record, task).get("rates", Task.model_fields["rates"].default)


def poll_choices(ctx: Context, answers: dict[str, Any], rates: str | None = None
                 ) -> tuple[CampaignRecord, list[CampaignTask]] | None:
    """The poll tasks a poll issued today may fulfil for its branch (none before the committee has
    named the branch). Once the kind of poll is known (`rates`, or the answer), the tasks that rate
    the same (seed001 holds a branch poll and a poll of members each half year): a 民主评议党员
    fulfils the members' one. When no task rates the same, any poll task of the window."""
    branch_id = _branch_id(ctx, answers)
    if branch_id is None:
        return None
    rates = rates or (vocabulary_key("rates", answers["rates"]) if answers.get("rates") else None)
    lookup = lambda only: campaigns.tasks_to_credit(  # noqa: E731
        ctx.session, today=ctx.today, kind="poll", audiences={"branches"}, branch_id=branch_id,
        subject=f"branch:{branch_id}", only=only)
    alike = ctx.once(f"poll_choices:{branch_id}:{rates}",
                     lambda: rates and lookup(lambda record, task: _rates(record, task) == rates))
    return alike or ctx.once(f"poll_choices:{branch_id}", lambda: lookup(None))


def poll_task(ctx: Context, answers: dict[str, Any] | None = None, rates: str | None = None
              ) -> tuple[CampaignRecord, CampaignTask] | None:
    """The one poll task this poll fulfils: the only one open today, or the one the issuer chose."""
    return forms.chosen_task(poll_choices(ctx, answers or {}, rates), answers or {})


def poll_found(ctx: Context, answers: dict[str, Any] | None = None, rates: str | None = None
               ) -> tuple[CampaignRecord, CampaignTask | None] | None:
    """What a poll issued today belongs to: its task, or (no poll task open today) no task but the
    running campaign that holds polls, whose rules (scales, minimum ballots) it follows all the same."""
    found = poll_task(ctx, answers, rates)
    if found is not None:
        return found
    record = ctx.once("poll_campaign", lambda: campaigns.campaign_asking(ctx.session, today=ctx.today, kind="poll"))
    return (record, None) if record else None


def _branch_id(ctx: Context, answers: dict[str, Any]) -> int | None:
    """The branch the poll is for: the secretary's own, or the one the committee named."""
    if ctx.person.role != Role.committee:
        return ctx.person.branch_id
    name = answers.get("branch")
    branch = ctx.once(f"poll_branch:{name}", lambda: people.branch_by_name(ctx.session, name=name or ""))
    return branch.id if branch else None


def task_defaults(ctx: Context, answers: dict[str, Any] | None = None, rates: str | None = None) -> dict[str, Any]:
    """The campaign task's voters, rates and scale (a file's stored content has them all, defaults
    included), the default deadline (rules.default_deadline: near today, never the task's due months
    ahead) and the task's title. Once per update and answers: the form's steps are built several
    times per answer."""
    found = poll_task(ctx, answers, rates)
    return ctx.once(f"poll_defaults:{found[1].id if found else None}", lambda: _task_defaults(found, ctx.now))


def _task_defaults(found: tuple[CampaignRecord, CampaignTask] | None, now: datetime) -> dict[str, Any]:
    record, task = found if found else (None, None)
    spec = _spec(record, task)
    return {key: spec.get(key, Task.model_fields[key].default) for key in ("voters", "rates", "scale")} | {
        "deadline": default_deadline(now, task.due if task else None), "title": task.title if task else ""}


def default_description(defaults: dict[str, Any], *, rates: str, scale: str, branch: Branch | None) -> str:
    """What the poll is about when its issuer does not say: the task's title where the task rates what
    this poll rates (the card shortens a long one, the group reads it whole); else words from what is
    rated and how (a branch satisfaction poll in December is not "年底民主评议党员", issue 19)."""
    title = defaults["title"]
    if title and defaults["rates"] == rates:
        return title
    return render("poll_default_description", rates=rates, scale=scale, branch=branch.name if branch else "")


def scale_labels(ctx: Context) -> dict[str, str]:
    """The campaign's scales as the form offers them ("满意度：满意 / 基本满意 / 不满意", and
    "好 / 较好 / 一般 / 差" for a scale named by its options run together) → their keys."""
    def labels() -> dict[str, str]:
        found = poll_found(ctx)
        rules = rules_of(found[0] if found else None)
        return {render("poll_scale_label", name=name, options=s.options): name for name, s in rules.scales.items()}
    return ctx.once("poll_scales", labels)


def vocabulary_key(table: str, label: str) -> str:
    """The key of a label in vocabulary.toml's [poll.<table>] ("党员和群众" → "both")."""
    return next(k for k, v in vocabulary()["poll"][table].items() if v == label)


def branch_members(ctx: Context, branch_id: int) -> list[Person]:
    return [p for p in people.in_branch(ctx.session, branch_id=branch_id) if p.role in store.MEMBER_ROLES]


class PollForm(forms.BaseForm):
    name = "poll"

    def steps(self, ctx: Context, answers: dict[str, Any]) -> list[Step]:
        words = vocabulary()["poll"]
        steps = []
        if ctx.person.role == Role.committee:
            names = ctx.once("poll_branches", lambda: tuple(b.name for b in people.branches(ctx.session)))
            steps.append(Step("branch", "poll_branch", kind="choice", options=names))
        steps.append(Step("rates", "poll_rates", kind="choice", options=tuple(words["rates"].values())))
        if answers.get("rates") == words["rates"]["members"]:
            steps.append(Step("members", "poll_members", data={"names": lambda: self._candidates(ctx, answers)}))
        steps += forms.task_step(poll_choices(ctx, answers)) if "rates" in answers else []
        defaults = task_defaults(ctx, answers)
        steps += [Step("scale", "poll_scale", kind="choice", options=tuple(scale_labels(ctx))),
                  Step("voters", "poll_voters", kind="choice", options=tuple(words["voters"].values())),
                  Step("deadline", "poll_deadline", kind="datetime", optional=True,
                       data={"default": defaults["deadline"]}),
                  Step("description", "poll_description", optional=True,
                       data={"default": lambda: self._description(ctx, answers), "most": DESCRIPTION_CHARS}),
                  confirm_step("poll_confirm", lambda: render("poll_preview", **self._preview(ctx, answers)))]
        return steps

    def _branch(self, ctx: Context, answers: dict[str, Any]) -> Branch | None:
        branch_id = _branch_id(ctx, answers)
        return ctx.session.get(Branch, branch_id) if branch_id else None

    def _candidates(self, ctx: Context, answers: dict[str, Any]) -> list[str]:
        branch = self._branch(ctx, answers)
        return [p.name for p in branch_members(ctx, branch.id)] if branch else []

    def check(self, ctx: Context, answers: dict[str, Any], step: Step, value: Any) -> None:
        if step.key == "deadline" and datetime.fromisoformat(value) <= ctx.now.replace(tzinfo=None):
            raise Invalid("invalid_past")
        if step.key == "description" and len(value) > DESCRIPTION_CHARS:
            raise Invalid("poll_description_long", most=DESCRIPTION_CHARS, length=len(value))
        if step.key == "members":
            self._members(ctx, answers, value)
        if step.key == "voters":  # the form waits here: another choice of voters may be enough
            branch = self._branch(ctx, answers)
            excluded = self._members(ctx, answers, answers["members"]) if answers.get("members") else [None]
            for person in excluded:
                spec = PollSpec(branch=branch, rates="", scale="", voters=vocabulary_key("voters", value),
                                deadline=ctx.now, description="", subject_person=person)
                too_few(ctx, spec, poll_found(ctx, answers, vocabulary_key("rates", answers["rates"])), raise_it=True)

    def _members(self, ctx: Context, answers: dict[str, Any], text: str) -> list[Person]:
        by_name = {p.name: p for p in branch_members(ctx, self._branch(ctx, answers).id)}
        names = [n for n in NAME_SEPARATORS.split(text) if n]
        unknown = [n for n in names if n not in by_name]
        if unknown or not names:
            raise Invalid("poll_unknown_members", unknown=unknown, known=list(by_name))
        return [by_name[n] for n in dict.fromkeys(names)]

    def specs(self, ctx: Context, answers: dict[str, Any]) -> list[PollSpec]:
        defaults, branch = task_defaults(ctx, answers), self._branch(ctx, answers)
        rates = vocabulary_key("rates", answers["rates"])
        deadline = datetime.fromisoformat(answers["deadline"]) if answers.get("deadline") else defaults["deadline"]
        common = dict(branch=branch, rates=rates, scale=scale_labels(ctx)[answers["scale"]],
                      voters=vocabulary_key("voters", answers["voters"]), deadline=deadline,
                      description=answers.get("description") or self._description(ctx, answers))
        if rates != "members":
            return [PollSpec(**common)]
        return [PollSpec(**common, subject_person=p) for p in self._members(ctx, answers, answers["members"])]

    def _description(self, ctx: Context, answers: dict[str, Any]) -> str:
        return default_description(task_defaults(ctx, answers), rates=vocabulary_key("rates", answers["rates"]),
                                   scale=scale_labels(ctx)[answers["scale"]], branch=self._branch(ctx, answers))

    def _preview(self, ctx: Context, answers: dict[str, Any]) -> dict[str, Any]:
        specs = self.specs(ctx, answers)
        return {"specs": specs, "voters": answers["voters"], "scale": answers["scale"]}

    def submit(self, ctx: Context, answers: dict[str, Any]) -> None:
        issue_all(ctx, self.specs(ctx, answers), answers)


def issue_all(ctx: Context, specs: list[PollSpec], answers: dict[str, Any] | None = None) -> None:
    """Issue the polls; the task they fulfil is the one chosen in the form's `answers`, or (the
    one-line /评议, which cannot ask) the earliest due of those open for their kind."""
    issued = []
    for spec in specs:
        if too_few(ctx, spec, poll_found(ctx, answers, spec.rates)):
            return
    for n, spec in enumerate(specs):
        poll, eligible = issue(ctx.session, spec=spec, issuer=ctx.person, tz=str(ctx.now.tzinfo),
                               key=f"poll:{ctx.update.dedup_key}:{n}", found=poll_found(ctx, answers, spec.rates),
                               now=float(ctx.update.create_time))
        issued.append((poll, eligible))
    ctx.reply("poll_issued", issued=issued, deadline=specs[0].deadline if specs else None)


def too_few(ctx: Context, spec: PollSpec, found: tuple[CampaignRecord, CampaignTask | None] | None, *,
            raise_it: bool = False) -> bool:
    """A poll whose eligible voters are fewer than its campaign's minimum of valid ballots could never
    publish a result: it is refused at issue, saying why (issue 18: three voters under a threshold of
    five were sent cards and told nothing). Replies (or, in the form, raises) and says True then."""
    exclude = spec.subject_person.userid if spec.subject_person else None
    count = len(store.eligible(ctx.session, branch_id=spec.branch.id, voters=spec.voters, exclude=exclude))
    least = rules_of(found[0] if found else None).min_ballots
    if count >= least:
        return False
    data = dict(branch=spec.branch.name, voters=vocabulary()["poll"]["voters"][spec.voters], count=count, least=least)
    if raise_it:
        raise Invalid("poll_too_few_voters", **data)
    ctx.reply("poll_no_voters", **data)
    return True


POLL_FORM = forms.register(PollForm())
