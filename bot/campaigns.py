"""Campaign files: a plan (实施方案) as data, validated with errors that name file, line and field.

Dates may be written as YYYY-MM-DD, YYYY-MM (a whole month) or YYYY-MM-上旬/中旬/下旬. As a start
they mean the 1st, 1st/11th/21st; as an end or a deadline, the last day of the month or of the
ten-day period (10th/20th/last day).
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Callable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.texts import vocabulary

TaskKind = Literal["pledge", "progress", "self_assessment", "poll", "rating", "document", "comment"]
Audience = Literal["members", "post_holders", "secretaries", "branches", "committee", "masses"]
_PERIODS = {"上旬": (1, 10), "中旬": (11, 20), "下旬": (21, None)}
_DATE = re.compile(r"^(\d{4})-(\d{1,2})(?:-(\d{1,2}|上旬|中旬|下旬))?$")


def problem(code: str, **data: Any) -> str:
    """An operator-facing problem with a campaign file, in the words of cli/campaign_problems.toml."""
    return vocabulary("cli/campaign_problems")[code].format(**data)


class CampaignFileError(Exception):
    """str() is one line per problem: file:line: field: what is wrong."""


def parse_date(value: Any, *, end: bool) -> date:
    if isinstance(value, date):
        return value
    match = _DATE.match(str(value).strip())
    if not match:
        raise ValueError(problem("date_format"))
    year, month, day = int(match[1]), int(match[2]), match[3]
    last = calendar.monthrange(year, month)[1] if 1 <= month <= 12 else 0
    if not last:
        raise ValueError(problem("no_such_month", month=month))
    if day is None:
        return date(year, month, last if end else 1)
    if day in _PERIODS:
        first, final = _PERIODS[day]
        return date(year, month, (final or last) if end else first)
    return date(year, month, int(day))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Task(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = Field(min_length=1)
    kind: TaskKind
    audience: Audience
    due: date
    remind_days_before: list[int] = [3]
    checkin_every_days: int | None = Field(default=None, gt=0)
    # Polls only: who votes, what is rated and on which scale (a key of rules.scales); the branch
    # secretary issues the poll, so a poll task is owed by the branch.
    voters: Literal["members", "masses", "both"] = "both"
    rates: Literal["branch", "leadership", "members"] = "branch"
    scale: str = "满意度"
    source_text: str = ""

    @field_validator("due", mode="before")
    @classmethod
    def parse_due(cls, value: Any) -> date:
        return parse_date(value, end=True)

    @field_validator("remind_days_before")
    @classmethod
    def _non_negative(cls, days: list[int]) -> list[int]:
        if any(d < 0 for d in days):
            raise ValueError(problem("negative_days"))
        return sorted(set(days), reverse=True)


class Phase(_Strict):
    name: str = Field(min_length=1)
    start: date
    end: date
    summary: str = ""
    source_text: str = ""
    tasks: list[Task] = []

    @field_validator("start", mode="before")
    @classmethod
    def parse_start(cls, value: Any) -> date:
        return parse_date(value, end=False)

    @field_validator("end", mode="before")
    @classmethod
    def parse_end(cls, value: Any) -> date:
        return parse_date(value, end=True)

    @model_validator(mode="after")
    def _ordered(self) -> "Phase":
        if self.end < self.start:
            raise ValueError(problem("phase_ends_early", phase=self.name))
        return self


class StandardSet(_Strict):
    items: list[str] = Field(min_length=1)
    aims: dict[str, str] = {}


class Scale(_Strict):
    """The options a poll offers and which of them count as satisfied (满意率's numerator)."""

    options: list[str] = Field(min_length=2, max_length=10)
    satisfied: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "Scale":
        if len(set(self.options)) != len(self.options) or any(not o or len(o) > 11 for o in self.options):
            raise ValueError(problem("scale_options"))
        if not set(self.satisfied) <= set(self.options):
            raise ValueError(problem("scale_satisfied"))
        return self


_RULE_FORM = {"value", "source_text", "default"}  # a rule written with its provenance
# The line each 五星 condition is held to (the 领导班子's 满意度 has the same line as the branch's).
CONDITION_LINES = {"satisfaction": "star_satisfaction_min", "leadership": "star_satisfaction_min",
                   "participation": "star_participation_min"}


def _rule_form(value: Any) -> bool:
    """{value: …, source_text: "…"} (the plan states it) or {value: …, default: true} (it does not)."""
    return (isinstance(value, dict) and "value" in value and set(value) <= _RULE_FORM
            and bool(value.get("source_text")) != (value.get("default") is True))


class Rules(_Strict):
    """A campaign's rules. Each is stated by the plan (source_texts quotes it) or is this campaign's
    default (defaults; a rule the file leaves out takes the code's default below and counts as one).
    The lines that carry consequences (评先评优资格, 整改, 星级, 红旗) have no code default: a campaign
    without them states no such consequence."""

    satisfied_options: list[str] = ["满意", "基本满意"]
    # 满意度 counts satisfied_options as satisfied unless the file gives scales itself.
    scales: dict[str, Scale] = {}
    lose_eligibility_below: float | None = Field(None, ge=0, le=1)
    # Below lose_eligibility_below a 整改方案 is due this many days after the result; none: no 整改.
    rectify_days: int | None = Field(None, gt=0)
    star_satisfaction_min: float | None = Field(None, ge=0, le=1)
    star_participation_min: float | None = Field(None, ge=0, le=1)
    red_flag_min: float | None = Field(None, ge=0, le=1)
    # Whose 满意度 red_flag_min reads: "masses" (群众's ballots only, counted apart in the poll); none: every ballot.
    red_flag_voters: Literal["masses"] | None = None
    min_ballots: int = Field(5, ge=3)
    rating_levels: list[str] = ["强", "较强", "一般", "薄弱"]
    rating_weights: dict[Literal["self_assessment", "masses", "superior"], float] = \
        {"self_assessment": 0.3, "masses": 0.4, "superior": 0.3}
    level_thresholds: dict[str, float] = {"强": 90, "较强": 75, "一般": 60}
    copy_similarity: float = Field(0.6, gt=0, le=1)  # pledge items this alike (token sets) count as copied

    # 党组织自评 answers as points out of 100, for 分类定级's self-assessment input.
    self_assessment_points: dict[str, float] = {"好": 100, "较好": 85, "一般": 70, "差": 50}
    # 五星: a branch claims an indicator when its 五星 self-assessment gives it one of these answers; it
    # counts once the committee confirms it and it meets its conditions here: "satisfaction" (the branch
    # poll's 满意率), "participation" (党员参与率 in 三会一课, as the secretary entered it), "leadership"
    # (the 满意率 of a poll rating the 领导班子/书记). Seed 004: 班子建设 书记的群众满意度 ≥ 90%; 作用发挥
    # 满意度 and 党员参与率 ≥ 90%.
    star_self_ratings: list[str] = Field(["好"], min_length=1)
    star_conditions: dict[str, list[Literal["satisfaction", "participation", "leadership"]]] = \
        {"班子建设": ["leadership"], "作用发挥": ["satisfaction", "participation"]}

    # Provenance: rule → the plan's words stating it; rules the plan leaves open (this campaign's defaults).
    source_texts: dict[str, str] = {}
    defaults: list[str] = []

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return cls._default_scales(cls._code_defaults_marked(cls._unwrapped(data)))

    @staticmethod
    def _unwrapped(data: dict) -> dict:
        """Rules written as {value, source_text | default} become their values, the provenance kept.
        A malformed form is left in place for its field to report (with its line)."""
        forms = {name: value for name, value in data.items() if _rule_form(value)}
        if not forms:
            return data
        texts = {**data.get("source_texts", {}), **{n: f["source_text"] for n, f in forms.items() if "source_text" in f}}
        defaults = [*data.get("defaults", []), *(n for n, f in forms.items() if f.get("default") is True)]
        values = {n: f["value"] for n, f in forms.items()}
        return {**data, **values, "source_texts": texts, "defaults": defaults}

    @classmethod
    def _code_defaults_marked(cls, data: dict) -> dict:
        """A rule the file leaves out takes the code's default: it is a default of this campaign too.
        (A stored campaign holds every rule, so reading it again marks nothing more.)"""
        marked = data.get("defaults", [])
        left_out = [name for name in cls.rule_names() if name not in data and name not in marked
                    and cls.model_fields[name].get_default(call_default_factory=True) is not None]
        if not left_out:
            return data
        return {**data, "defaults": [*marked, *left_out]}

    @classmethod
    def _default_scales(cls, data: dict) -> dict:
        if not data.get("scales"):
            satisfied = data.get("satisfied_options", ["满意", "基本满意"])
            data = {**data, "scales": {
                "满意度": {"options": ["满意", "基本满意", "不满意"], "satisfied": satisfied},
                "好较好一般差": {"options": ["好", "较好", "一般", "差"], "satisfied": ["好", "较好"]}}}
        return data

    @field_validator("*", mode="before")
    @classmethod
    def _no_malformed_form(cls, value: Any) -> Any:
        if isinstance(value, dict) and "value" in value:
            raise ValueError(problem("rule_form"))
        return value

    @classmethod
    def rule_names(cls) -> list[str]:
        return [name for name in cls.model_fields if name not in ("source_texts", "defaults")]

    def is_default(self, name: str) -> bool:
        """The plan leaves this rule open: messages applying it say "方案未规定，本活动默认…"."""
        return name in self.defaults

    def applied_defaults(self, *names: str) -> list[tuple[str, Any]]:
        """(rule, value) for those of these rules that are defaults, for message_templates/rule_defaults.j2."""
        return [(name, getattr(self, name)) for name in names if self.is_default(name)]

    def condition_line(self, condition: str) -> float | None:
        """The line a star condition is held to."""
        return getattr(self, CONDITION_LINES[condition])

    def star_lines_missing(self) -> list[str]:
        """The lines 五星 and 红旗 need (by star_conditions) that this campaign leaves unset."""
        needed = {"red_flag_min"} | {CONDITION_LINES[c] for conds in self.star_conditions.values() for c in conds}
        return sorted(name for name in needed if getattr(self, name) is None)

    @model_validator(mode="after")
    def _provenance_known(self) -> "Rules":
        names, stated, marked = set(self.rule_names()), set(self.source_texts), set(self.defaults)
        if (stated | marked) - names:
            raise ValueError(problem("rule_unknown", names="、".join(sorted((stated | marked) - names))))
        if stated & marked:
            raise ValueError(problem("rule_both", names="、".join(sorted(stated & marked))))
        return self

    @field_validator("rating_weights")
    @classmethod
    def _weights_sum_to_one(cls, weights: dict[str, float]) -> dict[str, float]:
        if abs(sum(weights.values()) - 1) > 1e-6:
            raise ValueError(problem("weights_sum"))
        return weights

    @model_validator(mode="after")
    def _thresholds_fit_the_levels(self) -> "Rules":
        """A level's line must be higher than the next level's: otherwise 分类定级 is ambiguous."""
        lines = [self.level_thresholds[level] for level in self.rating_levels if level in self.level_thresholds]
        if set(self.level_thresholds) - set(self.rating_levels[:-1]):
            raise ValueError(problem("thresholds_levels"))
        if any(higher <= lower for higher, lower in zip(lines, lines[1:])):
            raise ValueError(problem("thresholds_order"))
        return self


class Campaign(_Strict):
    name: str = Field(min_length=1)
    source: str = Field(min_length=1)
    summary: str = ""
    standards: dict[Literal["member", "branch", "stars"], str]
    standard_sets: dict[str, StandardSet]
    rules: Rules = Rules()
    phases: list[Phase] = Field(min_length=1)

    @property
    def start(self) -> date:
        return self.phases[0].start

    @property
    def end(self) -> date:
        return self.phases[-1].end

    @model_validator(mode="after")
    def _consistent(self) -> "Campaign":
        for role in ("member", "branch"):
            if role not in self.standards:
                raise ValueError(problem("standards_missing", role=role))
        missing = [s for s in self.standards.values() if s not in self.standard_sets]
        if missing:
            raise ValueError(problem("standards_undefined", names="、".join(missing)))
        for earlier, later in zip(self.phases, self.phases[1:], strict=False):
            if later.start <= earlier.end:
                raise ValueError(problem("phases_overlap", phase=later.name))
        ids = [t.id for p in self.phases for t in p.tasks]
        if len(ids) != len(set(ids)):
            raise ValueError(problem("task_ids_repeat", ids="、".join(sorted({i for i in ids if ids.count(i) > 1}))))
        late = [t.id for p in self.phases for t in p.tasks if not self.start <= t.due <= self.end]
        if late:
            raise ValueError(problem("tasks_outside", ids="、".join(late)))
        unknown = [t.id for p in self.phases for t in p.tasks if t.kind == "poll" and t.scale not in self.rules.scales]
        if unknown:
            raise ValueError(problem("poll_scale_unknown", ids="、".join(unknown)))
        not_committee = [t.id for p in self.phases for t in p.tasks
                         if t.kind == "comment" and t.audience != "committee"]
        if not_committee:  # 领导点评 is the committee's (/点评); nobody else has a command for it
            raise ValueError(problem("comment_not_committee", ids="、".join(not_committee)))
        lines = self.rules.star_lines_missing() if "stars" in self.standards else []
        if lines:
            raise ValueError(problem("star_rules_missing", names="、".join(lines)))
        return self

    def rebased(self, new_start: date) -> "Campaign":
        """The same plan moved so it starts on new_start (see rebase)."""
        return self.rebase(new_start).campaign

    def rebase(self, new_start: date) -> "Rebase":
        """The plan moved to start on new_start. When new_start is the plan's own month and day in another
        year, every date moves by whole years and keeps its month and day (七一, 年底, 旬, 月底); otherwise
        every date moves by the same number of days, and the dates that were such anchors are named."""
        years = new_start.year - self.start.year
        if shift_years(self.start, years) == new_start:
            return Rebase(self._moved(lambda day: shift_years(day, years)), self.start, years=years, days=0,
                          moved_anchors=[], whole_year_start=new_start)
        days = new_start - self.start
        nearest = min((shift_years(self.start, n) for n in (years - 1, years, years + 1)),
                      key=lambda start: abs(start - new_start))
        return Rebase(self._moved(lambda day: day + days), self.start, years=None, days=days.days,
                      moved_anchors=self._anchors_moved(lambda day: day + days), whole_year_start=nearest)

    def _moved(self, move: Callable[[date], date]) -> "Campaign":
        data = self.model_dump()
        for phase in data["phases"]:
            phase["start"], phase["end"] = move(phase["start"]), move(phase["end"])
            for task in phase["tasks"]:
                task["due"] = move(task["due"])
        return Campaign.model_validate(data)

    def _anchors_moved(self, move: Callable[[date], date]) -> list["MovedAnchor"]:
        uses: dict[date, list[tuple[str, str]]] = {}
        for phase in self.phases:
            uses.setdefault(phase.start, []).append(("phase_start", phase.name))
            uses.setdefault(phase.end, []).append(("phase_end", phase.name))
            for task in phase.tasks:
                uses.setdefault(task.due, []).append(("task_due", task.title))
        return [MovedAnchor(day, move(day), calendar_anchor(day), used)
                for day, used in sorted(uses.items())
                if calendar_anchor(day) and calendar_anchor(move(day)) != calendar_anchor(day)]


def shift_years(day: date, years: int) -> date:
    """The same month and day `years` later; a month's last day stays its last day (2月28日 ↔ 2月29日)."""
    year = day.year + years
    if day.day == calendar.monthrange(day.year, day.month)[1]:
        return date(year, day.month, calendar.monthrange(year, day.month)[1])
    return day.replace(year=year)


def calendar_anchor(day: date) -> str | None:
    """What a plan's date may stand for: 七一, 年底, a month's first or last day, a 旬's first or last day."""
    last = calendar.monthrange(day.year, day.month)[1]
    if (day.month, day.day) == (7, 1):
        return "july_first"
    if (day.month, day.day) == (12, 31):
        return "year_end"
    if day.day in (1, last):
        return "month_start" if day.day == 1 else "month_end"
    return {10: "first_dekad_end", 11: "middle_dekad_start", 20: "middle_dekad_end", 21: "last_dekad_start"}.get(day.day)


@dataclass(frozen=True)
class MovedAnchor:
    written: date  # as the file has it
    moved: date  # where the shift put it
    anchor: str  # what it stood for (calendar_anchor)
    uses: list[tuple[str, str]]  # (phase_start | phase_end | task_due, phase name or task title)


@dataclass(frozen=True)
class Rebase:
    campaign: Campaign
    written_start: date  # where the file starts it
    years: int | None  # whole years moved, or None when moved by days
    days: int  # days moved when not by whole years
    moved_anchors: list[MovedAnchor]
    whole_year_start: date  # the nearest start that would move the plan by whole years


# -- YAML with line numbers ---------------------------------------------------------------------
def _to_python(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result = {}
        for key_node, value_node in node.value:
            key = key_node.value
            lines[path + (key,)] = key_node.start_mark.line + 1
            result[key] = _to_python(value_node, path + (key,), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, path + (i,), lines) for i, item in enumerate(node.value)]
    if node.tag.endswith(":timestamp") or (node.style is None and _DATE.match(node.value)):
        return node.value  # dates stay text: parse_date knows the forms plans use
    return yaml.SafeLoader("").construct_object(node)


def _line_of(loc: tuple, lines: dict[tuple, int]) -> int:
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return 1


def _field_name(loc: tuple) -> str:
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or problem("whole_file")


def load_campaign_text(text: str, *, source: str = "<text>") -> Campaign:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise CampaignFileError(f"{source}:{line}: {problem('not_yaml', detail=getattr(exc, 'problem', exc))}") from None
    if node is None:
        raise CampaignFileError(f"{source}:1: {problem('empty')}")
    lines: dict[tuple, int] = {}
    data = _to_python(node, (), lines)
    try:
        return Campaign.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith(("function-", "date"))))
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{source}:{_line_of(loc, lines)}: {_field_name(loc)}: {_chinese(error['type'], message)}")
        raise CampaignFileError("\n".join(problems)) from None


