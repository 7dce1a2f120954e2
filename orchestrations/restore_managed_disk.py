"""The restore runbook: plan → grant → wait for propagation → restore once → track → attach or
swap → revoke.

Orchestrator code constraints (https://learn.microsoft.com/azure/azure-functions/durable/
durable-functions-code-constraints): this code is replayed from the start on every episode, so
it must be deterministic. Time only from `context.current_utc_datetime`, waits only through
durable timers, no I/O, no settings (everything configurable is in the input), no logging.
Compensation (revoking our role assignments) runs after an `except`, never in `finally`: a
`yield` in `finally` can run while Python closes a suspended generator.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from domain import errors

from domain.access import audit

from domain.restore import azure_codes
from domain.model import RestoreJob, RestorePlan, RoleAssignment, SwapPlan, Vm

from .outcome import outcome
from .polls import PROPAGATION, TRACK, wait_for
from .steps import VM_BUSY, VM_STALE, Orchestration, Run, grant_roles, revoke_assignments


def restore_managed_disk(context: df.DurableOrchestrationContext) -> Orchestration:
    result = yield from _run(Run(context), context.get_input())
    try:  # one log record per run, for dashboards and the failed-restore alert (infra/)
        yield context.call_activity("record_outcome", result)
    except Exception:  # noqa: BLE001, S110 - a lost log line must not fail the restore
        pass
    return result


def _run(run: Run, doc: dict[str, Any]) -> Orchestration:
    config = doc["config"]
    request = doc["request"]
    run.subject = {"source": request["source"], "target": request["target"],
                   "dryRun": request.get("dryRun", False)}
    access = doc.get("access") or {}
    run.audit = {**audit.context(run.context.instance_id, doc.get("requestedBy"), doc.get("why")),
                 "authorization": access.get("mode")}
    vm = (request.get("attach") or request.get("swapOsDisk") or {}).get("vmId")
    if vm:
        run.subject["vmId"] = vm
    if doc.get("requestedBy"):
        run.subject["requestedBy"] = doc["requestedBy"]  # the approver must be someone else
    run.enter("plan")
    try:
        plan = RestorePlan.from_dict((yield from run.call("plan_restore", {
            "request": doc["request"], "instanceId": run.context.instance_id,
            "created": run.now.isoformat(), "config": config, "access": access or None})))
    except Exception as exc:  # noqa: BLE001 - nothing changed yet: report and stop
        run.finish()
        return outcome(run, None, error=exc)
    if plan.dry_run:
        run.finish()
        return outcome(run, plan, dry_run=True)
    granted: list[RoleAssignment] = []
    revoked: dict[str, bool | str] = {}
    job: RestoreJob | None = None
    decision: dict[str, Any] | None = None
    try:
        run.enter("grant")
        yield from grant_roles(run, [g.to_dict() for g in plan.grants], granted)
        run.enter("propagate")
        yield from wait_for(run, PROPAGATION, {"plan": plan.to_dict(), "config": config,
                                               "started": run.now.isoformat()}, "propagate")
        run.enter("restore")
        job_id = yield from _trigger_once(run, plan, config)
        run.enter("track", jobId=job_id)
        job = RestoreJob.from_dict((yield from wait_for(run, TRACK, {
            "jobId": job_id, "config": config, "started": run.now.isoformat(),
            "timeoutS": plan.job_timeout_s}, "track")))
        if doc.get("approval") and (plan.attach or plan.swap):
            # The vault's roles are not needed any more: revoke them before a person's wait.
            run.enter("revoke")
            revoked = yield from revoke_assignments(run, granted, revoked)
            decision = yield from _approval(run, plan, doc["approval"], config)
        if plan.attach:
            run.enter("attach", vmId=plan.attach.vm_id, lun=plan.attach.lun)
            yield from _attach(run, plan, config)
        if plan.swap:
            run.enter("swap", vmId=plan.swap.vm_id)
            yield from _swap(run, plan, config)
        error = None
    except Exception as exc:  # noqa: BLE001 - every failure still revokes what we granted
        error = exc
    run.enter("revoke")
    revoked = yield from revoke_assignments(run, granted, revoked)
    run.finish()
    return outcome(run, plan, job=job, granted=granted, revoked=revoked, error=error,
                   approval=decision)


def _trigger_once(run: Run, plan: RestorePlan, config: dict[str, Any]) -> Orchestration:
    """Trigger the restore exactly once. A retried POST (azure-core re-sends it after a 5xx) or
    a re-run activity meets the first trigger's job: the restore fails validation with a
    same-name error (recoveryOption FailIfExists), which here means "find the job already
    started". Not looked up before every trigger: listing a vault's jobs costs O(jobs), and
    the same-name answer already covers every duplicate."""
    started = run.now
    while True:
        status = yield from run.operation("start_restore", plan.to_dict(),
                                          config["operation_poll_s"])
        if status.state == "succeeded" and status.job_id:
            return status.job_id
        if status.error_code == "UserErrorSameNameDiskAlreadyExists":
            existing = yield from run.call("find_restore_job", plan.to_dict())
            if existing:
                return RestoreJob.from_dict(existing).id
        waited = (run.now - started).total_seconds()
        if status.error_code in azure_codes.NOT_YET_EFFECTIVE and \
                waited < plan.propagation_timeout_s:
            # A probe can pass on an equivalent grant that was being revoked (a previous
            # restore into the same resource group) before ours took effect: the permission is
            # "not yet" here too, as in the propagation wait. Nothing started: try again.
            run.note(lastError=status.error_code)
            yield from run.wait(min(config["probe_interval_s"],
                                    plan.propagation_timeout_s - waited))
            continue
        raise azure_codes.classify(status.error_code, status.error_message) or \
            errors.RestoreJobFailed(f"the restore did not start: {status.error_code}")


def _attach(run: Run, plan: RestorePlan, config: dict[str, Any]) -> Orchestration:
    attach = plan.attach
    assert attach is not None
    vm = Vm.from_dict((yield from run.call("get_vm", attach.vm_id)))
    if any(d.disk_id.lower() == plan.target_disk_id.lower() for d in vm.data_disks):
        return  # a re-run after the attach went through
    status = yield from run.operation("start_attach_data_disk", {
        "vmId": attach.vm_id, "diskId": plan.target_disk_id, "lun": attach.lun,
        "caching": attach.caching}, config["operation_poll_s"], interruptible=False,
        busy=VM_BUSY)
    if status.state != "succeeded":
        # The answer to an attach that went through can be lost; azure-core then sends it again
        # and Compute refuses the disk as already attached. The VM says what happened.
        vm = Vm.from_dict((yield from run.call("get_vm", attach.vm_id)))
        if any(d.disk_id.lower() == plan.target_disk_id.lower() for d in vm.data_disks):
            return
        raise errors.AttachFailed(f"{status.error_code}: {status.error_message}",
                                  hint=f"the restored disk {plan.target_disk_id} exists; attach "
                                       "it by hand")


def _swap(run: Run, plan: RestorePlan, config: dict[str, Any]) -> Orchestration:
    """Deallocate, point the OS disk at the restored disk, start. On failure, put the original
    OS disk back (and start the VM if it was running) and say so. Not interrupted by a cancel:
    a VM left half-swapped is worse than a late cancel."""
    swap = plan.swap
    assert swap is not None
    poll = config["operation_poll_s"]
    try:
        yield from _point_os_disk(run, swap, plan.target_disk_id, poll)
    except Exception as exc:  # noqa: BLE001 - roll back, then report both
        try:
            yield from _point_os_disk(run, swap, swap.original_os_disk_id, poll)
            outcome_text = "the original OS disk is back on the VM"
        except Exception as failed:  # noqa: BLE001 - say exactly what to do by hand
            outcome_text = yield from _left_as(run, swap, failed)
        raise errors.SwapFailed(f"{getattr(exc, 'message', exc)}; {outcome_text}") from exc


def _left_as(run: Run, swap: SwapPlan, failed: Exception) -> Orchestration:
    """After a failed rollback: the VM as Azure reports it now, and what is left to do by hand.
    Which rollback step failed does not say it: the swap may have failed before or after its
    own OS-disk update, so the VM is read."""
    reason = getattr(failed, "message", failed)
    try:
        vm = Vm.from_dict((yield from run.call("get_vm", swap.vm_id)))
    except Exception:  # noqa: BLE001 - then say what must be checked
        return (f"ROLLBACK FAILED ({reason}) and the VM could not be read: make sure the OS "
                f"disk of {swap.vm_id} is {swap.original_os_disk_id}"
                + (" and that it is running" if swap.was_running else ""))
    back = (vm.os_disk_id or "").lower() == swap.original_os_disk_id.lower()
    todo = ([] if back else [f"set its OS disk back to {swap.original_os_disk_id}"]) + \
        (["start it"] if swap.was_running and vm.power_state != "running" else [])
    return (f"ROLLBACK FAILED ({reason}): the OS disk of {swap.vm_id} is "
            f"{'the original one' if back else vm.os_disk_id} and the VM is "
            f"{vm.power_state or 'in an unknown power state'}"
            + (f": {' and '.join(todo)} by hand" if todo else ""))


def _point_os_disk(run: Run, swap: SwapPlan, disk_id: str, poll: float) -> Orchestration:
    """Deallocate the VM, set its OS disk, and start it again if it was running."""
    steps = [("start_deallocate_vm", {"vmId": swap.vm_id}, VM_BUSY),
             # A lost answer re-sent by azure-core meets the VM's new etag (412): the start
             # reads the VM again and finds the OS disk already set.
             ("start_set_os_disk", {"vmId": swap.vm_id, "diskId": disk_id}, VM_STALE)]
    if swap.was_running:
        steps.append(("start_start_vm", {"vmId": swap.vm_id}, VM_BUSY))
    for activity, payload, busy in steps:
        status = yield from run.operation(activity, payload, poll, interruptible=False,
                                          busy=busy)
        if status.state != "succeeded":
            raise errors.SwapFailed(f"{activity}: {status.error_code}: {status.error_message}")


def _approval(run: Run, plan: RestorePlan, approval: dict[str, Any],
              config: dict[str, Any]) -> Orchestration:
    """The restored disk exists; a person decides whether it goes onto the VM. Rejected or not
    decided in time: delete the restored disk (no VM uses it yet) and stop."""
    timeout_s = float(approval["timeoutMinutes"]) * 60
    action = "swap" if plan.swap else "attach"
    vm_id = plan.swap.vm_id if plan.swap else plan.attach.vm_id  # type: ignore[union-attr]
    run.enter("approval", action=action, vmId=vm_id, restoredDiskId=plan.target_disk_id,
              expires=(run.now + timedelta(seconds=timeout_s)).isoformat())
    try:
        decision = yield from run.approval(timeout_s)
        if not decision.get("approved"):
            raise errors.ApprovalRejected(
                f"{decision.get('by') or 'someone'} rejected the {action} of "
                f"{plan.target_disk_id} onto {vm_id}"
                + (f": {decision['comment']}" if decision.get("comment") else ""))
    except (errors.ApprovalRejected, errors.ApprovalTimedOut) as exc:
        run.enter("cleanup", deleting=plan.target_disk_id)
        status = yield from run.operation("start_delete_disk", {"diskId": plan.target_disk_id},
                                          config["operation_poll_s"], interruptible=False)
        if status.state != "succeeded":
            raise type(exc)(f"{exc.message}; the restored disk {plan.target_disk_id} could not "
                            f"be deleted ({status.error_code}): delete it by hand") from exc
        raise
    return decision
