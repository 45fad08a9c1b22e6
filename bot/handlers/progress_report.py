"""/践诺: report on one item of my pledge — what was done, and (optionally) how far along. What was done
may be shown with photos (a phone sends each as its own message, with no caption): a photo at any step
of the form joins the report (up to PHOTOS_PER_REPORT), and a photo sent before the text makes the text
a one-line caption that may be skipped. A report with photos is published to the branch group at once,
its text and then each photo once kept (bot/document_files.py fetches them behind the reply); a report
without is shown in the periodic check-in's summary, as before.
/践诺 支部: a secretary reports, for the branch, on an item of the branch's pledge (四定一承诺, a 整改方案):
published to the branch group at once ("定期将承诺事项的落实情况向师生公开"), and crediting the branch's
progress task whose window holds today (asked which when two are open)."""
from __future__ import annotations

import re
from typing import Any

from bot import forms
from bot.answers import Invalid
from bot.forms import Step
from bot.handlers.pledge import my_pledge
from bot.routing import Context, Router
from bot.scheduler.obligations import audiences
from bot.texts import render, vocabulary
from bot.wecom import messages
from storage import campaigns, progress_photos
from storage.models import CampaignTask, ConversationState, Pledge, PledgeProgress, Role
from storage.people import branch_of
from storage.pledges import latest_pledge

router = Router()


def _label(item: dict[str, Any]) -> str:
    return f"【{item['standard']}】{item['what']}"[:40]


def _text_step(prompt: str, answers: dict[str, Any]) -> Step:
    """What was done, in words; once a photo came, a caption for it, which may be skipped."""
    if answers.get("photos"):
        return Step("text", "progress_caption", optional=True)
    return Step("text", prompt)


class ProgressForm(forms.BaseForm):
    name = "pledge_progress"

    def steps(self, ctx: Context, answers: dict[str, Any]) -> list[Step]:
        pledge = my_pledge(ctx)
        labels = tuple(_label(item) for item in (pledge.items if pledge else []))
        return [Step("item", "progress_item", kind="choice", options=labels),
                _text_step("progress_text", answers),
                Step("percent", "progress_percent", optional=True)]

    def check(self, ctx: Context, answers: dict[str, Any], step: Step, value: Any) -> None:
        if step.key == "percent":  # a skipped step is not checked
            match = re.fullmatch(r"(\d{1,3})\s*%?", value.replace("％", "%"))
            if not match or int(match[1]) > 100:
                raise Invalid("invalid_percent")

    def submit(self, ctx: Context, answers: dict[str, Any]) -> None:
        pledge = my_pledge(ctx)
        progress = _record(ctx, pledge, answers)
        _credit(ctx, pledge.campaign_id)
        photos = answers.get("photos") or []
        chat_id = _publish(ctx, progress, pledge, photos=len(photos)) if photos else None
        progress_photos.add(ctx.session, progress=progress, photos=photos, chat_id=chat_id)
        ctx.reply("progress_saved", photos=len(photos), published=bool(chat_id), late_minutes=_late_minutes(photos))


def _late_minutes(photos: list) -> int:
    """For the saved report's answer: how long a photo sent now still joins it (0: it has its nine)."""
    return progress_photos.LATE_PHOTO_SECONDS // 60 if len(photos) < progress_photos.PHOTOS_PER_REPORT else 0


def _publish(ctx: Context, progress: PledgeProgress, pledge: Pledge, *, photos: int) -> str | None:
    """A member's report with photos goes to the branch group, its words first (a report in words
    alone is kept, not posted); the group's chat id, None when the branch has no group."""
    branch = branch_of(ctx.session, ctx.person)
    chat_id = branch.chat_id if branch else None
    if chat_id:
        messages.to_chat(ctx.session, key=f"progress:{progress.id}", chat_id=chat_id,
                         text=render("progress_published", name=ctx.person.name, progress=progress,
                                     item=pledge.items[progress.item], photos=photos))
    return chat_id


