"""Compute behaviour: power-state LROs, disk states, attach/detach rules, the OS-disk swap rules,
concurrency (409) and etags (412)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceModifiedError

if TYPE_CHECKING:
    from conftest import Demo


def power(demo: Demo) -> str:
    vm = demo.c.compute.virtual_machines.get(demo.app_rg, "vm-app01", expand="instanceView")
    return next(s.code for s in vm.instance_view.statuses if s.code.startswith("PowerState/"))


def disk_state(demo: Demo, name: str, rg: str | None = None) -> str:
    return demo.c.compute.disks.get(rg or demo.app_rg, name).disk_state


def new_disk(demo: Demo, name: str, size: int = 32, **properties: Any) -> str:
    body = {"location": "westeurope", "sku": {"name": "Premium_LRS"},
            "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": size,
                           **properties}}
    demo.finish(demo.c.compute.disks.begin_create_or_update(demo.app_rg, name, body), 10)
    return demo.disk_id(demo.app_rg, name)


def test_deallocate_start_and_power_off_follow_the_clock(demo: Demo) -> None:
    vms = demo.c.compute.virtual_machines
    poller = vms.begin_deallocate(demo.app_rg, "vm-app01")
    assert power(demo) == "PowerState/deallocating"
    assert not poller.done()
    demo.finish(poller, 121)
    assert power(demo) == "PowerState/deallocated"
    assert disk_state(demo, "vm-app01-data0") == "Reserved"
    demo.finish(vms.begin_start(demo.app_rg, "vm-app01"), 121)
    assert (power(demo), disk_state(demo, "vm-app01-data0")) == ("PowerState/running", "Attached")
    demo.finish(vms.begin_power_off(demo.app_rg, "vm-app01"), 61)
    assert (power(demo), disk_state(demo, "vm-app01-data0")) == ("PowerState/stopped", "Attached")


def test_a_vm_with_an_operation_in_flight_refuses_other_writes(demo: Demo) -> None:
    vms = demo.c.compute.virtual_machines
    poller = vms.begin_deallocate(demo.app_rg, "vm-app01")
    with pytest.raises(HttpResponseError) as busy:
        vms.begin_start(demo.app_rg, "vm-app01")
    assert (busy.value.status_code, busy.value.error.code) == (409, "Conflict")
    demo.finish(poller, 121)


def test_stale_etag_is_a_precondition_failure(demo: Demo) -> None:
    vms = demo.c.compute.virtual_machines
    vm = vms.get(demo.app_rg, "vm-app01")
    demo.finish(vms.begin_update(demo.app_rg, "vm-app01", {"tags": {"a": "1"}}), 11)
    with pytest.raises(ResourceModifiedError):
        vms.begin_update(demo.app_rg, "vm-app01", {"tags": {"a": "2"}}, etag=vm.etag,
                         match_condition=MatchConditions.IfNotModified)


def test_attach_by_vm_put_then_detach_with_to_be_detached(demo: Demo) -> None:
    vms = demo.c.compute.virtual_machines
    extra = new_disk(demo, "extra")
    vm = vms.get(demo.app_rg, "vm-app01")
    vm.storage_profile.data_disks.append({"lun": 7, "createOption": "Attach",
                                          "managedDisk": {"id": extra}})
    poller = vms.begin_create_or_update(demo.app_rg, "vm-app01", vm)
    assert vms.get(demo.app_rg, "vm-app01").provisioning_state == "Updating"
    updated = demo.finish(poller, 36)
    assert updated.provisioning_state == "Succeeded"
    assert [d.lun for d in updated.storage_profile.data_disks] == [0, 1, 7]
    assert disk_state(demo, "extra") == "Attached"

    disks = [d.as_dict() for d in updated.storage_profile.data_disks]
    disks[2]["toBeDetached"] = True
    patched = demo.finish(vms.begin_update(demo.app_rg, "vm-app01", {
        "properties": {"storageProfile": {"dataDisks": disks}}}), 36)
    assert [d.lun for d in patched.storage_profile.data_disks] == [0, 1]
    assert disk_state(demo, "extra") == "Unattached"


@pytest.mark.parametrize(("change", "status", "code"), [
    (lambda demo: {"dataDisksToAttach": [{"diskId": demo.disk_id(demo.app_rg, "vm-app01-osdisk")}]},
     400, "ConflictingUserInput"),
    (lambda demo: {"dataDisksToAttach": [{"diskId": demo.disk_id(demo.app_rg, "ghost")}]},
     404, "NotFound"),
    (lambda demo: {"dataDisksToAttach": [{"diskId": new_disk(demo, "d"), "lun": 64}]},
     400, "InvalidParameter"),
    (lambda demo: {"dataDisksToAttach": [{"diskId": new_disk(demo, "d"), "lun": 1}]},
     400, "InvalidParameter"),
    (lambda demo: {"dataDisksToAttach": [{"diskId": new_disk(demo, f"d{i}")} for i in range(7)]},
     409, "OperationNotAllowed"),  # Standard_D4s_v5 takes 8 data disks
    (lambda demo: {"dataDisksToDetach": [{"diskId": demo.disk_id(demo.target_rg, "none")}]},
     400, "InvalidParameter"),
])
def test_attach_detach_rules(demo: Demo, change: Callable[[Demo], dict[str, Any]], status: int,
                             code: str) -> None:
    with pytest.raises(HttpResponseError) as refused:
        demo.c.compute.virtual_machines.begin_attach_detach_data_disks(
            demo.app_rg, "vm-app01", change(demo))
    assert (refused.value.status_code, refused.value.error.code) == (status, code)


def test_zonal_vm_needs_disks_in_its_zone(make_demo: Callable[..., Demo]) -> None:
    def zonal(spec: dict[str, Any]) -> None:  # a zonal VM's disks are in its zone
        spec["virtualMachines"][0]["zones"] = ["1"]
        for disk in spec["disks"]:
            disk["zones"] = ["1"]

    demo = make_demo(zonal)
    attach = demo.c.compute.virtual_machines.begin_attach_detach_data_disks
    regional = new_disk(demo, "regional")
    with pytest.raises(HttpResponseError) as not_zonal:
        attach(demo.app_rg, "vm-app01", {"dataDisksToAttach": [{"diskId": regional}]})
    assert "it is not in zone '1'" in not_zonal.value.error.message
    other_zone = {"location": "westeurope", "zones": ["2"], "properties": {
        "creationData": {"createOption": "Empty"}, "diskSizeGB": 8}}
    demo.finish(demo.c.compute.disks.begin_create_or_update(demo.app_rg, "z2", other_zone), 10)
    with pytest.raises(HttpResponseError) as wrong_zone:
        attach(demo.app_rg, "vm-app01", {"dataDisksToAttach": [
            {"diskId": demo.disk_id(demo.app_rg, "z2")}]})
    assert "VM zone: '1'. Disk zone: '2'." in wrong_zone.value.error.message


OS_DISK = {"osType": "Linux", "hyperVGeneration": "V2",
           "securityProfile": {"securityType": "TrustedLaunch"}}


def swap(demo: Demo, disk_id: str, **os_disk: Any) -> Any:
    return demo.c.compute.virtual_machines.begin_update(demo.app_rg, "vm-app01", {
        "properties": {"storageProfile": {"osDisk": {"managedDisk": {"id": disk_id}, **os_disk}}}})


def test_os_disk_swap_after_deallocation(demo: Demo) -> None:
    vms = demo.c.compute.virtual_machines
    demo.finish(vms.begin_deallocate(demo.app_rg, "vm-app01"), 121)
    replacement = new_disk(demo, "os-restored", size=64, **OS_DISK)
    vm = demo.finish(swap(demo, replacement, createOption="FromImage", osType="Linux"), 36)
    assert vm.storage_profile.os_disk.name == "os-restored"
    assert disk_state(demo, "os-restored") == "Reserved"
    assert disk_state(demo, "vm-app01-osdisk") == "Unattached"
    demo.finish(vms.begin_start(demo.app_rg, "vm-app01"), 121)
    assert disk_state(demo, "os-restored") == "Attached"


@pytest.mark.parametrize(("disk", "os_disk", "status", "code"), [
    ({"size": 64, **OS_DISK}, {"createOption": "Attach"}, 409, "PropertyChangeNotAllowed"),
    ({"size": 64, **OS_DISK}, {"osType": "Windows"}, 409, "PropertyChangeNotAllowed"),
    ({"size": 64, **OS_DISK}, {"managedDisk": {"storageAccountType": "Standard_LRS"}}, 409,
     "OperationNotAllowed"),
    ({"size": 64}, {}, 409, "PropertyChangeNotAllowed"),  # a data disk has no osType
    ({"size": 64, **OS_DISK, "hyperVGeneration": "V1"}, {}, 400, "BadRequest"),
    ({"size": 64, **{**OS_DISK, "securityProfile": {"securityType": "Standard"}}}, {}, 400,
     "BadRequest"),
    ({"size": 32, **OS_DISK}, {}, 400, "BadRequest"),  # smaller than the current OS disk
])
def test_os_disk_swap_rules(demo: Demo, disk: dict[str, Any], os_disk: dict[str, Any],
                            status: int, code: str) -> None:
    # Deallocated first (the demo's osDiskSwapRequires), so only the disk is refused.
    demo.finish(demo.c.compute.virtual_machines.begin_deallocate(demo.app_rg, "vm-app01"), 121)
    properties = dict(disk)
    replacement = new_disk(demo, "candidate", size=properties.pop("size"), **properties)
    managed = {"id": replacement, **os_disk.pop("managedDisk", {})}
    with pytest.raises(HttpResponseError) as refused:
        swap(demo, replacement, **os_disk, managedDisk=managed)
    assert (refused.value.status_code, refused.value.error.code) == (status, code)
    vm = demo.c.compute.virtual_machines.get(demo.app_rg, "vm-app01")
    assert vm.storage_profile.os_disk.name == "vm-app01-osdisk"  # nothing changed


def test_disk_delete(demo: Demo) -> None:
    disks = demo.c.compute.disks
    with pytest.raises(HttpResponseError) as attached:
        disks.begin_delete(demo.app_rg, "vm-app01-data0")
    assert (attached.value.status_code, attached.value.error.code) == (409, "OperationNotAllowed")
    new_disk(demo, "doomed")
    demo.finish(disks.begin_delete(demo.app_rg, "doomed"), 6)
    assert "doomed" not in {d.name for d in disks.list_by_resource_group(demo.app_rg)}
