"""Attaching, detaching and swapping a VM's disks, with the checks Compute makes.

Error codes and messages follow the observed service answers collected in the reference
(ConflictingUserInput, PropertyChangeNotAllowed, OperationNotAllowed, zone BadRequests).
Changes take effect on the VM model and the disks' `managedBy` immediately; the VM shows
`provisioningState: Updating` until the operation's duration has elapsed.
"""

from __future__ import annotations

from typing import Any

from .arm import as_list, as_object
from .compute import DISK_TYPE, des_id_of, set_managed_by
from .errors import ArmError, bad_request, conflict
from .state import SimState

MAX_LUN = 63
# MaxDataDiskCount of a few sizes (Resource SKUs capability); other sizes allow 64.
MAX_DATA_DISKS = {"Standard_B2s": 4, "Standard_D2s_v3": 4, "Standard_D4s_v3": 8,
                  "Standard_D2s_v5": 4, "Standard_D4s_v5": 8, "Standard_D8s_v5": 16,
                  "Standard_D2_v2": 8, "Standard_DS3_v2": 16}


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
    """The disk to attach to `vm`, after the ownership, region and zone checks."""
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
    _check_zone(vm, disk)
    return disk


def _check_zone(vm: dict[str, Any], disk: dict[str, Any]) -> None:
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


def check_luns(vm: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    luns = [e["lun"] for e in entries]
    for lun in luns:
        if not isinstance(lun, int) or not 0 <= lun <= MAX_LUN:
            raise bad_request("InvalidParameter", "The value of parameter 'dataDisk.lun' is out "
                              "of range.", "dataDisk.lun")
    if len(set(luns)) != len(luns):
        raise bad_request("InvalidParameter", "A LUN must be unique for each data disk attached "
                          "to a VM.", "dataDisk.lun")
    size = vm["properties"]["hardwareProfile"]["vmSize"]
    limit = MAX_DATA_DISKS.get(size, 64)
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
        entries.append(data_disk_entry(disk, item.get("lun"), item.get("caching", "ReadOnly"),
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
    new = disk_for_attach(state, vm, new_id)
    _check_swap(vm, state.get(current["managedDisk"]["id"]), new, requested)
    return new


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
    if props.get("hyperVGeneration") != old_props.get("hyperVGeneration"):
        raise bad_request("BadRequest", "The Hyper-V generation of the OS disk does not match "
                          "the virtual machine's.")
    vm_security = vm["properties"].get("securityProfile", {}).get("securityType", "Standard")
    disk_security = props.get("securityProfile", {}).get("securityType", "Standard")
    if vm_security != disk_security:
        raise bad_request("BadRequest", "Security type of VM is not compatible with the security "
                          "type of attached OS Disk.")
    if props["diskSizeGB"] < old_props.get("diskSizeGB", 0):
        raise bad_request("BadRequest", f"The disk {new['name']} cannot be resized down. Reducing "
                          "disk/snapshot size is not supported.")
    new_des, old_des = (des_id_of(new) or "").lower(), (des_id_of(old) if old else "") or ""
    if new_des != old_des.lower():
        raise bad_request("BadRequest", "The OS disk and the new disk must use the same disk "
                          "encryption set.")
