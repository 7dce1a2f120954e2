"""Attaching, detaching and swapping a VM's disks, with the checks Compute makes.

Error codes and messages follow the observed service answers collected in the reference
(ConflictingUserInput, PropertyChangeNotAllowed, OperationNotAllowed, zone BadRequests) and the
issues cited at each check; where no answer is on record the text is the simulator's (said so at
the check: the product must not depend on any text). The VM size's limits come from the size
catalog (sizes.py), the same one the Resource SKUs list serves. Changes take effect on the VM
model and the disks' `managedBy` immediately; the VM shows `provisioningState: Updating` until
the operation's duration has elapsed.
"""

from __future__ import annotations

from typing import Any

from . import sizes
from .arm import as_list, as_object
from .compute import DISK_TYPE, des_id_of, set_managed_by
from .errors import ArmError, bad_request, conflict
from .state import SimState

MAX_LUN = 63
CACHING_TYPES = ("None", "ReadOnly", "ReadWrite")
# Disk SKUs that need a size with Premium Storage (capability PremiumIO): Premium SSD v2 and
# Ultra "can be used with any premium storage-enabled virtual machine size" (disks-deploy-*).
PREMIUM_SKUS = frozenset({"Premium_LRS", "Premium_ZRS", "PremiumV2_LRS", "UltraSSD_LRS"})
# Ultra and Premium SSD v2: no host caching, never an OS disk, and in a region with zones only
# on a zonal VM (disks-enable-ultra-ssd.md, disks-deploy-premium-v2.md, "Limitations").
DATA_ONLY_SKUS = frozenset({"UltraSSD_LRS", "PremiumV2_LRS"})
# Host caching stops at 4095 GiB (azure-docs #35583: "not supported 4,096 GiB").
MAX_CACHED_GB = 4095
MAX_OS_DISK_GB = 4095  # the largest OS disk Azure supports (expand-disks docs: 4,095 GiB)
# Which power states an OS-disk swap accepts (scenario `osDiskSwapRequires`, see scenario.py).
SWAP_POWER_STATES = {"deallocated": ("deallocated",), "stopped": ("stopped", "deallocated"),
                     "none": None}


def default_caching(disk: dict[str, Any]) -> str:
    """The caching Compute gives a data disk whose request names none: "None for Standard storage
    and ReadOnly for Premium" (SDK docstring); Ultra and Premium SSD v2 support only None. What
    it gives a Premium SSD of 4 TiB or more is not documented: ReadOnly here, which the caching
    check then refuses, so a client must name its caching."""
    return "ReadOnly" if disk["sku"]["name"] in ("Premium_LRS", "Premium_ZRS") else "None"


def data_disk_entry(disk: dict[str, Any], lun: int, caching: str = "ReadOnly",
                    delete_option: str = "Detach", write_accelerator: bool = False
                    ) -> dict[str, Any]:
    managed: dict[str, Any] = {"storageAccountType": disk["sku"]["name"], "id": disk["id"]}
    if des := des_id_of(disk):
        managed["diskEncryptionSet"] = {"id": des}
    return {"lun": lun, "name": disk["name"], "createOption": "Attach", "caching": caching,
            "writeAcceleratorEnabled": write_accelerator, "managedDisk": managed,
            "deleteOption": delete_option, "diskSizeGB": disk["properties"]["diskSizeGB"],
            "toBeDetached": False}


def disk_for_attach(state: SimState, vm: dict[str, Any], disk_id: Any) -> dict[str, Any]:
    """The disk to attach to `vm`, after the ownership, region and zone checks (the size and
    caching checks are `check_for_vm`'s)."""
    disk = state.get(disk_id) if isinstance(disk_id, str) else None
    if disk is None or disk["type"] != DISK_TYPE:
        raise ArmError(404, "NotFound", f"Disk {disk_id} is not found.")
    owner = disk.get("managedBy")
    if owner:
        raise bad_request("ConflictingUserInput",
                          f"Cannot attach the disk {disk['name']} to VM {vm['id']} because it is "
                          f"already attached to VM {owner}. A disk can be attached to only one "
                          "VM at a time.")
    if disk["location"].replace(" ", "").lower() != vm["location"].replace(" ", "").lower():
        raise bad_request("BadRequest", f"Disk {disk['id']} is in location '{disk['location']}' "
                          f"but the VM is in '{vm['location']}'.")
    check_zone(vm, disk)
    return disk


