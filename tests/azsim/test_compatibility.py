"""VM and disk compatibility (issue 20, "checks before any change"): the Resource SKUs list the
product reads, every refusal Compute makes when a disk does not suit a VM (attach, VM PUT/PATCH,
OS-disk swap), the power state a swap needs (`osDiskSwapRequires`), what a restored disk keeps of
its security profile (`restoredDiskSecurityProfile`), and the scenarios azsim refuses to load
because Azure would never have let them be. All through the real SDK clients."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import azsim
import pytest
from azsim import scenario, sizes
from azure.core.exceptions import HttpResponseError
from devhost.clock import VirtualClock

if TYPE_CHECKING:
    from conftest import Demo

SKUS = "Microsoft.Compute/skus/read"
TARGET_DRO = ("/subscriptions/{subscriptionId}/resourceGroups/rg-restore-target",
              "Disk Restore Operator", "vault")
TL = {"securityType": "TrustedLaunch"}


def add_vm(spec: dict[str, Any], name: str, size: str, *, generation: str = "V2",
           os_sku: str = "Premium_LRS", os_security: dict[str, Any] | None = None,
           zones: list[str] | None = None, **vm: Any) -> None:
    """A VM of `size` in rg-app with an OS disk of its own (Linux, `generation`)."""
    disk: dict[str, Any] = {"resourceGroup": "rg-app", "name": f"{name}-os", "sku": os_sku,
                            "sizeGB": 64, "properties": {"osType": "Linux",
                                                         "hyperVGeneration": generation}}
    if os_security:
        disk["properties"]["securityProfile"] = os_security
    if zones:
        disk["zones"] = vm["zones"] = zones
    spec["disks"].append(disk)
    spec["virtualMachines"].append({"resourceGroup": "rg-app", "name": name, "size": size,
                                    "osDisk": f"{name}-os", "dataDisks": [], **vm})


def estate(spec: dict[str, Any]) -> None:
    """Besides the demo's vm-app01 (Standard_D4s_v5, regional, Trusted Launch, V2): a VM without
    Premium Storage (Gen1 only), a zonal Ultra-enabled VM, a Confidential VM, and a shared disk."""
    add_vm(spec, "vm-small", "Standard_A2_v2", generation="V1", os_sku="StandardSSD_LRS")
    add_vm(spec, "vm-ultra", "Standard_D4s_v5", os_security=TL, zones=["1"],
           securityType="TrustedLaunch", ultraSSDEnabled=True)
    add_vm(spec, "vm-cvm", "Standard_DC2as_v5", securityType="ConfidentialVM",
           os_security={"securityType": "ConfidentialVM_DiskEncryptedWithPlatformKey"})
    spec["disks"].append({"resourceGroup": "rg-app", "name": "shared", "sku": "Premium_LRS",
                          "sizeGB": 256, "properties": {"maxShares": 2}})


@pytest.fixture
def fleet(make_demo: Callable[..., Demo]) -> Demo:
    """The demo with `estate`'s VMs and disk."""
    return make_demo(estate)


def make_disk(demo: Demo, name: str, sku: str = "Premium_LRS", size: int = 32,
              zones: list[str] | None = None, **properties: Any) -> str:
    body: dict[str, Any] = {"location": "westeurope", "sku": {"name": sku}, "properties": {
        "creationData": {"createOption": "Empty"}, "diskSizeGB": size, **properties}}
    if zones:
        body["zones"] = zones
    demo.finish(demo.c.compute.disks.begin_create_or_update(demo.app_rg, name, body), 10)
    return demo.disk_id(demo.app_rg, name)


def attach(demo: Demo, vm: str, disk_id: str, caching: str | None = None) -> Any:
    item = {"diskId": disk_id} | ({"caching": caching} if caching else {})
    return demo.finish(demo.c.compute.virtual_machines.begin_attach_detach_data_disks(
        demo.app_rg, vm, {"dataDisksToAttach": [item]}), 40)


def refused(call: Callable[[], Any]) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as error:
        call()
    return error.value


