"""/承诺汇总 [支部]: the committee's keyword summary of pledges — the top themes per standard."""
from __future__ import annotations

from collections import defaultdict

from bot.formalism import summarise
from bot.routing import Context, Router
from storage import campaigns
from storage.models import Role
from storage.people import branch_by_name
from storage.pledges import latest_pledges

router = Router()


@router.command("/承诺汇总", roles=[Role.committee, Role.secretary])
def pledge_summary(ctx: Context) -> None:
    branch = None
    if ctx.person.role == Role.secretary:
        branch_id = ctx.person.branch_id
    elif ctx.args:
        branch = branch_by_name(ctx.session, name=ctx.args)
        if branch is None:
            ctx.reply("no_branch")
            return
        branch_id = branch.id
    else:
        branch_id = None
    ids = [r.id for r in campaigns.active_campaigns(ctx.session, today=ctx.today)]
    by_standard: dict[str, list[str]] = defaultdict(list)
    pledges = latest_pledges(ctx.session, campaign_ids=ids, branch_id=branch_id)
    for pledge in pledges:
        for item in pledge.items:
            by_standard[item["standard"]].append(f"{item['what']} {item.get('how') or ''}")
    themes = [(standard, summarise(texts, top=5), len(texts)) for standard, texts in by_standard.items()]
    ctx.reply("pledge_summary", scope=ctx.args or "全部支部", people=len(pledges), themes=themes)
