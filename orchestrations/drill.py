"""A restore drill: select the plan's disks, grant the roles their restores share, restore and
verify each disk in the sandbox with at most `maxParallel` at a time, revoke, report.

`drill` input {"drillId", "plan": DrillPlan.to_dict(), "config"}; up to maxParallel `drill_lane`
sub-orchestrations drill their share of the disks, each disk a `drill_disk` sub-orchestration: the restore (restore_managed_disk, no attach), the expiry tags, verification
against the source (and the plan's webhook, if any), and the restored disk's deletion (kept for
investigation when it failed and the plan says so; the sweeper deletes it when it expires).
Replay rules as in restore_managed_disk.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from domain.access import audit
from domain.model import RoleAssignment

from .outcome import error_dict
from .steps import Orchestration, Run, grant_roles, revoke_assignments

SCHEMA = 1


def drill(context: df.DurableOrchestrationContext) -> Orchestration:
    doc: dict[str, Any] = context.get_input()
    run, plan, drill_id = Run(context), doc["plan"], doc["drillId"]
    run.audit = audit.context(drill_id, doc.get("requestedBy") or _drill_actor(plan),
                              f"restore drill of plan {plan['name']}")
    started = run.now
    results: list[dict[str, Any]] = []
    granted: list[RoleAssignment] = []
    observed, error = 0, None
    try:
        run.enter("select", plan=plan["name"])
        selection = yield from run.call("select_drill_disks", {
            "plan": plan, "drillId": drill_id, "now": started.isoformat()})
        results += [_skipped(s) for s in selection["skipped"]]
        run.enter("grant", disks=len(selection["disks"]))
        yield from grant_roles(run, selection["grants"], granted)
        run.enter("restore", disks=len(selection["disks"]))
        done, observed = yield from _fan_out(run, doc, selection["disks"], started)
        results += done
    except Exception as exc:  # noqa: BLE001 - revoke and report whatever happened
        error = error_dict(exc)
    run.enter("revoke")
    yield from revoke_assignments(run, granted, {})
    run.enter("report")
    report = yield from run.call("write_drill_report", {
        "drillId": drill_id, "plan": plan, "started": started.isoformat(),
        "finished": run.now.isoformat(), "results": results, "observedParallel": observed,
        "error": error})
    run.finish()
    return {"schema": SCHEMA, "id": drill_id, "plan": plan["name"],
            "summary": report["summary"], "reports": report["urls"],
            "notified": report["notified"], "error": error, "phases": run.durations()}


def _fan_out(run: Run, doc: dict[str, Any], disks: list[dict[str, Any]],
             started: Any) -> Orchestration:
    """At most maxParallel disks at a time, as that many lanes (sub-orchestrations) that each
    drill their share of the disks one after another, dealt round-robin.

    Not a sliding window over task_any: in the out-of-process protocol a WhenAny mixing tasks
    scheduled earlier with new ones is awaited by the host on the new ones only (the SDK omits
    scheduled tasks from the action), so a window refills only when its newest disk finishes
    (azure-functions-durable-python #457; devhost reproduces it). Lanes are all scheduled at
    once and awaited together, and with many disks each lane's total is close to the mean."""
    cap = max(1, min(doc["plan"]["maxParallel"], len(disks)))
    shares = [[(k, d) for k, d in enumerate(disks) if k % cap == lane] for lane in range(cap)]
    lanes = [run.context.call_sub_orchestrator("drill_lane", {
        "drillId": doc["drillId"], "plan": doc["plan"], "config": doc["config"],
        "started": started.isoformat(), "disks": share}, f"{doc['drillId']}-lane-{lane}")
        for lane, share in enumerate(shares) if share]
    if not lanes:
        return [], 0
    done = yield run.context.task_all(lanes)
    return [result for lane in done for result in lane], len(lanes)


LANE_GENERATION = 8  # disks per lane generation (about 6 history events each)


def drill_lane(context: df.DurableOrchestrationContext) -> Orchestration:
    """One lane: its disks one after another, each a drill_disk sub-orchestration. Never fails:
    a disk whose drill failed unexpectedly is a failed result, so the drill never revokes its
    roles under a lane that is still restoring."""
    doc: dict[str, Any] = context.get_input()
    plan, results = doc["plan"], list(doc.get("results") or [])
    started = datetime.fromisoformat(doc["started"])
    budget = timedelta(minutes=plan["timeBudgetMinutes"])
    now, later = doc["disks"][:LANE_GENERATION], doc["disks"][LANE_GENERATION:]
    for k, disk in now:
        if context.current_utc_datetime - started >= budget:
            results.append(_skipped({
                "diskId": disk["disk_id"], "backupInstanceId": disk["backup_instance_id"],
                "reason": f"the time budget of {plan['timeBudgetMinutes']} min was spent before "
                          "this disk's turn"}))
            continue
        try:
            results.append((yield context.call_sub_orchestrator("drill_disk", {
                "drillId": doc["drillId"], "disk": disk, "plan": plan, "config": doc["config"],
                "requestId": f"{doc['drillId']}-{k}"}, f"{doc['drillId']}-disk-{k}")))
        except Exception as exc:  # noqa: BLE001 - recorded; the lane goes on
            results.append(_failed(disk, exc))
    if later:  # a fresh history for the next disks: replay cost stays flat however long the lane
        context.continue_as_new(dict(doc, disks=later, results=results))
        return None
    return results


def _drill_actor(plan: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "drill", "id": None, "name": plan["name"]}


def drill_disk(context: df.DurableOrchestrationContext) -> Orchestration:
    doc: dict[str, Any] = context.get_input()
    run, disk, plan = Run(context), doc["disk"], doc["plan"]
    started = run.now
    point = disk["recovery_point"]
    restored_id = f"{plan['sandboxResourceGroupId']}/providers/Microsoft.Compute/disks/" \
                  f"{disk['restored_name']}"
    result: dict[str, Any] = {
        "diskId": disk["disk_id"], "backupInstanceId": disk["backup_instance_id"],
        "recoveryPointId": point["id"], "recoveryPointTime": point["time"],
        "restoredDiskId": None, "verdict": "failed", "reason": "", "phases": {},
        "recoverySeconds": None, "started": started.isoformat(), "finished": None,
        "checks": [], "kept": False}
    run.enter("restore")
    outcome = yield context.call_sub_orchestrator("restore_managed_disk", {
        "request": {"requestId": doc["requestId"],
                    "source": {"backupInstanceId": disk["backup_instance_id"]},
                    "recoveryPoint": {"id": point["id"]},
                    "target": {"resourceGroupId": plan["sandboxResourceGroupId"],
                               "diskName": disk["restored_name"]}},
        "config": doc["config"], "requestedBy": _drill_actor(plan),
        "why": f"restore drill of plan {plan['name']}"}, f"restore-{doc['requestId']}")
    result["phases"] = dict(outcome.get("phases") or {})
    if outcome.get("outcome") != "Succeeded":
        failure = outcome.get("error") or {}
        result["reason"] = f"{failure.get('code')}: {failure.get('message')}"
        # Without a job nothing was created; a job that failed may have left a partial disk,
        # which nobody needs: delete it (deleting a missing disk is done at once).
        yield from _clean_up(run, result, restored_id, doc,
                             keep=False, created=bool(outcome.get("jobId")))
        return result
    result["restoredDiskId"] = restored_id
    try:
        run.enter("verify")
        expiry = run.now + timedelta(hours=plan["expiryHours"])
        status = yield from run.operation("start_tag_disk", {"diskId": restored_id, "tags": {
            "diskrestore-drill": doc["drillId"], "diskrestore-expiry": expiry.isoformat()}},
            doc["config"]["operation_poll_s"], interruptible=False)
        if status.state != "succeeded":
            raise RuntimeError(f"tagging the restored disk failed: {status.error_code}")
        check = yield from run.call("verify_drill_disk", {
            "source": disk.get("source"), "restoredDiskId": restored_id})
        result["checks"], result["reason"] = check["checks"], check["reason"]
        if not check["reason"] and plan["verification"].get("webhook"):
            hook = yield from run.call("verify_with_webhook", {
                "url": plan["verification"]["webhook"],
                "timeoutSeconds": plan["verification"]["timeoutSeconds"],
                "drillId": doc["drillId"], "diskId": disk["disk_id"],
                "restoredDiskId": restored_id, "recoveryPointId": point["id"]})
            result["checks"].append({"name": "webhook", "expected": True,
                                     "actual": hook["pass"], "ok": hook["pass"]})
            result["reason"] = "" if hook["pass"] else f"webhook: {hook['reason']}"
    except Exception as exc:  # noqa: BLE001 - a verification that cannot run is a failed one
        result["reason"] = f"verification could not run: {error_dict(exc)['message']}"
    result["verdict"] = "failed" if result["reason"] else "passed"
    result["recoverySeconds"] = round((run.now - started).total_seconds(), 1)
    yield from _clean_up(run, result, restored_id, doc, created=True,
                         keep=result["verdict"] == "failed" and plan["keepFailed"])
    return result


def _clean_up(run: Run, result: dict[str, Any], restored_id: str, doc: dict[str, Any], *,
              created: bool, keep: bool) -> Orchestration:
    """Delete the disk the restore created, unless it is kept for investigation (tagged with
    its expiry: the sweeper deletes it then). Never a disk the drill did not make."""
    run.enter("cleanup")
    if not created:
        pass
    elif keep:
        result["kept"] = True
    else:
        status = yield from run.operation("start_delete_disk", {"diskId": restored_id},
                                          doc["config"]["operation_poll_s"], interruptible=False)
        if status.state != "succeeded":
            result["kept"] = True
            result["reason"] = (result["reason"] + "; " if result["reason"] else "") + \
                f"the restored disk could not be deleted ({status.error_code}): the sweeper " \
                "deletes it when it expires"
    run.finish()
    result["finished"] = run.now.isoformat()
    result["phases"].update({f"drill.{k}": v for k, v in run.durations().items()})


def _skipped(item: dict[str, Any]) -> dict[str, Any]:
    return {"diskId": item.get("diskId") or item.get("disk_id"),
            "backupInstanceId": item.get("backupInstanceId") or item.get("backup_instance_id"),
            "recoveryPointId": None, "recoveryPointTime": None, "restoredDiskId": None,
            "verdict": "skipped", "reason": item["reason"], "phases": {}, "recoverySeconds": None,
            "started": None, "finished": None, "checks": [], "kept": False}


def _failed(disk: dict[str, Any], exc: Exception) -> dict[str, Any]:
    result = _skipped({"diskId": disk["disk_id"], "backupInstanceId": disk["backup_instance_id"],
                       "reason": f"the disk's drill failed: {error_dict(exc)['message']}"})
    return dict(result, verdict="failed", recoveryPointId=disk["recovery_point"]["id"],
                recoveryPointTime=disk["recovery_point"]["time"])