# --- Resource SKUs -------------------------------------------------------------------------------

def test_the_sdk_pager_walks_every_page_of_resource_skus(demo: Demo) -> None:
    listed = list(demo.c.compute.resource_skus.list(filter="location eq 'westeurope'"))
    expected = sizes.sku_entries("westeurope")
    assert [(s.resource_type, s.name) for s in listed] == [
        (e["resourceType"], e["name"]) for e in expected]
    assert len(expected) > sizes.SKU_PAGE_SIZE  # several pages, or the walk proves nothing
    pages = [e for e in demo.sim.audit() if e["operation"] == SKUS]
    assert len(pages) == math.ceil(len(expected) / sizes.SKU_PAGE_SIZE)
    for sku in listed:
        assert sku.locations == ["westeurope"]
        assert sku.location_info[0].location == "westeurope"
        if sku.resource_type == "virtualMachines":
            assert sku.location_info[0].zones == ["1", "2", "3"]


def test_resource_skus_carry_each_size_s_real_capabilities(demo: Demo) -> None:
    listed = {s.name: s for s in demo.c.compute.resource_skus.list(
        filter="location eq 'westeurope'") if s.resource_type == "virtualMachines"}
    assert set(listed) == {s.name for s in sizes.SIZES.values()}

    def caps(name: str) -> dict[str, str]:
        return {c.name: c.value for c in listed[name].capabilities}

    def ultra_zones(name: str) -> list[str]:
        return [zone for d in listed[name].location_info[0].zone_details
                for c in d.capabilities if (c.name, c.value) == ("UltraSSDAvailable", "True")
                for zone in d.name]

    # What the product reads, for the sizes the scenarios use and the odd ones.
    assert {k: caps("Standard_D4s_v5")[k] for k in (
        "MaxDataDiskCount", "PremiumIO", "HyperVGenerations", "vCPUs", "MemoryGB")} == {
        "MaxDataDiskCount": "8", "PremiumIO": "True", "HyperVGenerations": "V1,V2",
        "vCPUs": "4", "MemoryGB": "16"}
    assert ultra_zones("Standard_D4s_v5") == ["1", "2", "3"]
    assert caps("Standard_D16s_v5")["MaxDataDiskCount"] == "32"
    assert (caps("Standard_A2_v2")["PremiumIO"], caps("Standard_A2_v2")["HyperVGenerations"]) \
        == ("False", "V1")
    assert listed["Standard_A2_v2"].location_info[0].zone_details == []
    assert caps("Standard_D2_v3")["PremiumIO"] == "False"
    assert caps("Standard_DC2as_v5")["HyperVGenerations"] == "V2"
    assert caps("Standard_DC2as_v5")["ConfidentialComputingType"] == "SNP"
    assert listed["Standard_D4s_v5"].family == "standardDSv5Family"
    assert (listed["Standard_D4s_v5"].tier, listed["Standard_D4s_v5"].size) == (
        "Standard", "D4s_v5")


def test_the_first_page_alone_misses_sizes_and_its_next_link_keeps_the_api_version(
        demo: Demo) -> None:
    path = (f"/subscriptions/{demo.sub}/providers/Microsoft.Compute/skus?api-version=2021-07-01"
            "&%24filter=location%20eq%20%27westeurope%27")
    status, _, first = demo.raw("GET", path)
    assert status == 200 and len(first["value"]) == sizes.SKU_PAGE_SIZE
    assert "api-version=2021-07-01" in first["nextLink"]
    _, _, second = demo.raw("GET", first["nextLink"].removeprefix(demo.sim.endpoint))
    assert {s["name"] for s in second["value"]}.isdisjoint(s["name"] for s in first["value"])


def test_resource_skus_filter_other_regions_and_refuse_other_filters(demo: Demo) -> None:
    skus = demo.c.compute.resource_skus
    assert list(skus.list(filter="location eq 'eastus'")) == []
    assert len(list(skus.list())) == len(sizes.sku_entries("westeurope"))
    error = refused(lambda: list(skus.list(filter="name eq 'Standard_D4s_v5'")))
    assert (error.status_code, error.error.code) == (400, "BadRequest")