def _record(ctx: Context, pledge: Pledge, answers: dict[str, Any]) -> PledgeProgress:
    labels = [_label(item) for item in pledge.items]
    percent = int(re.sub(r"\D", "", answers["percent"])) if answers.get("percent") else None
    progress = PledgeProgress(pledge_id=pledge.id, item=labels.index(answers["item"]), text=answers.get("text") or "",
                              percent=percent, reported_at=float(ctx.update.create_time), userid=ctx.person.userid)
    ctx.session.add(progress)
    ctx.session.flush()  # its id keys the group post of a branch's report
    return progress


def _credit(ctx: Context, campaign_id: int) -> None:
    """The one progress task of this person whose window holds today (the earliest due when two are
    open: a report is not asked which), in the pledge's campaign; none in another phase."""
    found = campaigns.find_task(ctx.session, today=ctx.today, kind="progress",
                                audiences=set(forms.MEMBER_AUDIENCES & audiences(ctx.person)),
                                branch_id=ctx.person.branch_id, subject=ctx.person.userid)
    if found is not None and found[0].id == campaign_id:
        campaigns.mark_done(ctx.session, task_id=found[1].id, subject=ctx.person.userid)


PROGRESS = forms.register(ProgressForm())


# -- /践诺 支部 -------------------------------------------------------------------------------------
def _branch_tasks(ctx: Context):
    """The branch's progress tasks a report made today may fulfil (storage.campaigns.tasks_to_credit)."""
    return forms.task_choices(ctx, "progress", forms.BRANCHES)


def branch_pledge(ctx: Context, answers: dict[str, Any] | None = None) -> Pledge | None:
    """The branch's latest pledge (any of its pledge tasks: 2012's 四定一承诺 after 2010's 公开承诺, a
    整改方案) in the campaign of the progress task reported for, else in the running campaign that asks
    branches for a pledge (a report when no progress task is open is kept and published, not credited)."""
    chosen = forms.chosen_task(_branch_tasks(ctx), answers or {})
    record = chosen[0] if chosen else ctx.once("branch_pledge_campaign", lambda: campaigns.campaign_asking(
        ctx.session, today=ctx.today, kind="pledge", audiences=set(forms.BRANCHES)))
    if record is None:
        return None
    return ctx.once(f"branch_pledge:{record.id}", lambda: latest_pledge(
        ctx.session, campaign_id=record.id, kind="branch", branch_id=ctx.person.branch_id))


class BranchProgressForm(ProgressForm):
    name = "branch_progress"

    def steps(self, ctx: Context, answers: dict[str, Any]) -> list[Step]:
        pledge = branch_pledge(ctx, answers)
        labels = tuple(_label(item) for item in (pledge.items if pledge else []))
        return forms.task_step(_branch_tasks(ctx)) + [
            Step("item", "branch_progress_item", kind="choice", options=labels),
            _text_step("branch_progress_text", answers),
            Step("percent", "progress_percent", optional=True)]

    def submit(self, ctx: Context, answers: dict[str, Any]) -> None:
        pledge = branch_pledge(ctx, answers)
        if pledge is None:  # the campaign ended while the form was open
            ctx.reply("branch_progress_no_pledge")
            return
        progress = _record(ctx, pledge, answers)
        chosen = forms.chosen_task(_branch_tasks(ctx), answers)
        task = chosen[1] if chosen and chosen[0].id == pledge.campaign_id else None
        if task is not None:
            campaigns.mark_done(ctx.session, task_id=task.id, subject=f"branch:{ctx.person.branch_id}")
        branch = branch_of(ctx.session, ctx.person)
        photos = answers.get("photos") or []
        if branch and branch.chat_id:
            pledged_for = ctx.session.get(CampaignTask, pledge.task_id) if pledge.task_id else None
            messages.to_chat(ctx.session, key=f"branch_progress:{progress.id}", chat_id=branch.chat_id,
                             text=render("branch_progress_published", branch=branch.name, progress=progress,
                                         item=pledge.items[progress.item], pledge_title=pledged_for.title
                                         if pledged_for else "", reporter=ctx.person.name, photos=len(photos)))
        progress_photos.add(ctx.session, progress=progress, photos=photos,
                            chat_id=branch.chat_id if branch else None)
        ctx.reply("branch_progress_saved", published=bool(branch and branch.chat_id), task=task, photos=len(photos),
                  late_minutes=_late_minutes(photos))


