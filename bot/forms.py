"""The form engine: a conversation of short questions, kept in the database at every step.

A form declares its steps (built from its answers so far, which is how it branches); the current
step is the first one not yet answered. Anywhere: 取消 cancels (nothing saved), 返回 goes back a
step, 跳过 skips an optional step. A wrong answer gets a specific re-prompt and the form waits; free
text that says nothing (bot/content.py) is a wrong answer too. One message may answer several steps
(Form.read_several: a pledge item's 事项、措施、时限 together); a follow-up step then asks only for a
part it left out.
The person's row in conversation_state is locked while an answer is applied, so a burst of
messages is taken one at a time and no step is skipped. A form idle for too long is parked;
/继续 resumes it where it stopped.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from sqlalchemy import select
from sqlmodel import Session

from bot import content
from bot.answers import Invalid, parse_choice, parse_confirm, parse_date, parse_text
from bot.routing import Context
from bot.texts import render, vocabulary
from storage import campaigns
from storage.models import CampaignRecord, CampaignTask, ConversationState, Person


def steering(word: str) -> str | None:
    """The steering word's kind ("cancel", "back", "skip", "keep"; see [forms.words]), or None."""
    return next((kind for kind, words in vocabulary()["forms"]["words"].items() if word in words), None)


@dataclass(frozen=True)
class Step:
    key: str
    prompt: str  # template name
    kind: str = "text"  # text | date | datetime | choice | confirm (a choice that also takes a plain yes)
    options: tuple[str, ...] = ()
    optional: bool = False
    requires: str = ""  # asked only when this earlier step was answered (not skipped): how forms branch
    data: dict[str, Any] = field(default_factory=dict)  # more words for the prompt; callables run when asked
    follow_up: bool = False  # asks for a part the step before left out: numbered with it, undone with it

    def applies(self, answers: dict[str, Any]) -> bool:
        return not self.requires or answers.get(self.requires) is not None

    def parse(self, text: str, today: date) -> Any:
        if self.kind == "date":
            return parse_date(text, today).isoformat()
        if self.kind == "datetime":
            from bot.polls.rules import parse_deadline  # the one datetime answer so far: a poll's deadline
            return parse_deadline(text, today).isoformat(timespec="minutes")
        if self.kind == "choice":
            return parse_choice(text, list(self.options))
        if self.kind == "confirm":
            return parse_confirm(text, list(self.options))
        return parse_text(text)


@dataclass(frozen=True)
class Several:
    """One message read as the answers of several steps (a pledge item's 事项、措施 and 时限 together);
    `note` is said before the next question (why a part it held is asked again)."""
    answers: dict[str, Any]
    note: Invalid | None = None


class Form(Protocol):
    name: str
    title: str

    def steps(self, ctx: Context, answers: dict[str, Any]) -> list[Step]: ...

    def check(self, ctx: Context, answers: dict[str, Any], step: Step, value: Any) -> None:
        """Raise Invalid when a well-formed answer does not fit the others."""

    def read_several(self, ctx: Context, step: Step, text: str, answers: dict[str, Any],
                     previous: dict[str, Any]) -> Several | None:
        """The answers of several steps in this message, or None: it answers `step` alone, as usual."""

    def submit(self, ctx: Context, answers: dict[str, Any]) -> None: ...


class BaseForm:
    """What most forms share: the title is wording, so it lives in vocabulary.toml ([forms.titles],
    by the form's name); and no check beyond each step's own."""

    name: str

    @property
    def title(self) -> str:
        return vocabulary()["forms"]["titles"][self.name]

    def check(self, ctx: Context, answers: dict[str, Any], step: Step, value: Any) -> None:
        pass

    def read_several(self, ctx: Context, step: Step, text: str, answers: dict[str, Any],
                     previous: dict[str, Any]) -> Several | None:
        return None


FORMS: dict[str, Form] = {}

MEMBER_AUDIENCES = frozenset({"members", "post_holders"})  # the tasks a member does for themself
BRANCHES = frozenset({"branches"})  # the tasks a secretary does for the branch


def task_choices(ctx: Context, kind: str, audiences: frozenset[str] | None = None, *, branch_id: int | None = None,
                 subject: str | None = None) -> tuple[CampaignRecord, list[CampaignTask]] | None:
    """The running campaign's tasks of this kind that a submission made today may fulfil for `subject`
    (this person, or "branch:<id>" for `branch_id`, by default this person's branch when only branches
    are asked): storage.campaigns.tasks_to_credit. Once per update, as a form rebuilds its steps
    several times per answer."""
    branch_id = ctx.person.branch_id if branch_id is None else branch_id
    if subject is None:
        subject = f"branch:{branch_id}" if audiences == BRANCHES else ctx.person.userid
    key = f"task_choices:{kind}:{sorted(audiences) if audiences else '*'}:{branch_id}:{subject}"
    return ctx.once(key, lambda: campaigns.tasks_to_credit(ctx.session, today=ctx.today, kind=kind, audiences=audiences,
                                                           branch_id=branch_id, subject=subject))


