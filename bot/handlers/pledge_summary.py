"""/承诺汇总 [支部]: the committee's keyword summary of pledges — the top themes per standard."""
from __future__ import annotations

from collections import defaultdict

from bot.formalism import summarise
from bot.handlers.roster import branch_asked_for
from bot.routing import Context, Router
from storage import campaigns
from storage.models import Role
from storage.pledges import latest_pledges

router = Router()


@router.command("/承诺汇总", roles=[Role.committee, Role.secretary])
def pledge_summary(ctx: Context) -> None:
    """A secretary's summary is of their branch; the committee's of all, or of the branch it names."""
    branch = branch_asked_for(ctx)
    if branch is None and (ctx.args or ctx.person.role == Role.secretary):
        ctx.reply("no_branch")
        return
    ids = [r.id for r in campaigns.active_campaigns(ctx.session, today=ctx.today)]
    pledges = latest_pledges(ctx.session, campaign_ids=ids, branch_id=branch.id if branch else None)
    by_standard: dict[str, list[str]] = defaultdict(list)
    for pledge in pledges:
        for item in pledge.items:
            by_standard[item["standard"]].append(f"{item['what']} {item.get('how') or ''}")
    themes = [(standard, summarise(texts, top=5), len(texts)) for standard, texts in by_standard.items()]
    ctx.reply("pledge_summary", branch=branch.name if branch else None, people=len(pledges), themes=themes)