def _chinese(kind: str, message: str) -> str:
    words = vocabulary("cli/campaign_problems")["kinds"]
    return words[kind].format(message=message) if kind in words else message


def load_campaign_file(path: Path) -> Campaign:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CampaignFileError(f"{path}:1: {problem('unreadable', detail=type(exc).__name__)}") from None
    return load_campaign_text(text, source=str(path))


def rules_of(record: Any) -> Rules:
    """A stored campaign's rules (a CampaignRecord's content), or the defaults when there is none."""
    return Rules.model_validate(record.content.get("rules", {})) if record is not None else Rules()


def save_campaign(session, campaign: Campaign, *, source_file: str, actor: str = "system"):
    """Store a validated campaign and its tasks (storage.campaigns.upsert_campaign); idempotent. A load
    that changes it is logged (storage.audit) as `actor`'s: "cli", or "system" (the demo, a rehearsal)."""
    from storage import audit
    from storage.campaigns import upsert_campaign

    tasks = [dict(key=t.id, phase_index=i, title=t.title, kind=t.kind, audience=t.audience, due=t.due,
                  remind_days=t.remind_days_before) for i, p in enumerate(campaign.phases) for t in p.tasks]
    result = upsert_campaign(session, name=campaign.name, content=campaign.model_dump(mode="json"),
                             source_file=source_file, start=campaign.start, end=campaign.end, tasks=tasks)
    if result.status != "unchanged":
        record = result.record
        audit.append(session, actor=actor, action="campaign.loaded", subject=f"campaign:{record.id}", details={
            "name": record.name, "status": result.status, "file": Path(source_file).name, "start": record.start,
            "end": record.end, "tasks": len(tasks), "content_hash": record.content_hash})
    return result