# --- data disks: attachDetachDataDisks -----------------------------------------------------------

ACCEPTED = None
ATTACH_CASES = [  # vm, disk (sku, size, zones, extra properties), caching (None: omitted), outcome
    ("vm-small", ("Premium_LRS", 32, None), "ReadOnly", (400, "InvalidParameter", "does not "
                                                          "support the storage account type")),
    ("vm-small", ("Premium_ZRS", 32, None), "None", (400, "InvalidParameter", "Premium_ZRS")),
    ("vm-small", ("PremiumV2_LRS", 32, None), "None", (400, "InvalidParameter", "PremiumV2")),
    ("vm-small", ("StandardSSD_LRS", 32, None), None, ACCEPTED),
    ("vm-app01", ("UltraSSD_LRS", 32, None), "None", (400, "InvalidParameter",
                                                      "ultraSSDEnabled is set")),
    ("vm-ultra", ("UltraSSD_LRS", 32, ["1"]), "ReadOnly", (400, "InvalidParameter", "caching")),
    ("vm-ultra", ("UltraSSD_LRS", 32, ["1"]), None, ACCEPTED),
    ("vm-app01", ("PremiumV2_LRS", 32, None), "None", (400, "BadRequest", "availability zone")),
    ("vm-ultra", ("PremiumV2_LRS", 32, ["1"]), "ReadWrite", (400, "InvalidParameter", "caching")),
    ("vm-ultra", ("PremiumV2_LRS", 32, ["1"]), "None", ACCEPTED),
    ("vm-app01", ("Premium_LRS", 4096, None), "ReadOnly", (400, "BadRequest", "4095 GB")),
    ("vm-app01", ("Premium_LRS", 4096, None), None, (400, "BadRequest", "4095 GB")),
    ("vm-app01", ("Premium_LRS", 4096, None), "None", ACCEPTED),
    ("vm-app01", ("Premium_LRS", 4095, None), "ReadOnly", ACCEPTED),
    ("vm-app01", ("StandardSSD_LRS", 4096, None), None, ACCEPTED),
    ("vm-app01", ("Premium_LRS", 32, None), "Sometimes", (400, "InvalidParameter", "caching")),
]


@pytest.mark.parametrize(("vm", "disk", "caching", "outcome"), ATTACH_CASES)
def test_attach_refuses_what_the_size_or_sku_does_not_take(
        fleet: Demo, vm: str, disk: tuple[str, int, list[str] | None], caching: str | None,
        outcome: tuple[int, str, str] | None) -> None:
    sku, size, zones = disk
    disk_id = make_disk(fleet, "candidate", sku, size, zones)
    before = fleet.c.compute.virtual_machines.get(fleet.app_rg, vm).storage_profile.data_disks
    if outcome is ACCEPTED:
        profile = attach(fleet, vm, disk_id, caching)
        entry = profile.data_disks[-1]
        assert entry.managed_disk.id.lower() == disk_id.lower()
        # Compute's default when none is named: ReadOnly for Premium SSD, else None.
        assert entry.caching == (caching or ("ReadOnly" if sku.startswith("Premium_") else "None"))
        return
    status, code, words = outcome
    error = refused(lambda: attach(fleet, vm, disk_id, caching))
    assert (error.status_code, error.error.code) == (status, code)
    assert words in error.error.message
    after = fleet.c.compute.virtual_machines.get(fleet.app_rg, vm).storage_profile.data_disks
    assert len(after) == len(before)
    assert fleet.c.compute.disks.get(fleet.app_rg, "candidate").disk_state == "Unattached"


def test_a_shared_disk_takes_no_host_caching(fleet: Demo) -> None:
    shared = fleet.disk_id(fleet.app_rg, "shared")
    error = refused(lambda: attach(fleet, "vm-app01", shared, "ReadOnly"))
    assert (error.status_code, error.error.code) == (400, "BadRequest")
    assert "maxShares 2 supports only Disk CachingType 'None'" in error.error.message
    assert attach(fleet, "vm-app01", shared, "None").data_disks[-1].name == "shared"


