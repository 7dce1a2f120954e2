"""Whole-VM restore (issue 17 part 2): every protected disk of the VM from one point in time, the
disks' restores in parallel under shared grants, one approval, then ONE VM change: the data
disks replaced in one attachDetachDataDisks call, the OS disk swapped, one stop and start."""

from __future__ import annotations

from harness import estate

from domain.restore.planning import DISK_RESTORE_OPERATOR, READER
from orchestrations.vm_change import REPLACED_BY_TAG

SWAP_STEPS = ("start_power_off_vm", "start_deallocate_vm", "start_start_vm")


def vm(h):
    return h.gateway.vms[estate.VM.lower()]


def whole_vm(**extra) -> dict:
    return {"source": {"vmId": estate.VM}, "target": {"resourceGroupId": estate.TARGET},
            **extra}


def test_a_vm_is_restored_whole_with_one_approval_and_one_vm_change(h, restores):
    h.gateway.os_disk_swap_requires = "stopped"
    run = restores.submit(whole_vm(), approval_minutes=60)
    assert run.startswith("restorevm-")
    restores.until_waiting(run, "event:approval")
    assert h.gateway.called("start_change_data_disks") == []  # nothing on the VM yet
    restores.decide(run, approve=True, by="bob")
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Succeeded", out.get("error")
    disks = out["disks"]
    assert [d["outcome"] for d in disks] == ["Succeeded"] * 3
    assert out["skewSeconds"] == 0 and out["approval"]["by"] == "bob"
    # the three restores ran at once: every trigger before the first job could end (270 s)
    triggers = [c.at for c in h.gateway.called("start_restore")]
    assert len(triggers) == 3 and (max(triggers) - min(triggers)).total_seconds() < 120
    # one VM change: one data-disk call for both slots, one stop, one start
    [change] = h.gateway.called("start_change_data_disks")
    assert sorted(a.lun for a in change.args[0].attach) == [0, 1]
    assert sorted(change.args[0].detach) == sorted([estate.DATA0, estate.DATA1])
    assert [c.method for c in h.gateway.calls if c.method in SWAP_STEPS] == \
        ["start_power_off_vm", "start_start_vm"]
    restored = {d["restoredDiskId"].lower() for d in disks}
    now = {vm(h).os_disk_id.lower(), *(d.disk_id.lower() for d in vm(h).data_disks)}
    assert now == restored and vm(h).power_state == "running"
    for original in (estate.OS_DISK, estate.DATA0, estate.DATA1):  # kept, tagged
        disk = h.gateway.disks[original.lower()]
        assert disk.managed_by is None and disk.tags[REPLACED_BY_TAG] == run
    assert out["vmChange"]["before"]["osDiskId"] == estate.OS_DISK
    # one role assignment per scope, shared by the three runs, and gone at the end
    made = {c.args[0].assignment_name for c in h.gateway.called("grant_role")}
    roles = {c.args[0].role_definition_guid for c in h.gateway.called("grant_role")}
    assert roles == {DISK_RESTORE_OPERATOR, READER} and len(made) == 2
    assert [a for a in h.gateway.assignments.values()
            if a.created is not None and a.deleted is None] == []


def test_a_disk_that_does_not_restore_leaves_the_vm_as_it_is(h, restores):
    h.gateway.fail_job("UserErrorDiskCreationFailed")
    run = restores.submit(whole_vm())
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Failed"
    assert "of 3 disks did not restore" in out["error"]["message"]
    assert "the VM is unchanged" in out["error"]["message"]
    assert h.gateway.called("start_change_data_disks") == []
    assert vm(h).os_disk_id == estate.OS_DISK and vm(h).power_state == "running"


def test_a_dry_run_shows_the_disks_points_and_skew_and_changes_nothing(h, restores):
    run = restores.submit(whole_vm(dryRun=True))
    h.run()
    out = h.output(run)
    assert out["outcome"] == "DryRun", out.get("error")
    plan = out["plan"]
    assert [d["role"] for d in plan["disks"]] == ["os", "data", "data"]
    assert plan["skewSeconds"] == 0
    assert [c for c in h.gateway.calls if c.method.startswith("start_")
            or c.method == "grant_role"] == []


def test_restore_only_leaves_the_vm_alone(h, restores):
    run = restores.submit(whole_vm(apply="none", source={"vmId": estate.VM, "disks": [0]}))
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Succeeded", out.get("error")
    assert len(out["disks"]) == 1 and "vmChange" not in out
    assert h.gateway.called("start_change_data_disks") == []


def test_a_failed_vm_change_puts_every_original_back_and_says_where_the_vm_is(h, restores):
    # the restored OS disk does not boot: the data disks were replaced and the OS disk swapped
    # in one change, so all of it goes back, and the VM runs again on its originals
    h.gateway.os_disk_swap_requires = "stopped"
    h.gateway.fail_operation("start_start_vm", "VMAgentStatusCommunicationError", "no boot",
                             times=1)
    run = restores.submit(whole_vm())
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Failed" and out["error"]["code"] == "SwapFailed"
    assert out["error"]["message"].endswith(
        "the original disks are back on the VM, which is running"), out["error"]["message"]
    assert vm(h).os_disk_id == estate.OS_DISK and vm(h).power_state == "running"
    assert {d.lun: d.disk_id for d in vm(h).data_disks} == {0: estate.DATA0, 1: estate.DATA1}
    assert len(h.gateway.called("start_change_data_disks")) == 2  # the change, and back
    for disk in out["disks"]:  # the restored disks are kept, off the VM
        assert h.gateway.disks[disk["restoredDiskId"].lower()].managed_by is None


def test_a_refused_data_disk_call_changes_nothing_and_starts_the_vm_again(h, restores):
    h.gateway.os_disk_swap_requires = "stopped"
    h.gateway.fail_operation("start_change_data_disks", "OperationNotAllowed", "locked")
    run = restores.submit(whole_vm())
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Failed"
    assert out["error"]["message"].endswith(
        "the original disks are still on the VM, which is running"), out["error"]["message"]
    assert vm(h).os_disk_id == estate.OS_DISK and vm(h).power_state == "running"
    assert {d.lun: d.disk_id for d in vm(h).data_disks} == {0: estate.DATA0, 1: estate.DATA1}