def task_label(task: CampaignTask) -> str:
    """How a task is named when the person is asked which one a submission is for."""
    return render("task_choice_option", task=task)


def task_step(found: tuple[CampaignRecord, list[CampaignTask]] | None) -> list[Step]:
    """Which task, when more than one is open for this party today (none asked otherwise)."""
    if found is None or len(found[1]) < 2:
        return []
    return [Step("task", "task_choice", kind="choice", options=tuple(task_label(t) for t in found[1]))]


def chosen_task(found: tuple[CampaignRecord, list[CampaignTask]] | None, answers: dict[str, Any]
                ) -> tuple[CampaignRecord, CampaignTask] | None:
    """The task the answers chose (the only one, or the earliest due until the person has chosen)."""
    if found is None:
        return None
    record, tasks = found
    return record, next((t for t in tasks if task_label(t) == answers.get("task")), tasks[0])


def campaign_task(ctx: Context, kind: str, audiences: frozenset[str] | None = None,
                  answers: dict[str, Any] | None = None) -> tuple[CampaignRecord, CampaignTask] | None:
    """What a form works on: the task of this kind, for this person (or their branch, when only
    branches are asked), whose window holds today, as chosen in `answers` when several are open."""
    return chosen_task(task_choices(ctx, kind, audiences), answers or {})


def confirm_step(prompt: str, preview) -> Step:
    """The last step of every form: a preview (rendered only when asked) and one option to submit,
    which 确认, 好的 or 没问题 choose as well as 1."""
    return Step("confirm", prompt, kind="confirm", options=(vocabulary()["forms"]["submit"],), data={"preview": preview})


def register(form: Form) -> Form:
    FORMS[form.name] = form
    return form


def current_state(session: Session, userid: str) -> ConversationState | None:
    """The person's form, locked for this transaction (PostgreSQL) so answers apply one at a time."""
    return session.get(ConversationState, userid, with_for_update=True)


def _current(steps: list[Step], answers: dict[str, Any]) -> tuple[int, Step | None]:
    for index, step in enumerate(steps):
        if step.key not in answers and step.applies(answers):
            return index, step
    return len(steps), None


def _undone(steps: list[Step], answers: dict[str, Any], index: int) -> list[Step]:
    """What 返回 takes back: the answer before this question; when that belongs to an earlier question
    with follow-ups, the whole of it (one message may have answered it all, so it is asked again)."""
    answered = [i for i in range(index) if steps[i].applies(answers) and steps[i].key in answers]
    if not answered:
        return []
    last = answered[-1]
    if not any(not s.follow_up for s in steps[last + 1:index + 1]):  # a part of the question being asked
        return [steps[last]]
    head = next(i for i in range(last, -1, -1) if not steps[i].follow_up)
    return [steps[i] for i in answered if i >= head]


def _numbered(steps: list[Step], index: int) -> tuple[int, int]:
    """(this question's number, how many): a follow-up shares the number of the question it completes."""
    return sum(not s.follow_up for s in steps[:index + 1]), sum(not s.follow_up for s in steps)


def ask(ctx: Context, form: Form, answers: dict[str, Any], note: Invalid | None = None,
        previous: dict[str, Any] | None = None, steps: list[Step] | None = None) -> None:
    """Ask the current question (`steps`, when already built for these answers, are not built again)."""
    steps = form.steps(ctx, answers) if steps is None else steps
    index, step = _current(steps, answers)
    words = {key: value() if callable(value) else value for key, value in step.data.items()}  # e.g. a preview
    number, total = _numbered(steps, index)
    ctx.reply("form_step", title=form.title, step=step, number=number, total=total, answers=answers,
              note=note.template if note else None, note_data=note.data if note else {},
              previous=(previous or {}).get(step.key), **words)


def start_if(ctx: Context, form: Form, found: object, otherwise: str, previous: dict[str, Any] | None = None) -> None:
    """Start the form when what it works on was found (a campaign task, a pledge); else reply the
    template `otherwise`, which says why not."""
    if found is None:
        ctx.reply(otherwise)
    else:
        start(ctx, form, previous)


