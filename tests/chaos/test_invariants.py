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

from domain.restore.planning import DISK_RESTORE_OPERATOR, assignment_name


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
            "slot": slot.index, "vmId": slot.vm_id, "accepted": True, "done": True,
            "targetDiskId": slot.target_disk_id(f"r1-{kind}"), "deadline": 300,
            "assignmentNames": [assignment_name(instance, slot.target_rg, DISK_RESTORE_OPERATOR)],
            "acceptedAt": 0.0, "doneAt": 4e9, "view": {"outcome": "Succeeded"}, **extra}


def _vm(sim, slot) -> dict[str, Any]:
    return inv.vm_summary(next(r for r in sim.snapshot()["resources"]
                               if r["id"].lower() == slot.vm_id.lower()))


def test_a_clean_state_has_no_violation(sim, slot):
    runs = [_run(slot, "restore", vmId=None), _run(slot, "swap")]
    runs[1]["vmBefore"] = runs[1]["vmAfter"] = _vm(sim, slot)
    runs[1]["view"] = {"outcome": "Failed"}  # rolled back: the original OS disk is still there
    assert inv.check_all(runs, sim.snapshot(), sim.audit(), sim.app_principal_id) == []


def test_1_a_run_that_never_finished(slot):
    run = _run(slot, done=False, view={"runtimeStatus": "Running", "phase": "plan"})
    [found] = inv.check_terminal(run)
    assert found["invariant"] == inv.TERMINAL and found["evidence"]["phase"] == "plan"
    assert inv.check_terminal(_run(slot)) == []
    assert inv.check_terminal(_run(slot, accepted=False, done=False)) == []


def test_2_a_role_assignment_the_app_left_behind(sim, slot):
    run = _run(slot)
    vault = sim.principal_id("vault")
    with mgmt_clients(sim) as clients:  # as the app's identity, like a grant never revoked
        clients.authorization.role_assignments.create(
            slot.target_rg, run["assignmentNames"][0], RoleAssignmentCreateParameters(
                role_definition_id=f"/subscriptions/{sim.subscription_id}/providers/Microsoft."
                                   f"Authorization/roleDefinitions/{DISK_RESTORE_OPERATOR}",
                principal_id=vault, principal_type="ServicePrincipal"))
    try:
        found = inv.check_assignments([run], sim.snapshot(), sim.audit(), sim.app_principal_id)
        assert [(v["invariant"], v["run"]) for v in found] == [(inv.ASSIGNMENTS, 1)]
        assert found[0]["evidence"]["scope"].lower() == slot.target_rg.lower()
        assert found[0]["evidence"]["committedPutsAtScope"] == 1
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
        with mgmt_clients(sim) as clients:
            clients.authorization.role_assignments.delete(slot.target_rg,
                                                          run["assignmentNames"][0])
    assert inv.check_assignments([run], sim.snapshot(), sim.audit(), sim.app_principal_id) == []


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
