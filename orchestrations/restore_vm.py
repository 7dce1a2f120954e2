"""A whole-VM restore: every chosen protected disk of a VM from one point in time, at once, then
ONE change to the VM (issue 17 part 2).

plan (which disks, each disk's newest point the request allows, the skew) → one restore run per
disk, in parallel (sub-orchestrations of restore_managed_disk, each making every check of a
single restore, granting under the shared leases, so one role assignment per target group and
Disk Encryption Set serves them all, and making its disk ready for the VM: its zone, its
properties; the VM change is left to this run) → one approval for the whole VM → one VM change
(orchestrations/vm_change.py: the data disks replaced in one attachDetachDataDisks call, the OS
disk swapped, one stop and start, rolled back on failure). A disk that did not restore leaves the
VM as it is: a VM of disks from different moments is not a restore. Same replay rules as every
orchestration here (see restore_managed_disk.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from activities.restore_activities import plan_vm_restore
from domain import errors
from domain.access import audit
from domain.restore.restore_run import (
    ApprovalDecision,
    ApprovalRequest,
    RestoreInput,
    RestoreOutcome,
    SlotChange,
    VmChange,
)
from domain.restore.vm_plan import VmRestorePlan
from domain.restore.vm_run import (
    VM_OUTCOME_SCHEMA,
    VmPlanRequest,
    VmRestoreInput,
    VmRestoreOutcome,
)

from .calls import Orchestration, orchestrator
from .outcome import result_of
from .restore_managed_disk import restore_managed_disk
from .steps import Run
from .vm_change import OsChange, change_disks


@orchestrator()
def restore_vm(context: df.DurableOrchestrationContext,
               doc: VmRestoreInput) -> Orchestration[VmRestoreOutcome]:
    run = Run(context)
    request = doc.request
    run.subject = {"source": {"vmId": request.vm_id},
                   "target": {"resourceGroupId": request.target_resource_group_id},
                   "vmId": request.vm_id, "dryRun": request.dry_run}
    if doc.requested_by:
        run.subject["requestedBy"] = doc.requested_by.to_dict()  # the approver must be another
    run.audit = audit.context(run.context.instance_id, doc.requested_by, doc.why,
                              doc.access.mode if doc.access else None)
    plan: VmRestorePlan | None = None
    disks: list[RestoreOutcome] = []
    decision: ApprovalDecision | None = None
    changed: VmChange | None = None
    stopped_with: str | None = None
    warnings: list[str] = []
    error: Exception | None = None
    try:
        run.enter("plan")
        plan = yield from run.call(plan_vm_restore, VmPlanRequest(
            request, run.context.instance_id, run.now.isoformat()))
        if not plan.dry_run:
            disks, cancelled = yield from _restore_disks(run, doc, plan)
            if cancelled:
                raise errors.Cancelled("the whole-VM restore was cancelled; the disks restored "
                                       "so far are kept, the VM is unchanged")
            failed = [d for d in disks if d.outcome != "Succeeded"]
            if failed:
                raise _first_failure(failed, len(disks))
            if plan.apply == "replace":
                if doc.approval:
                    decision = yield from _approval(run, plan, doc.approval)
                changed, stopped_with = yield from _change_vm(run, doc, plan, disks, warnings)
    except Exception as exc:  # noqa: BLE001 - reported in the outcome
        error = exc
    run.finish()
    for disk in disks:
        warnings += disk.warnings or []
    return VmRestoreOutcome(
        schema=VM_OUTCOME_SCHEMA, id=run.context.instance_id,
        outcome="DryRun" if plan is not None and plan.dry_run and error is None
        else result_of(error), vm_id=request.vm_id, phases=run.durations(),
        error=errors.as_dict(error) if error is not None else None, disks=disks,
        skipped=list(plan.skipped) if plan else [],
        skew_seconds=plan.skew_seconds if plan else None,
        oldest_point=plan.oldest_point if plan else None,
        newest_point=plan.newest_point if plan else None,
        vm_change=changed, stopped_with=stopped_with, approval=decision,
        plan=plan if plan is not None and plan.dry_run else None, warnings=warnings or None)


def _restore_disks(run: Run, doc: VmRestoreInput,
                   plan: VmRestorePlan) -> Orchestration[tuple[list[RestoreOutcome], bool]]:
    """Every disk's restore run at once, each a sub-orchestration that stops before the VM
    change. Their ids are published first: a cancel reaches each (triggers/http.py sends it to
    every unfinished run below). A cancel of this run waits for them to stop on their terms; then
    True."""
    ids = [f"restore-{d.request.request_id}" for d in plan.disks]
    run.enter("restore", children=ids, skewSeconds=plan.skew_seconds)
    tasks = [restore_managed_disk.schedule(run.context, RestoreInput(
        d.request, doc.settings, doc.requested_by, doc.access,
        why=doc.why or f"whole-VM restore {run.context.instance_id}", defer_vm_change=True),
        child) for d, child in zip(plan.disks, ids, strict=True)]
    # Every child reports its failure as its outcome, so the whole waits for all of them.
    together: Any = run.context.task_all(tasks)
    cancelled = run.cancel.is_completed
    if not cancelled:
        winner = yield run.context.task_any([together, run.cancel])
        cancelled = winner == run.cancel
    answers = yield together
    return [restore_managed_disk.result(a) for a in answers], cancelled


def _first_failure(failed: list[RestoreOutcome], count: int) -> errors.RestoreError:
    first = errors.from_dict(failed[0].error or {"code": "RestoreJobFailed",
                                                 "message": failed[0].outcome})
    kind = type(first) if len(failed) == 1 else errors.RestoreJobFailed
    return kind(f"{len(failed)} of {count} disks did not restore ({failed[0].id}: "
                f"{first.code}: {first.message}); the VM is unchanged",
                hint="the disks that did restore are kept; restore the VM again once the "
                     "cause is fixed, or use them by hand")


def _approval(run: Run, plan: VmRestorePlan,
              approval: ApprovalRequest) -> Orchestration[ApprovalDecision]:
    """One decision for the whole VM, before it changes."""
    timeout_s = float(approval.timeout_minutes) * 60
    run.enter("approval", action="restore VM", vmId=plan.vm.id,
              expires=(run.now + timedelta(seconds=timeout_s)).isoformat())
    decision = yield from run.approval(timeout_s)
    if not decision.approved:
        raise errors.ApprovalRejected(
            f"{decision.by or 'someone'} rejected the disk change of {plan.vm.id}"
            + (f": {decision.comment}" if decision.comment else ""))
    return decision


def _change_vm(run: Run, doc: VmRestoreInput, plan: VmRestorePlan, disks: list[RestoreOutcome],
               warnings: list[str]) -> Orchestration[tuple[VmChange, str | None]]:
    """The one VM change: every data disk replaced in place (one call), the OS disk swapped."""
    slots: list[SlotChange] = []
    os: OsChange | None = None
    for disk, done in zip(plan.disks, disks, strict=True):
        restored = done.restored_disk_id or ""
        if disk.role == "os":
            os = OsChange(disk.source_disk_id, restored)
            continue
        attach = done.attach
        assert attach is not None  # a data disk's plan replaces it in place
        slots.append(SlotChange(attach.lun, disk.source_disk_id, restored, attach.caching,
                                attach.write_accelerator))
    run.enter("vm", vmId=plan.vm.id, dataDisks=len(slots), osDisk=os is not None)
    changed = yield from change_disks(run, plan.vm.id, doc.settings.operation_poll_s, warnings,
                                      slots=slots, os=os)
    return changed.vm_change, changed.stopped_with

