"""Planning a whole-VM restore against the fast tier's in-memory Azure (dev/harness), on azsim's
demo estate: vm-app01 with its OS disk and two data disks, each protected, 7 daily points."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from harness import estate
from harness.control_plane import FakeControlPlane

from domain import errors
from domain.model import DataDisk, Disk, RecoveryPoint
from domain.restore.planning import build_plan, choose_recovery_point
from domain.restore.request import REQUEST_ID, RecoveryPointChoice
from domain.restore.vm_plan import (
    VmRestorePlan,
    build_vm_plan,
    disk_request_id,
    restored_disk_name,
)
from domain.restore.vm_request import VmRestoreRequest

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
RUN = "restorevm-ticket-7"


@pytest.fixture
def plane() -> FakeControlPlane:
    plane = FakeControlPlane(lambda: NOW)
    estate.build(plane, NOW)
    return plane


def request(**extra: Any) -> VmRestoreRequest:
    source = {"vmId": estate.VM, **({"disks": extra.pop("disks")} if "disks" in extra else {})}
    return VmRestoreRequest.from_dict({"source": source,
                                       "target": {"resourceGroupId": estate.TARGET,
                                                  **extra.pop("target", {})}, **extra})


def plan(plane: FakeControlPlane, **extra: Any) -> VmRestorePlan:
    return build_vm_plan(request(**extra), plane, instance_id=RUN, now=NOW)


def points_of(plane: FakeControlPlane, disk: str) -> list[RecoveryPoint]:
    return plane.protected[estate.backup_instance_of(plane, disk).lower()].points


def set_points(plane: FakeControlPlane, disk: str, times: list[datetime]) -> None:
    plane.protected[estate.backup_instance_of(plane, disk).lower()].points = [
        RecoveryPoint(id=f"{disk.rsplit('/', 1)[1]}-{t:%m%d%H%M}", time=t.isoformat())
        for t in times]


def add_data_disk(plane: FakeControlPlane, lun: int, name: str, *, protect: bool) -> str:
    disk = estate.disk_id(name)
    plane.add_disk(Disk(disk, estate.LOCATION, 128, "Premium_LRS"))
    plane.vms[estate.VM.lower()].data_disks.append(DataDisk(lun, disk, "None"))
    if protect:
        plane.protect(estate.VAULT, disk, principal_id=estate.VAULT_PRINCIPAL,
                      snapshot_rg_id=estate.SNAPSHOTS,
                      points=[RecoveryPoint(id=f"{name}-p", time=(NOW - timedelta(hours=8))
                                            .isoformat())])
    return disk


def raised(error: type[errors.RestoreError], plane: FakeControlPlane, **extra: Any
           ) -> errors.RestoreError:
    with pytest.raises(error) as info:
        plan(plane, **extra)
    return info.value


# ---- every protected disk, each from its own newest point ----------------------------------------
def test_every_disk_is_restored_from_its_own_newest_point_and_given_its_part_of_the_vm(plane):
    result = plan(plane)
    assert [(d.role, d.lun, d.source_disk_id) for d in result.disks] == [
        ("os", None, estate.OS_DISK), ("data", 0, estate.DATA0), ("data", 1, estate.DATA1)]
    for disk in result.disks:
        newest = max(points_of(plane, disk.source_disk_id), key=lambda p: p.time)
        assert disk.recovery_point == newest
        assert disk.backup_instance.datasource_id == disk.source_disk_id
        sub = disk.request
        # the disk's run restores exactly this point, whenever it runs
        assert (sub.recovery_point.kind, sub.recovery_point.value) == ("id", newest.id)
        assert sub.source_disk_id == disk.source_disk_id
        assert sub.target_resource_group_id == estate.TARGET
        assert sub.target_disk_name == f"{disk.source_disk_id.rsplit('/', 1)[1]}-restored"
    os_disk, data0, data1 = result.disks
    assert os_disk.request.swap_vm_id == estate.VM and os_disk.request.attach is None
    for data in (data0, data1):
        assert data.request.swap_vm_id is None
        assert (data.request.attach.vm_id, data.request.attach.mode) == (estate.VM, "replace")
    assert [d.request.request_id for d in result.disks] == [f"{RUN}-os", f"{RUN}-lun0",
                                                            f"{RUN}-lun1"]
    assert result.os_disk is os_disk and result.data_disks == [data0, data1]
    assert result.vm.id == estate.VM and result.apply == "replace" and not result.dry_run
    assert result.skipped == [] and result.skew_seconds == 0
    assert result.created == NOW.isoformat() and result.instance_id == RUN


def test_apply_none_restores_only(plane):
    result = plan(plane, apply="none")
    assert result.apply == "none" and len(result.disks) == 3
    assert all(d.request.attach is None and d.request.swap_vm_id is None for d in result.disks)


def test_a_dry_run_and_the_reason_reach_every_disks_request(plane):
    result = plan(plane, dryRun=True, reason="INC-4711")
    assert result.dry_run
    assert all(d.request.dry_run and d.request.reason == "INC-4711" for d in result.disks)


def test_the_same_inputs_make_the_same_plan_and_it_crosses_the_wire(plane):
    first = plan(plane, disks=["os", 1], recoveryPoint={"before": "2026-11-22T12:00:00Z"})
    assert plan(plane, disks=["os", 1], recoveryPoint={"before": "2026-11-22T12:00:00Z"}) == first
    wire = json.loads(json.dumps(first.to_dict()))
    assert VmRestorePlan.from_dict(wire) == first
    assert "skewSeconds" in wire and wire["disks"][0]["request"]["recoveryPoint"] == {
        "id": first.disks[0].recovery_point.id}


# ---- one point in time, and the skew between disks -----------------------------------------------
def test_before_a_time_each_disk_gets_its_newest_point_before_it_and_the_skew_is_reported(plane):
    """Each disk is its own backup instance, backed up at its own moment: the OS disk at 02:00,
    data0 at 02:10, data1 at 03:30. Before 03:00 on the 24th, data1's newest is the 23rd's."""
    day = datetime(2026, 11, 22, tzinfo=UTC)
    at = {estate.OS_DISK: timedelta(hours=2), estate.DATA0: timedelta(hours=2, minutes=10),
          estate.DATA1: timedelta(hours=3, minutes=30)}
    for disk, offset in at.items():
        set_points(plane, disk, [day + timedelta(days=n) + offset for n in range(3)])
    result = plan(plane, recoveryPoint={"before": "2026-11-24T03:00:00Z"})
    assert [d.recovery_point.time for d in result.disks] == [
        "2026-11-24T02:00:00+00:00", "2026-11-24T02:10:00+00:00", "2026-11-23T03:30:00+00:00"]
    assert result.oldest_point == "2026-11-23T03:30:00+00:00"
    assert result.newest_point == "2026-11-24T02:10:00+00:00"
    assert result.skew_seconds == timedelta(hours=22, minutes=40).total_seconds()
    # the rule is a single disk's: the same choice on one disk picks the same point
    for disk in result.disks:
        assert disk.recovery_point == choose_recovery_point(
            points_of(plane, disk.source_disk_id),
            RecoveryPointChoice("before", "2026-11-24T03:00:00+00:00"))


def test_before_means_strictly_before_as_for_a_single_disk(plane):
    newest = max(points_of(plane, estate.DATA0), key=lambda p: p.time)
    result = plan(plane, disks=[0], recoveryPoint={"before": newest.time})
    assert result.disks[0].recovery_point.time < newest.time


def test_latest_takes_each_disks_newest_and_reports_their_skew(plane):
    set_points(plane, estate.DATA1, [NOW - timedelta(hours=30)])
    result = plan(plane)
    times = [datetime.fromisoformat(d.recovery_point.time) for d in result.disks]
    assert result.skew_seconds == (max(times) - min(times)).total_seconds() > 0
    assert datetime.fromisoformat(result.oldest_point) == NOW - timedelta(hours=30)


def test_a_disk_without_a_point_before_the_time_is_an_error_naming_each(plane):
    """Restoring the others alone would not be the VM at that time."""
    set_points(plane, estate.DATA0, [NOW - timedelta(hours=1)])
    set_points(plane, estate.DATA1, [])
    error = raised(errors.RecoveryPointNotFound, plane,
                   recoveryPoint={"before": (NOW - timedelta(hours=2)).isoformat()})
    assert "LUN 0" in error.message and "LUN 1" in error.message
    assert "the OS disk" not in error.message
    assert "none yet" in error.message and "its oldest is" in error.message
    assert "source.disks" in (error.hint or "")
    # left out, the others are planned
    assert [d.role for d in plan(plane, disks=["os"], recoveryPoint={
        "before": (NOW - timedelta(hours=2)).isoformat()}).disks] == ["os"]


# ---- which disks ---------------------------------------------------------------------------------
def test_a_chosen_subset_is_restored_and_nothing_else(plane):
    result = plan(plane, disks=[1, "os"])
    assert [(d.role, d.lun) for d in result.disks] == [("os", None), ("data", 1)]
    assert result.skipped == []
    assert [d.lun for d in plan(plane, disks=[0]).disks] == [0]


def test_an_unprotected_disk_is_skipped_with_the_reason_when_every_disk_is_asked_for(plane):
    extra = add_data_disk(plane, 2, "vm-app01-scratch", protect=False)
    result = plan(plane)
    assert [d.lun for d in result.data_disks] == [0, 1]
    assert [(s.role, s.lun, s.disk_id) for s in result.skipped] == [("data", 2, extra)]
    assert "no Backup vault protects it" in result.skipped[0].reason


def test_a_named_disk_the_vm_does_not_have_is_an_error_naming_each(plane):
    error = raised(errors.InvalidRequest, plane, disks=["os", 0, 5, 7])
    assert [(e.field, e.message.split(":")[0]) for e in error.errors] == [
        ("source.disks", "LUN 5"), ("source.disks", "LUN 7")]
    assert "0, 1" in error.errors[0].message  # the LUNs it has


def test_a_named_disk_no_vault_protects_is_an_error_not_a_skip(plane):
    extra = add_data_disk(plane, 2, "vm-app01-scratch", protect=False)
    error = raised(errors.InvalidRequest, plane, disks=[0, 2])
    assert [e.field for e in error.errors] == ["source.disks"]
    assert error.errors[0].message.startswith(f"LUN 2 ({extra})")
    assert "no Backup vault protects it" in error.errors[0].message


def test_an_os_disk_that_is_not_managed_is_skipped_or_refused_when_named(plane):
    plane.vms[estate.VM.lower()].os_disk_id = None
    result = plan(plane)
    assert [d.role for d in result.disks] == ["data", "data"]
    assert [(s.role, s.disk_id) for s in result.skipped] == [("os", None)]
    assert "not a managed disk" in result.skipped[0].reason
    error = raised(errors.InvalidRequest, plane, disks=["os", 0])
    assert [e.message.split(":")[0] for e in error.errors] == ['"os"']


def test_a_vm_with_no_protected_disk_is_an_error_that_says_so(plane):
    for disk in (estate.OS_DISK, estate.DATA0, estate.DATA1):
        del plane.protected[estate.backup_instance_of(plane, disk).lower()]
    error = raised(errors.BackupInstanceNotFound, plane)
    assert "no disk of" in error.message and estate.VM in error.message
    assert error.message.count("no Backup vault protects it") == 3


def test_a_vm_that_does_not_exist_is_an_error(plane):
    with pytest.raises(errors.VmNotFound, match="vm-gone"):
        build_vm_plan(VmRestoreRequest.from_dict({
            "source": {"vmId": estate.vm_id("vm-gone")},
            "target": {"resourceGroupId": estate.TARGET}}), plane, instance_id=RUN, now=NOW)


# ---- where the restored disks go -----------------------------------------------------------------
def test_the_target_group_must_exist(plane):
    with pytest.raises(errors.TargetResourceGroupNotFound):
        plan(plane, target={"resourceGroupId": estate.rg("rg-nowhere")})


def test_every_taken_name_is_named_before_any_disk_is_restored(plane):
    for name in ("vm-app01-osdisk-r1", "vm-app01-data1-r1"):
        plane.add_disk(Disk(estate.disk_id(name, "rg-restore-target"), estate.LOCATION))
    error = raised(errors.TargetDiskExists, plane, target={"diskNameSuffix": "-r1"})
    assert "'vm-app01-osdisk-r1' (the OS disk)" in error.message
    assert "'vm-app01-data1-r1' (LUN 1)" in error.message and "data0" not in error.message
    assert "diskNameSuffix" in (error.hint or "")
    assert len(plan(plane, target={"diskNameSuffix": "-r2"}).disks) == 3


def test_an_empty_suffix_keeps_the_names_and_cannot_restore_over_the_source(plane):
    into_source_group = {"resourceGroupId": estate.rg(), "diskNameSuffix": ""}
    with pytest.raises(errors.TargetDiskExists):
        plan(plane, target=into_source_group)
    assert [d.request.target_disk_name for d in plan(plane, target={"diskNameSuffix": ""}).disks
            ] == ["vm-app01-osdisk", "vm-app01-data0", "vm-app01-data1"]


def test_a_long_name_is_cut_to_fit_80_characters_keeping_the_suffix(plane):
    long = "d" * 78
    add_data_disk(plane, 2, long, protect=True)
    result = plan(plane, disks=[2], target={"diskNameSuffix": "-r1124"})
    name = result.disks[0].request.target_disk_name
    assert name == "d" * 74 + "-r1124" and len(name) == 80
    assert restored_disk_name(estate.disk_id("x"), "-restored") == "x-restored"


def test_two_disks_cut_to_the_same_name_are_refused_naming_both(plane):
    add_data_disk(plane, 2, "a" * 75 + "one", protect=True)
    add_data_disk(plane, 3, "a" * 75 + "two", protect=True)
    error = raised(errors.InvalidRequest, plane, disks=[2, 3])
    assert "LUN 2 and LUN 3 would both be" in error.errors[0].message


# ---- what each disk's run is given ---------------------------------------------------------------
def test_each_disks_request_plans_as_a_single_disks_run_does(plane):
    """What the plan hands each disk's run is a request the single-disk planner accepts: the
    data disks replaced at their LUN with their caching, the OS disk swapped."""
    vm = plane.get_vm(estate.VM)
    for disk in plan(plane).disks:
        single = build_plan(disk.request, plane, instance_id=f"restore-{disk.request.request_id}",
                            created=NOW.isoformat(), propagation_timeout_s=60, job_timeout_s=60)
        assert single.recovery_point == disk.recovery_point
        assert single.backup_instance == disk.backup_instance
        if disk.role == "os":
            assert single.swap.original_os_disk_id == estate.OS_DISK
        else:
            slot = next(d for d in vm.data_disks if d.lun == disk.lun)
            assert (single.attach.lun, single.attach.caching, single.attach.replaces) == \
                (slot.lun, slot.caching, slot.disk_id)


def test_a_disks_request_id_stays_a_valid_request_id_and_tells_vm_runs_apart():
    assert disk_request_id("restorevm-t1", "lun3") == "restorevm-t1-lun3"
    long_a, long_b = "restorevm-" + "a" * 100, "restorevm-" + "a" * 99 + "b"
    ids = [disk_request_id(run, tag) for run in (long_a, long_b) for tag in ("os", "lun63")]
    assert all(len(i) <= 100 and re.fullmatch(REQUEST_ID, i) for i in ids)
    assert len(set(ids)) == 4 and all(i.endswith(("-os", "-lun63")) for i in ids)


def test_a_disks_request_id_for_a_long_run_id_is_accepted_by_its_request(plane):
    result = build_vm_plan(request(disks=[0]), plane, instance_id="restorevm-" + "x" * 100,
                           now=NOW)
    assert len(result.disks[0].request.request_id) == 100