def start(ctx: Context, form: Form, previous: dict[str, Any] | None = None,
          answers: dict[str, Any] | None = None) -> None:
    """Begin a form (with `previous` answers to keep when editing, and `answers` already given in the
    command's line, e.g. /点评 第一支部); the same form already begun (or parked) resumes instead of
    starting over."""
    state = current_state(ctx.session, ctx.person.userid)
    if state is not None and state.form == form.name:
        resume(ctx, state)
        return
    if state is not None and not state.data.get("parked"):
        ctx.reply("form_busy", title=FORMS[state.form].title)
        return
    state = state or ConversationState(userid=ctx.person.userid, form=form.name, data={})
    state.form, state.updated_at = form.name, time.time()
    state.data = {"answers": dict(answers or {}), "previous": dict(previous or {})}
    ctx.session.add(state)
    ask(ctx, form, state.data["answers"], previous=state.data["previous"])


def set_parked(state: ConversationState, parked: bool) -> None:
    """A parked form keeps its answers but takes no more: plain text is ordinary chat until /继续."""
    state.data = {**state.data, "parked": parked}


def park(ctx: Context, state: ConversationState) -> None:
    set_parked(state, True)
    ctx.session.add(state)
    ctx.reply("form_parked", title=FORMS[state.form].title)


def handle(ctx: Context, state: ConversationState, text: str) -> None:
    """Apply one answer (or 取消/返回/跳过) to the person's form and ask what comes next."""
    form = FORMS[state.form]
    answers, previous = dict(state.data.get("answers", {})), state.data.get("previous", {})
    steps = form.steps(ctx, answers)
    index, step = _current(steps, answers)
    word = text.strip()
    if steering(word) == "cancel":
        ctx.session.delete(state)
        ctx.reply("form_cancelled", title=form.title)
        return
    if steering(word) == "back":
        undone = _undone(steps, answers, index)
        for earlier in undone:
            answers.pop(earlier.key)
        save(ctx, state, answers)
        ask(ctx, form, answers, None if undone else Invalid("form_at_start"), previous)
        return
    try:
        several = form.read_several(ctx, step, text, answers, previous)
        if several is None:
            answers[step.key] = _value(ctx, form, step, text, answers, previous)
        else:
            answers.update(several.answers)
    except Invalid as problem:
        ask(ctx, form, answers, problem, previous, steps)
        return
    steps = form.steps(ctx, answers)  # again: the answer may change which steps follow
    if _current(steps, answers)[1] is None:
        ctx.session.delete(state)
        form.submit(ctx, answers)
        return
    save(ctx, state, answers)
    ask(ctx, form, answers, several.note if several else None, previous=previous, steps=steps)


def reads_as_structured(ctx: Context, state: ConversationState, text: str) -> bool:
    """Whether the current step asks for a date, a time or a choice and reads `text` as one."""
    form = FORMS[state.form]
    answers = state.data.get("answers", {})
    step = _current(form.steps(ctx, answers), answers)[1]
    if step is None or step.kind == "text":
        return False
    try:
        step.parse(text, ctx.today)
    except Invalid:
        return False
    return True


def _value(ctx: Context, form: Form, step: Step, text: str, answers: dict[str, Any], previous: dict[str, Any]) -> Any:
    """The answer's value: the previous one (不变), None (跳过 an optional step), or the parsed text."""
    word = text.strip()
    if steering(word) == "skip":
        if not step.optional:
            raise Invalid("form_required")
        return None
    if steering(word) == "keep" and step.key in previous:
        value = previous[step.key]
    else:
        value = step.parse(text, ctx.today)
        if step.kind == "text" and isinstance(value, str):  # free text is kept and often published
            content.check_answer(value, names=lambda: _roster_names(ctx))
    if step.kind == "date" and value < ctx.today.isoformat():  # every date a form asks is a deadline
        raise Invalid("invalid_past")  # a kept one too: editing after it passed must move it
    form.check(ctx, answers, step, value)
    return value


def _roster_names(ctx: Context) -> set[str]:
    """Everyone's name, once per update: an answer that is a name is content, whatever it looks like."""
    return ctx.once("roster_names", lambda: set(ctx.session.scalars(select(Person.name))))


def save(ctx: Context, state: ConversationState, answers: dict[str, Any]) -> None:
    """Keep the form's answers so far (e.g. a photo a media handler took into them)."""
    state.data = {**state.data, "answers": answers}
    state.updated_at = time.time()
    ctx.session.add(state)


def resume(ctx: Context, state: ConversationState) -> None:
    set_parked(state, False)
    state.updated_at = time.time()
    ctx.session.add(state)
    ask(ctx, FORMS[state.form], state.data.get("answers", {}), previous=state.data.get("previous"))


def is_idle(state: ConversationState, idle_seconds: float) -> bool:
    return time.time() - state.updated_at > idle_seconds

