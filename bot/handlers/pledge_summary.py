"""/承诺汇总 [支部]: the committee's keyword summary of pledges — the top themes per standard."""
from __future__ import annotations

from collections import defaultdict

from bot.formalism import summarise
from bot.routing import Context, Router
from storage import campaigns
from storage.models import Branch, Role
from storage.people import branch_by_name
from storage.pledges import latest_pledges

router = Router()


@router.command("/承诺汇总", roles=[Role.committee, Role.secretary])
def pledge_summary(ctx: Context) -> None:
    """A secretary's summary is of their branch; the committee's of all, or of the branch it names."""
    if ctx.person.role == Role.secretary:
        branch = ctx.session.get(Branch, ctx.person.branch_id) if ctx.person.branch_id else None
    else:
        branch = branch_by_name(ctx.session, name=ctx.args) if ctx.args else None
    if branch is None and (ctx.args or ctx.person.role == Role.secretary):
        ctx.reply("no_branch")
        return
    ids = [r.id for r in campaigns.active_campaigns(ctx.session, today=ctx.today)]
    by_standard: dict[str, list[str]] = defaultdict(list)
    pledges = latest_pledges(ctx.session, campaign_ids=ids, branch_id=branch.id if branch else None)
    for pledge in pledges:
        for item in pledge.items:
            by_standard[item["standard"]].append(f"{item['what']} {item.get('how') or ''}")
    themes = [(standard, summarise(texts, top=5), len(texts)) for standard, texts in by_standard.items()]
    ctx.reply("pledge_summary", branch=branch.name if branch else None, people=len(pledges), themes=themes)
