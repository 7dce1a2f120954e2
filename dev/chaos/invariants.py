"""The chaos suite's invariants, as pure functions over what azsim and the app report.

Inputs are plain JSON: a run record (what the driver sent and saw, see `chaos.driver.Run`),
azsim's audit log (`sim.audit()`) and state (`sim.snapshot()`). Each checker returns violations,
`{"run", "requestId", "invariant", "evidence"}`, and nothing else; it never decides what the app
meant, only what azsim's state and the status API show.

1. `terminal`: every accepted request reaches a terminal state (done) before its deadline.
2. `assignments-revoked`: no role assignment created by the app's principal is left undeleted
   (attributed through its lease: generation, ledger row, the runs reporting it); and
   `assignment-kept-while-held`: the shared assignment a run's restore needs is not revoked
   from its trigger until its restore job ended (the last holder revokes, never another).
3. `one-restore-job`: one restore job per request makes its disk (any other ended Failed), and a
   Succeeded run's disk was made by exactly one completed job.
4. `attached-once`: no disk on two VMs or twice on one VM, a disk's `managedBy` is the VM that
   uses it, a zonal VM holds only disks of its zone (or ZRS), a succeeded attach left the
   restored disk (or its zonal copy) on the VM exactly once, and no attach was committed after
   one had already succeeded.
5. `swap-complete-or-rolled-back`: after an OS swap the VM's OS disk is the restored disk (or
   its zonal copy) or the original one, the outcome agrees (Succeeded means swapped to the disk
   it reports), and a VM that was running runs again.
6. `nothing-leaked`: no restored disk its run's outcome does not report, no zonal copy's
   snapshot, no restored disk beside its zonal copy, no snapshot in the target group, and no
   lease still held or owing a revoke in the ledger.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from domain.access.grant_lease import LeaseKey, instance_of
from domain.restore.planning import zonal_copy_id, zonal_snapshot_id

TERMINAL = "1-terminal"
ASSIGNMENTS = "2-assignments-revoked"
ONE_JOB = "3-one-restore-job"
ATTACHED_ONCE = "4-attached-once"
SWAP = "5-swap-complete-or-rolled-back"
GRANT_KEPT = "2-assignment-kept-while-held"
LEAKED = "6-nothing-leaked"

JOB_TYPE = "microsoft.dataprotection/backupvaults/backupjobs"
VM_TYPE = "microsoft.compute/virtualmachines"
DISK_TYPE = "microsoft.compute/disks"
SNAPSHOT_TYPE = "microsoft.compute/snapshots"
ATTACH_ACTION = "microsoft.compute/virtualmachines/attachdetachdatadisks/action"
ASSIGN_ACTION = "microsoft.authorization/roleassignments/write"
DELETE_ACTION = "microsoft.authorization/roleassignments/delete"


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
    original, now = _low(before.get("osDiskId")), _low(after.get("osDiskId"))
    # The VM gets the restored disk, or its copy in the VM's zone (the outcome's restoredDiskId).
    swapped_to = _low(_result(run).get("restoredDiskId")) or _low(run["targetDiskId"])
    outcome = (run.get("view") or {}).get("outcome")
    found = []
    evidence = {"vmId": run.get("vmId"), "vmZone": run.get("vmZone"),
                "osDiskBefore": before.get("osDiskId"), "osDiskAfter": after.get("osDiskId"),
                "restoredDiskId": run["targetDiskId"],
                "reportedDiskId": _result(run).get("restoredDiskId"),
                "outcome": outcome, "powerBefore": before.get("power"),
                "powerAfter": after.get("power"),
                "error": (run.get("view") or {}).get("error")}
    if now not in restored_disk_ids(run) | {original}:
        found.append(violation(run, SWAP, problem="the VM's OS disk is neither the restored disk "
                               "(or its zonal copy) nor the original one", **evidence))
    elif outcome == "Succeeded" and now != swapped_to:
        found.append(violation(run, SWAP, problem="outcome Succeeded but the OS disk was not "
                               "swapped to the disk the outcome reports", **evidence))
    if before.get("power") == "running" and after.get("power") != "running":
        found.append(violation(run, SWAP, problem=f"the VM was running and is left "
                               f"{after.get('power')}", **evidence))
    return found


def restored_disk_ids(run: dict[str, Any]) -> set[str]:
    """The disks a run may give its VM (lower case): the restored disk, its copy in the VM's
    zone (domain/restore/planning.py zonal_copy_id), and whatever the outcome reports."""
    ids = {_low(run["targetDiskId"])}
    if run.get("vmZone"):
        ids.add(_low(zonal_copy_id(run["targetDiskId"], run["vmZone"])))
    if reported := _result(run).get("restoredDiskId"):
        ids.add(_low(reported))
    return ids


def _result(run: dict[str, Any]) -> dict[str, Any]:
    return ((run.get("view") or {}).get("result")) or {}


# ---- over azsim's state and audit ---------------------------------------------------------------
def _restore_jobs(snapshot: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Restore jobs by target disk (lower case)."""
    jobs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in snapshot.get("resources", []):
        props = r.get("properties") or {}
        if _low(r.get("type")) == JOB_TYPE and props.get("operation") == "Restore":
            target = _low((props.get("extendedInfo") or {}).get("recoveryDestination"))
            jobs[target].append(r)
    return jobs


