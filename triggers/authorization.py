"""Caller authorization for the self-service HTTP API: who is calling (App Service
authentication's X-MS-CLIENT-PRINCIPAL), whether the access policy lets them (domain/access/access_policy.py),
and the audit records of what was allowed or denied (domain/access/audit.py).

With CALLER_AUTHORIZATION=policy (the default) every self-service request needs a signed-in
caller and a rule that covers it; otherwise 401 (no caller) or 403 (not allowed), and a denial is
audited. With CALLER_AUTHORIZATION=off (local development) the function key is the only gate:
the caller is recorded as a key holder, or as the signed-in user when authentication is on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import azure.functions as func

from domain.access import audit
from domain.access.access_policy import AccessPolicy, Caller, Decision, Rule
from domain.document import DocumentUnavailable, load_configured
from domain.errors import Unauthenticated
from domain.restore.request import RestoreRequest
from settings import Settings, settings

from .problems import problem

log = logging.getLogger(__name__)
audit_log = logging.getLogger(audit.LOGGER)
PRINCIPAL = "x-ms-client-principal"


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


class Refused(Exception):
    """The request is refused; `response` is the answer (401, 403 or 503)."""

    def __init__(self, response: func.HttpResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


def request_scope(request: RestoreRequest) -> tuple[str, dict[str, str | None]]:
    """The action a restore request takes and the resources it names. The vault is known here
    only for a backup-instance source; for a disk source it is checked once the restore is
    planned (domain.access.check_resolved)."""
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
    target = subject.get("target") if isinstance(subject.get("target"), dict) else {}
    source = subject.get("source") if isinstance(subject.get("source"), dict) else {}
    # A recovery run restores into the resource group of the resource its signal named.
    group = target.get("resourceGroupId") or \
        str(source.get("resourceId") or "(unknown)").split("/providers/")[0]
    return {"targetResourceGroups": group,
            "vms": subject.get("vmId") if vm else None}


def load_access_policy(config: Settings) -> AccessPolicy:
    return load_configured("ACCESS_POLICY_PATH", config.access_policy_path, AccessPolicy.load,
                           "no access policy, so every self-service request is denied")


def caller(req: func.HttpRequest, config: Settings | None = None) -> Caller | None:
    """The signed-in caller, or None when nobody is signed in. The X-MS-CLIENT-PRINCIPAL*
    headers are the platform's only when App Service authentication is on (WEBSITE_AUTH_ENABLED,
    which then strips callers' own); otherwise anyone could send them, so they are ignored
    (and the attempt logged). Raises Unauthenticated for a malformed principal."""
    config = config or settings()
    encoded = req.headers.get(PRINCIPAL)
    name = req.headers.get(f"{PRINCIPAL}-name")
    if not (encoded or name):
        return None
    if not config.app_service_auth:
        log.warning("ignored X-MS-CLIENT-PRINCIPAL headers (name %r): App Service "
                    "authentication is not enabled, so they come from the caller",
                    (name or "")[:200])
        return None
    if not encoded:  # the platform always sends the full principal with the name
        raise Unauthenticated("X-MS-CLIENT-PRINCIPAL is missing (only its -NAME was sent)")
    return Caller.from_client_principal(encoded, req.headers.get(f"{PRINCIPAL}-id"), name)


def authorize(req: func.HttpRequest, action: str, resources: dict[str, str | None], *,
              run_id: str | None = None, why: str | None = None, own: Caller | None = None,
              not_by: Caller | None = None, attempted: str | None = None) -> Allowed:
    """The caller, if the policy lets them take `action` on every resource given; raises Refused
    (its response names the problem), after auditing a denial. `own`: the run's requester, who
    may act on their own run without a rule (cancel). `not_by`: the run's requester, who may
    not take this action (an approval must come from a different principal), whatever the
    policy or mode says. `attempted`: the action's name in the audit record, if not `action`."""
    config = settings()
    try:
        who = caller(req, config)
    except Unauthenticated as exc:
        raise Refused(_problem(401, "Unauthenticated", exc.message)) from None
    who = who or Caller("key")
    if not_by is not None and who.same_principal(not_by):
        reason = (f"{who.label} requested this restore: an approval must come from a "
                  "different principal")
        deny(who, attempted or action, resources, reason, run_id=run_id, why=why,
             mode=config.caller_authorization)
        raise Refused(_problem(403, "Forbidden", reason))
    if config.caller_authorization == "off":
        return Allowed(who, None, "off")
    if own is not None and who.same_principal(own):
        return Allowed(who, Decision(True, f"{who.label} requested this run"), "policy")
    if who.kind != "user":
        detail = ("sign in: this API needs a caller signed in by App Service authentication "
                  "(Entra ID)" if config.app_service_auth else
                  "caller authorization is on (CALLER_AUTHORIZATION=policy) but App Service "
                  "authentication is not enabled, so no caller is known: enable it "
                  "(docs/security.md), or set CALLER_AUTHORIZATION=off for local development")
        raise Refused(_problem(401, "Unauthenticated", detail,
                               headers={"WWW-Authenticate": 'Bearer realm="diskrestore"'}))
    try:
        policy = load_access_policy(config)
    except DocumentUnavailable as exc:
        deny(who, attempted or action, resources, str(exc), run_id=run_id, why=why)
        raise Refused(_problem(503 if config.access_policy_path else 403,
                               "Access policy unavailable" if config.access_policy_path
                               else "Forbidden", str(exc))) from None
    decision = policy.decide(who, action, resources)
    if not decision.allowed:
        deny(who, attempted or action, resources, decision.reason, run_id=run_id, why=why)
        raise Refused(_problem(403, "Forbidden", decision.reason))
    return Allowed(who, decision, "policy")