def test_the_data_disk_count_comes_from_the_size_catalog(fleet: Demo) -> None:
    limit = sizes.find("Standard_A2_v2").max_data_disks
    for i in range(limit):
        attach(fleet, "vm-small", make_disk(fleet, f"d{i}", "StandardSSD_LRS"))
    one_more = make_disk(fleet, "one-more", "StandardSSD_LRS")
    error = refused(lambda: attach(fleet, "vm-small", one_more))
    assert (error.status_code, error.error.code) == (409, "OperationNotAllowed")
    assert error.error.message.endswith(f"of this size is {limit}.")


def test_vm_put_and_patch_refuse_as_attach_does(fleet: Demo) -> None:
    vms = fleet.c.compute.virtual_machines
    premium = make_disk(fleet, "premium")
    entry = {"lun": 0, "createOption": "Attach", "managedDisk": {"id": premium}}
    vm = vms.get(fleet.app_rg, "vm-small")
    vm.storage_profile.data_disks.append(entry)
    put = refused(lambda: vms.begin_create_or_update(fleet.app_rg, "vm-small", vm))
    patch = refused(lambda: vms.begin_update(fleet.app_rg, "vm-small", {
        "properties": {"storageProfile": {"dataDisks": [entry]}}}))
    for error in (put, patch):
        assert (error.status_code, error.error.code) == (400, "InvalidParameter")
        assert "does not support the storage account type Premium_LRS" in error.error.message
    assert vms.get(fleet.app_rg, "vm-small").storage_profile.data_disks == []


# --- OS disk swap --------------------------------------------------------------------------------

def deallocate(demo: Demo, vm: str) -> None:
    demo.finish(demo.c.compute.virtual_machines.begin_deallocate(demo.app_rg, vm), 121)


def swap(demo: Demo, vm: str, disk_id: str) -> Any:
    return demo.finish(demo.c.compute.virtual_machines.begin_update(demo.app_rg, vm, {
        "properties": {"storageProfile": {"osDisk": {"managedDisk": {"id": disk_id}}}}}), 36)


def os_disk(demo: Demo, sku: str = "Premium_LRS", size: int = 64, generation: str = "V2",
            security: str | None = "TrustedLaunch", zones: list[str] | None = None) -> str:
    """A Linux OS disk `new-os` (Trusted Launch, V2, Premium SSD unless told)."""
    properties: dict[str, Any] = {"osType": "Linux", "hyperVGeneration": generation}
    if security:
        properties["securityProfile"] = {"securityType": security}
    return make_disk(demo, "new-os", sku, size, zones, **properties)


SWAP_CASES = [  # vm, new OS disk, outcome (status, code, words) or ACCEPTED
    ("vm-app01", {"generation": "V1"}, (400, "BadRequest", "does not match the virtual machine's")),
    ("vm-small", {"sku": "StandardSSD_LRS", "security": None},
     (400, "BadRequest", "not supported by the VM size Standard_A2_v2")),
    ("vm-cvm", {"generation": "V1", "security": "ConfidentialVM_DiskEncryptedWithPlatformKey"},
     (400, "BadRequest", "not supported by the VM size Standard_DC2as_v5")),
    ("vm-app01", {"security": None}, (400, "BadRequest", "Security type of VM")),
    ("vm-app01", {"security": "ConfidentialVM_DiskEncryptedWithPlatformKey"},
     (400, "BadRequest", "Security type of VM")),
    ("vm-cvm", {"security": "TrustedLaunch"}, (400, "BadRequest", "Security type of VM")),
    ("vm-cvm", {"security": "ConfidentialVM_VMGuestStateOnlyEncryptedWithPlatformKey"}, ACCEPTED),
    ("vm-app01", {"size": 4096}, (400, "BadRequest", "at most 4095 GB")),
    ("vm-app01", {"size": 4095}, ACCEPTED),
    ("vm-small", {"generation": "V1", "security": None},
     (400, "InvalidParameter", "does not support the storage account type Premium_LRS")),
    ("vm-small", {"sku": "StandardSSD_LRS", "generation": "V1", "security": None}, ACCEPTED),
    ("vm-ultra", {"sku": "PremiumV2_LRS"}, (400, "InvalidParameter", "not supported for OS")),
]


