"""The orchestration's output: what happened, with timings and every role assignment."""

from __future__ import annotations

from typing import Any

from domain import errors
from domain.model import RestoreJob, RestorePlan, RoleAssignment

from .steps import Run

SCHEMA = 1


def error_dict(exc: BaseException) -> dict[str, Any]:
    """A domain error as it is; anything else (an activity's bare Exception) by the code its text
    starts with, or as Unexpected."""
    if isinstance(exc, errors.RestoreError):
        return exc.to_dict()
    text = str(exc)
    code = errors.code_of(text) or "Unexpected"
    first = text.split("\n")[0].strip()
    message = first.split(f"{code}: ", 1)[-1] if code != "Unexpected" else first
    return {"code": code, "message": message, "hint": None}


def outcome(run: Run, plan: RestorePlan | None, *, job: RestoreJob | None = None,
            granted: list[RoleAssignment] | None = None, revoked: dict[str, Any] | None = None,
            error: BaseException | None = None, dry_run: bool = False,
            approval: dict[str, Any] | None = None) -> dict[str, Any]:
    revoked = revoked or {}
    if dry_run:
        result = "DryRun"
    elif error is None:
        result = "Succeeded"
    elif isinstance(error, errors.Cancelled):
        result = "Cancelled"
    elif isinstance(error, errors.ApprovalRejected | errors.ApprovalTimedOut) or \
            errors.code_of(str(error)) in ("ApprovalRejected", "ApprovalTimedOut"):
        result = "NotApproved"
    else:
        result = "Failed"
    doc: dict[str, Any] = {
        "schema": SCHEMA, "id": run.context.instance_id, "outcome": result,
        "restoredDiskId": job.restored_disk_id or (plan.target_disk_id if plan else None)
        if job and job.succeeded else None,
        "jobId": job.id if job else None,
        "recoveryPoint": plan.recovery_point.to_dict() if plan else None,
        "phases": run.durations(),
        "roleAssignments": [{"id": a.id, "scope": a.scope, "role": a.role_definition_guid,
                             "preExisting": a.pre_existing,
                             "revoked": False if a.pre_existing else revoked.get(a.id, False)}
                            for a in granted or []],
        "error": error_dict(error) if error is not None else None,
    }
    if plan is not None and plan.attach:
        doc["attach"] = camel(plan.attach.to_dict())
    if plan is not None and plan.swap:
        doc["swap"] = camel(plan.swap.to_dict())
    if approval is not None:
        doc["approval"] = approval
    if dry_run and plan is not None:
        doc["plan"] = camel(plan.to_dict())
    return doc


def camel(value: Any) -> Any:
    """The public API speaks camelCase, like ARM: our snake_case records, keys converted."""
    if isinstance(value, dict):
        return {_camel_key(k): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def _camel_key(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
