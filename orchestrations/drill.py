"""A restore drill: select the plan's disks, grant the roles their restores share, restore and
verify each disk in the sandbox with at most `maxParallel` at a time, revoke, report.

Up to maxParallel `drill_lane` sub-orchestrations drill their share of the disks, each disk a
`drill_disk` sub-orchestration: the restore (restore_managed_disk, no attach), the expiry tags,
verification against the source (and the plan's webhook, if any), and the restored disk's
deletion (kept for investigation when it failed and the plan says so; the sweeper deletes it when
it expires). Inputs and outputs: domain/drills/drill_run.py.
Replay rules as in restore_managed_disk.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import azure.durable_functions as df

from activities.compute_activities import start_delete_disk, start_tag_disk
from activities.drill_activities import (
    select_drill_disks,
    verify_drill_disk,
    verify_with_webhook,
    write_drill_report,
)
from domain import errors
from domain.access import audit
from domain.drills.drill_run import (
    FAILED,
    OUTCOME_SCHEMA,
    PASSED,
    SKIPPED,
    DiskSelectionRequest,
    DiskVerification,
    DrillDiskInput,
    DrillDiskResult,
    DrillInput,
    DrillOutcome,
    LaneInput,
    LaneResults,
    NumberedDisk,
    ReportRequest,
    WebhookCheck,
    drill_actor,
)
from domain.drills.selection import DrillDisk
from domain.model import DiskRef, DiskTags, RoleAssignment
from domain.restore.request import RecoveryPointChoice, RestoreRequest
from domain.restore.restore_run import RestoreInput

from .calls import Orchestration, orchestrator
from .restore_managed_disk import restore_managed_disk
from .steps import Run, grant_roles, revoke_assignments


@orchestrator()
def drill(context: df.DurableOrchestrationContext,
          doc: DrillInput) -> Orchestration[DrillOutcome]:
    run, plan, drill_id = Run(context), doc.plan, doc.drill_id
    run.audit = audit.context(drill_id, doc.requested_by or drill_actor(plan),
                              f"restore drill of plan {plan.name}")
    started = run.now
    results: list[DrillDiskResult] = []
    granted: list[RoleAssignment] = []
    observed, error = 0, None
    try:
        run.enter("select", plan=plan.name)
        selection = yield from run.call(select_drill_disks, DiskSelectionRequest(
            plan, drill_id, started.isoformat()))
        results += [_skipped(s.disk_id, s.backup_instance_id, s.reason)
                    for s in selection.skipped]
        run.enter("grant", disks=len(selection.disks))
        yield from grant_roles(run, selection.grants, granted)
        run.enter("restore", disks=len(selection.disks))
        done, observed = yield from _fan_out(run, doc, selection.disks, started)
        results += done
    except Exception as exc:  # noqa: BLE001 - revoke and report whatever happened
        error = errors.as_dict(exc)
    run.enter("revoke")
    yield from revoke_assignments(run, granted, {})
    run.enter("report")
    report = yield from run.call(write_drill_report, ReportRequest(
        drill_id, plan, started.isoformat(), run.now.isoformat(), results, observed, error))
    run.finish()
    return DrillOutcome(schema=OUTCOME_SCHEMA, id=drill_id, plan=plan.name,
                        summary=report.summary, reports=report.urls, notified=report.notified,
                        error=error, phases=run.durations())


def _fan_out(run: Run, doc: DrillInput, disks: list[DrillDisk],
             started: datetime) -> Orchestration[tuple[list[DrillDiskResult], int]]:
    """At most maxParallel disks at a time, as that many lanes (sub-orchestrations) that each
    drill their share of the disks one after another, dealt round-robin.

    Not a sliding window over task_any: in the out-of-process protocol a WhenAny mixing tasks
    scheduled earlier with new ones is awaited by the host on the new ones only (the SDK omits
    scheduled tasks from the action), so a window refills only when its newest disk finishes
    (azure-functions-durable-python #457; devhost reproduces it). Lanes are all scheduled at
    once and awaited together, and with many disks each lane's total is close to the mean."""
    cap = max(1, min(doc.plan.max_parallel, len(disks)))
    shares = [[NumberedDisk(k, d) for k, d in enumerate(disks) if k % cap == lane]
              for lane in range(cap)]
    lanes = [drill_lane.schedule(run.context, LaneInput(
        doc.drill_id, doc.plan, doc.settings, started.isoformat(), share),
        f"{doc.drill_id}-lane-{lane}") for lane, share in enumerate(shares) if share]
    if not lanes:
        return [], 0
    done = yield run.context.task_all(lanes)
    return [result for lane in done for result in drill_lane.result(lane).results], len(lanes)


LANE_GENERATION = 8  # disks per lane generation (about 6 history events each)


@orchestrator()
def drill_lane(context: df.DurableOrchestrationContext,
               doc: LaneInput) -> Orchestration[LaneResults | None]:
    """One lane: its disks one after another, each a drill_disk sub-orchestration. Never fails:
    a disk whose drill failed unexpectedly is a failed result, so the drill never revokes its
    roles under a lane that is still restoring."""
    plan, results = doc.plan, list(doc.results)
    started = datetime.fromisoformat(doc.started)
    budget = timedelta(minutes=plan.time_budget_minutes)
    now, later = doc.disks[:LANE_GENERATION], doc.disks[LANE_GENERATION:]
    for numbered in now:
        disk = numbered.disk
        if context.current_utc_datetime - started >= budget:
            results.append(_skipped(
                disk.disk_id, disk.backup_instance_id,
                f"the time budget of {plan.time_budget_minutes} min was spent before this "
                "disk's turn"))
            continue
        try:
            results.append((yield from drill_disk.call(context, DrillDiskInput(
                doc.drill_id, disk, plan, doc.settings, f"{doc.drill_id}-{numbered.index}"),
                f"{doc.drill_id}-disk-{numbered.index}")))
        except Exception as exc:  # noqa: BLE001 - recorded; the lane goes on
            results.append(_failed(disk, exc))
    if later:  # a fresh history for the next disks: replay cost stays flat however long the lane
        context.continue_as_new(replace(doc, disks=later, results=results).to_dict())
        return None
    return LaneResults(results)


@orchestrator()
def drill_disk(context: df.DurableOrchestrationContext,
               doc: DrillDiskInput) -> Orchestration[DrillDiskResult]:
    run, disk, plan = Run(context), doc.disk, doc.plan
    started = run.now
    point = disk.recovery_point
    restored_id = f"{plan.sandbox_resource_group_id}/providers/Microsoft.Compute/disks/" \
                  f"{disk.restored_name}"
    run.enter("restore")
    request = RestoreRequest(
        request_id=doc.request_id, source_disk_id=None,
        source_backup_instance_id=disk.backup_instance_id,
        recovery_point=RecoveryPointChoice("id", point.id),
        target_resource_group_id=plan.sandbox_resource_group_id,
        target_disk_name=disk.restored_name)
    restored = yield from restore_managed_disk.call(context, RestoreInput(
        request, doc.settings, drill_actor(plan), why=f"restore drill of plan {plan.name}"),
        f"restore-{doc.request_id}")
    result = DrillDiskResult(
        disk_id=disk.disk_id, backup_instance_id=disk.backup_instance_id,
        recovery_point_id=point.id, recovery_point_time=point.time,
        phases=dict(restored.phases), started=started.isoformat())
    if restored.outcome != "Succeeded":
        failure = errors.from_dict(restored.error or {})
        result = replace(result, reason=f"{failure.code}: {failure.message}")
        # Without a job nothing was created; a job that failed may have left a partial disk,
        # which nobody needs: delete it (deleting a missing disk is done at once).
        return (yield from _clean_up(run, result, restored_id, doc, keep=False,
                                     created=bool(restored.job_id)))
    result = replace(result, restored_disk_id=restored_id)
    try:
        run.enter("verify")
        yield from _tag(run, doc, restored_id)
        check = yield from run.call(verify_drill_disk, DiskVerification(disk.source, restored_id))
        result = replace(result, checks=list(check.checks), reason=check.reason)
        if not check.reason and plan.verification.webhook:
            result = yield from _ask_webhook(run, doc, result, plan.verification.webhook,
                                             restored_id)
    except Exception as exc:  # noqa: BLE001 - a verification that cannot run is a failed one
        result = replace(result, reason="verification could not run: "
                                        f"{errors.as_dict(exc)['message']}")
    result = replace(result, verdict=FAILED if result.reason else PASSED,
                     recovery_seconds=round((run.now - started).total_seconds(), 1))
    return (yield from _clean_up(run, result, restored_id, doc, created=True,
                                 keep=result.verdict == FAILED and plan.keep_failed))


def _tag(run: Run, doc: DrillDiskInput, restored_id: str) -> Orchestration[None]:
    """Tag the restored disk with the drill and its expiry: the sweeper's mark."""
    expiry = run.now + timedelta(hours=doc.plan.expiry_hours)
    status = yield from run.operation(start_tag_disk, DiskTags(restored_id, {
        "diskrestore-drill": doc.drill_id, "diskrestore-expiry": expiry.isoformat()}),
        doc.settings.operation_poll_s, interruptible=False)
    if status.state != "succeeded":
        raise RuntimeError(f"tagging the restored disk failed: {status.error_code}")


def _ask_webhook(run: Run, doc: DrillDiskInput, result: DrillDiskResult, url: str,
                 restored_id: str) -> Orchestration[DrillDiskResult]:
    """The plan's own check, after the checks against the source passed."""
    disk = doc.disk
    hook = yield from run.call(verify_with_webhook, WebhookCheck(
        url, doc.plan.verification.timeout_seconds, doc.drill_id, disk.disk_id,
        restored_id, disk.recovery_point.id))
    return replace(result, checks=[*result.checks, {
        "name": "webhook", "expected": True, "actual": hook.passed, "ok": hook.passed}],
        reason="" if hook.passed else f"webhook: {hook.reason}")


def _clean_up(run: Run, result: DrillDiskResult, restored_id: str, doc: DrillDiskInput, *,
              created: bool, keep: bool) -> Orchestration[DrillDiskResult]:
    """Delete the disk the restore created, unless it is kept for investigation (tagged with
    its expiry: the sweeper deletes it then). Never a disk the drill did not make."""
    run.enter("cleanup")
    if created and keep:
        result = replace(result, kept=True)
    elif created:
        status = yield from run.operation(start_delete_disk, DiskRef(restored_id),
                                          doc.settings.operation_poll_s, interruptible=False)
        if status.state != "succeeded":
            result = replace(result, kept=True, reason=(
                result.reason + "; " if result.reason else "") +
                f"the restored disk could not be deleted ({status.error_code}): the sweeper "
                "deletes it when it expires")
    run.finish()
    phases = {**result.phases, **{f"drill.{k}": v for k, v in run.durations().items()}}
    return replace(result, finished=run.now.isoformat(), phases=phases)


def _skipped(disk_id: str, backup_instance_id: str | None, reason: str) -> DrillDiskResult:
    return DrillDiskResult(disk_id=disk_id, backup_instance_id=backup_instance_id,
                           verdict=SKIPPED, reason=reason)


def _failed(disk: DrillDisk, exc: Exception) -> DrillDiskResult:
    return DrillDiskResult(
        disk_id=disk.disk_id, backup_instance_id=disk.backup_instance_id,
        recovery_point_id=disk.recovery_point.id, recovery_point_time=disk.recovery_point.time,
        verdict=FAILED, reason=f"the disk's drill failed: {errors.as_dict(exc)['message']}")
