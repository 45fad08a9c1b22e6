"""/参与率: the branch secretary enters the branch's 党员参与率 in 三会一课 (seed004's 作用发挥: "“三会一课”
正常开展,活动有记载,党员参与率达90%以上") from the branch's own records, as a percentage or as attended of
total: /参与率 92%, /参与率 46/50 据本学年三会一课签到. Every entry is kept; /定级 reads the latest,
with who entered it, when and from what, instead of a poll's turnout (who voted is not who attended).
"""
from __future__ import annotations

import re

from bot.campaigns import rules_of
from bot.routing import Context, Router
from storage import campaigns, participation
from storage.models import BranchParticipation, CampaignRecord, Role

router = Router()
_NARROW = str.maketrans("０１２３４５６７８９．／％", "0123456789./%")
_RATIO = re.compile(r"^(\d+)\s*/\s*(\d+)(?:\s+|$)")
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)\s*%?(?:\s+|$)")
NOTE_LIMIT = 200


def asking_campaign(ctx: Context) -> CampaignRecord | None:
    """The running campaign one of whose stars needs 党员参与率 (rules.star_conditions)."""
    for record in campaigns.active_campaigns(ctx.session, today=ctx.today):
        rules = rules_of(record)
        if record.content["standards"].get("stars") and any("participation" in needs
                                                             for needs in rules.star_conditions.values()):
            return record
    return None


def parse(args: str) -> tuple[float, int | None, int | None, str] | str:
    """(rate, attended, total, note), or what is wrong with it: "help", "range" or "ratio"."""
    text = args.translate(_NARROW).strip()
    if ratio := _RATIO.match(text):
        attended, total = int(ratio[1]), int(ratio[2])
        if total == 0 or attended > total:
            return "ratio"
        return attended / total, attended, total, text[ratio.end():].strip()[:NOTE_LIMIT]
    if percent := _PERCENT.match(text):
        value = float(percent[1])
        # 0.92 is a fraction typed as the rating shows it, not 0.92 %: asked again, not stored
        if not 0 <= value <= 100 or ("." in percent[1] and value <= 1 and "%" not in percent[0]):
            return "range"
        return value / 100, None, None, text[percent.end():].strip()[:NOTE_LIMIT]
    return "help"


@router.command("/参与率", roles=[Role.secretary])
def enter_participation(ctx: Context) -> None:
    record = asking_campaign(ctx)
    if record is None:
        ctx.reply("participation_no_campaign")
        return
    if ctx.person.branch_id is None:
        ctx.reply("no_branch")
        return
    latest = participation.latest(ctx.session, campaign_id=record.id).get(ctx.person.branch_id)
    line = rules_of(record).star_participation_min
    parsed = parse(ctx.args) if ctx.args.strip() else "help"
    if isinstance(parsed, str):
        ctx.reply("participation_help", problem=parsed if ctx.args.strip() else "", text=ctx.args.strip(),
                  latest=latest, line=line)
        return
    rate, attended, total, note = parsed
    entry = participation.record(ctx.session, entry=BranchParticipation(
        campaign_id=record.id, branch_id=ctx.person.branch_id, rate=rate, attended=attended, total=total,
        note=note or None, entered_by=ctx.person.userid, entered_on=ctx.today,
        entered_at=float(ctx.update.create_time)))
    ctx.reply("participation_saved", entry=entry, line=line, previous=latest)
