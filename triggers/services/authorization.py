"""Caller authorization for the self-service API: whether the access policy
(domain/access/access_policy.py) lets a caller act, and the audit records of what was allowed or
denied (domain/access/audit.py).

With mode "policy" (CALLER_AUTHORIZATION=policy, the default) every self-service request needs a
signed-in caller and a rule that covers it; otherwise Denied 401 (no caller) or 403 (not
allowed), and a denial is audited. With mode "off" (local development) the function key is the
only gate: the caller is recorded as a key holder, or as the signed-in user when authentication
is on.

The ports come in a Gate (the mode, the policy loader, the audit sink, the clock);
triggers/callers.py reads who is calling from the HTTP request and builds the real Gate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.access import audit
from domain.access.access_policy import AccessPolicy, Caller, Decision, Rule
from domain.document import DocumentUnavailable
from domain.model import json_object
from domain.restore.request import RestoreRequest
from domain.restore.vm_request import VmRestoreRequest


@dataclass(frozen=True)
class Gate:
    """What an access decision needs."""

    mode: str  # "policy" | "off"
    app_service_auth: bool  # whether a signed-in caller can be known at all
    policy_configured: bool  # ACCESS_POLICY_PATH is set (a broken file is then a 503)
    policy: Callable[[], AccessPolicy]  # raises DocumentUnavailable naming the problem
    audit: Callable[[dict[str, Any]], None]  # writes one audit record
    now: Callable[[], datetime]


@dataclass(frozen=True)
class Allowed:
    caller: Caller
    decision: Decision | None  # None: caller authorization is off
    mode: str

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.decision.rules if self.decision else ()

    @property
    def approval_minutes(self) -> int | None:
        return self.decision.approval_minutes if self.decision else None

    def audit(self) -> dict[str, Any]:
        """What the run carries for its own audit records and for later checks."""
        doc: dict[str, Any] = {"mode": self.mode, "rule": self.decision.rule
                               if self.decision else None}
        if self.decision:
            doc["rules"] = [r.to_dict() for r in self.decision.rules]
        return doc


class Denied(Exception):
    """The request is refused: the HTTP status, title and detail to answer with (401, 403 or
    503), and any headers."""

    def __init__(self, status: int, title: str, detail: str, *,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status, self.title, self.detail, self.headers = status, title, detail, headers


def request_scope(request: RestoreRequest | VmRestoreRequest
                  ) -> tuple[str, dict[str, str | None]]:
    """The action a restore request takes and the resources it names. The vault is known here
    only for a backup-instance source; for a disk source it is checked once the restore is
    planned (domain.access.check_resolved), as for each disk of a whole-VM restore, whose VM
    change is judged as a swap (it may stop the VM and change its OS disk)."""
    if isinstance(request, VmRestoreRequest):
        action = "plan" if request.dry_run else "swap" if request.apply == "replace" \
            else "restore"
        return action, {"sourceDisks": None, "vaults": None,
                        "targetResourceGroups": request.target_resource_group_id,
                        "vms": request.vm_id}
    action = "plan" if request.dry_run else "swap" if request.swap_vm_id else "restore"
    vault = None
    if request.source_backup_instance_id:
        vault = request.source_backup_instance_id.split("/backupInstances/")[0]
    return action, {"sourceDisks": request.source_disk_id, "vaults": vault,
                    "targetResourceGroups": request.target_resource_group_id,
                    "vms": request.swap_vm_id or (request.attach.vm_id if request.attach
                                                  else None)}


def run_scope(subject: dict[str, Any], *, vm: bool = True) -> dict[str, str | None]:
    """What a decision on a run touches, from its published subject: the target resource group
    and (approving puts the restored disk onto it) the VM."""
    target, source = json_object(subject.get("target")), json_object(subject.get("source"))
    # A recovery run restores into the resource group of the resource its signal named.
    group = target.get("resourceGroupId") or \
        str(source.get("resourceId") or "(unknown)").split("/providers/")[0]
    return {"targetResourceGroups": group,
            "vms": subject.get("vmId") if vm else None}


def authorize(gate: Gate, who: Caller | None, action: str, resources: dict[str, str | None], *,
              run_id: str | None = None, why: str | None = None, own: Caller | None = None,
              not_by: Caller | None = None, attempted: str | None = None) -> Allowed:
    """`who` (None: nobody signed in), if the policy lets them take `action` on every resource
    given; raises Denied (naming the problem), after auditing a denial. `own`: the run's
    requester, who may act on their own run without a rule (cancel). `not_by`: the run's
    requester, who may not take this action (an approval must come from a different
    principal), whatever the policy or mode says. `attempted`: the action's name in the audit
    record, if not `action`."""
    who = who or Caller("key")
    if not_by is not None and who.same_principal(not_by):
        reason = (f"{who.label} requested this restore: an approval must come from a "
                  "different principal")
        deny(gate, who, attempted or action, resources, reason, run_id=run_id, why=why,
             mode=gate.mode)
        raise Denied(403, "Forbidden", reason)
    if gate.mode == "off":
        return Allowed(who, None, "off")
    if own is not None and who.same_principal(own):
        return Allowed(who, Decision(True, f"{who.label} requested this run"), "policy")
    if who.kind != "user":
        detail = ("sign in: this API needs a caller signed in by App Service authentication "
                  "(Entra ID)" if gate.app_service_auth else
                  "caller authorization is on (CALLER_AUTHORIZATION=policy) but App Service "
                  "authentication is not enabled, so no caller is known: enable it "
                  "(docs/security.md), or set CALLER_AUTHORIZATION=off for local development")
        raise Denied(401, "Unauthenticated", detail,
                     headers={"WWW-Authenticate": 'Bearer realm="diskrestore"'})
    try:
        policy = gate.policy()
    except DocumentUnavailable as exc:
        deny(gate, who, attempted or action, resources, str(exc), run_id=run_id, why=why)
        raise Denied(503 if gate.policy_configured else 403,
                     "Access policy unavailable" if gate.policy_configured else "Forbidden",
                     str(exc)) from None
    decision = policy.decide(who, action, resources)
    if not decision.allowed:
        deny(gate, who, attempted or action, resources, decision.reason, run_id=run_id, why=why)
        raise Denied(403, "Forbidden", decision.reason)
    return Allowed(who, decision, "policy")


def reader(gate: Gate, who: Caller | None) -> Caller:
    """A caller who may read runs: any caller some rule names (or anyone, when off)."""
    if gate.mode == "off":
        return who or Caller("key")
    if who is None:
        raise Denied(401, "Unauthenticated", "sign in: this API needs a caller signed in by App "
                     "Service authentication (Entra ID)")
    try:
        policy = gate.policy()
    except DocumentUnavailable as exc:
        raise Denied(403, "Forbidden", str(exc)) from None
    if not policy.reads(who):
        raise Denied(403, "Forbidden", f"no access rule names {who.label}")
    return who


def deny(gate: Gate, who: Caller, action: str, resources: dict[str, Any], reason: str, *,
         run_id: str | None = None, why: str | None = None, mode: str = "policy") -> None:
    gate.audit(audit.record("deny", "denied", when=gate.now().isoformat(), who=who.to_dict(),
                            what={"action": action,
                                  **{k: v for k, v in resources.items() if v}},
                            why=why, run_id=run_id, authorization=mode, reason=reason))


def record_action(gate: Gate, action: str, allowed: Allowed, what: dict[str, Any], *,
                  run_id: str | None, why: str | None, outcome: str = "succeeded") -> None:
    """An allowed self-service action (request, approve, reject, cancel), audited."""
    gate.audit(audit.record(action, outcome, when=gate.now().isoformat(),
                            who=allowed.caller.to_dict(), what=what, why=why, run_id=run_id,
                            authorization=allowed.mode,
                            reason=allowed.decision.reason if allowed.decision else
                            "caller authorization is off"))
