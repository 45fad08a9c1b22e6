"""/承诺: a member's public pledge (公开承诺) against the standards of the campaign's member set they
choose — what (具体事项), how (措施), by when (时限) — plus a 岗位承诺 for 有职党员. Preview, confirm,
and the pledge is published to the branch group with the member's name: pledges are public by design.

On a phone it takes few messages: /承诺, the standards ("1 3 5"), one message per item with its three
parts (bot/pledge_reading.py splits them), 1 to publish; or the whole pledge pasted in one message.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from bot import content, forms, pledge_reading
from bot.answers import Invalid, parse_date, parse_text
from bot.formalism import flag_items
from bot.forms import Several, Step, confirm_step
from bot.handlers import branch_pledge
from bot.routing import Context, Router
from bot.scheduler.obligations import audiences
from bot.texts import render, vocabulary
from storage import campaigns
from storage.models import CampaignRecord, CampaignTask, Pledge, Role
from storage.pledges import add_pledge, latest_pledge, written_items

router = Router()


def _own_audiences(ctx: Context) -> list[frozenset[str]]:
    """The member pledge answers the members' pledge task; a 有职党员's also the post holders' one
    (its 岗位承诺 item), which is the task looked for when the phase asks only 有职党员 (seed004)."""
    mine = audiences(ctx.person)
    return [frozenset({a}) for a in ("members", "post_holders") if a in mine]


def pledge_choices(ctx: Context) -> tuple[CampaignRecord, list[CampaignTask]] | None:
    """The pledge tasks a pledge made today may fulfil for this person (storage.campaigns.tasks_to_credit)."""
    return next(filter(None, (forms.task_choices(ctx, "pledge", a) for a in _own_audiences(ctx))), None)


def pledge_task(ctx: Context, answers: dict[str, Any] | None = None) -> tuple[CampaignRecord, CampaignTask] | None:
    """The one pledge task this pledge is for: the only one open today, or the one the person chose."""
    return forms.chosen_task(pledge_choices(ctx), answers or {})


def pledge_campaign(ctx: Context) -> CampaignRecord | None:
    """The campaign of today's pledge task, or else the running campaign that asks members for a
    pledge in any phase (where a pledge made earlier is reported on with /践诺)."""
    found = pledge_choices(ctx)
    return found[0] if found else ctx.once("pledge_campaign", lambda: campaigns.campaign_asking(
        ctx.session, today=ctx.today, kind="pledge", audiences=set(forms.MEMBER_AUDIENCES & audiences(ctx.person))))


def my_pledge(ctx: Context) -> Pledge | None:
    """This person's latest pledge in the running pledge campaign, for any of its tasks."""
    record = pledge_campaign(ctx)
    return ctx.once("my_pledge", lambda: record and latest_pledge(
        ctx.session, campaign_id=record.id, kind="member", userid=ctx.person.userid))


PARTS = ("what", "how", "by")  # of an item: the 事项, its 措施, its 时限


def _key(prefix: str, part: str) -> str:
    """The answer key of an item's part: the item's question keeps its 事项, follow-ups the rest."""
    return prefix if part == "what" else f"{prefix}_{part}"


def _item_steps(prefix: str, label: str, optional: bool) -> list[Step]:
    """One question for the whole item (its 事项, and its 措施 and 时限 when the message has them),
    then a follow-up for each part still missing; skipping the item skips its follow-ups."""
    words = {"standard": label}
    return [Step(prefix, "pledge_item", optional=optional, data=words),
            Step(_key(prefix, "how"), "pledge_how", requires=prefix, follow_up=True, data=words),
            Step(_key(prefix, "by"), "pledge_by", kind="date", requires=prefix, follow_up=True, data=words)]


def answered_items(ctx: Context, answers: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"standard": label, "what": answers[prefix], "how": answers.get(_key(prefix, "how")),
             "by": answers.get(_key(prefix, "by"))} for prefix, label in _chosen(ctx, answers) if answers.get(prefix)]


