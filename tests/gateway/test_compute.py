"""Contract: attach a data disk, and the OS-disk swap (deallocate, set OS disk, start), started and
polled; retried starts are no-ops; a busy VM's refusal reads as a failed operation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from domain import errors
from domain.model import OperationStatus

if TYPE_CHECKING:
    from conftest import Env


def test_attach_then_the_vm_shows_the_disk_at_the_lun(env: Env) -> None:
    disk_id = env.create_disk("extra-data")

    operation = env.plane.start_attach_data_disk(env.vm, disk_id, 2, "ReadOnly")

    assert operation.kind == "attach"
    assert operation.status_url is not None and operation.status_url == operation.result_url
    assert env.plane.get_operation(operation) == OperationStatus("running")
    assert env.finish(operation, 40) == OperationStatus("succeeded")
    vm = env.plane.get_vm(env.vm)
    assert vm is not None
    assert [(d.lun, d.disk_id.lower()) for d in vm.data_disks][-1] == (2, disk_id.lower())
    disk = env.plane.get_disk(disk_id)
    assert disk is not None and disk.managed_by is not None
    assert disk.managed_by.lower() == env.vm.lower()

    again = env.plane.start_attach_data_disk(env.vm, disk_id, 2, "ReadOnly")  # a retried activity
    assert again.status_url is None
    assert env.plane.get_operation(again) == OperationStatus("succeeded")


def test_swap_deallocate_set_os_disk_start(env: Env) -> None:
    original = env.disk("vm-app01-osdisk")
    new_os = env.create_disk("restored-os", size_gb=64, osType="Linux", hyperVGeneration="V2",
                             securityProfile={"securityType": "TrustedLaunch"})

    deallocate = env.plane.start_deallocate_vm(env.vm)
    assert deallocate.kind == "deallocate" and deallocate.status_url and deallocate.result_url
    assert deallocate.status_url != deallocate.result_url
    assert env.plane.get_operation(deallocate) == OperationStatus("running")
    assert env.finish(deallocate, 130) == OperationStatus("succeeded")
    vm = env.plane.get_vm(env.vm)
    assert vm is not None and vm.power_state == "deallocated"

    swap = env.plane.start_set_os_disk(env.vm, new_os)
    assert swap.kind == "swap" and swap.status_url is not None
    assert env.plane.get_operation(swap) == OperationStatus("running")
    assert env.finish(swap, 40) == OperationStatus("succeeded")
    vm = env.plane.get_vm(env.vm)
    assert vm is not None and vm.os_disk_id is not None
    assert vm.os_disk_id.lower() == new_os.lower()
    old = env.plane.get_disk(original)
    assert old is not None and old.managed_by is None
    repeat = env.plane.start_set_os_disk(env.vm, new_os)  # a retried activity
    assert repeat.status_url is None
    assert env.plane.get_operation(repeat) == OperationStatus("succeeded")

    start = env.plane.start_start_vm(env.vm)
    assert start.kind == "start"
    assert env.finish(start, 130) == OperationStatus("succeeded")
    vm = env.plane.get_vm(env.vm)
    assert vm is not None and vm.power_state == "running"


def test_a_mismatched_os_disk_is_refused_as_a_failed_operation(env: Env) -> None:
    data_disk = env.create_disk("not-an-os-disk", size_gb=64)
    assert env.finish(env.plane.start_deallocate_vm(env.vm), 130).state == "succeeded"

    swap = env.plane.start_set_os_disk(env.vm, data_disk)

    status = env.plane.get_operation(swap)
    assert (status.state, status.error_code) == ("failed", "PropertyChangeNotAllowed")
    assert status.error_message and "osType" in status.error_message


def test_a_busy_vm_refuses_with_conflict(env: Env) -> None:
    env.plane.start_deallocate_vm(env.vm)

    refused = env.plane.start_start_vm(env.vm)

    assert refused.status_url is None
    status = env.plane.get_operation(refused)
    assert (status.state, status.error_code) == ("failed", "Conflict")


def test_an_operation_that_ends_failed_carries_azures_code(env: Env) -> None:
    env.sim.add_fault(kind="lroFailure", operation="Microsoft.Compute/virtualMachines/deallocate/*",
                      code="OperationPreempted", message="The operation was preempted.", count=1)

    status = env.finish(env.plane.start_deallocate_vm(env.vm), 130)

    assert status == OperationStatus("failed", "OperationPreempted",
                                     "The operation was preempted.")


def test_attach_failures_after_the_start_come_from_the_location_poll(env: Env) -> None:
    env.sim.add_fault(kind="lroFailure", code="AttachDiskWhileBeingDetached",
                      operation="Microsoft.Compute/virtualMachines/attachDetachDataDisks/*",
                      message="Cannot attach data disk.", count=1)

    status = env.finish(env.plane.start_attach_data_disk(
        env.vm, env.create_disk("extra-fails"), 3, "None"), 40)

    assert (status.state, status.error_code) == ("failed", "AttachDiskWhileBeingDetached")


def test_delete_disk_removes_an_unattached_disk_and_refuses_an_attached_one(env: Env) -> None:
    disk_id = env.create_disk("restored-unwanted")
    operation = env.plane.start_delete_disk(disk_id)
    assert operation.kind == "delete" and operation.status_url is not None
    assert env.finish(operation, 10) == OperationStatus("succeeded")
    assert env.plane.get_disk(disk_id) is None
    gone = env.plane.start_delete_disk(disk_id)  # a retried activity: already done
    assert gone.status_url is None and env.plane.get_operation(gone) == OperationStatus("succeeded")

    with pytest.raises(errors.DiskInUse, match="attached to"):
        env.plane.start_delete_disk(env.disk("vm-app01-data0"))
    assert env.plane.get_disk(env.disk("vm-app01-data0")) is not None