@pytest.mark.parametrize(("vm", "disk", "outcome"), SWAP_CASES)
def test_os_disk_swap_refuses_what_the_vm_cannot_boot(
        fleet: Demo, vm: str, disk: dict[str, Any], outcome: tuple[int, str, str] | None) -> None:
    vms = fleet.c.compute.virtual_machines
    before = vms.get(fleet.app_rg, vm).storage_profile.os_disk.name
    deallocate(fleet, vm)
    new = os_disk(fleet, zones=["1"] if vm == "vm-ultra" else None, **disk)
    if outcome is ACCEPTED:
        assert swap(fleet, vm, new).storage_profile.os_disk.name == "new-os"
        return
    status, code, words = outcome
    error = refused(lambda: swap(fleet, vm, new))
    assert (error.status_code, error.error.code) == (status, code)
    assert words in error.error.message
    assert vms.get(fleet.app_rg, vm).storage_profile.os_disk.name == before
    assert fleet.c.compute.disks.get(fleet.app_rg, "new-os").disk_state == "Unattached"


# --- the power state a swap needs ----------------------------------------------------------------

def bring_to(demo: Demo, state: str) -> None:
    vms = demo.c.compute.virtual_machines
    if state == "deallocated":
        demo.finish(vms.begin_deallocate(demo.app_rg, "vm-app01"), 121)
    elif state == "stopped":
        demo.finish(vms.begin_power_off(demo.app_rg, "vm-app01"), 61)
    vm = vms.get(demo.app_rg, "vm-app01", expand="instanceView")
    assert f"PowerState/{state}" in [s.code for s in vm.instance_view.statuses]


@pytest.mark.parametrize("mode", ["deallocated", "stopped", "none", None])
@pytest.mark.parametrize("power", ["running", "stopped", "deallocated"])
def test_os_disk_swap_requires_the_power_state_the_scenario_says(
        make_demo: Callable[..., Demo], mode: str | None, power: str) -> None:
    def setting(spec: dict[str, Any]) -> None:
        if mode is not None:
            spec["osDiskSwapRequires"] = mode

    demo = make_demo(setting)
    bring_to(demo, power)
    new = os_disk(demo)
    accepted = {"deallocated": {"deallocated"}, "stopped": {"stopped", "deallocated"},
                "none": {"running", "stopped", "deallocated"}}[mode or "deallocated"]
    if power in accepted:
        assert swap(demo, "vm-app01", new).storage_profile.os_disk.name == "new-os"
        return
    error = refused(lambda: swap(demo, "vm-app01", new))
    assert (error.status_code, error.error.code) == (409, "OperationNotAllowed")
    assert f"its power state is '{power}'" in error.error.message
    assert demo.c.compute.disks.get(demo.app_rg, "new-os").disk_state == "Unattached"


def test_a_stopped_vm_starts_again_and_its_disks_stay_attached(demo: Demo) -> None:
    vms = demo.c.compute.virtual_machines
    bring_to(demo, "stopped")
    assert demo.c.compute.disks.get(demo.app_rg, "vm-app01-data0").disk_state == "Attached"
    demo.finish(vms.begin_start(demo.app_rg, "vm-app01"), 121)
    vm = vms.get(demo.app_rg, "vm-app01", expand="instanceView")
    assert "PowerState/running" in [s.code for s in vm.instance_view.statuses]


# --- what a restored disk keeps of its security profile ------------------------------------------