def pledge_items(ctx: Context, answers: dict[str, Any]) -> list[dict[str, Any]]:
    """The answered items, each with the formalism guard's flags (a suggestion, never a refusal)."""
    items = answered_items(ctx, answers)
    return _flagged(ctx, items) if items else items


def _flagged(ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    record = pledge_campaign(ctx)
    written = ctx.once("written_items", lambda: written_items(ctx.session, campaign_id=record.id))
    return flag_items(items, written=written, userid=ctx.person.userid, at=float(ctx.update.create_time),
                      campaign=record.content)


def _set_name(ctx: Context) -> str:
    record = pledge_campaign(ctx)
    return record.content["standards"]["member"] if record else ""


def _standards(ctx: Context) -> list[tuple[str, str]]:
    """(answer key prefix, label) of each standard of the member set, and the 岗位承诺 of a 有职党员."""
    record = pledge_campaign(ctx)
    sets = record.content["standard_sets"] if record else {}
    names = sets.get(_set_name(ctx), {}).get("items", [])
    labels = [(f"s{i}", name) for i, name in enumerate(names)]
    if _post_holder(ctx):
        labels.append(("post", vocabulary()["forms"]["post_pledge"]))
    return labels


def _post_holder(ctx: Context) -> bool:
    return "post_holders" in audiences(ctx.person)


def _member_standards(ctx: Context) -> list[tuple[str, str]]:
    return [s for s in _standards(ctx) if s[0] != "post"]


def _joiner() -> str:
    return vocabulary()["forms"]["pledge"]["joiner"]


def _chosen(ctx: Context, answers: dict[str, Any]) -> list[tuple[str, str]]:
    """The standards this pledge is on: those chosen (every one until the member has chosen, so the
    count of questions shrinks with the choice), and the 岗位承诺 of a 有职党员."""
    member = _member_standards(ctx)
    if len(member) > 1 and "standards" in answers:
        named = set(answers["standards"].split(_joiner())) if answers["standards"] else set()
        member = [(prefix, label) for prefix, label in member if label in named]
    return member + [s for s in _standards(ctx) if s[0] == "post"]


class StandardsStep(Step):
    """Which standards of the set to pledge on: 1 3 5, 1、3、5, 135, 1-3, their names, or 全部."""

    def parse(self, text: str, today: date) -> Any:
        chosen = pledge_reading.read_selection(text, list(self.options))
        if chosen is None:
            raise Invalid("pledge_standards_unclear", count=len(self.options))
        return _joiner().join(self.options[i] for i in chosen)


class MemberPledge(forms.BaseForm):
    """The pledge in as few messages as the member likes: which standards (when the set has several),
    then one message per item with its 事项、措施、时限 (only a part left out is asked again), or the
    whole pledge pasted in one message; one part at a time is still led through."""

    name = "member_pledge"

    def steps(self, ctx: Context, answers: dict[str, Any]) -> list[Step]:
        steps = forms.task_step(pledge_choices(ctx))
        member = _member_standards(ctx)
        if len(member) > 1:
            steps.append(StandardsStep("standards", "pledge_standards", kind="standards",
                                       options=tuple(label for _, label in member),
                                       data={"set_name": _set_name(ctx), "post": _post_holder(ctx)}))
        for prefix, label in _chosen(ctx, answers):  # what is chosen is written; with no choice, as before
            steps += _item_steps(prefix, label, optional=prefix != "post" and len(member) < 2)
        preview = lambda: render("pledge_preview", items=pledge_items(ctx, answers))  # noqa: E731 - only when asked
        return steps + [confirm_step("pledge_confirm", preview)]

    def check(self, ctx: Context, answers: dict[str, Any], step: Step, value: Any) -> None:
        if step.key == "confirm" and not answered_items(ctx, answers):
            raise Invalid("pledge_empty")

    def read_several(self, ctx: Context, step: Step, text: str, answers: dict[str, Any],
                     previous: dict[str, Any]) -> Several | None:
        if step.key == "standards":
            return _read_choice(ctx, step, text, answers)
        prefix, _, part = step.key.partition("_")
        if prefix not in dict(_standards(ctx)):
            return None  # which task; the confirmation
        return _read_item(ctx, step, prefix, part or "what", text, answers, previous)

    def submit(self, ctx: Context, answers: dict[str, Any]) -> None:
        record, task = pledge_task(ctx, answers)
        pledge = add_pledge(ctx.session, campaign_id=record.id, task_id=task.id, person=ctx.person, kind="member",
                            items=pledge_items(ctx, answers), at=float(ctx.update.create_time))
        campaigns.mark_done(ctx.session, task_id=task.id, subject=ctx.person.userid)
        _credit_post_pledge(ctx, record, task)
        branch_pledge.publish(ctx, pledge, "pledge_published", person=ctx.person)


def _read_choice(ctx: Context, step: Step, text: str, answers: dict[str, Any]) -> Several | None:
    """The standards chosen, or a whole pledge pasted; 跳过 chooses none (a 有职党员 may write only
    the 岗位承诺); 不变 (editing) keeps the choice, as on any step."""
    kind = forms.steering(text.strip())
    if kind == "skip":
        if not _post_holder(ctx):
            raise Invalid("form_required")
        return Several({"standards": None})
    if kind is not None:
        return None
    try:
        return Several({"standards": step.parse(text, ctx.today)})
    except Invalid as unclear:
        pasted = _pasted(ctx, text)
        if unclear.template != "pledge_standards_unclear" or not pasted:
            raise
        return _read_pasted(ctx, pasted, answers)


def _read_item(ctx: Context, step: Step, prefix: str, part: str, text: str, answers: dict[str, Any],
               previous: dict[str, Any]) -> Several | None:
    """An item's question (or one of its follow-ups) answered: every part the message holds."""
    kind = forms.steering(text.strip())
    if part == "what" and kind == "keep":
        return _kept(ctx, step, prefix, text, previous)
    if kind is not None:
        return None  # 跳过, or 不变 for one part: as on any step
    if part == "by":
        typed = pledge_reading.ItemText(by=text)
    else:
        pasted = _pasted(ctx, text, spaced_numbers=False) if part == "what" else None
        if pasted and (len(pasted) > 1 or _named_elsewhere(ctx, pasted, prefix, text)):
            return _read_pasted(ctx, pasted, answers)
        own = pasted.get(_index(ctx, prefix)) if pasted else None  # "带头学习提高：…" under its own question
        typed = pledge_reading.split_item(own or text, lambda raw: _reads_as_date(raw, ctx.today),
                                          what_known=part != "what")
        if part == "what" and typed.what is None and previous.get(f"{prefix}_what"):
            typed = _amended(typed, prefix, previous)
    values, problems = _item_values(ctx, prefix, typed)
    asked = _key(prefix, part)
    if asked not in values:  # the question asked is not answered: it is asked again, nothing kept
        raise problems.get(asked) or Invalid("pledge_part_missing", part=part)
    return Several(values, _next_note(ctx, {**answers, **values}, problems))


def _read_pasted(ctx: Context, pasted: dict[int, str], answers: dict[str, Any]) -> Several:
    """A whole pledge in one message: each standard named is chosen and its item filled; what a part
    lacks is asked next, in order."""
    standards, values, problems = _standards(ctx), {}, {}
    member = _member_standards(ctx)
    if len(member) > 1:
        named = {standards[i][1] for i in pasted} | (
            set(answers["standards"].split(_joiner())) if answers.get("standards") else set())
        values["standards"] = _joiner().join(label for _, label in member if label in named) or None
    for index, body in pasted.items():
        found, wrong = _item_values(ctx, standards[index][0], pledge_reading.split_item(
            body, lambda raw: _reads_as_date(raw, ctx.today)))
        values.update(found)
        problems.update(wrong)
    return Several(values, _next_note(ctx, {**answers, **values}, problems))


def _item_values(ctx: Context, prefix: str, typed: pledge_reading.ItemText
                 ) -> tuple[dict[str, Any], dict[str, Invalid]]:
    """({answer key: value} of the parts that read well, {answer key: why not} of the others): text
    as any free-text step takes it (bot/content.py too), the 时限 as a date to come."""
    values, problems = {}, {}
    for part in PARTS:
        raw = getattr(typed, part)
        if raw is None:
            continue
        try:
            values[_key(prefix, part)] = _date_part(raw, ctx.today) if part == "by" else _text_part(raw)
        except Invalid as problem:
            problems[_key(prefix, part)] = problem
    return values, problems


def _next_note(ctx: Context, answers: dict[str, Any], problems: dict[str, Invalid]) -> Invalid | None:
    """Why the next question asks again for a part the message had (the parts kept named)."""
    for prefix, _ in _chosen(ctx, answers):
        missing = next((_key(prefix, p) for p in PARTS if _key(prefix, p) not in answers), None)
        if (prefix in answers and answers[prefix] is None) or missing is None:  # skipped, or complete
            continue
        problem = problems.get(missing)
        if problem is None:
            return None
        kept = [p for p in PARTS if answers.get(_key(prefix, p)) is not None]
        return Invalid("pledge_part_again", **problem.data, reason=problem.template, kept=kept) if kept else problem
    return None


def _kept(ctx: Context, step: Step, prefix: str, text: str, previous: dict[str, Any]) -> Several:
    """不变 under an item's question while editing: the whole item as it was (a 时限 that has passed
    is asked again)."""
    parts = {p: previous.get(f"{prefix}_{p}") for p in PARTS}
    if parts["what"] is None:
        if step.optional:
            return Several({prefix: None})
        content.check_answer(text)  # "不变" with nothing to keep: said so
    values = {_key(prefix, p): value for p, value in parts.items() if value is not None}
    if parts["by"] and parts["by"] < ctx.today.isoformat():
        values.pop(_key(prefix, "by"))
        return Several(values, Invalid("pledge_part_again", reason="invalid_past", kept=["what", "how"]))
    return Several(values)


def _amended(typed: pledge_reading.ItemText, prefix: str, previous: dict[str, Any]) -> pledge_reading.ItemText:
    """Editing, a message with no 事项 ("措施：每周记录一次", or a new date alone) changes only the
    parts it has: the others stay as they were."""
    return pledge_reading.ItemText(**{p: getattr(typed, p) or previous.get(f"{prefix}_{p}") for p in PARTS})


def _pasted(ctx: Context, text: str, *, spaced_numbers: bool = True) -> dict[int, str] | None:
    labels = [label for _, label in _standards(ctx)]
    return pledge_reading.read_pasted(text, labels, numbered=len(_member_standards(ctx)),
                                      spaced_numbers=spaced_numbers)


def _index(ctx: Context, prefix: str) -> int:
    return [p for p, _ in _standards(ctx)].index(prefix)


def _named_elsewhere(ctx: Context, pasted: dict[int, str], prefix: str, text: str) -> bool:
    """Whether the one standard a message begins with is another's, by name ("带头服务群众：…" under
    the question of 带头学习提高); a number there may be the item's own words ("3、…")."""
    [index] = pasted
    start = text.strip().lstrip("【[")
    return index != _index(ctx, prefix) and any(
        start.startswith(name) for name, i in pledge_reading.names([label for _, label in _standards(ctx)]) if i == index)


def _text_part(raw: str) -> str:
    value = parse_text(raw)
    content.check_answer(value)
    return value


def _date_part(raw: str, today: date) -> str:
    day = parse_date(_date_words(raw), today)
    if day < today:
        raise Invalid("invalid_past")
    return day.isoformat()


def _reads_as_date(raw: str, today: date) -> bool:
    try:
        parse_date(_date_words(raw), today)
    except Invalid:
        return False
    return True


def _date_words(raw: str) -> str:
    """"6月30日前完成" reads as 6月30日前: a 时限 is often typed with its verb."""
    return raw.strip().removesuffix(vocabulary()["forms"]["pledge"]["done"]).strip()


def _credit_post_pledge(ctx: Context, record: CampaignRecord, task: CampaignTask) -> None:
    """A 有职党员's pledge carries the 岗位承诺 too: where the same window also asks 有职党员 for one,
    it answers that task as well (one per audience; asking which of the two would make them write
    the 岗位承诺 twice)."""
    if task.audience != "members" or "post_holders" not in audiences(ctx.person):
        return
    post = campaigns.find_task(ctx.session, today=ctx.today, kind="pledge", audiences={"post_holders"},
                               branch_id=ctx.person.branch_id, subject=ctx.person.userid)
    if post is not None and post[0].id == record.id:
        campaigns.mark_done(ctx.session, task_id=post[1].id, subject=ctx.person.userid)


MEMBER_PLEDGE = forms.register(MemberPledge())


@router.command("/承诺", roles=[Role.member, Role.secretary])
def pledge(ctx: Context) -> None:
    if "支部" in ctx.args:
        branch_pledge.begin(ctx)
    else:
        forms.start_if(ctx, MEMBER_PLEDGE, pledge_choices(ctx), "pledge_no_campaign")


def _as_answers(ctx: Context, pledge: Pledge) -> dict[str, Any]:
    """The pledge as the form's `previous`: the standards chosen, and under each item's question the
    whole item as it reads (上次写的是), its parts under their own keys (kept by 不变)."""
    by_standard = {item["standard"]: item for item in pledge.items}
    member = _member_standards(ctx)
    previous: dict[str, Any] = {}
    if len(member) > 1:
        previous["standards"] = _joiner().join(label for _, label in member if label in by_standard) or None
    for prefix, label in _standards(ctx):
        item = by_standard.get(label)
        if item:
            previous[prefix] = render("pledge_item_previous", item=item).strip()
            previous.update({f"{prefix}_{part}": item[part] for part in PARTS})
    return previous


def _pledge_to_edit(ctx: Context) -> tuple[Pledge | None, date | None]:
    """The person's latest pledge for a pledge task whose window holds today (done or not), and that
    task's due date; else their latest pledge of the campaign and its task's due date (an edit of a
    pledge whose phase has ended is closed)."""
    record, windowed = pledge_campaign(ctx), []
    for group in _own_audiences(ctx):
        found = campaigns.tasks_to_credit(ctx.session, today=ctx.today, kind="pledge", audiences=set(group),
                                          branch_id=ctx.person.branch_id)
        windowed += found[1] if found and record and found[0].id == record.id else []
    dues = {t.id: t.due for t in windowed}
    pledges = [p for t in windowed if (p := latest_pledge(ctx.session, campaign_id=record.id, kind="member",
                                                          userid=ctx.person.userid, task_id=t.id))]
    if pledges:
        pledge = max(pledges, key=lambda p: p.id)
        return pledge, dues[pledge.task_id]
    pledge = my_pledge(ctx)
    task = ctx.session.get(CampaignTask, pledge.task_id) if pledge and pledge.task_id else None
    return pledge, task.due if task else ctx.today - timedelta(days=1)


@router.command("/修改", roles=[Role.member, Role.secretary])
def edit(ctx: Context) -> None:
    """/修改 承诺: the pledge again, each answer shown; 不变 keeps it. Every edit is a new version."""
    if "承诺" not in ctx.args:
        ctx.reply("edit_what")
        return
    pledge, deadline = _pledge_to_edit(ctx)
    if pledge is None:
        ctx.reply("edit_nothing")
    elif ctx.today > deadline:
        ctx.reply("edit_closed", deadline=deadline)
    else:
        forms.start(ctx, MEMBER_PLEDGE, previous=_as_answers(ctx, pledge))
