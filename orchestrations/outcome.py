"""The restore orchestration's output: what happened, with timings and every role assignment."""

from __future__ import annotations

from domain import errors
from domain.model import RestoreJob, RestorePlan, RoleAssignment, SwapPlan
from domain.restore.properties import PropertiesReport
from domain.restore.restore_run import (
    OUTCOME_SCHEMA,
    ApprovalDecision,
    AssignmentReport,
    RestoreOutcome,
    VmChange,
    ZoneCopyReport,
)

from .steps import Run


def result_of(error: BaseException | None) -> str:
    """A run's outcome from how it ended: Succeeded, Cancelled, NotApproved (rejected, or nobody
    decided in time) or Failed."""
    if error is None:
        return "Succeeded"
    if isinstance(error, errors.Cancelled):
        return "Cancelled"
    if isinstance(error, errors.ApprovalRejected | errors.ApprovalTimedOut) or \
            errors.code_of(str(error)) in ("ApprovalRejected", "ApprovalTimedOut"):
        return "NotApproved"
    return "Failed"


def outcome(run: Run, plan: RestorePlan | None, *, job: RestoreJob | None = None,
            granted: list[RoleAssignment] | None = None,
            revoked: dict[str, bool | str] | None = None, error: BaseException | None = None,
            dry_run: bool = False, approval: ApprovalDecision | None = None,
            zone_copy: ZoneCopyReport | None = None,
            properties: PropertiesReport | None = None,
            warnings: list[str] | None = None,
            swap: SwapPlan | None = None,
            vm_change: VmChange | None = None) -> RestoreOutcome:
    """`swap`: the swap as it was done (the power state read right before it, how the VM was
    stopped); else the plan's."""
    revoked = revoked or {}
    result = "DryRun" if dry_run else result_of(error)
    restored = job.restored_disk_id or (plan.target_disk_id if plan else None) \
        if job and job.succeeded else None
    if zone_copy is not None:  # the VM got the copy in its zone; the restored disk was a step
        restored = zone_copy.disk_id
    return RestoreOutcome(
        schema=OUTCOME_SCHEMA, id=run.context.instance_id, outcome=result,
        restored_disk_id=restored, job_id=job.id if job else None,
        recovery_point=plan.recovery_point if plan else None, phases=run.durations(),
        role_assignments=[AssignmentReport(
            id=a.id, scope=a.scope, role=a.role_definition_guid, pre_existing=a.pre_existing,
            revoked=False if a.pre_existing else revoked.get(a.id, False))
            for a in granted or []],
        error=errors.as_dict(error) if error is not None else None,
        attach=plan.attach if plan else None, swap=swap or (plan.swap if plan else None),
        approval=approval, plan=plan if dry_run else None,
        intermediate_disk_id=zone_copy.intermediate_disk_id if zone_copy else None,
        zone_copy=zone_copy, properties=properties,
        warnings=[*((plan.warnings or []) if plan else []), *(warnings or [])] or None,
        vm_change=vm_change)
