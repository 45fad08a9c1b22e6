"""分类定级 without storage: a branch's score, level, 五星 and 红旗 from its inputs and the campaign's
rules, and what would change the level. Pure functions, so the rules are tested on hand-worked tables.

Each source is points out of 100 rounded to 0.01; the score is their weighted sum rounded to 0.01, and
the level is read from that rounded score, so the arithmetic on the card is the arithmetic that decided.
A source the campaign weighs is never guessed: while one is missing there is no score and no level.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from bot.campaigns import Rules

SOURCES = ("self_assessment", "masses", "superior")
CONDITIONS = ("satisfaction", "participation", "leadership")  # what a star's conditions may need
EPSILON = 1e-9  # 18/20 must meet a 0.90 line whatever binary floats make of it


@dataclass(frozen=True)
class Inputs:
    """The evidence, as shown to the committee and stored in Rating.inputs (a confirmed rating keeps
    what it was decided on, whatever is stored later)."""

    branch_ratings: dict[str, str] = field(default_factory=dict)  # 党组织自评: standard → 好/较好/一般/差
    star_ratings: dict[str, str] = field(default_factory=dict)  # 五星 self-assessment: indicator → answer
    star_evidence: dict[str, str] = field(default_factory=dict)  # indicator → the secretary's evidence for it
    poll: str = "none"  # the branch's 评议: "published", "unpublished" (too few ballots) or "none"
    poll_subject: str = ""
    satisfaction: float | None = None  # 满意率 of the published poll, 0..1
    # 群众's own 满意率 in that poll (its ballots counted apart): "published", "unpublished" (too few of
    # theirs) or "none" (the poll did not count them apart)
    masses_poll: str = "none"
    masses_satisfaction: float | None = None
    # 党员参与率 in 三会一课, 0..1, as the branch secretary entered it (participation_entry says from what:
    # attended, total, note, name, at). Ratings saved before it was entered read poll turnout here.
    participation: float | None = None
    participation_entry: dict[str, Any] | None = None
    formula: str = ""  # how that poll counted 满意率, as the poll recorded it
    # The branch's latest closed poll rating its 领导班子 / 书记 (Poll.rates "leadership"), like `poll`
    leadership_poll: str = "none"
    leadership_subject: str = ""
    leadership_satisfaction: float | None = None
    superior: float | None = None  # 上级党组织评定, 0..100, entered by the committee
    honoured: bool | None = None  # 县级以上表彰, entered by the committee
    # The committee's decision on each claimed star, entered one by one: indicator → {"decision":
    # "confirmed" | "refused", "comment", "by", "claim"}; it holds only while the claim it was made on stands.
    star_decisions: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Inputs":
        known = {f.name for f in fields(cls)}  # rows saved earlier may hold fields no longer kept
        return cls(**{key: value for key, value in data.items() if key in known})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def counted(self, name: str) -> float | None:
        """A rate a rule may use: satisfaction only when the poll was published (a rate under the ballot
        threshold never counts), masses (群众's own 满意率) when their group was, leadership when the
        leadership poll was; participation as entered (a rating saved before it was entered read poll
        turnout, counted like satisfaction)."""
        if name == "masses":
            return self.masses_satisfaction if self.masses_poll == "published" else None
        if name == "leadership":
            return self.leadership_satisfaction if self.leadership_poll == "published" else None
        if name == "participation" and self.participation_entry:
            return self.participation
        return getattr(self, name) if self.poll == "published" else None

    def claim(self, indicator: str) -> str:
        """What the branch claims for a star, as the committee decides on it: its answer and evidence."""
        return f"{self.star_ratings.get(indicator, '')}｜{self.star_evidence.get(indicator, '')}"

    def decision(self, indicator: str) -> str:
        """The committee's standing decision on a star: "confirmed", "refused", or "" (none yet, or one
        made on a claim the branch has since changed)."""
        made = self.star_decisions.get(indicator) or {}
        return made.get("decision", "") if made.get("claim") == self.claim(indicator) else ""


@dataclass(frozen=True)
class Proposal:
    points: dict[str, float | None]  # each source out of 100
    missing: list[str]  # weighed sources without a value
    score: float | None
    level: str  # "" while the score cannot be computed
    stars: list[str]
    # indicator → unmet: "rating" (not claimed), "undecided" / "refused" (by the committee), then its
    # conditions: "satisfaction", "participation", "leadership"
    star_gaps: dict[str, list[str]]
    red_flag: bool
    red_flag_gaps: list[str]  # unmet: "five_good", "honoured", "satisfaction"
    undecided: list[str] = field(default_factory=list)  # claimed stars the committee has not decided on
    next_level: str | None = None
    to_next: float | None = None  # weighted points still needed for next_level
    rises: dict[str, float] = field(default_factory=dict)  # how far one source alone would have to rise
    margin: float | None = None  # points above the current level's line


def _at_least(value: float | None, line: float) -> bool:
    return value is not None and line is not None and value >= line - EPSILON  # no line: no such rule


def weighed(rules: Rules) -> list[str]:
    """The sources this campaign weighs (a weight of 0 means the source is not needed)."""
    return [s for s in SOURCES if rules.rating_weights.get(s, 0) > 0]


def source_points(inputs: Inputs, rules: Rules) -> dict[str, float | None]:
    """党组织自评: mean points of its answers; 评议: 满意率 × 100; 上级评定 as entered."""
    scored = [rules.self_assessment_points[r] for r in inputs.branch_ratings.values()
              if r in rules.self_assessment_points]
    masses = inputs.counted("satisfaction")
    return {"self_assessment": round(sum(scored) / len(scored), 2) if scored else None,
            "masses": round(masses * 100, 2) if masses is not None else None,
            "superior": round(inputs.superior, 2) if inputs.superior is not None else None}


def missing(points: dict[str, float | None], rules: Rules) -> list[str]:
    return [s for s in weighed(rules) if points[s] is None]


def weighted_score(points: dict[str, float | None], rules: Rules) -> float | None:
    if missing(points, rules):
        return None
    return round(sum(rules.rating_weights[s] * points[s] for s in weighed(rules)), 2)


def level_of(score: float, rules: Rules) -> str:
    for level in rules.rating_levels[:-1]:
        if level in rules.level_thresholds and _at_least(score, rules.level_thresholds[level]):
            return level
    return rules.rating_levels[-1]


def _ceil(value: float) -> float:
    """Up to the next 0.01, so a rise that is named is a rise that is enough."""
    return math.ceil(round(value * 100, 6)) / 100


def what_changes(score: float, level: str, points: dict[str, float | None], rules: Rules) -> dict[str, Any]:
    """The next level up, the points it needs, how far each source alone would have to rise (only
    rises that stay within 100), and how far the score is above its own level's line."""
    above = [lv for lv in rules.rating_levels[:rules.rating_levels.index(level)] if lv in rules.level_thresholds]
    line = rules.level_thresholds.get(level)
    changes: dict[str, Any] = {"margin": round(score - line, 2) if line is not None else None}
    if above:
        to_next = round(rules.level_thresholds[above[-1]] - score, 2)
        rises = {s: _ceil(to_next / rules.rating_weights[s]) for s in weighed(rules)}
        changes.update(next_level=above[-1], to_next=to_next,
                       rises={s: r for s, r in rises.items() if points[s] + r <= 100 + EPSILON})
    return changes