BRANCH_PROGRESS = forms.register(BranchProgressForm())


@router.media
def take_photo(ctx: Context, state: ConversationState | None) -> bool:
    """A photo sent while a 践诺 form is open joins the report, at whatever step the form is (the
    question is asked again, saying so); past PHOTOS_PER_REPORT it is declined kindly."""
    if state is None or state.form not in (PROGRESS.name, BRANCH_PROGRESS.name) or ctx.update.kind != "image" \
            or not ctx.update.media_id:
        return False
    form = forms.FORMS[state.form]
    answers = dict(state.data.get("answers", {}))
    photos = list(answers.get("photos") or [])
    if len(photos) >= progress_photos.PHOTOS_PER_REPORT:
        note = Invalid("progress_photo_limit", limit=progress_photos.PHOTOS_PER_REPORT)
    else:
        photos.append({"media_id": ctx.update.media_id, "pic_url": ctx.update.pic_url or None,
                       "at": ctx.update.create_time})
        answers["photos"] = photos
        forms.save(ctx, state, answers)
        note = Invalid("progress_photo_added", count=len(photos))
    forms.ask(ctx, form, answers, note, state.data.get("previous"))
    return True


@router.media
def take_late_photo(ctx: Context, state: ConversationState | None) -> bool:
    """A photo sent soon after a 践诺 report (progress_photos.LATE_PHOTO_SECONDS), with no form open,
    joins that report: on a phone the picture is often picked from the album after the words went.
    A member's report in words alone is posted to the group now, its words before the photo."""
    if state is not None or ctx.update.kind != "image" or not ctx.update.media_id:
        return False
    report = progress_photos.recent_report(ctx.session, userid=ctx.person.userid, at=float(ctx.update.create_time))
    if report is None:
        return False
    pledge = ctx.session.get(Pledge, report.pledge_id)
    label = _label(pledge.items[report.item])
    count, chat_id = progress_photos.photos_and_group(ctx.session, progress_id=report.id)
    if count >= progress_photos.PHOTOS_PER_REPORT:
        ctx.reply("progress_photo_late", label=label, full=True, limit=progress_photos.PHOTOS_PER_REPORT)
        return True
    if count == 0 and pledge.kind == "branch":  # a branch's words went to its group when saved
        branch = branch_of(ctx.session, ctx.person)
        chat_id = branch.chat_id if branch else None
    elif count == 0:
        chat_id = _publish(ctx, report, pledge, photos=0)  # no count: more photos may follow
    progress_photos.add(ctx.session, progress=report, chat_id=chat_id, after=count, photos=[
        {"media_id": ctx.update.media_id, "pic_url": ctx.update.pic_url or None, "at": ctx.update.create_time}])
    ctx.reply("progress_photo_late", label=label, full=False, seq=count + 1, published=bool(chat_id))
    return True


def _begin_branch(ctx: Context) -> None:
    """Only a secretary of a branch reports for it; the branch needs a pledge to report on."""
    if ctx.person.role != Role.secretary or not ctx.person.branch_id:
        ctx.reply("not_allowed", command="/践诺 支部", roles=[vocabulary()["roles"][Role.secretary]])
    else:
        forms.start_if(ctx, BRANCH_PROGRESS, branch_pledge(ctx), "branch_progress_no_pledge")


@router.command("/践诺", roles=[Role.member, Role.secretary])
def report_progress(ctx: Context) -> None:
    if ctx.args.split()[:1] == ["支部"]:  # the word /承诺 支部 reads too, as the first word only
        _begin_branch(ctx)
    else:
        forms.start_if(ctx, PROGRESS, my_pledge(ctx), "progress_no_pledge")
