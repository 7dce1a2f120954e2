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
from datetime import timedelta

import azure.durable_functions as df

from activities.compute_activities import (
    get_disk,
    get_vm,
    get_vm_size,
    start_attach_data_disk,
    start_copy_disk_to_zone,
    start_deallocate_vm,
    start_delete_disk,
    start_delete_snapshot,
    start_power_off_vm,
    start_set_os_disk,
    start_snapshot_disk,
    start_start_vm,
    start_tag_disk,
    start_update_disk_properties,
)
from activities.restore_activities import (
    find_restore_job,
    plan_restore,
    record_outcome,
    start_restore,
)
from domain import errors
from domain.access import audit
from domain.model import (
    DiskAttachment,
    DiskRef,
    DiskSnapshot,
    DiskTags,
    OperationStatus,
    OsDiskChange,
    RestoreJob,
    RestorePlan,
    RoleAssignment,
    SnapshotRef,
    SwapPlan,
    Vm,
    VmRef,
    VmSize,
    VmSizeRef,
    ZoneCopy,
)
from domain.resource_id import ResourceId
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
    VmChange,
    VmDisks,
    ZoneCopyReport,
)

from .calls import Orchestration, orchestrator
from .outcome import outcome
from .polls import await_propagation, track_restore_job, wait_for
from .steps import (
    VM_BUSY,
    VM_STALE,
    Run,
    backoff_s,
    call_activity,
    grant_roles,
    revoke_assignments,
)

# On the disk a run took off a VM (kept, never deleted): which run, and when.
REPLACED_BY_TAG, REPLACED_AT_TAG = "diskrestore-replaced-by", "diskrestore-replaced-at"

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
            request, run.context.instance_id, run.now.isoformat(), settings, doc.access))
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
        if doc.approval and (plan.attach or plan.swap):
            # The vault's roles are not needed any more: revoke them before a person's wait.
            run.enter("revoke")
            revoked = yield from revoke_assignments(run, granted, revoked)
            decision = yield from _approval(run, plan, doc.approval, settings)
        zone_copy = yield from _into_zone(run, plan, settings)
        disk_id = zone_copy.disk_id if zone_copy else plan.target_disk_id
        copied = yield from _copy_properties(run, plan, settings, disk_id, warnings)
        if plan.attach:
            run.enter("attach", vmId=plan.attach.vm_id, lun=plan.attach.lun,
                      **({"replaces": plan.attach.replaces} if plan.attach.replaces else {}))
            vm_change = yield from _attach(run, plan, settings, disk_id, warnings)
        if plan.swap:
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
        status = yield from run.operation(start_restore, plan, settings.operation_poll_s)
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


def _vm_and_size(run: Run, vm_id: str) -> Orchestration[tuple[Vm, VmSize | None]]:
    """The VM as it is now, and what its size allows (None: the region does not list it)."""
    vm = yield from run.call(get_vm, VmRef(vm_id))
    if not vm.size:
        return vm, None
    found = yield from run.call(get_vm_size, VmSizeRef(
        ResourceId.parse(vm.id).subscription, vm.location, vm.size))
    return vm, found.size


def _attach(run: Run, plan: RestorePlan, settings: RunSettings, disk_id: str,
            warnings: list[str]) -> Orchestration[VmChange]:
    """Check the VM as it is now against the restored disk (the plan's checks, on what the
    restore made, after a restore that may have taken hours), then attach: beside the VM's
    disks, or in place of the source disk (detached in the same call, kept and tagged)."""
    attach = plan.attach
    assert attach is not None
    vm, size = yield from _vm_and_size(run, attach.vm_id)
    before = VmDisks.of(vm)
    if any(d.disk_id.lower() == disk_id.lower() for d in vm.data_disks):
        return VmChange(vm.id, before, before)  # a re-run after the attach went through
    restored = (yield from run.call(get_disk, DiskRef(disk_id))).disk
    replacing = attach.replaces is not None
    problems = compatibility.attach_problems(vm, size, restored, attach.caching,
                                             replacing=replacing)
    holder = next((d.disk_id for d in vm.data_disks if d.lun == attach.lun), None)
    if replacing and (holder or "").lower() != (attach.replaces or "").lower():
        problems.append(f"LUN {attach.lun} holds {holder or 'no disk'}, not {attach.replaces}: "
                        "the VM changed since the plan")
    elif not replacing and holder is not None:
        problems.append(f"LUN {attach.lun} was taken since the plan: choose another LUN")
    if problems:
        raise compatibility.refusal(problems, vm.id, restored_disk_id=disk_id)
    status = yield from run.operation(start_attach_data_disk, DiskAttachment(
        attach.vm_id, disk_id, attach.lun, attach.caching, detach_disk_id=attach.replaces,
        write_accelerator=bool(attach.write_accelerator)),
        settings.operation_poll_s, interruptible=False, busy=VM_BUSY)
    # The answer to an attach that went through can be lost; azure-core then sends it again
    # and Compute refuses the disk as already attached. The VM says what happened.
    after = yield from run.call(get_vm, VmRef(attach.vm_id))
    if status.state != "succeeded" and \
            not any(d.disk_id.lower() == disk_id.lower() for d in after.data_disks):
        raise errors.AttachFailed(
            f"{status.error_code}: {status.error_message}",
            hint=f"the restored disk {disk_id} exists; "
                 + (f"replace {attach.replaces} with it by hand (LUN {attach.lun})"
                    if replacing else "attach it by hand"))
    if attach.replaces:
        yield from _mark_original(run, attach.replaces, settings, warnings)
    return VmChange(vm.id, before, VmDisks.of(after))


