"""Poll rules without storage: reading a deadline, counting ballots, the published result and what
follows from it under the campaign's rules. Pure functions, so the rules are tested on tables."""
from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Any, Iterable

from bot.answers import Invalid, parse_date

DEFAULT_CLOSING = time(18, 0)  # a deadline given as a day closes at the end of that working day
# How long a poll runs when its issuer does not say: a week reaches those away for a few days and still
# reports while the question is fresh (issue 19: a task due in December was offered in May).
DEFAULT_DAYS = 7
_TIME = re.compile(r"(上午|下午|晚上)?\s*(\d{1,2})\s*(?:[:：点时]\s*(\d{1,2})?\s*分?)?$")


def parse_deadline(text: str, today: date) -> datetime:
    """12月5日 18:00, 12.5 下午6点, 下周五, 18:00 (today) → a local datetime; no time means 18:00."""
    text = text.strip()
    found = _TIME.search(text)
    if found and (found.group(3) is not None or found.group(1) or re.search(r"[:：点时]", found.group(0))):
        hour, minute = int(found.group(2)), int(found.group(3) or 0)
        hour += 12 if found.group(1) in ("下午", "晚上") and hour < 12 else 0
        if hour > 23 or minute > 59:
            raise Invalid("invalid_time")
        day_text = text[:found.start()].strip()
        day = parse_date(day_text, today) if day_text else today
        return datetime.combine(day, time(hour, minute))
    return datetime.combine(parse_date(text, today), DEFAULT_CLOSING)


def default_deadline(now: datetime, due: date | None = None) -> datetime:
    """A week from today at 18:00, or the poll task's due date when that comes sooner and is still ahead
    (`now` local, naive or not; the result naive local)."""
    week = datetime.combine(now.date() + timedelta(days=DEFAULT_DAYS), DEFAULT_CLOSING)
    at_due = datetime.combine(due, DEFAULT_CLOSING) if due is not None else None
    return at_due if at_due is not None and now.replace(tzinfo=None) < at_due < week else week


def tally(options: list[str], choices: Iterable[str]) -> dict[str, int]:
    """Votes per option, in the options' order; a choice not among them (should not happen) is not valid."""
    counted = Counter(choices)
    return {option: counted.get(option, 0) for option in options}


def satisfaction(counts: dict[str, int], satisfied: list[str]) -> float | None:
    valid = sum(counts.values())
    return sum(counts.get(o, 0) for o in satisfied) / valid if valid else None


def result(*, counts: dict[str, int], satisfied: list[str], min_ballots: int, eligible: int, voted: int,
           member_eligible: int, member_voted: int, comments: Iterable[str] = ()) -> dict[str, Any]:
    """What is stored and shown when a poll closes. Under the threshold nothing about the choices is
    kept: no counts, no rate, no comments, for anyone."""
    valid = sum(counts.values())
    published = valid >= min_ballots
    shown = {"counts": counts, "rate": satisfaction(counts, satisfied), "comments": list(dict.fromkeys(comments)),
             "satisfied_votes": sum(counts.get(o, 0) for o in satisfied)} \
        if published else {"counts": {}, "rate": None, "comments": [], "satisfied_votes": None}
    return {"valid": valid if published else None, "published": published, "min_ballots": min_ballots,
            "satisfied": satisfied, "eligible": eligible, "voted": voted,
            "turnout": voted / eligible if eligible else 0.0,
            "member_eligible": member_eligible, "member_voted": member_voted,
            "member_turnout": member_voted / member_eligible if member_eligible else None, **shown}


GROUPS = ("member", "masses")  # a ballot's voter group, where the poll counts 群众 apart


def group_of(role: str) -> str:
    return "masses" if role == "masses" else "member"


def counts_apart(rules: Any, *, voters: str, rates: str) -> bool:
    """Whether a poll counts members' and 群众's ballots apart: only when a rule of its campaign reads
    群众's own rate (红旗's 95 % where rules.red_flag_voters is "masses") from a branch poll both vote in."""
    return (rules.red_flag_min is not None and rules.red_flag_voters == "masses" and voters == "both"
            and rates == "branch")


def group_results(groups: dict[str, dict[str, int]], options: list[str], satisfied: list[str],
                  min_ballots: int) -> dict[str, dict[str, Any]]:
    """Each group's counts and 满意率, published only when the group alone has min_ballots valid ballots
    (a small group's rate next to who voted would come close to a vote), and only when no other group
    with ballots falls short: the whole poll's counts minus one group's are the other's."""
    tallies = {group: tally(options, [c for c, n in groups.get(group, {}).items() for _ in range(n)])
               for group in GROUPS}
    enough = not any(0 < sum(counts.values()) < min_ballots for counts in tallies.values())
    found = {}
    for group, counts in tallies.items():
        valid = sum(counts.values())
        published = enough and valid >= min_ballots
        found[group] = {"published": published, "valid": valid if published else None,
                        "counts": counts if published else {},
                        "rate": satisfaction(counts, satisfied) if published else None,
                        "satisfied_votes": sum(counts.get(o, 0) for o in satisfied) if published else None}
    return found


def consequences(rate: float | None, rules: Any, masses_rate: float | None = None) -> list[str]:
    """What the campaign's own lines make of the rate, and nothing else: lose or keep (评先评优资格) where
    it has an eligibility line, with rectify (整改方案) where it also sets rectify_days; star and
    red_flag where it has those lines (red_flag on 群众's own rate, masses_rate, where the campaign's
    red_flag_voters says so)."""
    if rate is None:
        return []
    rate = round(rate, 9)  # 12/15 is exactly 80 %, whatever the float division leaves behind
    found = []
    if rules.lose_eligibility_below is not None:
        below = rate < rules.lose_eligibility_below
        found += (["lose", "rectify"] if rules.rectify_days else ["lose"]) if below else ["keep"]
    flag_rate = rate if rules.red_flag_voters != "masses" else \
        (round(masses_rate, 9) if masses_rate is not None else None)
    return found + [name for name, value, line in (("star", rate, rules.star_satisfaction_min),
                                                   ("red_flag", flag_rate, rules.red_flag_min))
                    if line is not None and value is not None and value >= line]