def restore_jobs_per_instance(snapshot: dict[str, Any]) -> dict[str, int]:
    """How many restore jobs each backup instance ran (Azure allows 10 a day; chaos raises
    azsim's `dailyRestoreLimit`, scenario.py): the most any had, and how many had more than 10."""
    counts: dict[str, int] = defaultdict(int)
    for jobs in _restore_jobs(snapshot).values():
        for job in jobs:
            counts[_low((job.get("properties") or {}).get("backupInstanceId"))] += 1
    return {"max": max(counts.values(), default=0),
            "over10": sum(1 for n in counts.values() if n > 10)}


def check_jobs(runs: list[dict[str, Any]], snapshot: dict[str, Any],
               audit: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    jobs = _restore_jobs(snapshot)
    triggers = [e for e in audit or []
                if _low(e.get("operation")).endswith("/backupinstances/restore/action")]
    found = []
    for run in runs:
        if not run.get("accepted"):
            continue
        mine = jobs.get(_low(run["targetDiskId"]), [])
        # Azure refuses a restore's target name only once the disk exists (azsim's default
        # sameNameRule): a trigger re-sent while the first job runs may start a second job,
        # which fails "same name" and restores nothing. And a job that failed transiently
        # restored nothing either: the run triggers again. So: one job makes the disk, every
        # other job for it ended Failed, and a Succeeded run's disk was made by exactly one.
        made = [j for j in mine if _job_status(j) != "failed"]
        completed = [j for j in mine if _job_status(j) == "completed"]
        succeeded = (run.get("view") or {}).get("outcome") == "Succeeded"
        if len(made) > 1 or (succeeded and len(completed) != 1):
            found.append(violation(
                run, ONE_JOB, targetDiskId=run["targetDiskId"],
                problem=f"{len(made)} job(s) made or may make the disk" if len(made) > 1 else
                f"outcome Succeeded with {len(completed)} completed job(s)",
                jobs=[{"id": j.get("id"), "status": (j.get("properties") or {}).get("status"),
                       "startTime": (j.get("properties") or {}).get("startTime")} for j in mine],
                restoreTriggersInEnv=len(triggers)))
    return found


def _job_status(job: dict[str, Any]) -> str:
    return _low((job.get("properties") or {}).get("status"))


def check_attachments(runs: list[dict[str, Any]], snapshot: dict[str, Any],
                      audit: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_target = {disk_id: r for r in runs for disk_id in restored_disk_ids(r)}
    uses: dict[str, list[dict[str, Any]]] = defaultdict(list)
    resources = snapshot.get("resources", [])
    disks = {_low(r.get("id")): r for r in resources if _low(r.get("type")) == DISK_TYPE}
    found = []
    for vm in (r for r in resources if _low(r.get("type")) == VM_TYPE):
        summary = vm_summary(vm)
        assert summary is not None
        uses[_low(summary["osDiskId"])].append({"vm": vm["id"], "as": "os"})
        for disk_id in summary["dataDiskIds"]:
            uses[_low(disk_id)].append({"vm": vm["id"], "as": "data"})
        # A zonal VM holds only disks of its zone, or ZRS ones (azsim refuses the others at the
        # attach and the swap, as Compute does; this catches a way round that).
        zones = vm.get("zones") or []
        for disk_id in [summary["osDiskId"], *summary["dataDiskIds"]]:
            disk = disks.get(_low(disk_id))
            if not zones or disk is None or _zrs(disk) or (disk.get("zones") or []) == zones:
                continue
            found.append(violation(by_target.get(_low(disk_id)), ATTACHED_ONCE, vmId=vm["id"],
                                   diskId=disk_id, problem="a disk outside the zonal VM's zone",
                                   vmZones=zones, diskZones=disk.get("zones")))
    for disk_id, where in uses.items():
        if len(where) > 1:
            found.append(violation(by_target.get(disk_id), ATTACHED_ONCE, diskId=disk_id,
                                   problem="one disk used more than once", uses=where))
    for disk in disks.values():
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
        after = [_low(d) for d in (run.get("vmAfter") or {}).get("dataDiskIds") or []]
        times = sum(after.count(d) for d in restored_disk_ids(run))
        reported = _low(_result(run).get("restoredDiskId")) or _low(run["targetDiskId"])
        outcome = (run.get("view") or {}).get("outcome")
        if times > 1 or (outcome == "Succeeded" and run.get("done") and
                         (times != 1 or after.count(reported) != 1)):
            found.append(violation(run, ATTACHED_ONCE, vmId=run.get("vmId"),
                                   problem=f"the restored disk (or its zonal copy) is on the VM "
                                           f"{times} times after outcome {outcome}",
                                   reportedDiskId=_result(run).get("restoredDiskId"),
                                   dataDiskIds=after))
    return found


def _zrs(disk: dict[str, Any]) -> bool:
    return str((disk.get("sku") or {}).get("name", "")).upper().endswith("_ZRS")


# ---- role assignments: leased, shared, revoked by the last holder -------------------------------
GENERATIONS_SEARCHED = 2000  # far more than one environment's runs can start


def _assignments(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    return snapshot.get("roleAssignments", [])


def _lease_of(leases: list[dict[str, Any]] | None, scope: str, role: str,
              principal: str) -> dict[str, Any] | None:
    key = LeaseKey(scope, role, principal)
    return next((row for row in leases or []
                 if LeaseKey.from_dict(row.get("key") or {}) == key), None)


def assignments_made(snapshot: dict[str, Any], app_principal_id: str) -> int:
    """How many role assignments the app's principal created: one per generation of each shared
    assignment (a measure of how often the leases turned over)."""
    app = _low(app_principal_id)
    return sum(1 for a in _assignments(snapshot)
               if _low((a.get("properties") or {}).get("createdBy")) == app)


def check_assignments(runs: list[dict[str, Any]], snapshot: dict[str, Any],
                      audit: list[dict[str, Any]], app_principal_id: str,
                      leases: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Every assignment the app's principal created (azsim records its creator) must be deleted
    by the end. Runs share one assignment per scope, role and principal, named for its lease's
    generation (domain/access/grant_lease.py), so a leftover is attributed through that: the
    generation its name is, the lease row in the ledger (its holders and retired generations),
    the runs whose outcome reports it (and what they say of its revocation), and how many of the
    app's PUTs at that scope took effect (the audit log). The run named is the last of those that
    reported it, else a holder, else the run in flight when it was created."""
    app = _low(app_principal_id)
    puts: dict[str, int] = defaultdict(int)
    for e in audit:
        if _low(e.get("operation")) == ASSIGN_ACTION and _low(e.get("caller")) == app \
                and _committed(e):
            puts[_low(e.get("scope"))] += 1
    found = []
    for ra in _assignments(snapshot):
        props = ra.get("properties") or {}
        if _low(props.get("createdBy")) != app or ra.get("deleted"):
            continue
        scope, role = props.get("scope") or "", _guid(props.get("roleDefinitionId"))
        principal = props.get("principalId") or ""
        lease = _lease_of(leases, scope, role, principal)
        below = max(GENERATIONS_SEARCHED, int((lease or {}).get("generation", 0)) + 1)
        generation = LeaseKey(scope, role, principal).generation_of(ra.get("id", ""), below)
        reporters = [(r, a) for r in runs for a in _result(r).get("roleAssignments") or []
                     if _low(a.get("id")) == _low(ra.get("id"))]
        holders = {instance_of(h) for h in ((lease or {}).get("holders") or {})}
        created = _epoch(props["createdOn"]) if props.get("createdOn") else None
        in_flight = [r for r in runs if r.get("accepted") and created is not None
                     and (r.get("acceptedAt") or 0) <= created <= (r.get("doneAt") or 1e18)
                     and any(_low(g["scope"]) == _low(scope) for g in r.get("grants", []))]
        named = (sorted((r for r, _ in reporters), key=lambda r: r.get("doneAt") or 0)[-1:]
                 or [r for r in runs if r.get("id") in holders][:1] or in_flight[:1])
        found.append(violation(
            named[0] if named else None, ASSIGNMENTS, assignmentId=ra.get("id"), scope=scope,
            roleDefinitionId=props.get("roleDefinitionId"), principalId=principal,
            createdOn=props.get("createdOn"),
            generation=generation if generation is not None else "not a lease generation name",
            lease={k: lease.get(k) for k in ("generation", "holders", "retired", "made")}
            if lease else None,
            reportedBy=[{"run": r["run"], "id": r.get("id"),
                         "outcome": (r.get("view") or {}).get("outcome"),
                         "revoked": a.get("revoked")} for r, a in reporters],
            inFlightWhenCreated=[r["run"] for r in in_flight],
            committedPutsAtScope=puts.get(_low(scope), 0)))
    return found


def check_grants_kept(runs: list[dict[str, Any]], snapshot: dict[str, Any],
                      audit: list[dict[str, Any]], vault_principal_id: str
                      ) -> list[dict[str, Any]]:
    """Never revoked while a holder is live: from the moment a run's restore is triggered (its
    first restore job starts; Backup checks the vault's roles then) until its last restore job
    ended, or the run let go of its leases (its revoke step began) if that came first, the
    vault's identity holds each role the run needs (Disk Restore Operator on the
    shared target group; Reader on the shared DES for a CMK data disk) through ONE assignment
    that exists all along. Azure keeps one assignment per scope, role and principal, so another
    holder's revocation shows as that assignment deleted inside the window. (azsim checks the
    roles only when an operation starts, and a deleted assignment lingers for the propagation
    delay, so a premature revoke may fail no run here; on Azure the job loses the permission.)"""
    jobs = _restore_jobs(snapshot)
    end_of_time = _epoch(snapshot["time"]) if snapshot.get("time") else float("inf")
    vault = _low(vault_principal_id)
    deletes = [e for e in audit if _low(e.get("operation")) == DELETE_ACTION]
    found = []
    for run in runs:
        mine = jobs.get(_low(run.get("targetDiskId")), []) if run.get("accepted") else []
        starts = [_epoch(p["startTime"]) for j in mine
                  if (p := j.get("properties") or {}).get("startTime")]
        if not starts:
            continue
        ends = [_epoch(p["endTime"]) if p.get("endTime") else end_of_time
                for j in mine if (p := j.get("properties") or {})]
        start, end = min(starts), max(ends)
        # The run holds its leases until it lets go of them itself (its revoke step): a run
        # cancelled while its job runs lets go then, and its own revoke is no other holder's.
        # (That the job goes on without the run is check_leaks' business: its disk.)
        released = ((run.get("view") or {}).get("phases") or {}).get("revoke") or {}
        if released.get("start"):
            end = min(end, _epoch(released["start"]))
        for grant in run.get("grants", []):
            scope, role = _low(grant["scope"]), _low(grant["role"])
            same = [a for a in _assignments(snapshot)
                    if _low((a.get("properties") or {}).get("scope")) == scope
                    and _guid((a.get("properties") or {}).get("roleDefinitionId")) == role
                    and _low((a.get("properties") or {}).get("principalId")) == vault]
            alive = [a for a in same if _alive(a, start)]
            held = next((a for a in alive if _alive(a, end)), None)
            if held is not None:
                continue
            lost = alive[0] if alive else None
            deleted_on = (lost or {}).get("deletedOn")
            found.append(violation(
                run, GRANT_KEPT, scope=grant["scope"], role=grant["role"],
                problem="no assignment of the role when the restore was triggered" if not alive
                else "the assignment was revoked while the run's restore job ran",
                window={"from": _iso(start), "to": _iso(end)},
                assignmentId=(lost or {}).get("id"), deletedOn=deleted_on,
                deletedBy=_deleted_by(deletes, scope, deleted_on),
                assignmentsAtScope=[{"id": a.get("id"),
                                     "createdOn": (a.get("properties") or {}).get("createdOn"),
                                     "deletedOn": a.get("deletedOn")} for a in same]))
    return found


def _deleted_by(deletes: list[dict[str, Any]], scope: str, deleted_on: str | None
                ) -> list[dict[str, Any]]:
    """The DELETE the audit logged right after the assignment went (azsim audits a request once
    answered): who, when, with what answer."""
    if not deleted_on:
        return []
    at = _epoch(deleted_on)
    near = [e for e in deletes if _low(e.get("scope")) == scope and _committed(e)
            and 0 <= _epoch(e["time"]) - at < 5]
    return [{k: e.get(k) for k in ("time", "caller", "status", "requestId")} for e in near[:1]]


def _alive(assignment: dict[str, Any], at: float) -> bool:
    created = (assignment.get("properties") or {}).get("createdOn")
    deleted = assignment.get("deletedOn")
    return (created is None or _epoch(created) <= at) and \
        (not assignment.get("deleted") or (deleted is not None and _epoch(deleted) > at))


# ---- what the runs made on the way --------------------------------------------------------------
def check_leaks(runs: list[dict[str, Any]], snapshot: dict[str, Any],
                leases: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Nothing an ended run made on the way is left: a restored disk its outcome does not
    report, the snapshot of a zonal copy, the restored disk a zonal copy replaced (deleted once
    the copy exists), any snapshot in the target group; and no lease in the ledger is still held
    or owes a revoke once every run has ended. A leftover the run's outcome reports ("not
    deleted, delete by hand") is still one."""
    resources = {_low(r.get("id")): r for r in snapshot.get("resources", [])}
    found = []
    targets = {_low(r["targetDiskId"]).rsplit("/providers/", 1)[0] for r in runs}
    claimed: set[str] = set()
    for run in runs:
        if not run.get("accepted") or not run.get("done"):
            continue
        # A disk the run's restore made must be one its outcome names (the restored disk, its
        # zonal copy, the intermediate): a job the run stopped following (a cancel during the
        # job wait) may still make its disk, which nobody is then told about.
        result = _result(run)
        told = {_low(result.get("restoredDiskId")), _low(result.get("intermediateDiskId"))}
        for disk_id in sorted(restored_disk_ids(run)):
            if disk_id in resources and disk_id not in told:
                found.append(violation(run, LEAKED, resourceId=resources[disk_id].get("id"),
                                       outcome=(run.get("view") or {}).get("outcome"),
                                       phases=list((run.get("view") or {}).get("phases")
                                                    or {}),
                                       problem="a restored disk the run's outcome does not "
                                               "report"))
        if not run.get("vmZone"):
            continue
        target, zone = run["targetDiskId"], run["vmZone"]
        snap, copy = zonal_snapshot_id(target, zone), zonal_copy_id(target, zone)
        claimed.add(_low(snap))
        cleaned = (_result(run).get("zoneCopy") or {}).get("cleaned")
        if _low(snap) in resources:
            found.append(violation(run, LEAKED, resourceId=snap, reported=cleaned,
                                   problem="the zonal copy's snapshot is left"))
        if _low(copy) in resources and _low(target) in resources:
            found.append(violation(run, LEAKED, resourceId=target, reported=cleaned,
                                   problem="the restored disk is left beside its zonal copy"))
    for rid, r in resources.items():
        if _low(r.get("type")) == SNAPSHOT_TYPE and rid not in claimed and \
                rid.rsplit("/providers/", 1)[0] in targets:
            found.append(violation(None, LEAKED, resourceId=r.get("id"),
                                   problem="a snapshot left in the target group"))
    for row in leases or []:
        if row.get("holders") or row.get("retired"):
            holders = {instance_of(h) for h in row.get("holders") or {}}
            found.append(violation(
                next((r for r in runs if r.get("id") in holders), None), LEAKED,
                lease={k: row.get(k) for k in ("key", "generation", "holders", "retired")},
                problem="a lease still held, or owing a revoke, after every run ended"))
    return found


def check_all(runs: list[dict[str, Any]], snapshot: dict[str, Any], audit: list[dict[str, Any]],
              app_principal_id: str, *, vault_principal_id: str | None = None,
              leases: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    found = []
    for run in runs:
        found += check_terminal(run) + check_swap(run)
    found += check_assignments(runs, snapshot, audit, app_principal_id, leases)
    if vault_principal_id is not None:
        found += check_grants_kept(runs, snapshot, audit, vault_principal_id)
    found += check_jobs(runs, snapshot, audit)
    found += check_attachments(runs, snapshot, audit)
    found += check_leaks(runs, snapshot, leases)
    return found


def _committed(entry: dict[str, Any]) -> bool:
    """A write that took effect: answered 2xx, or done and its answer lost (lostAnswer)."""
    status = entry.get("status") or 0
    return 200 <= status < 300 or (entry.get("fault") == "lostAnswer" and status >= 500)


def _low(value: Any) -> str:
    return str(value or "").lower().rstrip("/")


def _guid(role_definition_id: Any) -> str:
    return _low(role_definition_id).rsplit("/", 1)[-1]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _epoch(text: str) -> float:
    """azsim's ARM timestamps carry 7 fractional digits; Python reads at most 6."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    return datetime.fromisoformat(text).timestamp()
