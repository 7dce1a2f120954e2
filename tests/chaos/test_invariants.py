"""The chaos suite's invariant checkers report a violation when shown one, and nothing when the
state is clean. The state is a real azsim's (the chaos scenario), changed through the ARM API
where azsim allows it (a grant left behind, a VM left deallocated); what azsim itself refuses (a
second restore job to one disk, a disk on two VMs) is written into its snapshot by hand."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

import azsim
import pytest
from azsim.sdk import FakeTokenCredential, mgmt_clients
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from chaos import invariants as inv
from chaos import scenario

from domain.access.grant_lease import GrantLease, LeaseKey
from domain.restore.planning import DISK_RESTORE_OPERATOR, zonal_copy_id, zonal_snapshot_id


@pytest.fixture(scope="module")
def sim() -> Iterator[Any]:
    with azsim.start(scenario=scenario.build(2, seed=7), time_scale=1e6) as running:
        yield running


@pytest.fixture
def slot(sim) -> scenario.Slot:
    return scenario.slots_of(sim.subscription_id, 2)[0]


def _run(slot: scenario.Slot, kind: str = "attach", **extra: Any) -> dict[str, Any]:
    instance = f"restore-chaos-test-{kind}"
    return {"run": 1, "env": 0, "requestId": f"chaos-test-{kind}", "id": instance, "kind": kind,
            "slot": slot.index, "vmId": slot.vm_id, "vmZone": slot.zone, "accepted": True,
            "done": True, "targetDiskId": slot.target_disk_id(f"r1-{kind}"), "deadline": 300,
            "grants": [{"scope": slot.target_rg, "role": DISK_RESTORE_OPERATOR}],
            "acceptedAt": 0.0, "doneAt": 4e9, "view": {"outcome": "Succeeded"}, **extra}


def _operator_assignment(sim, slot, generation: int) -> str:
    """The shared Disk Restore Operator assignment of the vault on the target group, named for
    `generation` of its lease, made through the ARM API as the app makes it."""
    key = LeaseKey(slot.target_rg, DISK_RESTORE_OPERATOR, sim.principal_id("vault"))
    with mgmt_clients(sim) as clients:
        clients.authorization.role_assignments.create(
            slot.target_rg, key.name(generation), RoleAssignmentCreateParameters(
                role_definition_id=f"/subscriptions/{sim.subscription_id}/providers/Microsoft."
                                   f"Authorization/roleDefinitions/{DISK_RESTORE_OPERATOR}",
                principal_id=sim.principal_id("vault"), principal_type="ServicePrincipal"))
    return key.assignment_id(generation)


def _revoke(sim, slot, assignment_id: str) -> None:
    with mgmt_clients(sim) as clients:
        clients.authorization.role_assignments.delete(slot.target_rg,
                                                      assignment_id.rsplit("/", 1)[-1])


def _restore_job(sim, run: dict[str, Any], status: str, start: str, end: str | None
                 ) -> dict[str, Any]:
    """A restore job to the run's disk, modelled on a past backup job of azsim's."""
    backup = next(r for r in sim.snapshot()["resources"]
                  if r.get("type", "").endswith("/backupJobs"))
    job = copy.deepcopy(backup)
    job["id"] = f"{backup['id'].rsplit('/', 1)[0]}/restore-{uuid.uuid4()}"
    job["properties"].update(operation="Restore", status=status, startTime=start, endTime=end)
    job["properties"]["extendedInfo"] = {"recoveryDestination": run["targetDiskId"]}
    return job


def _vm(sim, slot) -> dict[str, Any]:
    return inv.vm_summary(next(r for r in sim.snapshot()["resources"]
                               if r["id"].lower() == slot.vm_id.lower()))


def test_the_chaos_scenario_shares_one_target_group_and_one_des_and_has_zones(sim):
    slots = scenario.slots_of(sim.subscription_id, 4)
    assert len({s.target_rg for s in slots}) == 1
    assert len({s.des_id for s in slots if s.cmk}) == 1
    assert [s.zone for s in slots] == ["1", "2", "3", None]
    resources = {r["id"].lower(): r for r in sim.snapshot()["resources"]}
    for s in scenario.slots_of(sim.subscription_id, 2):
        assert resources[s.vm_id.lower()].get("zones") == [s.zone]
        for disk_id in (s.os_disk_id, s.data_disk_id):
            assert resources[disk_id.lower()].get("zones") == [s.zone]


def test_a_clean_state_has_no_violation(sim, slot):
    runs = [_run(slot, "restore", vmId=None, vmZone=None), _run(slot, "swap")]
    runs[1]["vmBefore"] = runs[1]["vmAfter"] = _vm(sim, slot)
    runs[1]["view"] = {"outcome": "Failed"}  # rolled back: the original OS disk is still there
    runs[0]["view"] = {"outcome": "Failed"}  # (a Succeeded one needs its job: test_3)
    assert inv.check_all(runs, sim.snapshot(), sim.audit(), sim.app_principal_id,
                         vault_principal_id=sim.principal_id("vault"), leases=[]) == []


def test_1_a_run_that_never_finished(slot):
    run = _run(slot, done=False, view={"runtimeStatus": "Running", "phase": "plan"})
    [found] = inv.check_terminal(run)
    assert found["invariant"] == inv.TERMINAL and found["evidence"]["phase"] == "plan"
    assert inv.check_terminal(_run(slot)) == []
    assert inv.check_terminal(_run(slot, accepted=False, done=False)) == []


def test_2_a_role_assignment_the_app_left_behind(sim, slot):
    """A leased assignment left behind is attributed through its generation name: the lease row
    (who still holds it), the run whose outcome reports it."""
    run, other = _run(slot), {**_run(slot, "restore"), "run": 2, "id": "restore-other"}
    assignment_id = _operator_assignment(sim, slot, 3)  # as the app's identity, never revoked
    run["view"] = {"outcome": "Failed", "result": {"roleAssignments": [
        {"id": assignment_id, "revoked": "kept: 1 other run(s) still use it"}]}}
    key = LeaseKey(slot.target_rg, DISK_RESTORE_OPERATOR, sim.principal_id("vault"))
    lease = GrantLease(key, 3, {"restore-other@2026-01-01T00:00:00": "t"}).to_dict()
    try:
        found = inv.check_assignments([other, run], sim.snapshot(), sim.audit(),
                                      sim.app_principal_id, [lease])
        assert [(v["invariant"], v["run"]) for v in found] == [(inv.ASSIGNMENTS, 1)]
        evidence = found[0]["evidence"]
        assert evidence["scope"].lower() == slot.target_rg.lower()
        assert evidence["generation"] == 3 and evidence["committedPutsAtScope"] == 1
        assert evidence["lease"]["holders"] == {"restore-other@2026-01-01T00:00:00": "t"}
        assert [r["run"] for r in evidence["reportedBy"]] == [1]
        # No run reports it: the lease's holder is named.
        run["view"] = {"outcome": "Failed"}
        [found] = inv.check_assignments([other, run], sim.snapshot(), sim.audit(),
                                        sim.app_principal_id, [lease])
        assert found["run"] == 2 and found["evidence"]["reportedBy"] == []
        # Someone else's assignment is not the app's to revoke.
        operator = FakeTokenCredential(sim.principal_id("operator"), sim.tenant_id)
        with mgmt_clients(sim, operator) as clients:
            clients.authorization.role_assignments.create(
                slot.target_rg, str(uuid.uuid4()), RoleAssignmentCreateParameters(
                    role_definition_id=f"/subscriptions/{sim.subscription_id}/providers/"
                    "Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
                    principal_id=sim.principal_id("ops-group"), principal_type="Group"))
        assert len(inv.check_assignments([run], sim.snapshot(), sim.audit(),
                                         sim.app_principal_id)) == 1
    finally:
        _revoke(sim, slot, assignment_id)
    assert inv.check_assignments([run], sim.snapshot(), sim.audit(), sim.app_principal_id) == []


def test_2_a_shared_assignment_revoked_while_a_run_still_needed_it(sim, slot):
    """The assignment a run's restore job relies on must exist from the job's start to its end:
    deleted in between (another holder revoking), or absent at the start, is a violation."""
    vault = sim.principal_id("vault")
    run = _run(slot, "restore", vmId=None, vmZone=None)

    def check(*jobs):
        snapshot = sim.snapshot()
        snapshot["resources"] = snapshot["resources"] + list(jobs)
        return inv.check_grants_kept([run], snapshot, sim.audit(), vault)

    far_past, far_future = "2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z"
    assert check() == []  # no restore job: nothing was needed
    [found] = check(_restore_job(sim, run, "Completed", far_past, far_future))
    assert found["invariant"] == inv.GRANT_KEPT
    assert "no assignment" in found["evidence"]["problem"]
    assignment_id = _operator_assignment(sim, slot, 0)
    try:
        made = next(a for a in sim.snapshot()["roleAssignments"]
                    if a["id"].lower() == assignment_id.lower())["properties"]["createdOn"]
        job = _restore_job(sim, run, "InProgress", made, None)  # runs to the end of the state
        assert check(job) == []
    finally:
        _revoke(sim, slot, assignment_id)
    [found] = check(job)  # revoked while the job ran
    assert found["evidence"]["problem"] == \
        "the assignment was revoked while the run's restore job ran"
    assert found["evidence"]["assignmentId"].lower() == assignment_id.lower()
    assert found["evidence"]["deletedBy"][0]["caller"] == sim.app_principal_id
    # The run's own release (its revoke step began: a cancel during the job wait) ends what it
    # holds: a revoke after that is no other holder's.
    deleted = inv._epoch(found["evidence"]["deletedOn"])
    after = {"revoke": {"start": inv._iso(deleted + 0.001)}}
    run.update(view={"outcome": "Cancelled", "phases": after})
    assert len(check(job)) == 1
    run["view"]["phases"] = {"revoke": {"start": inv._iso(deleted - 0.001)}}
    assert check(job) == []


def test_3_two_restore_jobs_for_one_request(sim, slot):
    run = _run(slot)
    snapshot = sim.snapshot()
    backup = next(r for r in snapshot["resources"]
                  if r.get("type", "").endswith("/backupJobs"))  # a past backup job, as a model
    jobs = []
    for n in range(2):
        job = copy.deepcopy(backup)
        job["id"] = f"{backup['id'].rsplit('/', 1)[0]}/restore-{n}"
        job["properties"].update(operation="Restore", status="Completed")
        job["properties"]["extendedInfo"] = {"recoveryDestination": run["targetDiskId"]}
        jobs.append(job)
    assert inv.check_jobs([run], {**snapshot, "resources": snapshot["resources"] + jobs[:1]}) == []
    [found] = inv.check_jobs([run], {**snapshot, "resources": snapshot["resources"] + jobs})
    assert found["invariant"] == inv.ONE_JOB and len(found["evidence"]["jobs"]) == 2
    # a duplicate that failed ("same name": Azure refuses the name once the disk exists) made
    # nothing: one job made the disk
    jobs[1]["properties"]["status"] = "Failed"
    assert inv.check_jobs([run], {**snapshot, "resources": snapshot["resources"] + jobs}) == []
    jobs[1]["properties"]["status"] = "InProgress"  # still running: it may yet make a disk
    [found] = inv.check_jobs([run], {**snapshot, "resources": snapshot["resources"] + jobs})
    assert found["invariant"] == inv.ONE_JOB
    # Succeeded, but no job completed: the disk was not restored by one job
    jobs[0]["properties"]["status"] = "Failed"
    jobs[1]["properties"]["status"] = "Failed"
    [found] = inv.check_jobs([run], {**snapshot, "resources": snapshot["resources"] + jobs})
    assert found["evidence"]["problem"] == "outcome Succeeded with 0 completed job(s)"


def test_4_a_disk_on_two_vms_or_twice_on_one(sim, slot):
    other = scenario.slots_of(sim.subscription_id, 2)[1]
    snapshot = sim.snapshot()
    vms = {r["id"].lower(): r for r in snapshot["resources"]
           if r.get("type", "").lower() == inv.VM_TYPE}
    disk = vms[slot.vm_id.lower()]["properties"]["storageProfile"]["dataDisks"][0]
    twice = copy.deepcopy(snapshot)
    for r in twice["resources"]:
        if r["id"].lower() == other.vm_id.lower():
            r["properties"]["storageProfile"]["dataDisks"].append({**disk, "lun": 5})
    found = inv.check_attachments([], twice, [])
    assert any(v["evidence"].get("problem") == "one disk used more than once" for v in found)
    same_vm = copy.deepcopy(snapshot)
    for r in same_vm["resources"]:
        if r["id"].lower() == slot.vm_id.lower():
            r["properties"]["storageProfile"]["dataDisks"].append({**disk, "lun": 6})
    [found] = inv.check_attachments([], same_vm, [])
    assert found["invariant"] == inv.ATTACHED_ONCE and len(found["evidence"]["uses"]) == 2
    assert inv.check_attachments([], snapshot, []) == []


def test_4_a_disk_outside_the_zonal_vms_zone(sim, slot):
    snapshot = copy.deepcopy(sim.snapshot())
    data = next(r for r in snapshot["resources"] if r["id"].lower() == slot.data_disk_id.lower())
    assert slot.zone == "1" and data["zones"] == ["1"]
    data["zones"] = ["2"]
    [found] = inv.check_attachments([], snapshot, [])
    assert found["evidence"]["problem"] == "a disk outside the zonal VM's zone"
    data.pop("zones")  # regional LRS: outside every zone too
    assert len(inv.check_attachments([], snapshot, [])) == 1
    data["sku"]["name"] = "Premium_ZRS"  # ZRS: attaches in any zone
    assert inv.check_attachments([], snapshot, []) == []


def test_4_an_attach_committed_twice(slot):
    run = _run(slot, acceptedAt=1_000.0, doneAt=2_000.0)
    run["vmAfter"] = {"dataDiskIds": [slot.data_disk_id, run["targetDiskId"]]}
    entry = {"operation": "Microsoft.Compute/virtualMachines/attachDetachDataDisks/action",
             "scope": slot.vm_id, "time": "1970-01-01T00:25:00.0000000Z", "requestId": "x"}
    done, lost = {**entry, "status": 200, "fault": None}, \
        {**entry, "status": 500, "fault": "lostAnswer"}
    refused = {**entry, "status": 409, "fault": None}
    later = {**done, "time": "1970-01-01T00:26:00.0000000Z"}
    empty = {"resources": []}
    assert inv.check_attachments([run], empty, [done, refused]) == []
    # A lost answer re-sent by azure-core: azsim takes the attached disk again as a no-op.
    assert inv.check_attachments([run], empty, [lost, later]) == []
    [found] = inv.check_attachments([run], empty, [done, later])
    assert found["evidence"]["problem"] == "an attach was committed after one had succeeded"
    [found] = inv.check_attachments([run], empty, [done, {**lost, "time": later["time"]}])
    assert found["invariant"] == inv.ATTACHED_ONCE


def test_4_a_succeeded_attach_that_left_the_disk_off_the_vm_or_on_it_twice(slot):
    run = _run(slot, vmAfter={"dataDiskIds": [slot.data_disk_id]})
    [found] = inv.check_attachments([run], {"resources": []}, [])
    assert "0 times" in found["evidence"]["problem"]
    run["vmAfter"]["dataDiskIds"] += [run["targetDiskId"]] * 2
    [found] = inv.check_attachments([run], {"resources": []}, [])
    assert "2 times" in found["evidence"]["problem"]
    run["vmAfter"]["dataDiskIds"].pop()
    assert inv.check_attachments([run], {"resources": []}, []) == []
    # Copied into the VM's zone: the copy is on the VM, and the outcome reports it.
    copy_id = zonal_copy_id(run["targetDiskId"], slot.zone)
    run["vmAfter"]["dataDiskIds"] = [slot.data_disk_id, copy_id]
    [found] = inv.check_attachments([run], {"resources": []}, [])  # reported the other disk
    assert "1 times" in found["evidence"]["problem"]
    run["view"] = {"outcome": "Succeeded", "result": {"restoredDiskId": copy_id}}
    assert inv.check_attachments([run], {"resources": []}, []) == []
    run["vmAfter"]["dataDiskIds"].append(run["targetDiskId"])  # the copy AND the restored disk
    [found] = inv.check_attachments([run], {"resources": []}, [])
    assert "2 times" in found["evidence"]["problem"]


def test_5_a_half_swapped_vm(sim, slot):
    before = _vm(sim, slot)
    run = _run(slot, "swap", vmBefore=before, view={"outcome": "Failed"})
    half = {**before, "osDiskId": slot.data_disk_id}  # neither the restored nor the original
    [found] = inv.check_swap({**run, "vmAfter": half})
    assert "neither" in found["evidence"]["problem"]
    [found] = inv.check_swap({**run, "vmAfter": before, "view": {"outcome": "Succeeded"}})
    assert "not swapped" in found["evidence"]["problem"]
    assert inv.check_swap({**run, "vmAfter": {**before, "osDiskId": run["targetDiskId"]},
                           "view": {"outcome": "Succeeded"}}) == []
    # Swapped to the restored disk's copy in the VM's zone, which the outcome reports.
    copy_id = zonal_copy_id(run["targetDiskId"], slot.zone)
    zonal = {**run, "vmAfter": {**before, "osDiskId": copy_id}}
    [found] = inv.check_swap({**zonal, "view": {"outcome": "Succeeded"}})
    assert "not swapped" in found["evidence"]["problem"]
    assert inv.check_swap({**zonal, "view": {"outcome": "Succeeded",
                                             "result": {"restoredDiskId": copy_id}}}) == []
    # The original disk back, but the VM left deallocated (through the ARM API).
    operator = FakeTokenCredential(sim.principal_id("operator"), sim.tenant_id)
    with mgmt_clients(sim, operator, polling_interval=0.01) as clients:
        clients.compute.virtual_machines.begin_deallocate("rg-app", f"vm-chaos{slot.index}"
                                                          ).result()
    try:
        [found] = inv.check_swap({**run, "vmAfter": _vm(sim, slot)})
        assert "left deallocated" in found["evidence"]["problem"]
    finally:
        with mgmt_clients(sim, operator, polling_interval=0.01) as clients:
            clients.compute.virtual_machines.begin_start("rg-app", f"vm-chaos{slot.index}"
                                                         ).result()
    assert inv.check_swap({**run, "vmAfter": _vm(sim, slot)}) == []


def test_6_what_a_zonal_copy_left_and_a_lease_still_held(sim, slot):
    snap, copy_id = (zonal_snapshot_id(_run(slot)["targetDiskId"], slot.zone),
                     zonal_copy_id(_run(slot)["targetDiskId"], slot.zone))
    run = _run(slot, view={"outcome": "Succeeded", "result": {
        "zoneCopy": {"cleaned": True}, "restoredDiskId": copy_id,
        "intermediateDiskId": _run(slot)["targetDiskId"]}})
    snapshot = copy.deepcopy(sim.snapshot())
    assert inv.check_leaks([run], snapshot, []) == []
    disk = next(r for r in snapshot["resources"] if r["id"].lower() == slot.data_disk_id.lower())
    left = [{**copy.deepcopy(disk), "id": snap, "type": "Microsoft.Compute/snapshots"},
            {**copy.deepcopy(disk), "id": copy_id}, {**copy.deepcopy(disk),
                                                     "id": run["targetDiskId"]}]
    found = inv.check_leaks([run], {**snapshot, "resources": snapshot["resources"] + left}, [])
    assert sorted(v["evidence"]["problem"] for v in found) == [
        "the restored disk is left beside its zonal copy", "the zonal copy's snapshot is left"]
    assert all(v["invariant"] == inv.LEAKED and v["run"] == 1 for v in found)
    key = LeaseKey(slot.target_rg, DISK_RESTORE_OPERATOR, sim.principal_id("vault"))
    held = GrantLease(key, 2, {f"{run['id']}@2026-01-01T00:00:00": "t"}).to_dict()
    [found] = inv.check_leaks([run], snapshot, [held, GrantLease(key, 3).to_dict()])
    assert found["run"] == 1 and found["evidence"]["lease"]["generation"] == 2
    [found] = inv.check_leaks([run], snapshot, [GrantLease(key, 3, retired=[2]).to_dict()])
    assert found["evidence"]["lease"]["retired"] == [2]


def test_6_a_restored_disk_the_outcome_does_not_report(sim, slot):
    """Cancelled while its restore job ran: the job still made the disk, and the outcome names
    none."""
    run = _run(slot, "restore", vmId=None, vmZone=None,
               view={"outcome": "Cancelled", "result": {"restoredDiskId": None}})
    snapshot = copy.deepcopy(sim.snapshot())
    disk = next(r for r in snapshot["resources"] if r["id"].lower() == slot.data_disk_id.lower())
    made = {**copy.deepcopy(disk), "id": run["targetDiskId"]}
    assert inv.check_leaks([run], snapshot, []) == []
    [found] = inv.check_leaks([run], {**snapshot, "resources": snapshot["resources"] + [made]}, [])
    assert found["invariant"] == inv.LEAKED and found["run"] == 1
    assert found["evidence"]["problem"] == "a restored disk the run's outcome does not report"
    run["view"] = {"outcome": "Failed", "result": {"restoredDiskId": run["targetDiskId"]}}
    assert inv.check_leaks([run], {**snapshot, "resources": snapshot["resources"] + [made]},
                           []) == []
