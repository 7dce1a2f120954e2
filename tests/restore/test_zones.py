"""Restores onto a zonal VM, end to end (devhost + azsim + real SDK clients), in both of azsim's
answers to what Azure leaves undocumented: a restore job puts its disk regional, or in the source
disk's zone (scenario `restoredDiskZone`). Compute (azsim) refuses a disk outside the VM's zone;
the run must copy it into the zone (snapshot, disk from it) before the VM is touched."""

from __future__ import annotations

from typing import Any

import pytest

ZONE = "1"
SNAPSHOT_WRITE = "Microsoft.Compute/snapshots/write"


def zonal(restored: str):
    def patch(scenario: dict[str, Any]) -> None:
        scenario["restoredDiskZone"] = restored
        for disk in scenario["disks"]:
            if disk["resourceGroup"] == "rg-app":
                disk["zones"] = [ZONE]
        for vm in scenario["virtualMachines"]:
            vm["zones"] = [ZONE]
    return patch


def _result(env, view) -> dict[str, Any]:
    assert view["outcome"] == "Succeeded", view
    assert env.leftover_assignments() == set()
    return view["result"]


def _expect(env, result, source: str, restored: str) -> str:
    """The disk the VM must have got: the zonal copy (regional mode) or the restored disk."""
    landed = env.disk(f"{source}-restored", "rg-restore-target")
    if restored == "source":
        assert result["restoredDiskId"].lower() == landed.lower()
        assert "zoneCopy" not in result and env.writes(SNAPSHOT_WRITE) == []
        return landed
    copy = env.disk(f"{source}-restored-zone{ZONE}", "rg-restore-target")
    assert result["restoredDiskId"].lower() == copy.lower()
    assert result["intermediateDiskId"].lower() == landed.lower()
    assert result["zoneCopy"]["cleaned"] is True
    assert env.resource(landed) is None  # the restored disk was deleted
    assert env.resource(result["zoneCopy"]["snapshotId"]) is None  # and the snapshot
    assert len(env.writes(SNAPSHOT_WRITE)) == 1
    return copy


@pytest.mark.parametrize("restored", ["regional", "source"])
def test_attach_on_a_zonal_vm_gets_a_disk_in_its_zone(restore_env, restored):
    env = restore_env(zonal(restored))
    result = _result(env, env.run(env.request(attach={"vmId": env.vm()})))
    disk_id = _expect(env, result, "vm-app01-data0", restored)
    disk = env.resource(disk_id)
    assert disk is not None and disk["zones"] == [ZONE]
    vm = env.resource(env.vm())
    luns = {d["lun"]: d["managedDisk"]["id"].lower()
            for d in vm["properties"]["storageProfile"]["dataDisks"]}
    assert luns[result["attach"]["lun"]] == disk_id.lower()


@pytest.mark.parametrize("restored", ["regional", "source"])
def test_swap_on_a_zonal_vm_gets_an_os_disk_in_its_zone(restore_env, restored):
    env = restore_env(zonal(restored))
    result = _result(env, env.run(env.request("vm-app01-osdisk", swapOsDisk={"vmId": env.vm()})))
    disk_id = _expect(env, result, "vm-app01-osdisk", restored)
    vm = env.resource(env.vm())
    os_disk = vm["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"]
    assert os_disk.lower() == disk_id.lower()
    assert env.resource(disk_id)["zones"] == [ZONE]
    statuses = [s["code"] for s in vm["properties"]["instanceView"]["statuses"]]
    assert "PowerState/running" in statuses