@pytest.mark.parametrize("mode", ["kept", "dropped", None])
def test_restored_disk_security_profile_follows_the_scenario(
        make_demo: Callable[..., Demo], mode: str | None) -> None:
    def setting(spec: dict[str, Any]) -> None:
        if mode is not None:
            spec["restoredDiskSecurityProfile"] = mode

    demo = make_demo(setting, grants=(TARGET_DRO,))
    bi = demo.backup_instance("vm-app01-osdisk")
    request = demo.restore_request(demo.latest_point(bi.name).name, "os-restored")
    demo.finish(demo.trigger(bi.name, request), 10)
    demo.clock.advance(361)
    restored = demo.c.compute.disks.get(demo.target_rg, "os-restored")
    source = demo.c.compute.disks.get(demo.app_rg, "vm-app01-osdisk")
    assert (restored.os_type, restored.hyper_v_generation) == ("Linux", "V2")
    if (mode or "kept") == "kept":
        assert restored.security_profile.security_type == source.security_profile.security_type
        return
    assert restored.security_profile is None
    # Such a disk no longer suits the Trusted Launch VM it came from.
    deallocate(demo, "vm-app01")
    error = refused(lambda: swap(demo, "vm-app01", restored.id))
    assert (error.status_code, error.error.code) == (400, "BadRequest")
    assert "Security type of VM" in error.error.message


# --- scenarios azsim refuses to load -------------------------------------------------------------

def _vm(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["virtualMachines"][0]


def _os(spec: dict[str, Any]) -> dict[str, Any]:
    return next(d for d in spec["disks"] if d["name"] == "vm-app01-osdisk")


LOAD_CASES = [
    (lambda s: _vm(s).update(size="Standard_Q9_v9"), "not in azsim's size catalog"),
    (lambda s: _vm(s).update(size="Standard_A2_v2"),
     "hyperVGeneration V2 is not one of the size's HyperVGenerations (V1)"),
    (lambda s: _vm(s).update(size="Standard_A2_v2"), "does not support the storage account type"),
    (lambda s: _vm(s).update(securityType="ConfidentialVM"), "needs a confidential size"),
    (lambda s: _vm(s).update(securityType="Shielded"), "securityType must be one of"),
    (lambda s: _vm(s).pop("securityType"), "not of the VM's class (Standard)"),
    (lambda s: _vm(s).update(hyperVGeneration="V1"), "differs from the OS disk's (V2)"),
    (lambda s: _vm(s).update(ultraSSDEnabled=True), "ultraSSDEnabled needs a zonal VM"),
    (lambda s: _vm(s)["properties"].update(securityProfile={"securityType": "TrustedLaunch"}),
     "set `securityType`, not properties.securityProfile"),
    (lambda s: _vm(s).update(zones=["1"]), "it is not in zone '1'"),
    (lambda s: _os(s).update(sizeGB=4096), "an OS disk can be at most 4095 GB"),
    (lambda s: _vm(s)["dataDisks"][0].update(caching="Sometimes"), "caching"),
    (lambda s: s.update(osDiskSwapRequires="never"), "osDiskSwapRequires must be one of"),
    (lambda s: s.update(restoredDiskSecurityProfile="maybe"),
     "restoredDiskSecurityProfile must be one of"),
]


@pytest.mark.parametrize(("change", "words"), LOAD_CASES)
def test_a_scenario_azure_would_not_allow_is_refused_at_load(
        change: Callable[[dict[str, Any]], Any], words: str) -> None:
    spec = copy.deepcopy(azsim.load_scenario("demo"))
    scenario.build(copy.deepcopy(spec), VirtualClock())  # the demo itself loads
    change(spec)
    with pytest.raises(ValueError, match="scenario: ") as error:
        scenario.build(spec, VirtualClock())
    assert words in str(error.value)


def test_every_problem_of_a_vm_is_named_at_once() -> None:
    spec = copy.deepcopy(azsim.load_scenario("demo"))
    _vm(spec).update(size="Standard_A2_v2", ultraSSDEnabled=True)
    with pytest.raises(ValueError) as error:
        scenario.build(spec, VirtualClock())
    message = str(error.value)
    for words in ("HyperVGenerations (V1)", "ultraSSDEnabled",
                  "disk vm-app01-osdisk", "disk vm-app01-data0", "disk vm-app01-data1"):
        assert words in message
