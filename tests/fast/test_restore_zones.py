"""Restores onto a zonal VM (restore_managed_disk `_into_zone`), in process against the fake Azure.

The Backup restore takes no zone and Azure does not say where the restored disk lands: the fake,
like azsim, puts it either regional (`restored_disk_zone = "regional"`, the default) or in the
source disk's zone ("source"), and refuses a disk outside a zonal VM's zone at the attach or the
OS-disk update, as Compute does. Each test runs the real runbook and checks which disk the VM got,
what was copied and deleted, and that nothing on the VM changed before the copy was in place."""

from __future__ import annotations

import dataclasses

import pytest
from harness import estate

from domain import errors
from domain.model import Disk

ZONE = "1"


def target(name: str) -> str:
    return estate.disk_id(name, "rg-restore-target")


def zonal(h, *, zone: str = ZONE, sku: str | None = None, restored: str = "regional") -> None:
    """Put the demo VM and its disks in `zone` (a ZRS `sku`: the disks have no zone), and set
    where restore jobs put their disks."""
    plane = h.gateway
    plane.restored_disk_zone = restored
    plane.vms[estate.VM.lower()].zones = [zone]
    zones = [] if sku and sku.upper().endswith("_ZRS") else [zone]
    for key, disk in list(plane.disks.items()):
        plane.disks[key] = dataclasses.replace(disk, zones=zones, sku=sku or disk.sku)
    for protected in plane.protected.values():
        protected.snapshot = dataclasses.replace(protected.snapshot, zones=zones,
                                                 sku=sku or protected.snapshot.sku)


def vm(h):
    return h.gateway.vms[estate.VM.lower()]


def writes(h) -> list[str]:
    """The Compute changes the run asked for, in order."""
    return [c.method for c in h.gateway.calls if c.method in (
        "start_snapshot_disk", "start_copy_disk_to_zone", "start_delete_snapshot",
        "start_delete_disk", "start_attach_data_disk", "start_power_off_vm", "start_deallocate_vm",
        "start_set_os_disk",
        "start_start_vm")]


# ---- attach -------------------------------------------------------------------------------------
def test_a_regional_restored_disk_is_copied_into_the_vms_zone_then_attached(h, restores):
    zonal(h)
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out
    copy_id = target("vm-app01-data0-restored-zone1")
    assert out["restoredDiskId"].lower() == copy_id.lower()
    assert out["intermediateDiskId"].lower() == target("vm-app01-data0-restored").lower()
    assert out["attach"]["zone"] == ZONE
    assert out["zoneCopy"]["zone"] == ZONE and out["zoneCopy"]["cleaned"] is True
    copy = h.gateway.disks[copy_id.lower()]
    assert copy.zones == [ZONE] and copy.size_gb == 256 and copy.sku == "Premium_LRS"
    assert copy.managed_by == estate.VM
    assert {d.lun: d.disk_id.lower() for d in vm(h).data_disks}[2] == copy_id.lower()
    # the restored disk and the snapshot are gone; nothing else is left
    assert target("vm-app01-data0-restored").lower() not in h.gateway.disks
    assert h.gateway.snapshots == {}
    assert writes(h) == ["start_snapshot_disk", "start_copy_disk_to_zone",
                         "start_delete_snapshot", "start_delete_disk", "start_attach_data_disk"]
    assert "zone" in out["phases"]


def test_a_restored_disk_in_the_vms_zone_is_attached_as_it_is(h, restores):
    zonal(h, restored="source")
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out
    restored = target("vm-app01-data0-restored")
    assert out["restoredDiskId"].lower() == restored.lower()
    assert "intermediateDiskId" not in out and "zoneCopy" not in out
    assert h.gateway.disks[restored.lower()].managed_by == estate.VM
    assert writes(h) == ["start_attach_data_disk"]


def test_a_restored_disk_in_another_zone_is_copied_into_the_vms(h, restores):
    zonal(h, restored="source")
    vm(h).zones = ["2"]  # the source disks stay in zone 1, the VM is (now) in zone 2
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out
    assert out["restoredDiskId"].lower() == target("vm-app01-data0-restored-zone2").lower()
    assert h.gateway.disks[out["restoredDiskId"].lower()].zones == ["2"]


