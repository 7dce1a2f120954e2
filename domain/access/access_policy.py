"""Who may do what: the caller of a self-service request, and the access policy that maps app
roles, groups or principals to the actions they may take on which resources. Deny by default: a
request is allowed only if ONE rule names the caller, the action and every resource it touches
(the source disk, its vault, the target resource group, the VM).

The caller comes from App Service authentication (Entra ID), which signs the user or client in
and hands the app its claims in X-MS-CLIENT-PRINCIPAL (base64 JSON: auth_typ, claims[{typ, val}],
name_typ, role_typ). Only the platform can set that header when authentication is on.

Scopes in a rule work as Azure RBAC scopes do: a resource is covered by its own id, by any scope
above it (its resource group, its subscription), or by a pattern in which `*` stands for any text
("/subscriptions/<sub>/resourceGroups/prod-*"). "*" alone covers everything. Ids compare
case-insensitively, as ARM compares them.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from domain.document import Checks, InvalidDocument, load
from domain.errors import AccessDenied, Unauthenticated
from domain.model import Record

SCHEMA_VERSION = 1
# Named where it is used, not spelled: `drill` also names the drill orchestrator, and no string
# names an orchestrator outside its declaration (tests/test_call_symbols.py).
DRILL_ACTION = "drill"
ACTIONS = ("plan", "restore", "swap", "approve", "cancel", DRILL_ACTION)
# What a rule must name for each action (an empty or missing list allows nothing).
NEEDS = {"plan": ("sourceDisks", "vaults", "targetResourceGroups"),
         "restore": ("sourceDisks", "vaults", "targetResourceGroups"),
         "swap": ("sourceDisks", "vaults", "targetResourceGroups", "vms"),
         "approve": ("targetResourceGroups", "vms"), "cancel": ("targetResourceGroups",),
         DRILL_ACTION: ("drillPlans",)}
SCOPES = ("sourceDisks", "vaults", "targetResourceGroups", "vms")
_RULE = {"name", "description", "principals", "actions", "drillPlans", "approval", *SCOPES}
_PRINCIPALS = {"roles", "groups", "ids"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_SCOPE = re.compile(r"^(\*|/subscriptions/[^/\s]+(/[^/\s]+)*)$")
_OID = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
_ROLE = ("roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
_GROUP = ("groups", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups")
_APPID = ("appid", "azp")
MAX_CLAIMS = 2000

__all__ = ["AccessDenied", "AccessPolicy", "Caller", "Decision", "Unauthenticated", "covers"]


@dataclass(frozen=True)
class Caller:
    """Who asked. `kind`: user (signed in by App Service authentication), key (a function-key
    caller, not signed in: only when caller authorization is off), or the app's own entry points
    (queue, alert, timer), whose senders Azure authorizes (queue data roles, Event Grid keys)."""

    kind: str
    id: str | None = None
    name: str | None = None
    roles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    groups_overage: bool = False  # the token had too many groups to list them

    @property
    def label(self) -> str:
        if self.kind == "user":
            return f"{self.name or '?'} ({self.id})" if self.name != self.id else str(self.id)
        return f"{self.kind}:{self.name}" if self.name else self.kind

    def to_dict(self) -> dict[str, Any]:
        """Who, as runs and audit records keep it (the roles and groups that decided are in
        the decision's reason, not carried along)."""
        return {"kind": self.kind, "id": self.id, "name": self.name}

    @classmethod
    def from_dict(cls, doc: Any) -> Caller:
        if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str):
            return cls("unknown")
        return cls(doc["kind"], doc.get("id"), doc.get("name"),
                   tuple(doc.get("roles") or ()), tuple(doc.get("groups") or ()))

    def same_principal(self, other: Caller) -> bool:
        """The same signed-in principal (object ids compare case-insensitively)."""
        return bool(self.id and other.id) and str(self.id).lower() == str(other.id).lower()

    @classmethod
    def from_client_principal(cls, encoded: str, header_id: str | None = None,
                              header_name: str | None = None) -> Caller:
        """The caller in App Service authentication's X-MS-CLIENT-PRINCIPAL header."""
        try:
            doc = json.loads(base64.b64decode(encoded.strip() + "=" * (-len(encoded.strip()) % 4),
                                              validate=True))
        except (binascii.Error, ValueError) as exc:
            raise Unauthenticated(f"X-MS-CLIENT-PRINCIPAL is not base64-encoded JSON: {exc}") \
                from None
        claims = doc.get("claims") if isinstance(doc, dict) else None
        if not isinstance(claims, list) or len(claims) > MAX_CLAIMS:
            raise Unauthenticated("X-MS-CLIENT-PRINCIPAL has no claims list")
        pairs = [(c["typ"], c["val"]) for c in claims if isinstance(c, dict)
                 and isinstance(c.get("typ"), str) and isinstance(c.get("val"), str)]
        role_typ = doc.get("role_typ") if isinstance(doc.get("role_typ"), str) else None
        name_typ = doc.get("name_typ") if isinstance(doc.get("name_typ"), str) else None

        def values(*types: str | None) -> list[str]:
            return [v for t, v in pairs if t in types and v]

        oid = next(iter(values(*_OID)), None) or header_id
        if not oid:
            raise Unauthenticated("X-MS-CLIENT-PRINCIPAL names no object id (oid claim)")
        name = (header_name or next(iter(values(name_typ, "name", "preferred_username")), None)
                or next(iter(values(*_APPID)), None) or oid)
        overage = any(t in ("_claim_names", "hasgroups") for t, _ in pairs)
        return cls("user", oid, name, tuple(dict.fromkeys(values(role_typ, *_ROLE))),
                   tuple(dict.fromkeys(v.lower() for v in values(*_GROUP))), overage)


