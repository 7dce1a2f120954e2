"""What the chaos suite (dev/chaos/, `make chaos`) found, each pinned by one fault at one step.

Compute answers 409 Conflict while an operation runs on a VM. A change whose answer is lost
(`lostAnswer`: done, then a 500) is sent again by azure-core and meets exactly that (or, once the
VM is idle, a 412 for the stale etag, or "already attached"): the change went through, and the
run must say so rather than fail, or roll a swap back by hand. And a validation can pass on an
equivalent grant that is still being revoked, so the trigger itself can meet "not enough
permission" before our own grant has taken effect.
"""

from __future__ import annotations

VM = "Microsoft.Compute/virtualMachines"
RESTORE_WRITE = "Microsoft.DataProtection/backupVaults/backupInstances/restore/action"


def _succeeded(env, view):
    assert view["outcome"] == "Succeeded", view
    assert env.sim.fired_faults(), "the fault never fired: the test proves nothing"
    assert env.leftover_assignments() == set()
    return view["result"]


def _vm(env):
    vm = env.resource(env.vm())
    storage = vm["properties"]["storageProfile"]
    power = [s["code"] for s in vm["properties"]["instanceView"]["statuses"]
             if s["code"].startswith("PowerState/")]
    return storage, power


def test_a_lost_deallocate_answer_still_swaps(restore_env):
    env = restore_env()
    env.sim.add_fault(kind="lostAnswer", status=500, operation=f"{VM}/deallocate/action",
                      count=1)
    result = _succeeded(env, env.run(env.request("vm-app01-osdisk",
                                                 swapOsDisk={"vmId": env.vm()})))
    storage, power = _vm(env)
    assert storage["osDisk"]["managedDisk"]["id"].lower() == result["restoredDiskId"].lower()
    assert power == ["PowerState/running"]


def test_a_lost_os_disk_update_answer_still_swaps(restore_env):
    env = restore_env()
    env.sim.add_fault(kind="lostAnswer", status=500, operation=f"{VM}/write", count=1)
    result = _succeeded(env, env.run(env.request("vm-app01-osdisk",
                                                 swapOsDisk={"vmId": env.vm()})))
    storage, power = _vm(env)
    assert storage["osDisk"]["managedDisk"]["id"].lower() == result["restoredDiskId"].lower()
    assert power == ["PowerState/running"]


def test_a_lost_start_answer_still_leaves_the_vm_running(restore_env):
    env = restore_env()
    env.sim.add_fault(kind="lostAnswer", status=503, operation=f"{VM}/start/action", count=1)
    _succeeded(env, env.run(env.request("vm-app01-osdisk", swapOsDisk={"vmId": env.vm()})))
    assert _vm(env)[1] == ["PowerState/running"]


def test_a_lost_attach_answer_still_attaches_once(restore_env):
    env = restore_env()
    env.sim.add_fault(kind="lostAnswer", status=500,
                      operation=f"{VM}/attachDetachDataDisks/action", count=1)
    result = _succeeded(env, env.run(env.request(attach={"vmId": env.vm()})))
    storage, _ = _vm(env)
    attached = [d["managedDisk"]["id"].lower() for d in storage["dataDisks"]]
    assert attached.count(result["restoredDiskId"].lower()) == 1


def test_a_restore_refused_for_permission_after_validation_passed_is_tried_again(restore_env):
    env = restore_env()
    env.sim.add_fault(kind="lroFailure", operation=RESTORE_WRITE, count=1,
                      code="UserErrorNotEnoughPermissionOnTargetRG",
                      message="Azure Backup Service requires additional permissions on the "
                              "Target Resource Group to do this operation.")
    result = _succeeded(env, env.run(env.request()))
    assert len(env.writes(RESTORE_WRITE)) == 2  # refused once, then the one restore
    jobs = [r for r in env.sim.snapshot()["resources"]
            if r.get("type", "").endswith("/backupJobs")
            and r["properties"].get("operation") == "Restore"]
    assert [j["id"].lower() for j in jobs] == [result["jobId"].lower()]


def test_a_vm_busy_for_good_still_fails_the_swap_and_puts_the_disk_back(restore_env):
    """The busy retry is bounded: a VM that answers Conflict to every deallocate ends the run
    SwapFailed (the original OS disk never left), not a run that waits forever."""
    env = restore_env()
    env.sim.add_fault(kind="status", status=409, code="Conflict",
                      message="The request failed due to conflict with a concurrent request.",
                      operation=f"{VM}/deallocate/action")
    view = env.run(env.request("vm-app01-osdisk", swapOsDisk={"vmId": env.vm()}), timeout=300)
    assert view["outcome"] == "Failed" and view["error"]["code"] == "SwapFailed", view
    storage, power = _vm(env)
    assert storage["osDisk"]["managedDisk"]["id"].lower() == env.disk("vm-app01-osdisk").lower()
    assert power == ["PowerState/running"]
    assert env.leftover_assignments() == set()
