"""The chaos suite's invariants, as pure functions over what azsim and the app report.

Inputs are plain JSON: a run record (what the driver sent and saw, see `chaos.driver.Run`),
azsim's audit log (`sim.audit()`) and state (`sim.snapshot()`). Each checker returns violations,
`{"run", "requestId", "invariant", "evidence"}`, and nothing else; it never decides what the app
meant, only what azsim's state and the status API show.

1. `terminal`: every accepted request reaches a terminal state (done) before its deadline.
2. `assignments-revoked`: no role assignment created by the app's principal is left undeleted.
3. `one-restore-job`: at most one restore job per request (jobs restoring to its target disk).
4. `attached-once`: no disk on two VMs or twice on one VM, a disk's `managedBy` is the VM that
   uses it, a succeeded attach left the restored disk on the VM exactly once, and no attach was
   committed after one had already succeeded.
5. `swap-complete-or-rolled-back`: after an OS swap the VM's OS disk is the restored disk or
   the original one, the outcome agrees (Succeeded means swapped), and a VM that was running
   runs again.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from typing import Any

TERMINAL = "1-terminal"
ASSIGNMENTS = "2-assignments-revoked"
ONE_JOB = "3-one-restore-job"
ATTACHED_ONCE = "4-attached-once"
SWAP = "5-swap-complete-or-rolled-back"

JOB_TYPE = "microsoft.dataprotection/backupvaults/backupjobs"
VM_TYPE = "microsoft.compute/virtualmachines"
DISK_TYPE = "microsoft.compute/disks"
ATTACH_ACTION = "microsoft.compute/virtualmachines/attachdetachdatadisks/action"
ASSIGN_ACTION = "microsoft.authorization/roleassignments/write"


def violation(run: dict[str, Any] | None, invariant: str, **evidence: Any) -> dict[str, Any]:
    return {"run": run["run"] if run else None, "env": run.get("env") if run else None,
            "requestId": run["requestId"] if run else None, "kind": run["kind"] if run else None,
            "invariant": invariant, "evidence": evidence}


# ---- per run ------------------------------------------------------------------------------------
def check_terminal(run: dict[str, Any]) -> list[dict[str, Any]]:
    if not run.get("accepted") or run.get("done"):
        return []
    view = run.get("view") or {}
    return [violation(run, TERMINAL, deadlineSeconds=run.get("deadline"),
                      runtimeStatus=view.get("runtimeStatus"), phase=view.get("phase"),
                      progress=view.get("progress"), lastUpdatedTime=view.get("lastUpdatedTime"))]


def vm_summary(vm: dict[str, Any] | None) -> dict[str, Any] | None:
    """OS disk, data disks and power state of a VM as azsim renders it (instance view)."""
    if vm is None:
        return None
    storage = (vm.get("properties") or {}).get("storageProfile") or {}
    statuses = ((vm.get("properties") or {}).get("instanceView") or {}).get("statuses") or []
    power = next((s["code"].split("/", 1)[1] for s in statuses
                  if str(s.get("code", "")).startswith("PowerState/")), None)
    return {"id": vm.get("id"),
            "osDiskId": ((storage.get("osDisk") or {}).get("managedDisk") or {}).get("id"),
            "dataDiskIds": [(d.get("managedDisk") or {}).get("id")
                            for d in storage.get("dataDisks") or []],
            "power": power}


def check_swap(run: dict[str, Any]) -> list[dict[str, Any]]:
    if run.get("kind") != "swap" or not run.get("accepted") or not run.get("done"):
        return []
    before, after = run.get("vmBefore") or {}, run.get("vmAfter") or {}
    restored, original = _low(run["targetDiskId"]), _low(before.get("osDiskId"))
    now = _low(after.get("osDiskId"))
    outcome = (run.get("view") or {}).get("outcome")
    found = []
    evidence = {"vmId": run.get("vmId"), "osDiskBefore": before.get("osDiskId"),
                "osDiskAfter": after.get("osDiskId"), "restoredDiskId": run["targetDiskId"],
                "outcome": outcome, "powerBefore": before.get("power"),
                "powerAfter": after.get("power"),
                "error": (run.get("view") or {}).get("error")}
    if now not in (restored, original):
        found.append(violation(run, SWAP, problem="the VM's OS disk is neither the restored disk "
                               "nor the original one", **evidence))
    elif outcome == "Succeeded" and now != restored:
        found.append(violation(run, SWAP, problem="outcome Succeeded but the OS disk was not "
                               "swapped", **evidence))
    if before.get("power") == "running" and after.get("power") != "running":
        found.append(violation(run, SWAP, problem=f"the VM was running and is left "
                               f"{after.get('power')}", **evidence))
    return found


# ---- over azsim's state and audit ---------------------------------------------------------------
def check_jobs(runs: list[dict[str, Any]], snapshot: dict[str, Any],
               audit: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    jobs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in snapshot.get("resources", []):
        props = r.get("properties") or {}
        if _low(r.get("type")) == JOB_TYPE and props.get("operation") == "Restore":
            target = _low((props.get("extendedInfo") or {}).get("recoveryDestination"))
            jobs[target].append(r)
    triggers = [e for e in audit or []
                if _low(e.get("operation")).endswith("/backupinstances/restore/action")]
    found = []
    for run in runs:
        if not run.get("accepted"):
            continue
        mine = jobs.get(_low(run["targetDiskId"]), [])
        # Azure refuses a restore's target name only once the disk exists (azsim's default
        # sameNameRule): a trigger re-sent while the first job runs may start a second job,
        # which fails "same name" and restores nothing. So: one job makes the disk, and every
        # other job for it ended Failed.
        made = [j for j in mine if _job_status(j) != "failed"]
        if len(made) > 1:
            found.append(violation(
                run, ONE_JOB, targetDiskId=run["targetDiskId"],
                jobs=[{"id": j.get("id"), "status": (j.get("properties") or {}).get("status"),
                       "startTime": (j.get("properties") or {}).get("startTime")} for j in mine],
                restoreTriggersInEnv=len(triggers)))
    return found


def _job_status(job: dict[str, Any]) -> str:
    return _low((job.get("properties") or {}).get("status"))


def check_attachments(runs: list[dict[str, Any]], snapshot: dict[str, Any],
                      audit: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_target = {_low(r["targetDiskId"]): r for r in runs}
    uses: dict[str, list[dict[str, Any]]] = defaultdict(list)
    resources = snapshot.get("resources", [])
    for vm in (r for r in resources if _low(r.get("type")) == VM_TYPE):
        summary = vm_summary(vm)
        assert summary is not None
        uses[_low(summary["osDiskId"])].append({"vm": vm["id"], "as": "os"})
        for disk_id in summary["dataDiskIds"]:
            uses[_low(disk_id)].append({"vm": vm["id"], "as": "data"})
    found = []
    for disk_id, where in uses.items():
        if len(where) > 1:
            found.append(violation(by_target.get(disk_id), ATTACHED_ONCE, diskId=disk_id,
                                   problem="one disk used more than once", uses=where))
    for disk in (r for r in resources if _low(r.get("type")) == DISK_TYPE):
        owner, where = _low(disk.get("managedBy")), uses.get(_low(disk.get("id")), [])
        if (owner and not any(_low(w["vm"]) == owner for w in where)) or \
                (where and not owner):
            found.append(violation(by_target.get(_low(disk.get("id"))), ATTACHED_ONCE,
                                   diskId=disk.get("id"), managedBy=disk.get("managedBy"),
                                   problem="managedBy disagrees with the VMs", uses=where))
    attaches = sorted((e for e in audit if _low(e.get("operation")) == ATTACH_ACTION
                       and _committed(e)), key=lambda e: _epoch(e["time"]))
    for run in runs:
        if run.get("kind") != "attach" or not run.get("accepted"):
            continue
        start, end = run.get("acceptedAt"), run.get("doneAt") or float("inf")
        mine = [e for e in attaches if _low(e.get("scope")) == _low(run.get("vmId"))
                and start is not None and start <= _epoch(e["time"]) <= end]
        # A slot's VM serves one run at a time, so every attach in the window is this run's.
        # After a lost answer azure-core sends the attach again, and Compute (azsim) takes an
        # attached disk again as a no-op: the audit cannot tell that re-send from a second
        # attach. But an attach sent after one was answered 2xx is the app attaching again.
        again = [e for i, e in enumerate(mine) if i and any(
            200 <= (p.get("status") or 0) < 300 for p in mine[:i])]
        if again:
            found.append(violation(run, ATTACHED_ONCE, vmId=run.get("vmId"),
                                   problem="an attach was committed after one had succeeded",
                                   attaches=[{k: e.get(k) for k in ("time", "status", "fault",
                                                                    "requestId")} for e in mine]))
        after = (run.get("vmAfter") or {}).get("dataDiskIds") or []
        times = [_low(d) for d in after].count(_low(run["targetDiskId"]))
        outcome = (run.get("view") or {}).get("outcome")
        if times > 1 or (outcome == "Succeeded" and run.get("done") and times != 1):
            found.append(violation(run, ATTACHED_ONCE, vmId=run.get("vmId"),
                                   problem=f"the restored disk is on the VM {times} times "
                                           f"after outcome {outcome}", dataDiskIds=after))
    return found


def check_assignments(runs: list[dict[str, Any]], snapshot: dict[str, Any],
                      audit: list[dict[str, Any]], app_principal_id: str
                      ) -> list[dict[str, Any]]:
    """Every assignment the app's principal created (azsim records its creator) must be deleted
    by the end. The evidence names the run whose deterministic assignment name it carries, and
    how many of the app's PUTs at that scope took effect (the audit log)."""
    app = _low(app_principal_id)
    names = {_low(n): r for r in runs for n in r.get("assignmentNames", [])}
    puts: dict[str, int] = defaultdict(int)
    for e in audit:
        if _low(e.get("operation")) == ASSIGN_ACTION and _low(e.get("caller")) == app \
                and _committed(e):
            puts[_low(e.get("scope"))] += 1
    found = []
    for ra in snapshot.get("roleAssignments", []):
        props = ra.get("properties") or {}
        if _low(props.get("createdBy")) == app and not ra.get("deleted"):
            found.append(violation(names.get(_low(ra.get("name"))), ASSIGNMENTS,
                                   assignmentId=ra.get("id"), scope=props.get("scope"),
                                   roleDefinitionId=props.get("roleDefinitionId"),
                                   principalId=props.get("principalId"),
                                   createdOn=props.get("createdOn"),
                                   committedPutsAtScope=puts.get(_low(props.get("scope")), 0)))
    return found


def check_all(runs: list[dict[str, Any]], snapshot: dict[str, Any], audit: list[dict[str, Any]],
              app_principal_id: str) -> list[dict[str, Any]]:
    found = []
    for run in runs:
        found += check_terminal(run) + check_swap(run)
    found += check_assignments(runs, snapshot, audit, app_principal_id)
    found += check_jobs(runs, snapshot, audit)
    found += check_attachments(runs, snapshot, audit)
    return found


def _committed(entry: dict[str, Any]) -> bool:
    """A write that took effect: answered 2xx, or done and its answer lost (lostAnswer)."""
    status = entry.get("status") or 0
    return 200 <= status < 300 or (entry.get("fault") == "lostAnswer" and status >= 500)


def _low(value: Any) -> str:
    return str(value or "").lower().rstrip("/")


def _epoch(text: str) -> float:
    """azsim's ARM timestamps carry 7 fractional digits; Python reads at most 6."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    return datetime.fromisoformat(text).timestamp()