def check_zone(vm: dict[str, Any], disk: dict[str, Any]) -> None:
    vm_zones, disk_zones = vm.get("zones") or [], disk.get("zones") or []
    if disk["sku"]["name"].upper().endswith("_ZRS"):
        return  # a ZRS disk has no zone and attaches to a VM in any zone of its region
    if vm_zones and not disk_zones:
        raise bad_request("BadRequest", f"Disk {disk['id']} cannot be attached to the VM because "
                          f"it is not in zone '{vm_zones[0]}'.")
    if vm_zones and disk_zones != vm_zones:
        raise bad_request("BadRequest", f"Disk {disk['id']} cannot be attached to the VM because "
                          f"it is not in the same zone as the VM. VM zone: '{vm_zones[0]}'. "
                          f"Disk zone: '{disk_zones[0]}'.")


def check_for_vm(vm: dict[str, Any], disk: dict[str, Any], caching: Any, *,
                 os_disk: bool = False) -> None:
    """What Compute refuses about putting `disk` on `vm` with `caching`, beyond ownership,
    region and zone: the size's Premium Storage support, Ultra Disk enablement, the SKUs that
    only zonal VMs take and only as data disks, and host caching."""
    size_name = vm["properties"]["hardwareProfile"]["vmSize"]
    size, sku, name = sizes.find(size_name), disk["sku"]["name"], disk["name"]
    target = "osDisk" if os_disk else "dataDisk"
    if sku in PREMIUM_SKUS and not (size and size.premium_io):
        # Observed (microsoft/lisa PR #689) for a data disk; the code is the one observed for the
        # same refusal on VM create ("...storage account type 'Premium_LRS' is not supported for
        # VM size..."): 400 InvalidParameter.
        raise bad_request("InvalidParameter", "Requested operation cannot be performed because "
                          f"the VM size {size_name} does not support the storage account type "
                          f"{sku} of disk '{name}'.", f"{target}.managedDisk.storageAccountType")
    if os_disk and sku in DATA_ONLY_SKUS:
        # Documented limitation ("can't be used as an OS disk"); code and text are a guess.
        raise bad_request("InvalidParameter", f"Storage account type {sku} of disk '{name}' is "
                          "not supported for OS disks.", "osDisk.managedDisk.storageAccountType")
    if os_disk and disk["properties"]["diskSizeGB"] > MAX_OS_DISK_GB:  # code, text: a guess
        raise bad_request("BadRequest", f"The disk {name} is {disk['properties']['diskSizeGB']} "
                          f"GB; an OS disk can be at most {MAX_OS_DISK_GB} GB.")
    if sku == "UltraSSD_LRS" and not vm["properties"].get("additionalCapabilities", {}).get(
            "ultraSSDEnabled"):
        # Observed: azure-docs #59977, azure-sdk-for-java #41529.
        raise bad_request("InvalidParameter", "StorageAccountType UltraSSD_LRS can be used only "
                          "when additionalCapabilities.ultraSSDEnabled is set.",
                          "managedDisk.storageAccountType")
    if sku in DATA_ONLY_SKUS and not vm.get("zones"):
        # Documented ("can only be attached to zonal VMs" in a region with zones; every
        # simulated region has zones); code and text are a guess.
        raise bad_request("BadRequest", f"Disk {disk['id']} of storage account type {sku} can "
                          "only be attached to a virtual machine in an availability zone.")
    _check_caching(disk, caching)


def _check_caching(disk: dict[str, Any], caching: Any) -> None:
    if caching not in CACHING_TYPES:
        raise bad_request("InvalidParameter", f"The value '{caching}' of parameter 'caching' is "
                          f"not valid; allowed: {', '.join(CACHING_TYPES)}.", "caching")
    if caching == "None":
        return
    sku, props = disk["sku"]["name"], disk["properties"]
    if sku in DATA_ONLY_SKUS:
        # Observed for Ultra (cluster-api-provider-azure #2429: "Storage Account type
        # UltraSSD_LRS is not supported with caching type ..."; the end of the text is a guess),
        # the same assumed for Premium SSD v2 (documented: no host caching).
        raise bad_request("InvalidParameter", f"Storage Account type {sku} is not supported with "
                          f"caching type {caching}.", "caching")
    if props["diskSizeGB"] > MAX_CACHED_GB:
        # Observed: azuredisk-csi-driver #3072, packer #6773.
        raise bad_request("BadRequest", "Only Disk CachingType 'None' is supported for disk with "
                          f"size greater than {MAX_CACHED_GB} GB.")
    if (props.get("maxShares") or 1) > 1:
        # Observed: azure-docs #85683.
        raise bad_request("BadRequest", f"Shared disk '{disk['name']}' with maxShares "
                          f"{props['maxShares']} supports only Disk CachingType 'None'.")


