"""/报送: a secretary (or whoever a `kind: document` task is for) sends a text, an image or a file for
the task; /审核: the committee accepts a submission, which fulfils the task, or returns it with a
comment. Both sides are told in Chinese; the submission is kept and listed by `xianfeng export documents`.

An image or a file arrives as its own callback (MsgType image: PicUrl and MediaId; file: MediaId), so
the dispatcher offers media to `take_media`, which answers an open /报送 form with it (media nothing
takes gets the dispatcher's kind answer, bot/dispatch.py). Handlers do
no network I/O: what the callback carried is stored, and bot/document_files.py fetches the bytes
behind the reply (media/get) and keeps them. `/审核 N` shows one submission and sends its file to the
reviewer from what was kept.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from bot import forms
from bot.answers import Invalid
from bot.document_files import sends_as_image
from bot.forms import Step
from bot.routing import Context, Router
from bot.scheduler.obligations import audiences
from bot.texts import render, vocabulary
from bot.wecom import messages
from storage import documents
from storage.documents import Content
from storage.models import Branch, ConversationState, DocumentSubmission, Person, Role

router = Router()
SUBMITTERS = (Role.secretary, Role.committee)


class DocumentStep(Step):
    """The document itself: one message. A text is kept as written (lines and all, up to what one
    message holds); an image or a file answers it through take_media."""

    def parse(self, text: str, today: date) -> Any:
        if len(text.strip()) < 2:
            raise Invalid("invalid_short", shortest=2)
        return {"kind": "text", "text": text.strip()}


def _audiences(person: Person) -> frozenset[str]:
    """A secretary reports for the branch (subject "branch:<id>"), the committee for itself."""
    mine = audiences(person)
    return frozenset({"branches"}) if "branches" in mine else frozenset(mine & {"committee"})


def _found(ctx: Context):
    return forms.task_choices(ctx, "document", _audiences(ctx.person))


class DocumentForm(forms.BaseForm):
    name = "document"

    def steps(self, ctx: Context, answers: dict[str, Any]) -> list[Step]:
        found = _found(ctx)
        chosen = forms.chosen_task(found, answers)
        title = chosen[1].title if chosen else ""
        return forms.task_step(found) + [DocumentStep("content", "document_content", data={"task_title": title})]

    def submit(self, ctx: Context, answers: dict[str, Any]) -> None:
        chosen = forms.chosen_task(_found(ctx), answers)
        if chosen is None:  # the task's window closed while the form was open
            ctx.reply("document_no_task")
            return
        task = chosen[1]
        subject = f"branch:{ctx.person.branch_id}" if task.audience == "branches" else ctx.person.userid
        row = documents.submit(ctx.session, task=task, subject=subject, person=ctx.person,
                               content=Content(**answers["content"]), at=float(ctx.update.create_time))
        _tell_reviewers(ctx, row)
        ctx.reply("document_submitted", doc=row)


DOCUMENT = forms.register(DocumentForm())


def _who(ctx: Context, row: DocumentSubmission) -> str:
    """The branch's name for a branch's document, else the submitter's name."""
    branch = ctx.session.get(Branch, row.branch_id) if row.subject.startswith("branch:") else None
    person = ctx.session.get(Person, row.userid)
    return render("document_who", branch=branch.name if branch else None, name=person.name if person else row.userid)


def _tell_reviewers(ctx: Context, row: DocumentSubmission) -> None:
    text = render("document_arrived", doc=row, who=_who(ctx, row), today=ctx.today)
    for userid in documents.reviewers(ctx.session):
        if userid != ctx.person.userid:
            messages.to_person(ctx.session, key=f"document:{row.id}:arrived:{userid}", userid=userid, text=text)


@router.media
def take_media(ctx: Context, state: ConversationState | None) -> bool:
    """An image or a file answers an open /报送 form's document question. Without one it is not taken
    here: the dispatcher answers what nothing took, saying how to use /报送 to those who may."""
    if state is None or state.form != DOCUMENT.name:
        return False
    answers = dict(state.data.get("answers", {}))
    steps = DOCUMENT.steps(ctx, answers)
    current = next((s for s in steps if s.key not in answers and s.applies(answers)), None)
    if current is None or current.key != "content":
        forms.ask(ctx, DOCUMENT, answers, Invalid("document_choose_first"), state.data.get("previous"), steps)
        return True
    update = ctx.update
    answers["content"] = {"kind": update.kind, "media_id": update.media_id or None,
                          "pic_url": update.pic_url or None, "file_name": update.file_name or None}
    ctx.session.delete(state)
    DOCUMENT.submit(ctx, answers)
    return True


@router.command("/报送", roles=SUBMITTERS)
def submit_document(ctx: Context) -> None:
    forms.start_if(ctx, DOCUMENT, _found(ctx), "document_no_task")


_DECISION = re.compile(r"#?\s*(\d+)\s*(\S+)\s*(.*)", re.S)
_SHOW = re.compile(r"#?\s*(\d+)\s*")


def _verdict(word: str) -> bool | None:
    """True for a word that accepts, False for one that returns, None for anything else."""
    words = vocabulary()["documents"]
    return True if word in words["accept"] else False if word in words["return"] else None


@router.command("/审核", roles=[Role.committee])
def review(ctx: Context) -> None:
    if not ctx.args:
        rows = documents.pending(ctx.session)
        ctx.reply("document_pending", docs=[(row, _who(ctx, row), submitted_on(row, ctx.now.tzinfo)) for row in rows])
        return
    shown = _SHOW.fullmatch(ctx.args)
    if shown:
        show(ctx, int(shown[1]))
        return
    match = _DECISION.fullmatch(ctx.args)
    accept = _verdict(match[2]) if match else None
    if accept is None:
        ctx.reply("document_review_help")
        return
    comment = match[3].strip() or None
    if not accept and comment is None:
        ctx.reply("document_return_needs_comment", number=int(match[1]))
        return
    row = documents.decide(ctx.session, submission_id=int(match[1]), reviewer=ctx.person.userid, accept=accept,
                           comment=comment, at=float(ctx.update.create_time))
    if row is None:
        ctx.reply("document_not_pending", number=int(match[1]))
        return
    _tell_submitter(ctx, row)
    ctx.reply("document_decided", doc=row, who=_who(ctx, row))


def show(ctx: Context, number: int) -> None:
    """/审核 N: the submission in full, and its file or image sent to the reviewer (from what the bot
    kept: the MediaId the secretary's message carried is gone after three days)."""
    row = ctx.session.get(DocumentSubmission, number)
    if row is None:
        ctx.reply("document_no_such", number=number)
        return
    info = documents.file_info(ctx.session, submission_ids=[row.id]).get(row.id)
    ctx.reply("document_shown", doc=row, who=_who(ctx, row), day=submitted_on(row, ctx.now.tzinfo),
              file=info)
    if info is not None:
        _, content_type, size, _ = info
        as_image = row.kind == "image" and sends_as_image(content_type, size)
        messages.document_to_person(ctx.session, key=f"reply:{ctx.update.dedup_key}:document:{row.id}",
                                    userid=ctx.person.userid, submission_id=row.id, as_image=as_image)


def _tell_submitter(ctx: Context, row: DocumentSubmission) -> None:
    text = render("document_reviewed", doc=row, today=ctx.today)
    messages.to_person(ctx.session, key=f"document:{row.id}:{row.status}", userid=row.userid, text=text, reply=True)


def submitted_on(row: DocumentSubmission, tz) -> date:
    """The local day a submission was made (for messages that name it)."""
    return datetime.fromtimestamp(row.submitted_at, tz).date()
