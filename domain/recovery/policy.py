"""Recovery policies: which signals restore what, loaded from a versioned JSON file.

The file is validated in full and every problem is reported at once, each named by its path
("policies[2] (os-swap).limits.cooldownMinutes"), so an operator fixes it in one edit. Matching is
pure: `candidates` applies every condition a signal itself can answer; `first_match` adds the
resource's tags, which the caller reads only when `needs_tags` says some candidate wants them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from domain.document import Checks, InvalidDocument, load
from domain.errors import FieldError
from domain.objectives import ObjectiveRules, parse_objectives
from domain.resource_id import InvalidResourceId, ResourceId
from domain.restore.request import CACHING, DISK, VM
from domain.restore.request import Attach as AttachTo  # the same three fields as a request's attach

SCHEMA_VERSION = 1
# restoreDataDisksAndAttach puts each restored data disk in its original's place (the original
# is detached in the same call and kept); ...Beside attaches it next to the original instead.
ACTIONS = ("restoreDeletedDisk", "restoreOsDiskAndSwap", "restoreDataDisksAndAttach",
           "restoreDataDisksAndAttachBeside")
ALERT_EVENT = "azureMonitorCommonAlertSchema"
HEALTH_EVENT = "Microsoft.ResourceNotifications.HealthResources.AvailabilityStatusChanged"
DELETION_EVENTS = ("Microsoft.Resources.ResourceDeleteSuccess",
                   "Microsoft.ResourceNotifications.Resources.Deleted")
SEVERITIES = ("Sev0", "Sev1", "Sev2", "Sev3", "Sev4")
MONITOR_CONDITIONS = ("Fired", "Resolved")
AVAILABILITY_STATES = ("Available", "Unavailable", "Degraded", "Unknown")

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_SEGMENT = r"[A-Za-z][A-Za-z0-9]*"
_RESOURCE_TYPE = re.compile(rf"^{_SEGMENT}(?:\.{_SEGMENT})+(?:/{_SEGMENT})+$")
_RG_ID = re.compile(r"^/subscriptions/([A-Za-z0-9][A-Za-z0-9_.-]{0,63})/resourceGroups/"
                    r"([-\w._()]{0,89}[-\w_()])/?$", re.IGNORECASE)
_CONDITIONAL = (("alertRules", (), ALERT_EVENT), ("severities", SEVERITIES, ALERT_EVENT),
                ("monitorConditions", MONITOR_CONDITIONS, ALERT_EVENT),
                ("availabilityStates", AVAILABILITY_STATES, HEALTH_EVENT))
_TOP = {"version", "maxConcurrentRecoveries", "policies"}
_POLICY = {"name", "description", "match", "action", "approval", "limits", "objectives"}
_MATCH = {"eventTypes", "resourceTypes", "resourceGroups", "tags", "alertRules", "severities",
          "monitorConditions", "availabilityStates"}


class SignalLike(Protocol):
    """What matching reads from a signal (domain.signals.Signal has it, among others)."""

    @property
    def event_type(self) -> str: ...
    @property
    def resource_id(self) -> str: ...
    @property
    def resource_type(self) -> str: ...
    @property
    def resource_group_id(self) -> str: ...
    @property
    def details(self) -> dict[str, Any]: ...  # alertRule, severity, monitorCondition, ...


class PolicyError(InvalidDocument):
    """The policy file cannot be used; `source` (the file path, if any) becomes the hint."""

    code: ClassVar[str] = "InvalidPolicy"
    what: ClassVar[str] = "invalid recovery policies"


@dataclass(frozen=True)
class Match:
    event_types: tuple[str, ...]
    resource_types: tuple[str, ...]
    resource_groups: tuple[str, ...] = ()  # canonical resource group ids; empty = any
    tags: dict[str, str] = field(default_factory=dict)  # empty = no tag condition
    alert_rules: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    monitor_conditions: tuple[str, ...] = ("Fired",)
    availability_states: tuple[str, ...] = ()


@dataclass(frozen=True)
class Action:
    type: str
    attach_to: AttachTo | None = None


@dataclass(frozen=True)
class Approval:
    required: bool = False
    timeout_minutes: int = 60


@dataclass(frozen=True)
class Limits:
    runs_per_resource_per_hour: int = 1
    cooldown_minutes: int = 60


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    match: Match
    action: Action
    approval: Approval = Approval()
    limits: Limits = Limits()
    # RTO/RPO a run's outcome is judged against (domain/objectives.py); empty: none
    objectives: ObjectiveRules = field(default_factory=ObjectiveRules)

    def to_dict(self) -> dict[str, Any]:
        m = self.match
        match: dict[str, Any] = {"eventTypes": list(m.event_types),
                                 "resourceTypes": list(m.resource_types)}
        optional = {"resourceGroups": list(m.resource_groups), "tags": dict(m.tags),
                    "alertRules": list(m.alert_rules), "severities": list(m.severities),
                    "availabilityStates": list(m.availability_states)}
        match.update((k, v) for k, v in optional.items() if v)
        if _has(m.event_types, ALERT_EVENT):
            match["monitorConditions"] = list(m.monitor_conditions)
        action: dict[str, Any] = {"type": self.action.type}
        if (a := self.action.attach_to) is not None:
            action["attachTo"] = {"vmId": a.vm_id, "lun": a.lun, "caching": a.caching}
        doc: dict[str, Any] = {
            "name": self.name, "description": self.description, "match": match,
            "action": action,
            "approval": {"required": self.approval.required,
                         "timeoutMinutes": self.approval.timeout_minutes},
            "limits": {"runsPerResourcePerHour": self.limits.runs_per_resource_per_hour,
                       "cooldownMinutes": self.limits.cooldown_minutes}}
        if not self.objectives.empty:
            doc["objectives"] = self.objectives.to_document()
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Policy:
        """The inverse of to_dict; validated like a file entry (PolicyError if it is not one)."""
        parser = _Parser()
        policy = parser.policy("policy", doc)
        if parser.errors or policy is None:
            raise PolicyError(errors=parser.errors or [FieldError("policy", "is not valid")])
        return policy


@dataclass(frozen=True)
class Rejection:
    policy: str | None  # None: no policy was there to consider
    reason: str


@dataclass(frozen=True)
class Policies:
    version: int
    policies: tuple[Policy, ...]
    max_concurrent_recoveries: int = 3

    @classmethod
    def parse(cls, doc: Any) -> Policies:
        return _Parser().document(doc)

    @classmethod
    def load(cls, path: str | Path) -> Policies:
        return load(path, cls.parse, PolicyError)

    def candidates(self, signal: SignalLike) -> tuple[list[Policy], list[Rejection]]:
        """Policies whose conditions other than tags hold, in file order, and why the rest not."""
        reasons = [(p, _rejection(p.match, signal)) for p in self.policies]
        return ([p for p, reason in reasons if reason is None],
                [Rejection(p.name, reason) for p, reason in reasons if reason is not None])

    def first_match(self, signal: SignalLike,
                    tags: dict[str, str] | None) -> tuple[Policy | None, list[Rejection]]:
        """The first policy that matches fully, with why each policy before it did not.

        `tags` None means the resource's tags are unknown; a policy with tag conditions then
        does not match ("tags unknown")."""
        rejected: list[Rejection] = []
        for policy in self.policies:
            reason = _rejection(policy.match, signal) or _tag_rejection(policy.match, tags)
            if reason is None:
                return policy, rejected
            rejected.append(Rejection(policy.name, reason))
        if not self.policies:
            rejected.append(Rejection(None, "no recovery policies are configured"))
        return None, rejected

    def needs_tags(self, signal: SignalLike) -> bool:
        return any(p.match.tags for p in self.candidates(signal)[0])


def _has(values: tuple[str, ...], value: str) -> bool:
    return value.lower() in {v.lower() for v in values}


def _not_in(label: str, value: Any, allowed: tuple[str, ...]) -> str | None:
    text = "(missing)" if value is None or value == "" else str(value).rstrip("/")
    if not allowed or _has(allowed, text):
        return None
    return f"{label} {text} not in [{', '.join(allowed)}]"


def _rejection(m: Match, signal: SignalLike) -> str | None:
    details = signal.details or {}
    checks: list[tuple[str, Any, tuple[str, ...]]] = [
        ("event type", signal.event_type, m.event_types),
        ("resource type", signal.resource_type, m.resource_types),
        ("resource group", signal.resource_group_id, m.resource_groups)]
    if signal.event_type.lower() == ALERT_EVENT.lower():
        checks += [("alert rule", details.get("alertRule"), m.alert_rules),
                   ("alert severity", details.get("severity"), m.severities),
                   ("monitor condition", details.get("monitorCondition"), m.monitor_conditions)]
    if signal.event_type.lower() == HEALTH_EVENT.lower():
        checks.append(("availability state", details.get("availabilityState"),
                       m.availability_states))
    return next((r for r in (_not_in(*c) for c in checks) if r), None)


def _tag_rejection(m: Match, tags: dict[str, str] | None) -> str | None:
    if not m.tags:
        return None
    if tags is None:
        return "tags unknown"
    have = {k.lower(): v for k, v in tags.items()}  # tag names are case-insensitive in Azure
    for key, want in m.tags.items():
        got = have.get(key.lower())
        if got is None:
            return f"tag {key} missing (wants {want!r})"
        if got != want:
            return f"tag {key} is {got!r}, not {want!r}"
    return None


class _Parser(Checks):
    def document(self, doc: Any) -> Policies:
        if not isinstance(doc, dict):
            raise PolicyError(errors=[FieldError("", "the policy file must be a JSON object")])
        for key in sorted(set(doc) - _TOP, key=str):
            self.bad(str(key), "unknown field")
        self.version(doc, SCHEMA_VERSION)
        limit = self.integer("maxConcurrentRecoveries", doc.get("maxConcurrentRecoveries"),
                             3, 1, 50)
        policies = self.named(doc, "policies", _NAME, self.policy,
                              "recovers nothing automatically")
        if self.errors:
            raise PolicyError(errors=self.errors)
        return Policies(SCHEMA_VERSION, tuple(policies), limit)

    def strings(self, at: str, value: Any, *, required: bool = False,
                choices: tuple[str, ...] = (), pattern: re.Pattern[str] | None = None,
                expect: str = "") -> tuple[str, ...]:
        if value is None and not required:
            return ()
        if not isinstance(value, list) or (required and not value):
            self.bad(at, "must be a non-empty list of strings" if required
                     else "must be a list of strings")
            return ()
        found = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.bad(f"{at}[{i}]", "must be a non-empty string")
            elif choices and item not in choices:
                self.bad(f"{at}[{i}]", f"{item!r} is not one of {', '.join(choices)}")
            elif pattern and not pattern.match(item):
                self.bad(f"{at}[{i}]", f"{item!r} {expect}")
            else:
                found.append(item)
        return tuple(found)

    def policy(self, at: str, doc: Any) -> Policy | None:
        if not isinstance(doc, dict):
            self.bad(at, "must be an object")
            return None
        self.obj(at, doc, _POLICY)
        name = doc.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):  # "$" takes "name\n"
            self.bad(f"{at}.name", "must be 1-63 lowercase letters, digits or '-', starting with "
                                   "a letter or digit")
        description = doc.get("description", "")
        if not isinstance(description, str):
            self.bad(f"{at}.description", "must be a string")
        match = self.match(f"{at}.match", doc.get("match"))
        action = self.action(f"{at}.action", doc.get("action"))
        if match is not None and action is not None:
            self.consistent(at, match, action)
        approval = self.obj(f"{at}.approval", doc.get("approval"), {"required", "timeoutMinutes"})
        if not isinstance(approval.get("required", False), bool):
            self.bad(f"{at}.approval.required", "must be true or false")
        approve = Approval(approval.get("required") is True, self.integer(
            f"{at}.approval.timeoutMinutes", approval.get("timeoutMinutes"), 60, 5, 10080))
        limits = self.obj(f"{at}.limits", doc.get("limits"),
                          {"runsPerResourcePerHour", "cooldownMinutes"})
        limit = Limits(self.integer(f"{at}.limits.runsPerResourcePerHour",
                                    limits.get("runsPerResourcePerHour"), 1, 1, 60),
                       self.integer(f"{at}.limits.cooldownMinutes", limits.get("cooldownMinutes"),
                                    60, 0, 1440))
        objectives = parse_objectives(self, f"{at}.objectives", doc.get("objectives"))
        if match is None or action is None or not isinstance(name, str) or \
                not isinstance(description, str):
            return None
        return Policy(name, description, match, action, approve, limit, objectives)

    def match(self, at: str, value: Any) -> Match | None:
        if not isinstance(value, dict):
            self.obj(at, value, _MATCH, required=True)
            return None
        doc = self.obj(at, value, _MATCH)
        events = self.strings(f"{at}.eventTypes", doc.get("eventTypes"), required=True)
        types = self.strings(f"{at}.resourceTypes", doc.get("resourceTypes"), required=True,
                             pattern=_RESOURCE_TYPE,
                             expect="is not a resource type like Microsoft.Compute/disks")
        groups = []
        for group in self.strings(f"{at}.resourceGroups", doc.get("resourceGroups"),
                                  pattern=_RG_ID, expect="is not a resource group id like "
                                  "/subscriptions/<id>/resourceGroups/<name>"):
            sub, rg = _RG_ID.match(group).groups()  # type: ignore[union-attr]
            groups.append(f"/subscriptions/{sub.lower()}/resourceGroups/{rg}")
        tags = self.tags(f"{at}.tags", doc.get("tags"))
        if "tags" in doc and any(_has(DELETION_EVENTS, e) for e in events):
            self.bad(f"{at}.tags", "cannot be used with deletion event types: the resource is "
                                   "gone and deletion events carry no tags")
        lists = {}
        for key, choices, needs in _CONDITIONAL:  # an explicit [] monitorConditions is an error
            lists[key] = self.strings(f"{at}.{key}", doc.get(key), choices=choices,
                                      required=key == "monitorConditions" and key in doc)
            if key in doc and not _has(events, needs):
                self.bad(f"{at}.{key}", f"only applies when eventTypes includes {needs}")
        return Match(events, types, tuple(groups), tags, lists["alertRules"],
                     lists["severities"], lists["monitorConditions"] or ("Fired",),
                     lists["availabilityStates"])

    def action(self, at: str, value: Any) -> Action | None:
        doc = self.obj(at, value, {"type", "attachTo"}, required=True)
        if not isinstance(value, dict):
            return None
        kind = doc.get("type")
        if kind not in ACTIONS:
            self.bad(f"{at}.type", f"must be one of {', '.join(ACTIONS)}")
        attach = self.attach_to(f"{at}.attachTo", doc.get("attachTo"))
        if doc.get("attachTo") is not None and kind in ACTIONS[1:]:
            self.bad(f"{at}.attachTo", f"only applies to {ACTIONS[0]}; {kind} attaches to the "
                                       "VM the signal names")
        return Action(kind, attach) if kind in ACTIONS else None

    def attach_to(self, at: str, value: Any) -> AttachTo | None:
        doc = self.obj(at, value, {"vmId", "lun", "caching"})
        if not isinstance(value, dict):
            return None
        vm = None
        try:
            rid = ResourceId.parse(doc.get("vmId"))  # type: ignore[arg-type]
            if not rid.is_type(VM):
                self.bad(f"{at}.vmId", f"must be a {VM} id, got a {rid.type} id")
            vm = str(rid)
        except InvalidResourceId as exc:
            self.bad(f"{at}.vmId", f"is required: {exc}" if "vmId" not in doc else str(exc))
        lun = doc.get("lun")
        if lun is not None and (type(lun) is not int or not 0 <= lun <= 63):
            self.bad(f"{at}.lun", "must be an integer from 0 to 63")
        caching = doc.get("caching", "None")
        if caching not in CACHING:
            self.bad(f"{at}.caching", f"must be one of {', '.join(CACHING)}")
        return AttachTo(vm, lun, caching) if vm else None

    def consistent(self, at: str, match: Match, action: Action) -> None:
        types = {t.lower() for t in match.resource_types}
        deleting = [e for e in match.event_types if _has(DELETION_EVENTS, e)]
        if action.type == ACTIONS[0]:
            if types and types != {DISK.lower()}:
                self.bad(f"{at}.match.resourceTypes", f"{ACTIONS[0]} needs exactly [{DISK}]")
            others = [e for e in match.event_types if e not in deleting]
            if others:
                self.bad(f"{at}.match.eventTypes", f"{ACTIONS[0]} only acts on deletion events "
                         f"({', '.join(DELETION_EVENTS)}), not {', '.join(others)}")
        else:
            if types and types != {VM.lower()}:
                self.bad(f"{at}.match.resourceTypes", f"{action.type} needs exactly [{VM}]")
            if deleting:
                self.bad(f"{at}.match.eventTypes", f"{action.type} cannot act on deletion "
                         f"events ({', '.join(deleting)}): the VM is gone")
