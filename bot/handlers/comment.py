"""/点评: 领导点评 — a committee member comments on a branch (or on every branch at once, 全部), for the
campaign's `kind: comment` task whose window holds today; the comment is kept (storage.comments) and
posted to the branch's group. The task is the committee's, done once every branch has its comment.

    /点评                         → a short form: which task (when two are open), which branch, the text
    /点评 第一支部                 → the same form, the branch already chosen
    /点评 第一支部 肯定成绩……       → saved and posted at once (全部 for every branch)
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from bot import forms
from bot.answers import Invalid
from bot.content import has_words
from bot.forms import Step, confirm_step
from bot.routing import Context, Router
from bot.texts import render, vocabulary
from bot.wecom import messages
from storage import comments, people
from storage.comments import COMMITTEE
from storage.models import Branch, CampaignRecord, CampaignTask, Role

router = Router()
SHORTEST = 6  # characters: a comment names what went well or what to improve, not just "好"
LONGEST = 1000  # characters: a half-year's comment may run longer than a form answer; lines are kept
COMMITTEE_ONLY = frozenset({"committee"})


def _all_words() -> list[str]:
    return vocabulary()["comment"]["all"]


def _found(ctx: Context) -> tuple[CampaignRecord, list[CampaignTask]] | None:
    """The comment tasks a comment made today may count for (the committee's, as one party)."""
    return forms.task_choices(ctx, "comment", COMMITTEE_ONLY, subject=COMMITTEE)


def _branches(ctx: Context) -> list[Branch]:
    return ctx.once("comment_branches", lambda: people.branches(ctx.session))


def _targets(ctx: Context, choice: str) -> list[Branch]:
    """The branch named, or every branch for 全部."""
    every = _branches(ctx)
    return every if choice in _all_words() else [b for b in every if b.name == choice]


def comment_text(text: str) -> str:
    """The comment as written (its lines kept), neither a word nor a whole report, nor only emoji."""
    cleaned = text.replace("\r\n", "\n").strip()
    if not has_words(cleaned):
        raise Invalid("content_no_words")
    if len(cleaned) < SHORTEST:
        raise Invalid("invalid_short", shortest=SHORTEST)
    if len(cleaned) > LONGEST:
        raise Invalid("invalid_long", longest=LONGEST, length=len(cleaned))
    return cleaned


class CommentStep(Step):
    def parse(self, text: str, today: date) -> Any:
        return comment_text(text)


class CommentForm(forms.BaseForm):
    name = "leader_comment"

    def steps(self, ctx: Context, answers: dict[str, Any]) -> list[Step]:
        options = tuple(b.name for b in _branches(ctx)) + (_all_words()[0],)
        chosen = forms.chosen_task(_found(ctx), answers)  # None once the window closed: submit() says so
        preview = lambda: render("comment_preview", branches=_targets(ctx, answers["branch"]),  # noqa: E731
                                 text=answers["text"], task=chosen[1] if chosen else None)
        return forms.task_step(_found(ctx)) + [
            Step("branch", "comment_branch", kind="choice", options=options),
            CommentStep("text", "comment_text"),
            confirm_step("comment_confirm", preview)]

    def submit(self, ctx: Context, answers: dict[str, Any]) -> None:
        chosen = forms.chosen_task(_found(ctx), answers)
        if chosen is None:  # the task's window closed while the form was open
            ctx.reply("comment_no_task")
            return
        publish(ctx, chosen[1], _targets(ctx, answers["branch"]), answers["text"])


COMMENT = forms.register(CommentForm())


def publish(ctx: Context, task: CampaignTask, branches: list[Branch], text: str) -> None:
    """Keep one comment per branch, post each to its group, and credit the committee's task once every
    branch has its comment; the writer is told where it went and which branches still wait for one."""
    posted = []
    for branch in branches:
        row = comments.add_comment(ctx.session, task=task, branch_id=branch.id, person=ctx.person, text=text,
                                   at=float(ctx.update.create_time))
        if branch.chat_id:
            messages.to_chat(ctx.session, key=f"comment:{row.id}", chat_id=branch.chat_id,
                             text=render("comment_published", branch=branch.name, task=task, text=text,
                                         author=ctx.person.name))
            posted.append(branch.name)
    every = _branches(ctx)
    done = comments.credit_committee(ctx.session, task=task, branch_ids=[b.id for b in every])
    have = comments.commented_branches(ctx.session, task_id=task.id)
    ctx.reply("comment_saved", task=task, branches=[b.name for b in branches], posted=posted, done=done,
              waiting=[b.name for b in every if b.id not in have])


def _split(args: str) -> tuple[str, str]:
    """(branch word, text) from "第一支部 文字…" or "第一支部：文字…" (branch names hold no space or colon)."""
    match = re.match(r"\s*([^\s:：]+)[\s:：]*(.*)", args, re.S)
    return (match[1], match[2].strip()) if match else ("", "")


def _branch_word(ctx: Context, word: str) -> str | None:
    """The form's option for what was typed: a branch's full name (or a unique part of it), or 全部."""
    if word in _all_words():
        return _all_words()[0]
    found = people.branch_named(_branches(ctx), word)
    return found.name if found else None


@router.command("/点评", roles=[Role.committee])
def comment(ctx: Context) -> None:
    found = _found(ctx)
    if found is None:
        ctx.reply("comment_no_task")
        return
    if not ctx.args.strip():
        forms.start(ctx, COMMENT)
        return
    word, text = _split(ctx.args)
    branch = _branch_word(ctx, word)
    if branch is None:
        ctx.reply("comment_which_branch", name=word, names=[b.name for b in _branches(ctx)],
                  all_word=_all_words()[0])
    elif not text:
        forms.start(ctx, COMMENT, answers={"branch": branch})
    else:
        try:
            text = comment_text(text)
        except Invalid as problem:
            ctx.reply("comment_invalid", note=problem.template, note_data=problem.data)
            return
        if len(found[1]) > 1:  # two 点评 tasks open (one late): the form asks which, with the rest filled in
            forms.start(ctx, COMMENT, answers={"branch": branch, "text": text})
            return
        publish(ctx, found[1][0], _targets(ctx, branch), text)