def _mark_original(run: Run, disk_id: str, settings: RunSettings,
                   warnings: list[str]) -> Orchestration[None]:
    """Tag the disk the VM had before (kept, never deleted) with the run that replaced it: what
    an undo and a person looking at the resource group go by. A tag that did not land is a
    warning, not a failure: the VM has its restored disk."""
    tags = {REPLACED_BY_TAG: run.context.instance_id, REPLACED_AT_TAG: run.now.isoformat()}
    try:
        status = yield from run.operation(start_tag_disk, DiskTags(disk_id, tags),
                                          settings.operation_poll_s, interruptible=False)
        failure = None if status.state == "succeeded" else \
            f"{status.error_code}: {status.error_message}"
    except Exception as exc:  # noqa: BLE001 - a warning, below
        failure = str(getattr(exc, "message", exc))
    if failure:
        warnings.append(f"the original disk {disk_id} was kept but could not be tagged "
                        f"{REPLACED_BY_TAG}={run.context.instance_id} ({failure})")


def _power(state: str | None) -> str:
    """running | stopped (allocated) | deallocated | unknown, from the instance view's power
    state; a VM on its way to a state counts as in it."""
    value = (state or "").lower()
    if value in ("running", "starting"):
        return "running"
    if value in ("stopped", "stopping"):
        return "stopped"
    return "deallocated" if value in ("deallocated", "deallocating") else "unknown"


def _swap(run: Run, plan: RestorePlan, settings: RunSettings, disk_id: str,
          warnings: list[str]) -> Orchestration[tuple[SwapPlan, VmChange]]:
    """Right before the VM is touched: read it again (its power state and OS disk now, not at
    plan time, which may be hours or an approval ago) and check the restored disk against it.
    Then stop it (power off: it keeps its hardware, so the start needs no new capacity), point
    the OS disk at the restored disk (deallocating first if Compute wants that), and start it if
    it was running. On failure, put the original OS disk back and the VM in its power state, and
    say exactly where it is. Not interrupted by a cancel: a VM left half-swapped is worse than a
    late cancel."""
    swap = plan.swap
    assert swap is not None
    poll = settings.operation_poll_s
    vm, size = yield from _vm_and_size(run, swap.vm_id)
    before = VmDisks.of(vm)
    current = vm.os_disk_id or ""
    if current.lower() != swap.original_os_disk_id.lower():
        raise errors.VmNotSuitable(
            f"the OS disk of {vm.id} changed since the plan: it was {swap.original_os_disk_id}, "
            f"it is {current or 'none'}",
            hint=f"nothing was changed on the VM; the restored disk {disk_id} exists and is "
                 "kept: swap it by hand, or restore again against the VM as it is now")
    os_disk = (yield from run.call(get_disk, DiskRef(current))).disk
    restored = (yield from run.call(get_disk, DiskRef(disk_id))).disk
    problems = compatibility.swap_problems(vm, size, os_disk, restored)
    if problems:
        raise compatibility.refusal(problems, vm.id, restored_disk_id=disk_id)
    power = _power(vm.power_state)
    was_running = power == "running"
    run.note(powerState=vm.power_state or "unknown")
    stopped_with: list[str] = []
    try:
        yield from _point_os_disk(run, swap.vm_id, disk_id, power, poll, stopped_with)
        if was_running:
            status = yield from run.operation(start_start_vm, VmRef(swap.vm_id), poll,
                                              interruptible=False, busy=VM_BUSY)
            _succeeded(status, start_start_vm.name)
    except Exception as exc:
        said = yield from _roll_back(run, swap, was_running, poll)
        raise errors.SwapFailed(f"{getattr(exc, 'message', exc)}; {said}") from exc
    yield from _mark_original(run, swap.original_os_disk_id, settings, warnings)
    after = yield from run.call(get_vm, VmRef(swap.vm_id))
    return (replace(swap, was_running=was_running, stopped_with=", ".join(stopped_with) or None),
            VmChange(vm.id, before, VmDisks.of(after)))