def reader(req: func.HttpRequest) -> Caller:
    """A caller who may read runs: any caller some rule names (or anyone, when off)."""
    config = settings()
    try:
        who = caller(req, config)
    except Unauthenticated as exc:
        raise Refused(_problem(401, "Unauthenticated", exc.message)) from None
    if config.caller_authorization == "off":
        return who or Caller("key")
    if who is None:
        raise Refused(_problem(401, "Unauthenticated", "sign in: this API needs a caller "
                               "signed in by App Service authentication (Entra ID)"))
    try:
        policy = load_access_policy(config)
    except DocumentUnavailable as exc:
        raise Refused(_problem(403, "Forbidden", str(exc))) from None
    if not policy.reads(who):
        raise Refused(_problem(403, "Forbidden", f"no access rule names {who.label}"))
    return who


def read_refusal(req: func.HttpRequest) -> func.HttpResponse | None:
    """None if the caller may read runs; else the refusal to answer with."""
    try:
        reader(req)
    except Refused as refused:
        return refused.response
    return None


def deny(who: Caller, action: str, resources: dict[str, Any], reason: str, *,
         run_id: str | None = None, why: str | None = None, mode: str = "policy") -> None:
    record(audit.record("deny", "denied", when=_now(), who=who.to_dict(),
                        what={"action": action, **{k: v for k, v in resources.items() if v}},
                        why=why, run_id=run_id, authorization=mode, reason=reason))


def record(doc: dict[str, Any]) -> None:
    audit_log.info(audit.line(doc))


def record_action(action: str, allowed: Allowed, what: dict[str, Any], *, run_id: str | None,
                  why: str | None, outcome: str = "succeeded") -> None:
    """An allowed self-service action (request, approve, reject, cancel), audited."""
    record(audit.record(action, outcome, when=_now(), who=allowed.caller.to_dict(), what=what,
                        why=why, run_id=run_id, authorization=allowed.mode,
                        reason=allowed.decision.reason if allowed.decision else
                        "caller authorization is off"))


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _problem(status: int, title: str, detail: str, *,
             headers: dict[str, str] | None = None) -> func.HttpResponse:
    return problem(status, title, detail, headers=headers)
