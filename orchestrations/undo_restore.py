"""Undo a restore run's VM change: the disks it took off the VM (replaced in place, swapped out)
put back, from the run's own record (`vmChange`), after checking the VM is as the run left it.
The same VM change step as the restore (orchestrations/vm_change.py: checks, power off, one
attachDetachDataDisks call, rollback); with the same approval as a swap when the access policy
asks for one. Same replay rules as every orchestration here (see restore_managed_disk.py).
"""

from __future__ import annotations

from datetime import timedelta

import azure.durable_functions as df

from activities.compute_activities import get_disk, get_vm
from domain import errors
from domain.access import audit
from domain.model import DiskRef, VmRef
from domain.resource_id import ResourceId
from domain.restore.restore_run import ApprovalDecision, ApprovalRequest, VmChange
from domain.restore.undo import UndoInput, UndoOutcome, reversal

from .calls import Orchestration, orchestrator
from .outcome import result_of
from .steps import Run
from .vm_change import OsChange, change_disks


@orchestrator()
def undo_restore(context: df.DurableOrchestrationContext,
                 doc: UndoInput) -> Orchestration[UndoOutcome]:
    run = Run(context)
    change = doc.vm_change
    run.subject = {"undoes": doc.run_id, "vmId": change.vm_id,
                   "target": {"resourceGroupId": ResourceId.parse(change.vm_id)
                              .resource_group_id}}
    if doc.requested_by:
        run.subject["requestedBy"] = doc.requested_by.to_dict()  # the approver must be another
    run.audit = audit.context(run.context.instance_id, doc.requested_by, doc.why,
                              doc.access.mode if doc.access else None)
    warnings: list[str] = []
    decision: ApprovalDecision | None = None
    done: VmChange | None = None
    error: Exception | None = None
    try:
        run.enter("plan", vmId=change.vm_id)
        vm = yield from run.call(get_vm, VmRef(change.vm_id))
        originals = {}
        for disk_id in [*change.before.data_disks.values(), change.before.os_disk_id]:
            if disk_id:
                originals[disk_id.lower()] = (yield from run.call(get_disk,
                                                                  DiskRef(disk_id))).disk
        back = reversal(change, vm, originals)
        if back.problems:
            raise errors.UndoRefused("; ".join(back.problems),
                                     hint="nothing was changed: put the disks back by hand")
        if doc.approval:
            decision = yield from _approval(run, change.vm_id, doc.approval)
        run.enter("undo", vmId=change.vm_id)
        changed = yield from change_disks(
            run, change.vm_id, doc.settings.operation_poll_s, warnings, slots=back.slots,
            os=OsChange(*back.os) if back.os else None, kept=[])
        done = changed.vm_change
    except Exception as exc:  # noqa: BLE001 - reported in the outcome
        error = exc
    run.finish()
    return UndoOutcome(id=run.context.instance_id, outcome=result_of(error), undoes=doc.run_id,
                       phases=run.durations(),
                       error=errors.as_dict(error) if error is not None else None,
                       vm_change=done, approval=decision, warnings=warnings or None)


def _approval(run: Run, vm_id: str,
              approval: ApprovalRequest) -> Orchestration[ApprovalDecision]:
    """A second person decides before the VM is touched, as for a swap."""
    timeout_s = float(approval.timeout_minutes) * 60
    run.enter("approval", action="undo", vmId=vm_id,
              expires=(run.now + timedelta(seconds=timeout_s)).isoformat())
    decision = yield from run.approval(timeout_s)
    if not decision.approved:
        raise errors.ApprovalRejected(f"{decision.by or 'someone'} rejected the undo on {vm_id}"
                                      + (f": {decision.comment}" if decision.comment else ""))
    return decision