def encode_client_principal(oid: str, name: str, roles: tuple[str, ...] = (),
                            groups: tuple[str, ...] = ()) -> str:
    """An X-MS-CLIENT-PRINCIPAL value as App Service authentication writes it (for tests and
    for local development behind devhost, which has no authentication module)."""
    role_typ = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
    claims = [{"typ": _OID[0], "val": oid}, {"typ": "name", "val": name}]
    claims += [{"typ": role_typ, "val": r} for r in roles]
    claims += [{"typ": "groups", "val": g} for g in groups]
    doc = {"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": role_typ}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def covers(pattern: str, resource_id: str) -> bool:
    """The scope or pattern covers the id: equal, above it, or matching with `*`."""
    pattern, target = pattern.lower().rstrip("/"), resource_id.lower().rstrip("/")
    if pattern == "*":
        return True
    regex = "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "(/.*)?$"
    return re.match(regex, target, re.DOTALL) is not None


@dataclass(frozen=True)
class Rule:
    name: str
    actions: tuple[str, ...]
    roles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    scopes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # SCOPES and drillPlans
    # Four eyes: a restore or swap this rule allows that puts a disk onto a VM waits for a
    # different principal's approval, for at most this many minutes.
    approval_minutes: int | None = None

    def names(self, caller: Caller) -> bool:
        if caller.kind != "user":
            return False
        return (bool(set(self.roles) & set(caller.roles))
                or bool({g.lower() for g in self.groups} & set(caller.groups))
                or bool(caller.id and caller.id.lower() in {i.lower() for i in self.ids}))

    def uncovered(self, resources: dict[str, str | None]) -> list[str]:
        """The resources (by scope name) this rule does not cover."""
        missing = []
        for scope, value in resources.items():
            if value is None:
                continue
            patterns = self.scopes.get(scope, ())
            ok = (value in patterns or "*" in patterns) if scope == "drillPlans" else \
                any(covers(p, value) for p in patterns)
            if not ok:
                missing.append(scope)
        return missing

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **{k: list(v) for k, v in self.scopes.items()}}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    rule: str | None = None
    # The rules that allowed the known resources: a later check (the vault, found when the
    # restore is planned) must be covered by one of them.
    rules: tuple[Rule, ...] = ()

    @property
    def approval_minutes(self) -> int | None:
        """Minutes to wait for a second person, if every rule that allowed this requires one
        (a caller whom some rule allows without approval does not need it)."""
        if not self.rules or any(r.approval_minutes is None for r in self.rules):
            return None
        return min(r.approval_minutes for r in self.rules)  # type: ignore[type-var]


_WHAT = {"sourceDisks": "source disk", "vaults": "Backup vault",
         "targetResourceGroups": "target resource group", "vms": "VM", "drillPlans": "drill plan"}


@dataclass(frozen=True)
class AccessPolicy:
    rules: tuple[Rule, ...]

    def decide(self, caller: Caller, action: str, resources: dict[str, str | None]) -> Decision:
        """Allowed if one rule names the caller, the action and every resource given."""
        mine = [r for r in self.rules if r.names(caller)]
        if not mine:
            overage = (" (the token lists no groups: the caller is in too many; use app roles)"
                       if caller.groups_overage else "")
            return Decision(False, f"no access rule names {caller.label} (roles "
                            f"{list(caller.roles)}, groups {list(caller.groups)}){overage}")
        acting = [r for r in mine if action in r.actions]
        if not acting:
            return Decision(False, f"no access rule lets {caller.label} {action} (their rules: "
                            f"{', '.join(r.name for r in mine)})")
        fits = [r for r in acting if not r.uncovered(resources)]
        if fits:
            return Decision(True, f"allowed by rule {fits[0].name}", fits[0].name, tuple(fits))
        # Name what the closest rule lacks.
        best = min(acting, key=lambda r: len(r.uncovered(resources)))
        lacking = "; ".join(f"{_WHAT[s]} {resources[s]}" for s in best.uncovered(resources))
        return Decision(False, f"no access rule lets {caller.label} {action} with {lacking} "
                        f"(closest rule: {best.name})")

    def reads(self, caller: Caller) -> bool:
        """Reading runs needs only to be named by some rule."""
        return any(r.names(caller) for r in self.rules)

    @classmethod
    def from_dict(cls, doc: Any) -> AccessPolicy:
        checks = Checks()
        if not isinstance(doc, dict):
            checks.bad("policy", "must be a JSON object")
            raise InvalidAccessPolicy(errors=checks.errors)
        for key in sorted(set(doc) - {"version", "rules", "$schema"}, key=str):
            checks.bad(str(key), "unknown field")
        checks.version(doc, SCHEMA_VERSION)
        rules = checks.named(doc, "rules", _NAME, lambda at, v: _rule(checks, at, v),
                             "denies everything")
        if checks.errors:
            raise InvalidAccessPolicy(errors=checks.errors)
        return cls(tuple(rules))

    @classmethod
    def load(cls, path: str | Path) -> AccessPolicy:
        return load(path, cls.from_dict, InvalidAccessPolicy)