def _point_os_disk(run: Run, vm_id: str, disk_id: str, power: str, poll: float,
                   stopped_with: list[str]) -> Orchestration[None]:
    """Stop the VM if it runs (power off), then set its OS disk. Whether Compute changes the OS
    disk of a VM that is stopped but allocated is not settled (the 2018 documents say it must be
    deallocated, the newer ones that it need not even be stopped): a refusal while stopped is
    answered by deallocating and trying once more. An unknown power state is deallocated first,
    as the documents have always allowed."""
    if power in ("running", "unknown"):
        action = start_power_off_vm if power == "running" else start_deallocate_vm
        status = yield from run.operation(action, VmRef(vm_id), poll, interruptible=False,
                                          busy=VM_BUSY)
        _succeeded(status, action.name)
        stopped_with.append("powerOff" if power == "running" else "deallocate")
        power = "stopped" if power == "running" else "deallocated"
    # A lost answer re-sent by azure-core meets the VM's new etag (412): the start reads the VM
    # again and finds the OS disk already set.
    status = yield from run.operation(start_set_os_disk, OsDiskChange(vm_id, disk_id), poll,
                                      interruptible=False, busy=VM_STALE)
    if status.state != "succeeded" and power == "stopped":
        run.note(deallocating=f"{status.error_code}: {status.error_message}"[:300])
        status = yield from run.operation(start_deallocate_vm, VmRef(vm_id), poll,
                                          interruptible=False, busy=VM_BUSY)
        _succeeded(status, start_deallocate_vm.name)
        stopped_with.append("deallocate")
        status = yield from run.operation(start_set_os_disk, OsDiskChange(vm_id, disk_id), poll,
                                          interruptible=False, busy=VM_STALE)
    _succeeded(status, start_set_os_disk.name)


def _roll_back(run: Run, swap: SwapPlan, was_running: bool,
               poll: float) -> Orchestration[str]:
    """After a failed swap: the original OS disk back on the VM and the VM running again if it
    was, then the VM as Azure reports it, in words: which OS disk it has, its power state, and
    what is left to do by hand. Which step failed does not say it (a swap may fail before or
    after its own OS-disk update), so the VM is read."""
    original = swap.original_os_disk_id
    set_failed: str | None = None
    start_failed: str | None = None
    try:
        vm = yield from run.call(get_vm, VmRef(swap.vm_id), interruptible=False)
        still = (vm.os_disk_id or "").lower() == original.lower()
        if not still:
            try:
                yield from _point_os_disk(run, swap.vm_id, original, _power(vm.power_state),
                                          poll, [])
            except Exception as failed:  # noqa: BLE001 - said below
                set_failed = str(getattr(failed, "message", failed))
        if set_failed is None and was_running:
            vm = yield from run.call(get_vm, VmRef(swap.vm_id), interruptible=False)
            if _power(vm.power_state) != "running":
                try:
                    status = yield from run.operation(start_start_vm, VmRef(swap.vm_id), poll,
                                                      interruptible=False, busy=VM_BUSY)
                    _succeeded(status, start_start_vm.name)
                except Exception as failed:  # noqa: BLE001 - said below
                    start_failed = str(getattr(failed, "message", failed))
        vm = yield from run.call(get_vm, VmRef(swap.vm_id), interruptible=False)
    except Exception as unread:  # noqa: BLE001 - then say what must be checked
        return (f"ROLLBACK FAILED: the VM could not be read "
                f"({getattr(unread, 'message', unread)}): make sure the OS disk of "
                f"{swap.vm_id} is {original}" + (" and that it is running" if was_running
                                                 else ""))
    state = vm.power_state or "in an unknown power state"
    back = (vm.os_disk_id or "").lower() == original.lower()
    if set_failed is not None or not back:
        todo = [f"set its OS disk back to {original}"]
        if was_running and _power(vm.power_state) != "running":
            todo.append("start it")
        return (f"ROLLBACK FAILED ({set_failed or 'the OS disk did not change back'}): the OS "
                f"disk of {swap.vm_id} is {vm.os_disk_id} and the VM is {state}: "
                f"{' and '.join(todo)} by hand")
    where = "still" if still else "back"
    if start_failed is not None:
        return (f"the original OS disk is {where} on the VM, but the VM did not start again "
                f"({start_failed}): it is {state}: start it by hand")
    return f"the original OS disk is {where} on the VM, which is {state}" + \
        ("" if was_running else ", as it was")


def _succeeded(status: OperationStatus, step: str) -> None:
    if status.state != "succeeded":
        raise errors.SwapFailed(f"{step}: {status.error_code}: {status.error_message}")


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
