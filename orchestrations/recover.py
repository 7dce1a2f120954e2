"""An alert-driven recovery run: resolve what the matched policy restores, run one restore (a
sub-orchestration of restore_managed_disk) per disk, then give back the concurrency slot that
admission took. Same replay rules as every orchestration here (see restore_managed_disk.py).
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.recovery_activities import release_recovery_slot, resolve_recovery
from domain import errors
from domain.access.access_policy import Caller
from domain.recovery.admission import Resolution
from domain.recovery.recovery_run import (
    OUTCOME_SCHEMA,
    RecoveryInput,
    RecoveryOutcome,
    ResolutionRequest,
    SlotRelease,
    judge,
)
from domain.restore.restore_run import ApprovalRequest, RestoreInput, RestoreOutcome
from domain.restore.vm_request import VmRestoreRequest
from domain.restore.vm_run import VmRestoreInput, VmRestoreOutcome

from .calls import Orchestration, orchestrator
from .restore_managed_disk import restore_managed_disk
from .restore_vm import restore_vm
from .steps import Run


@orchestrator()
def recover(context: df.DurableOrchestrationContext,
            doc: RecoveryInput) -> Orchestration[RecoveryOutcome]:
    run = Run(context)
    policy, signal = doc.policy, doc.signal
    run.subject = {"source": {"resourceId": signal.resource_id}, "policy": policy.name,
                   "signal": signal.event_type}
    restores: list[RestoreOutcome] = []
    vm_outcome: VmRestoreOutcome | None = None
    resolution = Resolution()
    error: dict[str, Any] | None = None
    try:
        run.enter("resolve", policy=policy.name, signal=signal.summary)
        resolution = yield from run.call(resolve_recovery,
                                         ResolutionRequest(policy, signal, doc.run_id))
        if resolution.vm_request is not None:
            restores, vm_outcome = yield from _restore_vm(run, doc, resolution.vm_request)
        elif not resolution.ignored:
            children = [f"restore-{r.request_id}" for r in resolution.requests]
            run.enter("restore", policy=policy.name, signal=signal.summary, children=children)
            approval = ApprovalRequest(policy.approval.timeout_minutes) \
                if policy.approval.required else None
            for request, child_id in zip(resolution.requests, children, strict=True):
                child = RestoreInput(request, doc.settings, Caller("policy", None, policy.name),
                                     why=f"{signal.event_type}: {signal.summary}",
                                     approval=approval)
                outcome, cancelled = yield from run.child(restore_managed_disk, child, child_id)
                restores.append(outcome)
                if cancelled:  # the restore in progress got the cancel too; start no other
                    break
    except Exception as exc:  # noqa: BLE001 - the slot is given back whatever happened
        error = errors.as_dict(exc)
    run.enter("release")
    try:
        yield from run.call(release_recovery_slot, SlotRelease(doc.run_id))
    except Exception as exc:  # noqa: BLE001 - reported; admission also frees slots of ended runs
        error = error or errors.as_dict(exc)
    run.finish()
    outcome = _outcome(resolution, restores, error, vm_outcome)
    return RecoveryOutcome(
        schema=OUTCOME_SCHEMA, id=context.instance_id, policy=policy.name,
        action=policy.action.type, signal=signal, outcome=outcome, ignored=resolution.ignored,
        skipped=resolution.skipped, restores=restores, phases=run.durations(), error=error,
        vm_restore=vm_outcome,
        objectives=judge(policy.objectives.for_tags(resolution.tags), outcome, signal, run.now,
                         restores))


def _restore_vm(run: Run, doc: RecoveryInput, request: VmRestoreRequest
                ) -> Orchestration[tuple[list[RestoreOutcome], VmRestoreOutcome]]:
    """The VM's disks restored together, one approval, one VM change: a whole-VM restore run
    (orchestrations/restore_vm.py) below this one."""
    policy, signal = doc.policy, doc.signal
    child_id = request.instance_id()
    run.enter("restore", policy=policy.name, signal=signal.summary, children=[child_id])
    approval = ApprovalRequest(policy.approval.timeout_minutes) \
        if policy.approval.required else None
    outcome, _ = yield from run.child(restore_vm, VmRestoreInput(
        request, doc.settings, Caller("policy", None, policy.name),
        why=f"{signal.event_type}: {signal.summary}", approval=approval), child_id)
    return list(outcome.disks), outcome


def _outcome(resolution: Resolution, restores: list[RestoreOutcome],
             error: dict[str, Any] | None, vm_outcome: VmRestoreOutcome | None = None) -> str:
    if error is not None:
        return "Failed"
    if resolution.ignored:
        return "Ignored"
    if vm_outcome is not None:  # the VM changes whole or not at all
        return vm_outcome.outcome
    results = {r.outcome for r in restores}
    if results == {"Succeeded"}:
        return "Succeeded"
    if len(results) == 1:
        return results.pop() or "Failed"  # all NotApproved, all Cancelled, all Failed
    return "PartiallySucceeded" if "Succeeded" in results else "Failed"