@dataclass
class InvalidAccessPolicy(InvalidDocument):
    code: ClassVar[str] = "InvalidAccessPolicy"
    what: ClassVar[str] = "invalid access policy"


def _strings(checks: Checks, at: str, value: Any, pattern: re.Pattern[str] | None = None,
             hint: str = " valid") -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        checks.bad(at, "must be a list of strings")
        return ()
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            checks.bad(f"{at}[{i}]", "must be a non-empty string")
        elif pattern is not None and not pattern.match(item.strip()):
            checks.bad(f"{at}[{i}]", f"{item[:120]!r} is not{hint}")
        else:
            out.append(item.strip())
    return tuple(out)


def _rule(checks: Checks, at: str, value: Any) -> Rule | None:
    rule = checks.obj(at, value, _RULE, required=True)
    if not rule:
        return None
    name = rule.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        checks.bad(f"{at}.name", "must be 1-63 lowercase letters, digits and hyphens")
    who = checks.obj(f"{at}.principals", rule.get("principals"), _PRINCIPALS, required=True)
    roles = _strings(checks, f"{at}.principals.roles", who.get("roles"))
    groups = _strings(checks, f"{at}.principals.groups", who.get("groups"))
    ids = _strings(checks, f"{at}.principals.ids", who.get("ids"))
    if isinstance(rule.get("principals"), dict) and not (roles or groups or ids):
        checks.bad(f"{at}.principals", "must name at least one app role, group or principal id")
    actions = _strings(checks, f"{at}.actions", rule.get("actions"))
    for i, action in enumerate(actions):
        if action not in ACTIONS:
            checks.bad(f"{at}.actions[{i}]", f"{action!r} is not an action: use "
                       f"{', '.join(ACTIONS)}")
    if not actions:
        checks.bad(f"{at}.actions", f"is required: a list of {', '.join(ACTIONS)}")
    scope_hint = ' an ARM id or scope ("/subscriptions/...", "*" as a wildcard), or "*"'
    scopes = {s: _strings(checks, f"{at}.{s}", rule.get(s), _SCOPE, scope_hint) for s in SCOPES}
    scopes["drillPlans"] = _strings(checks, f"{at}.drillPlans", rule.get("drillPlans"))
    reported = {e.field.rsplit("[", 1)[0] for e in checks.errors}
    for action in actions:
        for need in NEEDS.get(action, ()):
            if not scopes[need] and f"{at}.{need}" not in reported:
                checks.bad(f"{at}.{need}", f"is required for action {action!r} (use [\"*\"] "
                           "for any)")
    approval = checks.obj(f"{at}.approval", rule.get("approval"), {"required", "timeoutMinutes"})
    minutes = None
    if approval:
        if approval.get("required") not in (True, False):
            checks.bad(f"{at}.approval.required", "must be true or false")
        minutes = checks.integer(f"{at}.approval.timeoutMinutes", approval.get("timeoutMinutes"),
                                 240, 1, 7 * 24 * 60)
        if approval.get("required") is not True:
            minutes = None
    return Rule(str(name), actions, roles, groups, ids,
                {k: v for k, v in scopes.items() if v}, minutes)


@dataclass(frozen=True)
class RunAccess(Record):
    """What let a self-service run through: the caller-authorization mode and, under `policy`,
    the rules that allowed it. The run keeps it for its audit records and for the check once
    the vault is known (access_policy.check_resolved)."""

    mode: str
    rule: str | None = None
    rules: list[dict[str, Any]] = field(default_factory=list)  # the rules as the policy has them


def check_resolved(access: RunAccess | None, vault_id: str,
                   source_disk_id: str | None) -> None:
    """Once a restore is planned, the vault it restores from (and the source disk, when the
    request named a backup instance) must be covered by one of the rules that allowed the
    request: a request is judged on what it really touches, not only on what it named. Raises
    AccessDenied. Runs not started by a self-service caller carry no access and pass."""
    if access is None or access.mode != "policy":
        return
    rules = [r for r in access.rules if isinstance(r, dict)]
    for rule in rules:
        if any(covers(p, vault_id) for p in rule.get("vaults") or []) and (
                source_disk_id is None
                or any(covers(p, source_disk_id) for p in rule.get("sourceDisks") or [])):
            return
    names = ", ".join(str(r.get("name")) for r in rules) or "none"
    disk = f" and source disk {source_disk_id}" if source_disk_id else ""
    raise AccessDenied(f"the access rules that allowed this request ({names}) do not cover "
                       f"Backup vault {vault_id}{disk}, which the restore resolved to")