def check_luns(vm: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    luns = [e["lun"] for e in entries]
    for lun in luns:
        if not isinstance(lun, int) or not 0 <= lun <= MAX_LUN:
            raise bad_request("InvalidParameter", "The value of parameter 'dataDisk.lun' is out "
                              "of range.", "dataDisk.lun")
    if len(set(luns)) != len(luns):
        raise bad_request("InvalidParameter", "A LUN must be unique for each data disk attached "
                          "to a VM.", "dataDisk.lun")
    limit = sizes.max_data_disks(vm["properties"]["hardwareProfile"]["vmSize"])
    if len(entries) > limit:
        raise conflict("OperationNotAllowed", "The maximum number of data disks allowed to be "
                       f"attached to a VM of this size is {limit}.", "dataDisks")


def lowest_free_lun(entries: list[dict[str, Any]]) -> int:
    used = {e["lun"] for e in entries}
    return next(lun for lun in range(MAX_LUN + 2) if lun not in used)


def apply_data_disks(state: SimState, vm: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    """Make `entries` the VM's data disks and move disk ownership accordingly."""
    check_luns(vm, entries)
    old = {e["managedDisk"]["id"].lower() for e in vm["properties"]["storageProfile"]["dataDisks"]}
    new = {e["managedDisk"]["id"].lower() for e in entries}
    for disk_id in old - new:
        if disk := state.get(disk_id):
            set_managed_by(state, disk, None)
    for disk_id in new - old:
        set_managed_by(state, state.get(disk_id), vm["id"])  # type: ignore[arg-type]
    vm["properties"]["storageProfile"]["dataDisks"] = entries


def requested_data_disks(state: SimState, vm: dict[str, Any], requested: Any
                         ) -> list[dict[str, Any]]:
    """The data-disk list a PUT/PATCH asks for: kept, newly attached, minus `toBeDetached`."""
    requested = as_list(requested, "dataDisks")
    current = {e["managedDisk"]["id"].lower(): e
               for e in vm["properties"]["storageProfile"]["dataDisks"]}
    entries = []
    for item in requested:
        item = as_object(item, "dataDisks")
        if item.get("toBeDetached") is True:
            continue
        disk_id = as_object(item.get("managedDisk") or {}, "managedDisk").get("id")
        if isinstance(disk_id, str) and disk_id.lower() in current:
            entries.append({**current[disk_id.lower()], "lun": item.get("lun", current[
                disk_id.lower()]["lun"])})
            continue
        if item.get("createOption") != "Attach" or not isinstance(disk_id, str):
            raise bad_request("InvalidParameter", "The simulator supports only createOption "
                              "'Attach' with managedDisk.id for new data disks.", "dataDisks")
        disk = disk_for_attach(state, vm, disk_id)
        caching = item.get("caching", default_caching(disk))
        check_for_vm(vm, disk, caching)
        entries.append(data_disk_entry(disk, item.get("lun"), caching,
                                       item.get("deleteOption", "Detach")))
    return entries


def plan_os_swap(state: SimState, vm: dict[str, Any], requested: Any) -> dict[str, Any] | None:
    """The disk a PUT/PATCH swaps in as OS disk (after the swap checks), or None."""
    if requested is None:
        return None
    requested = as_object(requested, "osDisk")
    current = vm["properties"]["storageProfile"]["osDisk"]
    for prop in ("createOption", "osType"):
        if prop in requested and requested[prop] != current[prop]:
            raise conflict("PropertyChangeNotAllowed", f"Changing property 'osDisk.{prop}' is "
                           "not allowed.", f"osDisk.{prop}")
    new_id = as_object(requested.get("managedDisk") or {}, "osDisk.managedDisk").get("id")
    if not isinstance(new_id, str) or new_id.lower() == current["managedDisk"]["id"].lower():
        return None
    _check_swap_power(state, vm)
    new = disk_for_attach(state, vm, new_id)
    check_for_vm(vm, new, current.get("caching", "ReadWrite"), os_disk=True)
    _check_swap(vm, state.get(current["managedDisk"]["id"]), new, requested)
    return new


def _check_swap_power(state: SimState, vm: dict[str, Any]) -> None:
    """Whether Compute swaps the OS disk of a VM in its power state is not settled: the 2018
    os-disk-swap docs say the VM must be stopped (deallocated), the newer ones that it need not
    be (reference B5). The scenario's `osDiskSwapRequires` picks one; the code and text of the
    refusal are a guess (none is on record)."""
    accepted = SWAP_POWER_STATES[state.os_disk_swap_requires]
    if accepted is None or vm["_power"] in accepted:
        return
    wanted = "stopped (deallocated)" if accepted == ("deallocated",) else "stopped or deallocated"
    raise conflict("OperationNotAllowed", f"The OS disk of virtual machine '{vm['name']}' can "
                   f"be swapped only while the virtual machine is {wanted}; its power state is "
                   f"'{vm['_power']}'.", "osDisk.managedDisk.id")


def apply_os_swap(state: SimState, vm: dict[str, Any], new: dict[str, Any]) -> None:
    current = vm["properties"]["storageProfile"]["osDisk"]
    if old := state.get(current["managedDisk"]["id"]):
        set_managed_by(state, old, None)
    set_managed_by(state, new, vm["id"])
    managed = {"storageAccountType": new["sku"]["name"], "id": new["id"]}
    if des := des_id_of(new):
        managed["diskEncryptionSet"] = {"id": des}
    current.update(name=new["name"], managedDisk=managed,
                   diskSizeGB=new["properties"]["diskSizeGB"])


def security_class(security_type: Any) -> str:
    """A security type's class: a VM `ConfidentialVM` takes disks `ConfidentialVM_*`; none (or
    `Standard`) is Standard; `TrustedLaunch` is TrustedLaunch."""
    if not security_type or security_type == "Standard":
        return "Standard"
    return "ConfidentialVM" if str(security_type).startswith("ConfidentialVM") else security_type


def disk_generation(disk: dict[str, Any]) -> str:
    # An OS disk that names no generation is taken as V1, the API's default (an assumption).
    return disk["properties"].get("hyperVGeneration") or "V1"


def _check_swap(vm: dict[str, Any], old: Any, new: dict[str, Any], requested: dict[str, Any]
                ) -> None:
    props, old_props = new["properties"], (old or {}).get("properties", {})
    wanted_sku = (requested.get("managedDisk") or {}).get("storageAccountType")
    if wanted_sku and wanted_sku != new["sku"]["name"]:
        raise conflict("OperationNotAllowed", "Managed disk storage account type change through "
                       f"Virtual Machine '{vm['name']}' is not allowed. Please update disk "
                       f"resource at {new['id']}.")
    if props.get("osType") != vm["properties"]["storageProfile"]["osDisk"]["osType"]:
        raise conflict("PropertyChangeNotAllowed", "Changing property 'osDisk.osType' is not "
                       "allowed.", "osDisk.osType")
    # Hyper-V generation: the size must run it, and it must be the VM's own
    # (instanceView.hyperVGeneration). Code and text are the simulator's (reference B5).
    size_name = vm["properties"]["hardwareProfile"]["vmSize"]
    size, generation = sizes.find(size_name), disk_generation(new)
    if size is None or generation not in size.hyper_v_generations:
        raise bad_request("BadRequest", f"The Hyper-V generation {generation} of disk "
                          f"'{new['name']}' is not supported by the VM size {size_name} "
                          f"({', '.join(size.hyper_v_generations) if size else 'unknown'}).")
    if generation != vm["_instanceView"]["hyperVGeneration"]:
        raise bad_request("BadRequest", f"The Hyper-V generation {generation} of disk "
                          f"'{new['name']}' does not match the virtual machine's, "
                          f"{vm['_instanceView']['hyperVGeneration']}.")
    vm_security = security_class(vm["properties"].get("securityProfile", {}).get("securityType"))
    disk_security = security_class(props.get("securityProfile", {}).get("securityType"))
    if vm_security != disk_security:  # observed on VM create; on swap assumed the same (B5)
        raise bad_request("BadRequest", "Security type of VM is not compatible with the security "
                          "type of attached OS Disk.")
    if props["diskSizeGB"] < old_props.get("diskSizeGB", 0):
        raise bad_request("BadRequest", f"The disk {new['name']} cannot be resized down. Reducing "
                          "disk/snapshot size is not supported.")
    new_des, old_des = (des_id_of(new) or "").lower(), (des_id_of(old) if old else "") or ""
    if new_des != old_des.lower():
        raise bad_request("BadRequest", "The OS disk and the new disk must use the same disk "
                          "encryption set.")
