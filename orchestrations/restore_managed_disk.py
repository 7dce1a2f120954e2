"""The restore runbook: plan → grant → wait for propagation → restore once → track → (into the
zonal VM's zone) → the source's tags and network settings → attach or swap → revoke.

Orchestrator code constraints (https://learn.microsoft.com/azure/azure-functions/durable/
durable-functions-code-constraints): this code is replayed from the start on every episode, so
it must be deterministic. Time only from `context.current_utc_datetime`, waits only through
durable timers, no I/O, no settings (everything configurable is in the input), no logging.
Compensation (revoking our role assignments) runs after an `except`, never in `finally`: a
`yield` in `finally` can run while Python closes a suspended generator.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import datetime, timedelta

import azure.durable_functions as df

from activities.compute_activities import (
    get_disk,
    get_vm,
    start_attach_data_disk,
    start_copy_disk_to_zone,
    start_delete_disk,
    start_delete_snapshot,
    start_snapshot_disk,
    start_update_disk_properties,
)
from activities.restore_activities import (
    find_restore_job,
    get_restore_job,
    plan_restore,
    record_outcome,
    start_restore,
)
from domain import errors
from domain.access import audit
from domain.drills.drill_run import DRILL_CALLER
from domain.model import (
    DiskAttachment,
    DiskRef,
    DiskSnapshot,
    JobRef,
    OperationStatus,
    RestoreJob,
    RestorePlan,
    RoleAssignment,
    SnapshotRef,
    SwapPlan,
    VmRef,
    ZoneCopy,
)
from domain.restore import azure_codes, compatibility, properties
from domain.restore.planning import needs_zonal_copy, zonal_copy_id, zonal_snapshot_id
from domain.restore.properties import PropertiesReport
from domain.restore.restore_run import (
    ApprovalDecision,
    ApprovalRequest,
    JobWatch,
    PlanRequest,
    PropagationWait,
    RestoreInput,
    RestoreOutcome,
    RunSettings,
    SlotChange,
    VmChange,
    VmDisks,
    ZoneCopyReport,
)

from .calls import Orchestration, orchestrator
from .outcome import outcome
from .polls import await_propagation, track_restore_job, wait_for
from .steps import (
    VM_BUSY,
    Run,
    backoff_s,
    call_activity,
    grant_roles,
    revoke_assignments,
)
from .vm_change import OsChange, change_disks, vm_and_size


@orchestrator()
def restore_managed_disk(context: df.DurableOrchestrationContext,
                         doc: RestoreInput) -> Orchestration[RestoreOutcome]:
    result = yield from _run(Run(context), doc)
    # One log record per run, for dashboards and the failed-restore alert (infra/); a lost log
    # line must not fail the restore.
    with contextlib.suppress(Exception):
        yield from call_activity(context, record_outcome, result, retry=False)
    return result


def _run(run: Run, doc: RestoreInput) -> Orchestration[RestoreOutcome]:
    request, settings = doc.request, doc.settings
    asked = request.to_dict()
    run.subject = {"source": asked["source"], "target": asked["target"],
                   "dryRun": request.dry_run}
    run.audit = audit.context(run.context.instance_id, doc.requested_by, doc.why,
                              doc.access.mode if doc.access else None)
    vm = request.attach.vm_id if request.attach else request.swap_vm_id
    if vm:
        run.subject["vmId"] = vm
    if doc.requested_by:
        run.subject["requestedBy"] = doc.requested_by.to_dict()  # the approver must be another
    run.enter("plan")
    try:
        plan = yield from run.call(plan_restore, PlanRequest(
            request, run.context.instance_id, run.now.isoformat(), settings, doc.access,
            check_budget=not (doc.defer_vm_change or (
                doc.requested_by is not None and doc.requested_by.kind == DRILL_CALLER))))
    except Exception as exc:  # noqa: BLE001 - nothing changed yet: report and stop
        run.finish()
        return outcome(run, None, error=exc)
    if plan.dry_run:
        run.finish()
        return outcome(run, plan, dry_run=True)
    granted: list[RoleAssignment] = []
    revoked: dict[str, bool | str] = {}
    job: RestoreJob | None = None
    decision: ApprovalDecision | None = None
    zone_copy: ZoneCopyReport | None = None
    copied: PropertiesReport | None = None
    swapped: SwapPlan | None = None
    vm_change: VmChange | None = None
    warnings: list[str] = []
    error: Exception | None = None
    try:
        run.enter("grant")
        yield from grant_roles(run, plan.grants, granted)
        run.enter("propagate")
        yield from wait_for(run, await_propagation, PropagationWait(
            plan, settings, run.now.isoformat()), "propagate")
        job = yield from _restore_and_track(run, plan, settings)
        if doc.approval and (plan.attach or plan.swap) and not doc.defer_vm_change:
            # The vault's roles are not needed any more: revoke them before a person's wait.
            run.enter("revoke")
            revoked = yield from revoke_assignments(run, granted, revoked)
            decision = yield from _approval(run, plan, doc.approval, settings)
        zone_copy = yield from _into_zone(run, plan, settings)
        disk_id = zone_copy.disk_id if zone_copy else plan.target_disk_id
        copied = yield from _copy_properties(run, plan, settings, disk_id, warnings)
        if plan.attach and not doc.defer_vm_change:
            run.enter("attach", vmId=plan.attach.vm_id, lun=plan.attach.lun,
                      **({"replaces": plan.attach.replaces} if plan.attach.replaces else {}))
            vm_change = yield from _attach(run, plan, settings, disk_id, warnings)
        if plan.swap and not doc.defer_vm_change:
            run.enter("swap", vmId=plan.swap.vm_id)
            swapped, vm_change = yield from _swap(run, plan, settings, disk_id, warnings)
    except Exception as exc:  # noqa: BLE001 - every failure still revokes what we granted
        error = exc
    run.enter("revoke")
    revoked = yield from revoke_assignments(run, granted, revoked)
    run.finish()
    return outcome(run, plan, job=job, granted=granted, revoked=revoked, error=error,
                   approval=decision, zone_copy=zone_copy, properties=copied,
                   warnings=warnings, swap=swapped, vm_change=vm_change)


def _restore_and_track(run: Run, plan: RestorePlan,
                       settings: RunSettings) -> Orchestration[RestoreJob]:
    """Trigger the restore once and track its job to its end. A job that failed with a transient
    Backup error (BackupServiceBusy) restored nothing: trigger again after a backoff, while the
    job timeout allows."""
    started, attempt, adopted = run.now, 0, None
    while True:
        if adopted is None:
            run.enter("restore")
            job_id = yield from _trigger_once(run, plan, settings)
        else:
            job_id, adopted = adopted, None
        run.enter("track", jobId=job_id)
        try:
            job: RestoreJob = yield from wait_for(run, track_restore_job, JobWatch(
                job_id, settings, run.now.isoformat(), plan.job_timeout_s),
                "track" if attempt == 0 else f"track-{attempt + 1}")
            return job
        except errors.Cancelled as exc:
            raise (yield from _after_cancel(run, plan, settings, job_id, started)) from exc
        except errors.RestoreJobFailed as exc:
            adopted = yield from _first_job(run, plan, exc, job_id)
            if adopted is None:
                raise
            attempt += 1  # the next tracker is a new child
        except errors.BackupServiceBusy as exc:
            attempt += 1
            left = plan.job_timeout_s - (run.now - started).total_seconds()
            if left <= 0:
                raise
            yield from run.retrying(start_restore.name, attempt, exc,
                                    min(backoff_s(attempt), left))


def _after_cancel(run: Run, plan: RestorePlan, settings: RunSettings, job_id: str,
                  started: datetime) -> Orchestration[errors.Cancelled]:
    """A cancel cannot stop an Azure Backup restore job: the job goes on and makes its disk.
    So the run follows it to its end, not interruptible, holding the vault's roles it may need
    until then, and deletes the disk it made (restored only for this cancelled run); then the
    caller revokes. What became of the disk is in the error."""
    run.enter("cancel", jobId=job_id)
    said = f"the restore was cancelled; its restore job {job_id} cannot be stopped"
    try:
        job = yield from run.call(get_restore_job, JobRef(job_id), interruptible=False)
        while not job.finished and \
                (run.now - started).total_seconds() < plan.job_timeout_s:
            yield from run.wait(settings.poll_interval_s, interruptible=False)
            job = yield from run.call(get_restore_job, JobRef(job_id), interruptible=False)
    except Exception as exc:  # noqa: BLE001 - then say what to check by hand
        return errors.Cancelled(f"{said} and could not be followed "
                                f"({getattr(exc, 'message', exc)}): when it ends, delete the "
                                f"disk {plan.target_disk_id} if it made one")
    if not job.finished:
        return errors.Cancelled(f"{said} and was still {job.status} after "
                                f"{plan.job_timeout_s} s: when it ends, delete the disk "
                                f"{plan.target_disk_id} if it made one")
    if not job.succeeded:
        return errors.Cancelled(f"{said}; it ended {job.status} and restored nothing")
    disk_id = job.restored_disk_id or plan.target_disk_id
    status = yield from run.operation(start_delete_disk, DiskRef(disk_id),
                                      settings.operation_poll_s, interruptible=False)
    if status.state != "succeeded":
        return errors.Cancelled(f"{said}; it made the disk {disk_id}, which could not be "
                                f"deleted ({status.error_code}): delete it by hand")
    return errors.Cancelled(f"{said}; it made the disk {disk_id}, which was deleted")


def _first_job(run: Run, plan: RestorePlan, failed: errors.RestoreJobFailed,
               job_id: str) -> Orchestration[str | None]:
    """The job this run's first trigger started, when the tracked one failed only because that
    one made the disk. Azure refuses a restore's target name once the disk exists, not while a
    job is creating it: a trigger re-sent while the first job ran (a lost answer, a re-run
    activity) started a second job, which then failed "same name". None: no such job."""
    if azure_codes.SAME_NAME not in failed.message:
        return None
    found = yield from run.call(find_restore_job, plan)
    job = found.job
    if job is None or job.id.lower() == job_id.lower() or (job.finished and not job.succeeded):
        return None
    run.note(adoptedJob=job.id, duplicateJob=job_id)
    return job.id


def _trigger_once(run: Run, plan: RestorePlan, settings: RunSettings) -> Orchestration[str]:
    """Trigger the restore exactly once. A retried POST (azure-core re-sends it after a 5xx) or
    a re-run activity meets the first trigger's job: the restore fails validation with a
    same-name error (recoveryOption FailIfExists), which here means "find the job already
    started". Not looked up before every trigger: listing a vault's jobs costs O(jobs), and
    the same-name answer already covers every duplicate."""
    started, busy = run.now, 0
    while True:
        # Not interruptible: a trigger that went through started a job, which a cancel must
        # then follow to its end (_after_cancel), and only the answer says which job.
        status = yield from run.operation(start_restore, plan, settings.operation_poll_s,
                                          interruptible=False)
        if status.state == "succeeded" and status.job_id:
            return status.job_id
        if status.error_code == azure_codes.SAME_NAME:
            existing = yield from run.call(find_restore_job, plan)
            if existing.job is not None:
                return existing.job.id
        waited = (run.now - started).total_seconds()
        if azure_codes.transient(status.error_code, status.retryable) and \
                waited < plan.propagation_timeout_s:
            # A busy service (CloudServiceRetryableError, too many concurrent operations, or
            # `isRetryable`): nothing started. Back off and trigger again, within the budget.
            busy += 1
            yield from run.retrying(start_restore.name, busy,
                                    f"{status.error_code}: {status.error_message}",
                                    min(backoff_s(busy), plan.propagation_timeout_s - waited))
            continue
        if status.error_code in azure_codes.NOT_YET_EFFECTIVE and \
                waited < plan.propagation_timeout_s:
            # A probe can pass on an equivalent grant that was being revoked (a previous
            # restore into the same resource group) before ours took effect: the permission is
            # "not yet" here too, as in the propagation wait. Nothing started: try again.
            run.note(lastError=status.error_code)
            yield from run.wait(min(settings.probe_interval_s,
                                    plan.propagation_timeout_s - waited))
            continue
        raise azure_codes.classify(status.error_code, status.error_message,
                                   status.retryable) or \
            errors.RestoreJobFailed(f"the restore did not start: {status.error_code}")


def _into_zone(run: Run, plan: RestorePlan,
               settings: RunSettings) -> Orchestration[ZoneCopyReport | None]:
    """Before a zonal VM gets the restored disk: where did the restore put it? The Backup restore
    takes no zone and Azure does not say where the disk lands (regional, or the source disk's
    zone), and Compute refuses a disk outside the VM's zone only at the attach, or, for a swap,
    after the VM was deallocated. Outside the zone (and not ZRS, which attaches in any zone): a
    snapshot, a disk from it in the VM's zone (the path Azure documents for a disk going zonal),
    then the snapshot and the restored disk are deleted. Each start reads first, so a retried
    activity adopts what the lost attempt made. Nothing on the VM has changed yet: a failure
    here leaves it as it was. Run by the app's own identity: the vault's roles are not needed."""
    zone = plan.attach.zone if plan.attach else plan.swap.zone if plan.swap else None
    if zone is None:
        return None
    restored = (yield from run.call(get_disk, DiskRef(plan.target_disk_id))).disk
    if restored is None:
        raise errors.ZoneCopyFailed(f"the restored disk {plan.target_disk_id} is gone")
    if not needs_zonal_copy(restored, zone):
        return None
    copy_id = zonal_copy_id(plan.target_disk_id, zone)
    snapshot_id = zonal_snapshot_id(plan.target_disk_id, zone)
    where = f"in zone {','.join(restored.zones)}" if restored.zones else "regional (no zone)"
    run.enter("zone", zone=zone, restoredDiskId=plan.target_disk_id, landed=where,
              copyId=copy_id)
    poll = settings.operation_poll_s
    hint = (f"the restored disk {plan.target_disk_id} exists, {where}; the VM is in zone {zone}: "
            f"snapshot it, create a disk from the snapshot in zone {zone} and use that one")
    status = yield from run.operation(start_snapshot_disk, DiskSnapshot(
        plan.target_disk_id, snapshot_id), poll)
    _copied(status, start_snapshot_disk.name, hint)
    status = yield from run.operation(start_copy_disk_to_zone, ZoneCopy(
        restored, snapshot_id, copy_id, zone), poll)
    _copied(status, start_copy_disk_to_zone.name, hint)
    # A leftover costs money, not the restore: reported, and the run goes on.
    left: list[str] = []
    try:
        status = yield from run.operation(start_delete_snapshot, SnapshotRef(snapshot_id), poll,
                                          interruptible=False)
        if status.state != "succeeded":
            left.append(f"{snapshot_id} ({status.error_code})")
    except Exception as exc:  # noqa: BLE001 - said in the outcome
        left.append(f"{snapshot_id} ({getattr(exc, 'message', exc)})")
    try:
        status = yield from run.operation(start_delete_disk, DiskRef(plan.target_disk_id), poll,
                                          interruptible=False)
        if status.state != "succeeded":
            left.append(f"{plan.target_disk_id} ({status.error_code})")
    except Exception as exc:  # noqa: BLE001 - said in the outcome
        left.append(f"{plan.target_disk_id} ({getattr(exc, 'message', exc)})")
    return ZoneCopyReport(zone=zone, disk_id=copy_id, intermediate_disk_id=plan.target_disk_id,
                          snapshot_id=snapshot_id,
                          cleaned=True if not left else
                          f"not deleted, delete by hand: {'; '.join(left)}")


def _copy_properties(run: Run, plan: RestorePlan, settings: RunSettings, disk_id: str,
                     warnings: list[str]) -> Orchestration[PropertiesReport]:
    """Give the disk the VM gets what the Backup restore could not: the source's tags (plus where
    it came from) and its network settings, in one disk update (see domain/restore/
    properties.py). Never fails the run: what did not land is reported, and a private source
    whose copy is left public is a warning. Run by the app's own identity, before the VM gets
    the disk, so a private-link disk is never attached with public export allowed."""
    update, carried, missing = properties.wanted(plan, disk_id, run.context.instance_id)
    run.enter("properties", diskId=disk_id)
    failure: str | None = None
    try:
        status = yield from run.operation(start_update_disk_properties, update,
                                          settings.operation_poll_s)
        if status.state != "succeeded":
            failure = f"{status.error_code}: {status.error_message}"
    except errors.Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - reported in the outcome, the run goes on
        failure = str(getattr(exc, "message", exc))
    # What the disk shows now is the answer, whatever the update said.
    try:
        restored = (yield from run.call(get_disk, DiskRef(disk_id))).disk
    except errors.Cancelled:
        raise
    except Exception:  # noqa: BLE001 - then nothing is known to have landed
        restored = None
    copied, not_landed = properties.landed(update, carried, restored, failure)
    source = plan.source_disk
    if source is not None and (warning := properties.exposure(source, disk_id,
                                                              restored)) is not None:
        warnings.append(warning)
    return PropertiesReport(disk_id=disk_id, copied=copied, not_copied=missing + not_landed)


def _copied(status: OperationStatus, step: str, hint: str) -> None:
    if status.state != "succeeded":
        raise errors.ZoneCopyFailed(f"{step}: {status.error_code}: {status.error_message}",
                                    hint=hint)


def _attach(run: Run, plan: RestorePlan, settings: RunSettings, disk_id: str,
            warnings: list[str]) -> Orchestration[VmChange]:
    """In the source disk's place (orchestrations/vm_change.py), or beside the VM's disks:
    checked against the VM as it is now and the disk the restore made (the plan's checks, after
    a restore that may have taken hours), then attached."""
    attach = plan.attach
    assert attach is not None
    poll = settings.operation_poll_s
    if attach.replaces:
        changed = yield from change_disks(run, attach.vm_id, poll, warnings, slots=[SlotChange(
            attach.lun, attach.replaces, disk_id, attach.caching, attach.write_accelerator)])
        return changed.vm_change
    vm, size = yield from vm_and_size(run, attach.vm_id)
    before = VmDisks.of(vm)
    if any(d.disk_id.lower() == disk_id.lower() for d in vm.data_disks):
        return VmChange(vm.id, before, before)  # a re-run after the attach went through
    restored = (yield from run.call(get_disk, DiskRef(disk_id))).disk
    problems = compatibility.attach_problems(vm, size, restored, attach.caching)
    if any(d.lun == attach.lun for d in vm.data_disks):
        problems.append(f"LUN {attach.lun} was taken since the plan: choose another LUN")
    if problems:
        raise compatibility.refusal(problems, vm.id, kept=[disk_id])
    status = yield from run.operation(start_attach_data_disk, DiskAttachment(
        attach.vm_id, disk_id, attach.lun, attach.caching),
        poll, interruptible=False, busy=VM_BUSY)
    # The answer to an attach that went through can be lost; azure-core then sends it again
    # and Compute refuses the disk as already attached. The VM says what happened.
    after = yield from run.call(get_vm, VmRef(attach.vm_id))
    if status.state != "succeeded" and \
            not any(d.disk_id.lower() == disk_id.lower() for d in after.data_disks):
        raise errors.AttachFailed(f"{status.error_code}: {status.error_message}",
                                  hint=f"the restored disk {disk_id} exists; attach it by hand")
    return VmChange(vm.id, before, VmDisks.of(after))


def _swap(run: Run, plan: RestorePlan, settings: RunSettings, disk_id: str,
          warnings: list[str]) -> Orchestration[tuple[SwapPlan, VmChange]]:
    """The restored disk in as the OS disk (orchestrations/vm_change.py: checked against the VM
    as it is now, power off, swap, start, rolled back on failure)."""
    swap = plan.swap
    assert swap is not None
    changed = yield from change_disks(run, swap.vm_id, settings.operation_poll_s, warnings,
                                      os=OsChange(swap.original_os_disk_id, disk_id))
    return (replace(swap, was_running=changed.was_running, stopped_with=changed.stopped_with),
            changed.vm_change)


def _approval(run: Run, plan: RestorePlan, approval: ApprovalRequest,
              settings: RunSettings) -> Orchestration[ApprovalDecision]:
    """The restored disk exists; a person decides whether it goes onto the VM. Rejected, not
    decided in time or cancelled: delete the restored disk (restored only for this decision, no
    VM uses it yet) and stop."""
    timeout_s = float(approval.timeout_minutes) * 60
    action = "swap" if plan.swap else "attach"
    vm_id = plan.swap.vm_id if plan.swap else plan.attach.vm_id  # type: ignore[union-attr]
    run.enter("approval", action=action, vmId=vm_id, restoredDiskId=plan.target_disk_id,
              expires=(run.now + timedelta(seconds=timeout_s)).isoformat())
    try:
        decision = yield from run.approval(timeout_s)
        if not decision.approved:
            raise errors.ApprovalRejected(
                f"{decision.by or 'someone'} rejected the {action} of "
                f"{plan.target_disk_id} onto {vm_id}"
                + (f": {decision.comment}" if decision.comment else ""))
    except (errors.ApprovalRejected, errors.ApprovalTimedOut, errors.Cancelled) as exc:
        run.enter("cleanup", deleting=plan.target_disk_id)
        status = yield from run.operation(start_delete_disk, DiskRef(plan.target_disk_id),
                                          settings.operation_poll_s, interruptible=False)
        if status.state != "succeeded":
            raise type(exc)(f"{exc.message}; the restored disk {plan.target_disk_id} could not "
                            f"be deleted ({status.error_code}): delete it by hand") from exc
        raise
    return decision
