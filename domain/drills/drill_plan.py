"""Restore-drill plans: scheduled restore tests that prove the backups of a set of disks restore.

A versioned JSON file holds the plans. It is validated in full and every problem is reported at
once, each named by its path ("plans[1] (nightly).selection.vaults[0]"), as the recovery policies
are. The rest is pure and deterministic, so an orchestrator can call it and replay it:
`select` picks the protected disks a plan drills and says why each other one is left out,
`choose_point` picks the recovery point to restore (a seeded choice for "random", so a replay or
a re-run of the same drill picks the same point), and `within_daily_limit` keeps a drill inside
Azure Backup's restores-per-day allowance, leaving the incidents' reserve.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from domain.document import Checks, InvalidDocument, load
from domain.errors import FieldError
from domain.model import Record, RecoveryPoint
from domain.objectives import ObjectiveRules, parse_objectives
from domain.resource_id import InvalidResourceId, ResourceId
from domain.restore.budget import DAILY_RESTORE_LIMIT
from domain.restore.request import DISK

SCHEMA_VERSION = 1
BACKUP_VAULT = "Microsoft.DataProtection/backupVaults"
LATEST, RANDOM, OLDEST_NOT_DRILLED = "latest", "random", "oldestNotDrilled"

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_RG_ID = re.compile(r"^/subscriptions/([A-Za-z0-9][A-Za-z0-9_.-]{0,63})/resourceGroups/"
                    r"([-\w._()]{0,89}[-\w_()])/?$", re.IGNORECASE)  # as policy.py accepts
_QUEUE = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_URL_RULE = "must be an https:// URL (http:// only for 127.0.0.1, localhost or [::1])"
_TIMESPAN = re.compile(r"^\s*-?(?:\d+\.)?\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*$")
_NCRONTAB = '"{second} {minute} {hour} {day} {month} {day-of-week}"'
_MONTHS = {n: i for i, n in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug",
                                       "sep", "oct", "nov", "dec"), start=1)}
_DAYS = {n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("second", 0, 59, {}), ("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day", 1, 31, {}),
    ("month", 1, 12, _MONTHS), ("day-of-week", 0, 6, _DAYS))
_TOP = {"version", "plans"}
_PLAN = {"name", "description", "schedule", "selection", "recoveryPoint", "sandboxResourceGroupId",
         "maxParallel", "timeBudgetMinutes", "keepFailed", "expiryHours", "verification", "notify",
         "objectives"}
_SELECTION = {"vaults", "resourceGroups", "tags", "include", "exclude"}
_POINT_FORMS = '"latest", "oldestNotDrilled" or {"randomWithinDays": <1-365>}'


class DrillPlanError(InvalidDocument):
    """The drill plans cannot be used; `source` (the file path, if any) becomes the hint."""

    code: ClassVar[str] = "InvalidDrillPlan"
    what: ClassVar[str] = "invalid drill plans"


@dataclass(frozen=True)
class Selection:
    vaults: tuple[str, ...]  # Backup vault ids (canonical); only their protected disks count
    resource_groups: tuple[str, ...] = ()  # the source disks' resource groups; empty = any
    tags: dict[str, str] = field(default_factory=dict)  # all must match; names case-insensitive
    include: tuple[str, ...] = ()  # disk ids drilled whenever protected, whatever else says
    exclude: tuple[str, ...] = ()  # disk ids never drilled; beats include

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"vaults": list(self.vaults)}
        optional = {"resourceGroups": list(self.resource_groups), "tags": dict(self.tags),
                    "include": list(self.include), "exclude": list(self.exclude)}
        doc.update((k, v) for k, v in optional.items() if v)
        return doc


@dataclass(frozen=True)
class PointChoice:
    """Which recovery point a drill restores: latest | random (within_days) | oldestNotDrilled."""

    kind: str
    within_days: int | None = None  # random only

    def to_json(self) -> Any:
        return {"randomWithinDays": self.within_days} if self.kind == RANDOM else self.kind


@dataclass(frozen=True)
class Verification:
    webhook: str | None = None  # called with each restored disk; None: the restore is the test
    timeout_seconds: int = 300


@dataclass(frozen=True)
class Notify:
    queue: str | None = None
    webhook: str | None = None


@dataclass(frozen=True)
class DrillPlan:
    name: str
    schedule: str  # six-field NCRONTAB, as Azure Functions timers take it
    selection: Selection
    sandbox_resource_group_id: str  # where the drill restores to; never a source group
    description: str = ""
    recovery_point: PointChoice = PointChoice(LATEST)
    max_parallel: int = 4
    time_budget_minutes: int = 240
    keep_failed: bool = True  # keep a failed drill's restored disk for investigation until expiry
    expiry_hours: int = 24
    verification: Verification = Verification()
    notify: Notify = Notify()
    # RTO/RPO the drill report judges each disk against (domain/objectives.py); empty: none
    objectives: ObjectiveRules = field(default_factory=ObjectiveRules)

    def to_dict(self) -> dict[str, Any]:
        """The plan as a file entry (camelCase); from_dict reads it back to an equal plan."""
        verification: dict[str, Any] = {"timeoutSeconds": self.verification.timeout_seconds}
        if self.verification.webhook is not None:
            verification = {"webhook": self.verification.webhook, **verification}
        notify = {k: v for k, v in (("queue", self.notify.queue),
                                    ("webhook", self.notify.webhook)) if v is not None}
        doc: dict[str, Any] = {
            "name": self.name, "description": self.description, "schedule": self.schedule,
            "selection": self.selection.to_dict(), "recoveryPoint": self.recovery_point.to_json(),
            "sandboxResourceGroupId": self.sandbox_resource_group_id,
            "maxParallel": self.max_parallel, "timeBudgetMinutes": self.time_budget_minutes,
            "keepFailed": self.keep_failed, "expiryHours": self.expiry_hours,
            "verification": verification, "notify": notify}
        if not self.objectives.empty:
            doc["objectives"] = self.objectives.to_document()
        return doc

    @classmethod
    def from_dict(cls, doc: Any) -> DrillPlan:
        """The inverse of to_dict; validated like a file entry (DrillPlanError if it is not one)."""
        parser = _Parser()
        plan = parser.plan("plan", doc)
        if parser.errors or plan is None:
            raise DrillPlanError(errors=parser.errors or [FieldError("plan", "is not valid")])
        return plan


@dataclass(frozen=True)
class DrillPlans:
    version: int
    plans: tuple[DrillPlan, ...]

    @classmethod
    def parse(cls, doc: Any) -> DrillPlans:
        return _Parser().document(doc)

    @classmethod
    def load(cls, path: str | Path) -> DrillPlans:
        return load(path, cls.parse, DrillPlanError)

    def plan(self, name: str) -> DrillPlan | None:
        """The plan of that name (names are lowercase; the lookup ignores case), or None."""
        return next((p for p in self.plans if p.name == name.lower()), None)


@dataclass(frozen=True)
class Candidate(Record):
    """One protected disk, as found in a vault."""

    disk_id: str
    backup_instance_id: str
    vault_id: str
    tags: dict[str, str] = field(default_factory=dict)


# ---- choosing what a drill restores -------------------------------------------------------------
def select(plan: DrillPlan,
           candidates: list[Candidate]) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """The candidates the plan drills, sorted by disk id (case-insensitive), each disk once; and
    (disk id, reason) for every candidate left out, in input order, then for every include entry
    that no vault of the plan protects. A disk protected twice is drilled from the backup
    instance whose (vault id, instance id) sorts first, whatever order the candidates came in."""
    s = plan.selection
    vaults = {_key(v) for v in s.vaults}
    include, exclude = {_key(d) for d in s.include}, {_key(d) for d in s.exclude}
    groups = {g.lower().rstrip("/") for g in s.resource_groups}
    reasons: list[str | None] = []
    winners: dict[str, Candidate] = {}
    for c in candidates:
        disk = _key(c.disk_id)
        if _key(c.vault_id) not in vaults:
            reason: str | None = f"vault {c.vault_id} is not in the plan"
        elif disk in exclude:
            reason = "excluded by the plan"
        elif disk in include:
            reason = None
        else:
            reason = _group_rejection(c.disk_id, groups) or _tag_rejection(s.tags, c.tags)
        reasons.append(reason)
        if reason is None and (disk not in winners or _rank(c) < _rank(winners[disk])):
            winners[disk] = c
    skipped: list[tuple[str, str]] = []
    for c, reason in zip(candidates, reasons, strict=True):
        winner = winners.get(_key(c.disk_id))
        if reason is not None:
            skipped.append((c.disk_id, reason))
        elif winner is not None and winner != c:  # an identical repeat is the same candidate
            skipped.append((c.disk_id, f"drilled once, from backup instance "
                                       f"{winner.backup_instance_id}, not {c.backup_instance_id}"))
    protected = {_key(c.disk_id) for c in candidates if _key(c.vault_id) in vaults}
    skipped += [(d, "included but not protected by a vault of the plan")
                for d in s.include if _key(d) not in protected]
    return sorted(winners.values(), key=lambda c: _key(c.disk_id)), skipped


def choose_point(choice: PointChoice, points: list[RecoveryPoint], *, drilled: set[str],
                 seed: str, now: datetime) -> tuple[RecoveryPoint | None, str]:
    """The recovery point to restore and "", or None and why there is none.

    latest: the newest. random: uniformly among the points of the last `within_days` days
    (time >= now - within_days), drawn with random.Random(seed) from the points sorted by time,
    so the same seed and points give the same point in any order and on any host.
    oldestNotDrilled: the oldest point whose id (case-insensitive) is not in `drilled`; the
    oldest point when every one was drilled. Naive times (and `now`) are taken as UTC."""
    if choice.kind not in (LATEST, RANDOM, OLDEST_NOT_DRILLED):
        raise ValueError(f"unknown recovery point choice {choice.kind!r}")
    days = choice.within_days
    if choice.kind == RANDOM and (not isinstance(days, int) or days < 1):
        raise ValueError(f"a random choice needs within_days >= 1, not {choice.within_days!r}")
    if not points:
        return None, "no recovery points"
    ordered = [p for _, _, p in sorted(((_time(p), p.id, p) for p in points),
                                       key=lambda t: (t[0], t[1]))]  # oldest first
    if choice.kind == LATEST:
        return ordered[-1], ""
    if choice.kind == OLDEST_NOT_DRILLED:
        done = {d.lower() for d in drilled}
        return next((p for p in ordered if p.id.lower() not in done), ordered[0]), ""
    days = days or 0
    since = _utc(now) - timedelta(days=days)
    window = [p for p in ordered if _time(p) >= since]
    if not window:
        return None, f"no recovery point in the last {days} day" + ("s" if days != 1 else "")
    return random.Random(seed).choice(window), ""  # noqa: S311 - a reproducible pick, no secret


def within_daily_limit(restores_last_24h: int, reserve: int = 0) -> tuple[bool, str]:
    """Whether a drill's restore of a backup instance fits Azure Backup's daily allowance and
    leaves `reserve` restores of the day (DRILL_RESTORE_RESERVE) for incidents."""
    if restores_last_24h >= DAILY_RESTORE_LIMIT:
        return False, (f"{restores_last_24h} restores of this backup instance in the last 24 h: "
                       f"Azure allows {DAILY_RESTORE_LIMIT} a day")
    if restores_last_24h >= DAILY_RESTORE_LIMIT - reserve:
        left = DAILY_RESTORE_LIMIT - restores_last_24h
        return False, (f"{restores_last_24h} restores of this backup instance in the last 24 h: "
                       f"Azure allows {DAILY_RESTORE_LIMIT} a day and the {left} left "
                       f"{'is' if left == 1 else 'are'} kept for incidents "
                       f"(DRILL_RESTORE_RESERVE={reserve})")
    return True, ""


def schedule_problem(expression: str) -> str | None:
    """What is wrong with a six-field NCRONTAB expression, or None when it is valid."""
    if _TIMESPAN.match(expression):
        return (f"{expression!r} is a TimeSpan, which a drill does not take: use a six-field "
                f"NCRONTAB expression {_NCRONTAB}, e.g. \"0 30 2 * * *\"")
    parts = expression.split()
    if len(parts) != len(_CRON_FIELDS):
        hint = " (a five-field cron expression lacks the seconds: put \"0 \" first)" \
            if len(parts) == 5 else ""
        return (f"has {len(parts)} field{'' if len(parts) == 1 else 's'}: use a six-field "
                f"NCRONTAB expression {_NCRONTAB}{hint}")
    problems = [p for part, spec in zip(parts, _CRON_FIELDS, strict=True)
                for p in [_cron_field_problem(part, *spec)] if p]
    return ", ".join(problems) or None


# ---- helpers -------------------------------------------------------------------------------------
def _key(resource_id: str) -> str:
    """An id for comparisons: ResourceId.key(), or the lowercased text when it does not parse."""
    try:
        return ResourceId.parse(resource_id).key()
    except InvalidResourceId:
        return str(resource_id).lower().rstrip("/")


def _rank(c: Candidate) -> tuple[str, str]:
    return _key(c.vault_id), _key(c.backup_instance_id)


def _group_rejection(disk_id: str, groups: set[str]) -> str | None:
    if not groups:
        return None
    try:
        group = ResourceId.parse(disk_id).resource_group_id
    except InvalidResourceId as exc:
        return f"disk id is not valid: {exc}"
    if group.lower() in groups:
        return None
    return f"resource group {group} not in the plan's resource groups"


def _tag_rejection(want: dict[str, str], tags: dict[str, str] | None) -> str | None:
    have = {k.lower(): v for k, v in (tags or {}).items()}  # tag names are case-insensitive
    for key, value in want.items():
        got = have.get(key.lower())
        if got is None:
            return f"tag {key} missing (wants {value!r})"
        if got != value:
            return f"tag {key} is {got!r}, not {value!r}"
    return None


def _utc(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _time(point: RecoveryPoint) -> datetime:
    try:
        return _utc(datetime.fromisoformat(str(point.time).replace("Z", "+00:00")))
    except ValueError:
        raise ValueError(f"recovery point {point.id}: {point.time!r} is not an ISO-8601 time") \
            from None


def _cron_value(text: str, label: str, low: int, high: int, names: dict[str, int]) -> int | str:
    """The number a field item names, or what is wrong with it."""
    if text.isascii() and text.isdigit():
        value = int(text)
        return value if low <= value <= high else f"{label} {text} is out of range {low}-{high}"
    if names and text.lower() in names:
        return names[text.lower()]
    named = f" or a name like {next(iter(names)).capitalize()}" if names else ""
    return f"{label} {text!r} is not a number from {low} to {high}{named}"


def _cron_field_problem(part: str, label: str, low: int, high: int,
                        names: dict[str, int]) -> str | None:
    for item in part.split(","):
        base, slash, step = item.partition("/")
        if slash and not (step.isascii() and step.isdigit() and 1 <= int(step) <= high):
            return f"{label} step {step!r} in {item!r} must be a number from 1 to {high}"
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        if not base or (slash and not dash):
            return f"{label} {item!r} is not *, a number, a range a-b, a list a,b or a step " \
                   "*/n or a-b/n"
        first = _cron_value(start, label, low, high, names)
        if isinstance(first, str):
            return first
        last = _cron_value(end, label, low, high, names) if dash else first
        if isinstance(last, str):
            return last
        if first > last:
            return f"{label} range {base!r} runs backwards"
    return None


class _Parser(Checks):
    def document(self, doc: Any) -> DrillPlans:
        if not isinstance(doc, dict):
            raise DrillPlanError(errors=[FieldError("", "the drill plan file must be a JSON "
                                                        "object")])
        for key in sorted(set(doc) - _TOP, key=str):
            self.bad(str(key), "unknown field")
        self.version(doc, SCHEMA_VERSION)
        plans = self.named(doc, "plans", _NAME, self.plan, "schedules no drills")
        if self.errors:
            raise DrillPlanError(errors=self.errors)
        return DrillPlans(SCHEMA_VERSION, tuple(plans))

    def items(self, at: str, value: Any, required: bool) -> list[tuple[str, str]]:
        """(path, text) of each non-empty string in the list at `at`; the rest reported."""
        if value is None and not required:
            return []
        if not isinstance(value, list) or (required and not value):
            self.bad(at, "must be a non-empty list of strings" if required
                     else "must be a list of strings")
            return []
        found = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.bad(f"{at}[{i}]", "must be a non-empty string")
            else:
                found.append((f"{at}[{i}]", item))
        return found

    def unique(self, ids: list[tuple[str, str]]) -> tuple[str, ...]:
        """The ids (path, canonical id), each once; a repeat (ids are case-insensitive) is
        reported on the later entry."""
        first: dict[str, tuple[str, str]] = {}
        for where, rid in ids:
            if rid.lower() in first:
                earlier = first[rid.lower()][0].rsplit(".", 1)[-1]
                self.bad(where, f"repeats {earlier}")
            else:
                first[rid.lower()] = (where, rid)
        return tuple(rid for _, rid in first.values())

    def arm_ids(self, at: str, value: Any, expected: str, *, required: bool = False) -> \
            tuple[str, ...]:
        ids = []
        for where, text in self.items(at, value, required):
            try:
                rid = ResourceId.parse(text)
            except InvalidResourceId as exc:
                self.bad(where, str(exc))
                continue
            if not rid.is_type(expected):
                self.bad(where, f"must be a {expected} id, got a {rid.type} id")
                continue
            ids.append((where, str(rid)))
        return self.unique(ids)

    def url(self, at: str, value: Any) -> str | None:
        if value is None:
            return None
        problem = _url_problem(value) if isinstance(value, str) else _URL_RULE
        if problem:
            self.bad(at, problem)
            return None
        return str(value)

    def plan(self, at: str, doc: Any) -> DrillPlan | None:
        if not isinstance(doc, dict):
            self.bad(at, "must be an object")
            return None
        self.obj(at, doc, _PLAN)
        name = doc.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):  # "$" takes "name\n"
            self.bad(f"{at}.name", "must be 1-40 lowercase letters, digits or '-', starting with "
                                   "a letter or digit")
        description = doc.get("description", "")
        if not isinstance(description, str):
            self.bad(f"{at}.description", "must be a string")
        schedule = doc.get("schedule")
        if not isinstance(schedule, str) or not schedule.strip():
            self.bad(f"{at}.schedule", f"is required: a six-field NCRONTAB expression "
                                       f"{_NCRONTAB}, e.g. \"0 30 2 * * *\"")
            schedule = None
        elif (problem := schedule_problem(schedule)) is not None:
            self.bad(f"{at}.schedule", problem)
            schedule = None
        selection = self.selection(f"{at}.selection", doc.get("selection"))
        point = self.point(f"{at}.recoveryPoint", doc.get("recoveryPoint"))
        sandbox = self.sandbox(f"{at}.sandboxResourceGroupId", doc.get("sandboxResourceGroupId"),
                               selection)
        max_parallel = self.integer(f"{at}.maxParallel", doc.get("maxParallel"), 4, 1, 50)
        budget = self.integer(f"{at}.timeBudgetMinutes", doc.get("timeBudgetMinutes"), 240, 10,
                              1440)
        keep_failed = doc.get("keepFailed", True)
        if not isinstance(keep_failed, bool):
            self.bad(f"{at}.keepFailed", "must be true or false")
        expiry = self.integer(f"{at}.expiryHours", doc.get("expiryHours"), 24, 1, 168)
        check = self.obj(f"{at}.verification", doc.get("verification"),
                         {"webhook", "timeoutSeconds"})
        verification = Verification(
            self.url(f"{at}.verification.webhook", check.get("webhook")),
            self.integer(f"{at}.verification.timeoutSeconds", check.get("timeoutSeconds"), 300,
                         10, 3600))
        notify = self.notify(f"{at}.notify", doc.get("notify"))
        objectives = parse_objectives(self, f"{at}.objectives", doc.get("objectives"))
        if not isinstance(name, str) or not isinstance(description, str) or schedule is None \
                or selection is None or point is None or sandbox is None:
            return None
        return DrillPlan(name, schedule, selection, sandbox, description, point, max_parallel,
                         budget, keep_failed is True, expiry, verification, notify, objectives)

    def selection(self, at: str, value: Any) -> Selection | None:
        doc = self.obj(at, value, _SELECTION, required=True)
        if not isinstance(value, dict):
            return None
        vaults = self.arm_ids(f"{at}.vaults", doc.get("vaults"), BACKUP_VAULT, required=True)
        groups = []
        for where, text in self.items(f"{at}.resourceGroups", doc.get("resourceGroups"), False):
            if (m := _RG_ID.match(text)) is None:
                self.bad(where, f"{text!r} is not a resource group id like "
                                "/subscriptions/<id>/resourceGroups/<name>")
                continue
            groups.append((where, f"/subscriptions/{m.group(1).lower()}/resourceGroups/"
                                  f"{m.group(2)}"))
        tags = self.tags(f"{at}.tags", doc.get("tags"))
        include = self.arm_ids(f"{at}.include", doc.get("include"), DISK)
        exclude = self.arm_ids(f"{at}.exclude", doc.get("exclude"), DISK)
        if not vaults:
            return None
        return Selection(vaults, self.unique(groups), tags, include,
                         exclude)

    def point(self, at: str, value: Any) -> PointChoice | None:
        if value is None or value == LATEST:
            return PointChoice(LATEST)
        if value == OLDEST_NOT_DRILLED:
            return PointChoice(OLDEST_NOT_DRILLED)
        if isinstance(value, dict) and "randomWithinDays" in value:
            self.obj(at, value, {"randomWithinDays"})
            days = value["randomWithinDays"]
            if type(days) is not int or not 1 <= days <= 365:
                self.bad(f"{at}.randomWithinDays", "must be an integer from 1 to 365")
                return None
            return PointChoice(RANDOM, days)
        self.bad(at, f"must be {_POINT_FORMS}")
        return None

    def sandbox(self, at: str, value: Any, selection: Selection | None) -> str | None:
        if value is None:
            self.bad(at, "is required: the resource group drills restore into")
            return None
        try:
            rid = ResourceId.parse(value)
        except InvalidResourceId as exc:
            self.bad(at, str(exc))
            return None
        if not rid.is_type("resourceGroups"):
            self.bad(at, f"must be a resource group id, got a {rid.type} id")
            return None
        sources = selection.resource_groups if selection is not None else ()
        if any(rid.key() == g.lower() for g in sources):
            self.bad(at, "the sandbox must not be a source resource group "
                         "(it is in selection.resourceGroups)")
            return None
        return str(rid)

    def notify(self, at: str, value: Any) -> Notify:
        doc = self.obj(at, value, {"queue", "webhook"})
        queue = doc.get("queue")
        if queue is not None and (not isinstance(queue, str) or not _QUEUE.fullmatch(queue)):
            self.bad(f"{at}.queue", "must be a queue name: 3-63 lowercase letters, digits or "
                                    "single hyphens, starting and ending with a letter or digit")
            queue = None
        return Notify(queue, self.url(f"{at}.webhook", doc.get("webhook")))


def _url_problem(text: str) -> str | None:
    if text != text.strip() or any(c.isspace() for c in text):
        return f"{_URL_RULE}, without spaces"
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        return f"{_URL_RULE}; {text!r} is not a valid URL"
    if not parts.hostname:
        return f"{_URL_RULE}; {text!r} has no host"
    if parts.username is not None or parts.password is not None:
        return f"{_URL_RULE}, without credentials in it"
    scheme = parts.scheme.lower()
    if scheme == "https" or (scheme == "http" and parts.hostname.lower() in _LOOPBACK):
        return None
    if scheme == "http":
        return f"{_URL_RULE}; {parts.hostname} is not a loopback host"
    return _URL_RULE
