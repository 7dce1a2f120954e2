"""The incremental snapshots Backup keeps in the snapshot resource group are Compute resources:
readable with GET, listed by resource group and subscription with ARM paging, shaped as Azure
shows one; a deleted one (`deletedSnapshots`) is simply absent, and restore reads that absence."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

if TYPE_CHECKING:
    from conftest import Demo

DES = "/resourceGroups/rg-keys/providers/Microsoft.Compute/diskEncryptionSets/des-cmk"


def _of(demo: Demo, disk: str, snapshots: list[Any]) -> list[Any]:
    disk_id = demo.disk_id(demo.app_rg, disk).lower()
    return sorted((s for s in snapshots if s.creation_data.source_resource_id.lower() == disk_id),
                  key=lambda s: s.time_created, reverse=True)


def _points(demo: Demo, disk: str) -> list[Any]:
    bi = demo.backup_instance(disk)
    return sorted(demo.c.dataprotection.recovery_points.list(demo.vault_rg, demo.vault, bi.name),
                  key=lambda p: p.properties.recovery_point_time, reverse=True)


def test_each_recovery_point_has_an_incremental_snapshot_shaped_as_azure_shows_one(
        demo: Demo) -> None:
    snapshots = list(demo.c.compute.snapshots.list_by_resource_group("rg-snapshots"))
    assert len(snapshots) == 21  # 3 disks x 7 points
    data1 = demo.c.compute.disks.get(demo.app_rg, "vm-app01-data1")
    mine = _of(demo, "vm-app01-data1", snapshots)
    points = _points(demo, "vm-app01-data1")
    assert len(mine) == len(points) == 7
    for snapshot, point in zip(mine, points, strict=True):
        assert snapshot.incremental is True and snapshot.creation_data.create_option == "Copy"
        assert snapshot.creation_data.source_unique_id == data1.unique_id
        assert snapshot.incremental_snapshot_family_id == mine[0].incremental_snapshot_family_id
        assert snapshot.encryption.disk_encryption_set_id.lower() == \
            f"/subscriptions/{demo.sub}{DES}".lower()
        assert snapshot.sku.name == "Standard_ZRS" and "zones" not in snapshot.as_dict()
        assert snapshot.disk_size_gb == data1.disk_size_gb
        # the demo's default: taken within the backup job that ends at the point's time
        assert point.properties.recovery_point_time - snapshot.time_created == \
            timedelta(seconds=30)
    plain = _of(demo, "vm-app01-data0", snapshots)[0]
    assert plain.encryption.type == "EncryptionAtRestWithPlatformKey"
    assert plain.encryption.disk_encryption_set_id is None
    os_snapshot = _of(demo, "vm-app01-osdisk", snapshots)[0]
    os_disk = demo.c.compute.disks.get(demo.app_rg, "vm-app01-osdisk")
    assert (os_snapshot.os_type, os_snapshot.hyper_v_generation) == \
        (os_disk.os_type, os_disk.hyper_v_generation)
    assert os_snapshot.security_profile.security_type == os_disk.security_profile.security_type
    got = demo.c.compute.snapshots.get("rg-snapshots", os_snapshot.name)
    assert got.as_dict() == os_snapshot.as_dict()


def test_snapshots_are_listed_in_pages_by_group_and_by_subscription(
        make_demo: Callable[..., Demo]) -> None:
    def small_pages(spec: dict[str, Any]) -> None:
        spec["pageSize"] = 4

    demo = make_demo(small_pages)
    path = f"{demo.rg_id('rg-snapshots')}/providers/Microsoft.Compute/snapshots"
    status, _, first = demo.raw("GET", f"{path}?api-version=2025-01-02")
    assert status == 200 and len(first["value"]) == 4 and "nextLink" in first
    by_group = list(demo.c.compute.snapshots.list_by_resource_group("rg-snapshots"))
    by_subscription = list(demo.c.compute.snapshots.list())
    assert len(by_group) == 21
    assert sorted(s.id for s in by_subscription) == sorted(s.id for s in by_group)
    assert list(demo.c.compute.snapshots.list_by_resource_group("rg-restore-target")) == []


@pytest.mark.parametrize("offset", [-600, 0, 600])
def test_the_snapshot_time_relative_to_its_point_is_a_scenario_setting(
        make_demo: Callable[..., Demo], offset: int) -> None:
    """Azure does not document how a snapshot's `timeCreated` relates to its point's time."""
    demo = make_demo(lambda spec: spec.update(snapshotTimeOffsetSeconds=offset))
    snapshots = list(demo.c.compute.snapshots.list_by_resource_group("rg-snapshots"))
    newest = _of(demo, "vm-app01-data0", snapshots)[0]
    point = _points(demo, "vm-app01-data0")[0].properties.recovery_point_time
    assert newest.time_created - point == timedelta(seconds=offset)


def test_a_deleted_snapshot_is_absent_and_restore_finds_it_gone(
        make_demo: Callable[..., Demo]) -> None:
    def delete_newest(spec: dict[str, Any]) -> None:
        spec["backupVaults"][0]["backupInstances"][1]["recoveryPoints"]["deletedSnapshots"] = [0]

    demo = make_demo(delete_newest)
    snapshots = _of(demo, "vm-app01-data0",
                    list(demo.c.compute.snapshots.list_by_resource_group("rg-snapshots")))
    points = _points(demo, "vm-app01-data0")
    assert len(snapshots) == 6 and len(points) == 7
    assert all(s.time_created < points[0].properties.recovery_point_time - timedelta(hours=1)
               for s in snapshots)  # the newest point's is the one missing
    whole = make_demo()  # the same estate without the deletion
    [newest, *_] = _of(whole, "vm-app01-data0",
                       list(whole.c.compute.snapshots.list_by_resource_group("rg-snapshots")))
    assert whole.c.compute.snapshots.get("rg-snapshots", newest.name).id == newest.id
    with pytest.raises(ResourceNotFoundError):
        demo.c.compute.snapshots.get("rg-snapshots", newest.name)


def test_a_snapshot_deleted_after_its_restore_started_fails_the_job(
        make_demo: Callable[..., Demo]) -> None:
    """Restore reads the snapshot when the job creates the disk: one deleted meanwhile (an
    operator, a retention clean-up) fails the job with the documented code."""
    demo = make_demo(grants=(("/subscriptions/{subscriptionId}/resourceGroups/"
                              "rg-restore-target", "Disk Restore Operator", "vault"),))
    bi = demo.backup_instance("vm-app01-data0")
    point = demo.latest_point(bi.name)
    status = demo.finish(demo.trigger(bi.name, demo.restore_request(point.name, "late")), 10)
    job_name = status.job_id.rsplit("/", 1)[-1]
    snapshots = list(demo.c.compute.snapshots.list_by_resource_group("rg-snapshots"))
    [taken] = [s for s in _of(demo, "vm-app01-data0", snapshots) if abs(
        s.time_created - point.properties.recovery_point_time) < timedelta(hours=1)]
    operator = demo.clients_as("operator")
    demo.finish(operator.compute.snapshots.begin_delete("rg-snapshots", taken.name), 10)
    demo.clock.advance(400)
    job = demo.c.dataprotection.jobs.get(demo.vault_rg, demo.vault, job_name)
    assert job.properties.status == "Failed"
    assert job.properties.error_details[0].code == "UserErrorDiskSnapshotNotFound"
    with pytest.raises(ResourceNotFoundError):
        demo.c.compute.disks.get(demo.target_rg, "late")