def claimed(name: str, inputs: Inputs, rules: Rules) -> bool:
    """The branch claims a star when its 五星 self-assessment gives the indicator an answer that counts."""
    return inputs.star_ratings.get(name) in rules.star_self_ratings


def star_gaps(indicators: list[str], inputs: Inputs, rules: Rules) -> dict[str, list[str]]:
    """What keeps each indicator from counting: not claimed, not (or no longer) confirmed by the
    committee, then its conditions (each read from its own source, never from another's)."""
    def decided(name: str) -> list[str]:
        if not claimed(name, inputs, rules):
            return ["rating"]
        decision = inputs.decision(name)
        return [] if decision == "confirmed" else ["refused" if decision == "refused" else "undecided"]

    met = {c: _at_least(inputs.counted(c), rules.condition_line(c)) for c in CONDITIONS}
    return {name: decided(name) + [c for c in rules.star_conditions.get(name, []) if not met[c]]
            for name in indicators}


def red_flag_gaps(inputs: Inputs, rules: Rules) -> list[str]:
    """红旗党组织: every standard of the 党组织自评 at the best answer (五个好), 县级以上表彰, 满意度 line
    (群众's own rate where the campaign says 群众, rules.red_flag_voters)."""
    best = max(rules.self_assessment_points, key=rules.self_assessment_points.get)
    five_good = bool(inputs.branch_ratings) and all(r == best for r in inputs.branch_ratings.values())
    rate = inputs.counted("masses" if rules.red_flag_voters == "masses" else "satisfaction")
    return [gap for gap, ok in (("five_good", five_good), ("honoured", inputs.honoured is True),
                                ("satisfaction", _at_least(rate, rules.red_flag_min)))
            if not ok]


def propose(inputs: Inputs, rules: Rules, indicators: list[str]) -> Proposal:
    """The whole proposal; `indicators` are the campaign's 五星 (none: no stars and no 红旗)."""
    points = source_points(inputs, rules)
    score = weighted_score(points, rules)
    level = "" if score is None else level_of(score, rules)
    changes = {} if score is None else what_changes(score, level, points, rules)
    gaps = star_gaps(indicators, inputs, rules)
    flag_gaps = red_flag_gaps(inputs, rules) if indicators else []
    return Proposal(points=points, missing=missing(points, rules), score=score, level=level,
                    stars=[name for name, unmet in gaps.items() if not unmet], star_gaps=gaps,
                    red_flag=bool(indicators) and not flag_gaps, red_flag_gaps=flag_gaps,
                    undecided=[name for name, unmet in gaps.items() if "undecided" in unmet], **changes)


@dataclass(frozen=True)
class History:
    """A branch's levels over a campaign's rating rounds, oldest first (the earlier ones as confirmed,
    the last as it stands), and how the last step moved: "up" (晋位升级), "down", "same" or ""."""

    levels: list[str]
    movement: str

    @classmethod
    def of(cls, levels: list[str], rules: Rules) -> "History":
        known = [level for level in levels if level]  # "" is a round that could not be scored
        return cls(known, movement(*known[-2:], rules) if len(known) > 1 else "")

    @property
    def shown(self) -> bool:
        """Only a branch rated in an earlier round has a history to show."""
        return len(self.levels) > 1


def movement(previous: str, level: str, rules: Rules) -> str:
    """From one round's level to the next: "up" (晋位升级), "down", "same", or "" when either is unknown."""
    levels = rules.rating_levels
    if previous not in levels or level not in levels:
        return ""
    before, now = levels.index(previous), levels.index(level)
    return "up" if now < before else "down" if now > before else "same"