@pytest.mark.parametrize("restored", ["regional", "source"])
def test_a_zrs_restored_disk_attaches_in_any_zone_without_a_copy(h, restores, restored):
    zonal(h, sku="StandardSSD_ZRS", restored=restored)
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out
    assert out["restoredDiskId"].lower() == target("vm-app01-data0-restored").lower()
    assert h.gateway.disks[out["restoredDiskId"].lower()].zones == []
    assert writes(h) == ["start_attach_data_disk"]


def test_a_copy_whose_answer_was_lost_is_adopted_when_the_host_retries(h, restores):
    zonal(h)
    h.gateway.lose_answer("start_copy_disk_to_zone", errors.AzureUnavailable("502 from ARM"))
    h.gateway.lose_answer("start_snapshot_disk", errors.AzureUnavailable("502 from ARM"))
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out
    assert len(h.gateway.called("start_copy_disk_to_zone")) == 2  # retried, adopted
    assert len(h.gateway.called("start_snapshot_disk")) == 2
    copies = [d for d in h.gateway.disks.values() if d.id.lower().startswith(
        target("vm-app01-data0-restored").lower())]
    assert [d.id.lower() for d in copies] == [out["restoredDiskId"].lower()]
    assert h.gateway.snapshots == {}


def test_a_failed_copy_fails_the_run_before_the_vm_is_touched(h, restores):
    zonal(h)
    h.gateway.fail_operation("start_copy_disk_to_zone", "OperationNotAllowed", "quota")
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Failed"
    assert out["error"]["code"] == "ZoneCopyFailed"
    assert "quota" in out["error"]["message"] and "zone 1" in out["error"]["hint"]
    assert target("vm-app01-data0-restored").lower() in h.gateway.disks  # kept for by hand
    assert len(vm(h).data_disks) == 2
    assert "start_attach_data_disk" not in writes(h)
    assert len(h.gateway.called("revoke_role")) == 1


def test_the_copy_name_taken_already_is_refused_at_plan(h, restores):
    zonal(h)
    h.gateway.add_disk(Disk(target("vm-app01-data0-restored-zone1"), estate.LOCATION, 8,
                            "Premium_LRS", zones=[ZONE]))
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Failed" and out["error"]["code"] == "TargetDiskExists"
    assert "vm-app01-data0-restored-zone1" in out["error"]["message"]
    assert h.gateway.called("grant_role") == []


# ---- swap ---------------------------------------------------------------------------------------
def test_a_regional_restored_os_disk_is_copied_into_the_zone_before_the_vm_stops(h, restores):
    zonal(h)
    h.gateway.os_disk_swap_requires = "stopped"
    out = restores.run(restores.request(estate.OS_DISK, swapOsDisk={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out
    copy_id = target("vm-app01-osdisk-restored-zone1")
    assert out["restoredDiskId"].lower() == copy_id.lower() and out["swap"]["zone"] == ZONE
    assert vm(h).os_disk_id.lower() == copy_id.lower() and vm(h).power_state == "running"
    assert h.gateway.disks[copy_id.lower()].os_type == "Linux"
    assert writes(h) == ["start_snapshot_disk", "start_copy_disk_to_zone",
                         "start_delete_snapshot", "start_delete_disk", "start_power_off_vm",
                         "start_set_os_disk", "start_start_vm"]


def test_a_restored_os_disk_in_the_vms_zone_is_swapped_in_as_it_is(h, restores):
    zonal(h, restored="source")
    out = restores.run(restores.request(estate.OS_DISK, swapOsDisk={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out
    assert vm(h).os_disk_id.lower() == target("vm-app01-osdisk-restored").lower()
    assert "zoneCopy" not in out


def test_a_zrs_restored_os_disk_is_swapped_in_without_a_copy(h, restores):
    zonal(h, sku="Premium_ZRS")
    out = restores.run(restores.request(estate.OS_DISK, swapOsDisk={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out
    assert vm(h).os_disk_id.lower() == target("vm-app01-osdisk-restored").lower()
    assert "start_copy_disk_to_zone" not in writes(h)


def test_a_failed_copy_for_a_swap_never_stops_the_vm(h, restores):
    zonal(h)
    h.gateway.refuse("start_snapshot_disk", "OperationNotAllowed", "snapshot quota")
    out = restores.run(restores.request(estate.OS_DISK, swapOsDisk={"vmId": estate.VM}))
    assert out["outcome"] == "Failed" and out["error"]["code"] == "ZoneCopyFailed"
    assert vm(h).power_state == "running" and vm(h).os_disk_id == estate.OS_DISK
    assert "start_deallocate_vm" not in writes(h)
