"""The audit trail: one structured record per privileged action, with who, what, when, why and
the run id. Records are plain JSON written as one log line each ("audit: {...}") to the
`diskrestore.audit` logger, which Application Insights keeps as a trace (query: traces | where
message startswith "audit: ").

Privileged actions: grant and revoke (role assignments for the vault), restore (the restore job),
attach, swap (deallocate, set the OS disk, start), delete (a restored disk nobody approved),
approve and reject (a person's decision), deny (a request refused by the access policy), and
request (a self-service run accepted, with the rule that allowed it).
"""

from __future__ import annotations

import json
from typing import Any

LOGGER = "diskrestore.audit"
PREFIX = "audit: "
SCHEMA = 1

# Activity → the audited action it performs (the orchestration passes the run's audit context
# with these calls: {"audit": {runId, who, why}, "input": <the activity's own payload>}).
AUDITED = {"plan_restore": "plan", "grant_role": "grant", "revoke_role": "revoke", "start_restore": "restore",
           "start_attach_data_disk": "attach", "start_deallocate_vm": "swap",
           "start_set_os_disk": "swap", "start_start_vm": "swap", "start_delete_disk": "delete"}
ACTIONS = ("request", "deny", "approve", "reject", "cancel", *sorted(set(AUDITED.values())))


def what(activity: str, payload: Any, result: Any) -> dict[str, Any]:
    """The subject of an audited activity, from its payload and (if it returned) its result."""
    doc: dict[str, Any] = {"activity": activity}
    body = payload if isinstance(payload, dict) else {}
    answer = result if isinstance(result, dict) and "error" not in result else {}
    if activity == "plan_restore":
        request = body.get("request") or {}
        doc.update(source=request.get("source"), target=request.get("target"),
                   recoveryPoint=request.get("recoveryPoint"), dryRun=request.get("dryRun"))
        instance = answer.get("backup_instance") or {}
        doc.update(vaultId=instance.get("vault_id"), sourceDiskId=instance.get("datasource_id"),
                   recoveryPointId=(answer.get("recovery_point") or {}).get("id"))
    elif activity == "grant_role":
        doc.update(scope=body.get("scope"), role=body.get("role_name"),
                   roleDefinitionId=body.get("role_definition_guid"),
                   principalId=body.get("principal_id"), assignmentId=answer.get("id"),
                   preExisting=answer.get("pre_existing"))
    elif activity == "revoke_role":
        doc.update(assignmentId=payload, wasPresent=result if isinstance(result, bool) else None)
    elif activity == "start_restore":
        instance = body.get("backup_instance") or {}
        doc.update(vaultId=instance.get("vault_id"), sourceDiskId=instance.get("datasource_id"),
                   recoveryPointId=(body.get("recovery_point") or {}).get("id"),
                   targetDiskId=body.get("target_disk_id"))
    else:  # the VM and disk operations
        doc.update({k: body[k] for k in ("vmId", "diskId", "lun", "caching") if k in body})
    if answer.get("status_url"):
        doc["operation"] = answer.get("kind")
    return {k: v for k, v in doc.items() if v is not None}


def outcome(result: Any, exc: BaseException | None) -> tuple[str, str | None]:
    """(outcome, reason) of an audited activity: its result, an error it reported as data, or
    the exception it raised (the orchestration's retry policy may try again)."""
    if exc is not None:
        return "failed", str(exc).split("\n")[0][:500]
    if isinstance(result, dict) and isinstance(result.get("error"), dict):
        error = result["error"]
        return ("denied" if error.get("code") == "AccessDenied" else "failed",
                f"{error.get('code')}: {error.get('message')}")
    return "succeeded", None


def context(run_id: str, who: dict[str, Any] | None, why: str | None) -> dict[str, Any]:
    """What a run passes to its audited activities."""
    return {"runId": run_id, "who": who or {"kind": "unknown"}, "why": why}


def wrap(activity: str, payload: Any, audit: dict[str, Any] | None) -> Any:
    """An activity's payload with the run's audit context, if the activity is audited."""
    if audit is None or activity not in AUDITED:
        return payload
    return {"audit": audit, "input": payload}


def unwrap(payload: Any) -> tuple[Any, dict[str, Any] | None]:
    """(the activity's own payload, the audit context or None)."""
    if isinstance(payload, dict) and set(payload) == {"audit", "input"}:
        return payload["input"], payload["audit"]
    return payload, None


def record(action: str, outcome: str, *, when: str, who: dict[str, Any] | None,
           what: dict[str, Any], why: str | None, run_id: str | None,
           authorization: str | None = None, reason: str | None = None) -> dict[str, Any]:
    """One audit record. `outcome`: succeeded (done, or for a long-running operation: accepted
    by Azure), failed, or denied; `reason` says why it failed or was denied."""
    doc: dict[str, Any] = {"event": "Audit", "schema": SCHEMA, "action": action,
                           "outcome": outcome, "when": when, "who": who or {"kind": "unknown"},
                           "what": what, "why": why, "runId": run_id}
    if authorization:
        doc["authorization"] = authorization
    if reason:
        doc["reason"] = reason
    return doc


def line(doc: dict[str, Any]) -> str:
    return PREFIX + json.dumps(doc, sort_keys=True, default=str)


def parse(text: str) -> dict[str, Any] | None:
    """The record in a log line, or None if the line is not an audit record."""
    at = text.find(PREFIX)
    if at < 0:
        return None
    try:
        doc = json.loads(text[at + len(PREFIX):])
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and doc.get("event") == "Audit" else None
