"""Recovery objectives: how long a restore may take (RTO) and how old the newest recovery point
may be (RPO), and the verdict of a measured run or a recovery point against them.

Drill plans and recovery policies carry the same `objectives` object, validated by
`parse_objectives` (every problem named by its path):

    "objectives": {"rtoMinutes": 120, "rpoHours": 26,
                   "byTag": [{"tag": "tier", "value": "gold", "rtoMinutes": 30, "rpoHours": 4}]}

A `byTag` entry overrides the plan's values for disks carrying that tag (name case-insensitive,
as Azure's; value exact); the first matching entry wins and a field it leaves out falls back to
the plan's. Where several plans or policies cover one disk, `strictest` takes the tightest of each.
Why 26 hours is a sensible daily RPO: scheduled disk backups start anywhere in a 2-hour window
(disk-backup-faq), so a daily policy's newest point can be up to ~26 h old on a healthy day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.document import Checks
from domain.model import OMITTED_WHEN_NONE, Record

MET, MISSED, UNKNOWN = "met", "missed", "unknown"
_FIELDS = {"rtoMinutes", "rpoHours", "byTag"}
_OVERRIDE = {"tag", "value", "rtoMinutes", "rpoHours"}
RTO_RANGE = (1, 10080)  # a minute to a week
RPO_RANGE = (0.25, 8760.0)  # 15 minutes to a year


@dataclass(frozen=True)
class Objectives(Record):
    """None: no objective of that kind."""

    rto_minutes: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    rpo_hours: float | None = field(default=None, metadata=OMITTED_WHEN_NONE)

    @property
    def empty(self) -> bool:
        return self.rto_minutes is None and self.rpo_hours is None

    def over(self, base: Objectives) -> Objectives:
        """These objectives, falling back to `base` for what they leave out."""
        return Objectives(self.rto_minutes if self.rto_minutes is not None else base.rto_minutes,
                          self.rpo_hours if self.rpo_hours is not None else base.rpo_hours)


@dataclass(frozen=True)
class TagObjectives(Record):
    tag: str
    value: str
    objectives: Objectives


@dataclass(frozen=True)
class ObjectiveRules(Record):
    """A plan's or a policy's objectives with their per-tag overrides."""

    default: Objectives = field(default_factory=Objectives)
    by_tag: list[TagObjectives] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.default.empty and not self.by_tag

    def for_tags(self, tags: dict[str, str] | None) -> Objectives:
        lowered = {k.lower(): v for k, v in (tags or {}).items()}
        for rule in self.by_tag:
            if lowered.get(rule.tag.lower()) == rule.value:
                return rule.objectives.over(self.default)
        return self.default

    def to_document(self) -> dict[str, Any]:
        """The `objectives` object as a plan file has it (the inverse of parse_objectives)."""
        doc: dict[str, Any] = self.default.to_dict()
        if self.by_tag:
            doc["byTag"] = [{"tag": r.tag, "value": r.value, **r.objectives.to_dict()}
                            for r in self.by_tag]
        return doc


@dataclass(frozen=True)
class Verdict(Record):
    """One measure against one objective: `verdict` is met | missed | unknown (no objective, or
    nothing measured)."""

    objective: str  # "rto" | "rpo"
    verdict: str
    target: float | None = field(default=None, metadata=OMITTED_WHEN_NONE)  # minutes / hours
    actual: float | None = field(default=None, metadata=OMITTED_WHEN_NONE)


def overall(*verdicts: Verdict) -> str:
    """One word for several verdicts: missed if any missed, met if all met, else unknown."""
    words = {v.verdict for v in verdicts}
    if MISSED in words:
        return MISSED
    return MET if words == {MET} else UNKNOWN


def tally(words: list[str]) -> dict[str, int]:
    """{"met": n, "missed": n, "unknown": n} of verdict words."""
    return {w: sum(1 for x in words if x == w) for w in (MET, MISSED, UNKNOWN)}


def strictest(found: list[Objectives]) -> Objectives:
    rtos = [o.rto_minutes for o in found if o.rto_minutes is not None]
    rpos = [o.rpo_hours for o in found if o.rpo_hours is not None]
    return Objectives(min(rtos) if rtos else None, min(rpos) if rpos else None)


def rto_verdict(minutes: float | None, objectives: Objectives) -> Verdict:
    target = objectives.rto_minutes
    if target is None or minutes is None:
        return Verdict("rto", UNKNOWN, target, None if minutes is None else round(minutes, 1))
    return Verdict("rto", MET if minutes <= target else MISSED, target, round(minutes, 1))


def rpo_verdict(point_time: datetime | None, now: datetime, objectives: Objectives) -> Verdict:
    """The age of a recovery point (the newest, for readiness; the one restored, for a drill)."""
    target = objectives.rpo_hours
    if point_time is None:
        return Verdict("rpo", MISSED if target is not None else UNKNOWN, target)
    age = round((now - point_time).total_seconds() / 3600, 2)
    if target is None:
        return Verdict("rpo", UNKNOWN, None, age)
    return Verdict("rpo", MET if age <= target else MISSED, target, age)


def parse_objectives(checks: Checks, at: str, value: Any) -> ObjectiveRules:
    """The `objectives` object at `at` (absent: no objectives); problems go to `checks`."""
    if value is None:
        return ObjectiveRules()
    doc = checks.obj(at, value, _FIELDS)
    if not isinstance(value, dict):
        return ObjectiveRules()
    default = _pair(checks, at, doc)
    overrides: list[TagObjectives] = []
    rules = doc.get("byTag", [])
    seen: dict[tuple[str, str], int] = {}
    if not isinstance(rules, list):
        checks.bad(f"{at}.byTag", "must be a list of {\"tag\", \"value\", \"rtoMinutes\", "
                                  "\"rpoHours\"} objects")
        rules = []
    for i, rule in enumerate(rules):
        where = f"{at}.byTag[{i}]"
        entry = checks.obj(where, rule, _OVERRIDE, required=True)
        if not isinstance(rule, dict):
            continue
        tag, wanted = entry.get("tag"), entry.get("value")
        if not isinstance(tag, str) or not tag.strip():
            checks.bad(f"{where}.tag", "is required: a tag name")
        if not isinstance(wanted, str):
            checks.bad(f"{where}.value", "is required: the tag's value (a string)")
        pair = _pair(checks, where, entry)
        if pair.empty:
            checks.bad(where, "sets neither rtoMinutes nor rpoHours")
        if isinstance(tag, str) and tag.strip() and isinstance(wanted, str):
            key = (tag.lower(), wanted)
            if key in seen:  # the first would always win: the repeat is a mistake, not a rule
                checks.bad(where, f"repeats byTag[{seen[key]}] ({tag}={wanted}): the first "
                                  "matching entry wins")
            seen.setdefault(key, i)
            if not pair.empty:
                overrides.append(TagObjectives(tag, wanted, pair))
    return ObjectiveRules(default, overrides)


def _pair(checks: Checks, at: str, doc: dict[str, Any]) -> Objectives:
    rto, rpo = doc.get("rtoMinutes"), doc.get("rpoHours")
    if rto is not None and (type(rto) is not int or not RTO_RANGE[0] <= rto <= RTO_RANGE[1]):
        checks.bad(f"{at}.rtoMinutes", f"must be an integer from {RTO_RANGE[0]} to {RTO_RANGE[1]}")
        rto = None
    low, high = RPO_RANGE
    if rpo is not None and (type(rpo) not in (int, float) or not low <= rpo <= high):
        checks.bad(f"{at}.rpoHours", f"must be a number of hours from {RPO_RANGE[0]} to "
                                     f"{RPO_RANGE[1]:g}")
        rpo = None
    return Objectives(rto, None if rpo is None else float(rpo))
