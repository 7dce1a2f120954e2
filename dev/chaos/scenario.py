"""The chaos scenario: azsim's demo subscription plus one "slot" per concurrent request.

A slot is what one request at a time may touch on its own: its VM (`vm-chaos<i>`, running,
Trusted Launch Linux like the demo's) with an OS disk and a data disk, both protected by the demo
vault. What slots share, as production runs do: ONE target resource group (`rg-chaos-target`)
where every run restores its disk, so every run holds a lease on the same Disk Restore Operator
assignment of the vault's identity (domain/access/grant_lease.py); and ONE Disk Encryption Set
(`des-chaos`) that encrypts the data disks of odd slots, so their restores share a Reader
assignment too. Concurrent requests on one slot are the duplicates of one request only.

Zones, as production VMs mostly are (`SLOT_ZONES`): slots cycle through zones 1, 2, 3 and
regional; a zonal VM's disks are in its zone, except the ZRS ones (no zone, attach anywhere):
the data disk of every third slot (2, 5, 8, ...) and the OS disk of every fifth (4, 9, ...).
Where a restored disk lands is azsim's `restoredDiskZone` (`regional` or `source`: Azure does
not document it), chosen per environment (`build(..., restored_disk_zone=)`).

Built from the demo scenario (dev/azsim/scenarios/demo.json), so it follows that file.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import azsim

# Not in azsim's MaxDataDiskCount table: 64 data disks, so attaches never run out of LUNs.
VM_SIZE = "Standard_D16s_v5"
TARGET_RG = "rg-chaos-target"
DES_NAME = "des-chaos"
SLOT_ZONES: tuple[str | None, ...] = ("1", "2", "3", None)
RESTORED_DISK_ZONES = ("regional", "source")


@dataclass(frozen=True)
class Slot:
    index: int
    sub: str

    def _rg(self, name: str) -> str:
        return f"/subscriptions/{self.sub}/resourceGroups/{name}"

    @property
    def vm_id(self) -> str:
        return (f"{self._rg('rg-app')}/providers/Microsoft.Compute/virtualMachines/"
                f"vm-chaos{self.index}")

    @property
    def os_disk_id(self) -> str:
        return self.disk_id(f"vm-chaos{self.index}-osdisk")

    @property
    def data_disk_id(self) -> str:
        return self.disk_id(f"vm-chaos{self.index}-data0")

    @property
    def target_rg(self) -> str:
        """The target resource group: one for all slots."""
        return self._rg(TARGET_RG)

    @property
    def zone(self) -> str | None:
        """The VM's zone, None for a regional VM."""
        return SLOT_ZONES[self.index % len(SLOT_ZONES)]

    @property
    def data_zrs(self) -> bool:
        return self.index % 3 == 2

    @property
    def os_zrs(self) -> bool:
        return self.index % 5 == 4

    @property
    def cmk(self) -> bool:
        return self.index % 2 == 1

    @property
    def des_id(self) -> str | None:
        """The Disk Encryption Set of the slot's data disk (odd slots; one for all), else None."""
        if not self.cmk:
            return None
        return f"{self._rg('rg-keys')}/providers/Microsoft.Compute/diskEncryptionSets/{DES_NAME}"

    def disk_id(self, name: str) -> str:
        return f"{self._rg('rg-app')}/providers/Microsoft.Compute/disks/{name}"

    def target_disk_id(self, name: str) -> str:
        return f"{self.target_rg}/providers/Microsoft.Compute/disks/{name}"


def _zoned(disk: dict[str, Any], zone: str | None, zrs: bool) -> dict[str, Any]:
    """A source disk placed like its VM: in the VM's zone, or ZRS (no zone), or regional."""
    disk.pop("zones", None)
    if zrs:
        disk["sku"] = disk["sku"].replace("_LRS", "_ZRS")
    elif zone is not None:
        disk["zones"] = [zone]
    return disk


def build(slots: int, seed: int, restored_disk_zone: str = "regional") -> dict[str, Any]:
    """The demo scenario with `slots` slots added, seeded with `seed`; restored disks land as
    `restored_disk_zone` says (azsim's `restoredDiskZone`)."""
    if restored_disk_zone not in RESTORED_DISK_ZONES:
        raise ValueError(f"restored_disk_zone must be one of {RESTORED_DISK_ZONES}")
    spec = copy.deepcopy(azsim.load_scenario("demo"))
    sub = spec["subscriptionId"]
    spec["name"], spec["seed"] = "chaos", seed
    spec["restoredDiskZone"] = restored_disk_zone
    # Why above Azure's 10: a batch packs 50 runs on a few slots' disks into minutes of
    # simulated time (up to 8 restore jobs on one backup instance seen, plus retried jobs), far
    # denser than a real day's. Chaos tests the runbooks under faults and kills, not the daily
    # budget (tests/restore/test_restore_budget.py does); at 10, a run refused for it would read
    # as noise. `restoreJobsPerBackupInstance.over10` still reports where Azure would refuse.
    spec["dailyRestoreLimit"] = 1000
    demo_os = next(d for d in spec["disks"] if d["name"] == "vm-app01-osdisk")
    demo_vm = spec["virtualMachines"][0]
    vault = spec["backupVaults"][0]
    template = vault["backupInstances"][0]
    app = spec["principals"][spec.get("appPrincipal", "app")]
    # The shared target group: the app assigns roles there and makes disks (restored ones, zonal
    # copies) and snapshots (the zonal copies' intermediates), as the demo's target group.
    spec["resourceGroups"].append({"name": TARGET_RG})
    app["grants"].append({"scope": f"/subscriptions/{sub}/resourceGroups/{TARGET_RG}",
                          "actions": ["Microsoft.Authorization/roleAssignments/*",
                                      "Microsoft.Compute/disks/*",
                                      "Microsoft.Compute/snapshots/*"]})
    des = f"/subscriptions/{sub}/resourceGroups/rg-keys/providers/" \
          f"Microsoft.Compute/diskEncryptionSets/{DES_NAME}"
    spec["diskEncryptionSets"].append({
        "resourceGroup": "rg-keys", "name": DES_NAME,
        "keyVaultId": f"/subscriptions/{sub}/resourceGroups/rg-keys/providers/"
                      "Microsoft.KeyVault/vaults/kv-demo-disks",
        "keyUrl": "https://kv-demo-disks.vault.azure.net/keys/chaos/0123456789abcdef"})
    app["grants"].append({"scope": des, "actions": ["Microsoft.Authorization/roleAssignments/*"]})
    for slot in slots_of(sub, slots):
        i = slot.index
        os_name, data_name, vm_name = f"vm-chaos{i}-osdisk", f"vm-chaos{i}-data0", f"vm-chaos{i}"
        os_disk = _zoned(copy.deepcopy(demo_os), slot.zone, slot.os_zrs)
        os_disk["name"] = os_name
        data = _zoned({"resourceGroup": "rg-app", "name": data_name, "sku": "Premium_LRS",
                       "sizeGB": 128, "tags": {"workload": f"chaos{i}"}, "properties": {}},
                      slot.zone, slot.data_zrs)
        if slot.cmk:
            data["diskEncryptionSetId"] = des
        spec["disks"] += [os_disk, data]
        vm = copy.deepcopy(demo_vm)
        vm.update(name=vm_name, size=VM_SIZE, osDisk=os_name, tags={"workload": f"chaos{i}"},
                  dataDisks=[{"disk": data_name, "lun": 0, "caching": "ReadOnly"}])
        vm.pop("zones", None)
        if slot.zone is not None:
            vm["zones"] = [slot.zone]
        vm["properties"]["osProfile"]["computerName"] = vm_name
        vm["properties"]["networkProfile"]["networkInterfaces"][0]["id"] = \
            f"/subscriptions/{sub}/resourceGroups/rg-app/providers/Microsoft.Network/" \
            f"networkInterfaces/{vm_name}-nic"
        vm["instanceView"]["computerName"] = vm_name
        spec["virtualMachines"].append(vm)
        for disk_id in (slot.os_disk_id, slot.data_disk_id):
            vault["backupInstances"].append(dict(copy.deepcopy(template), disk=disk_id))
            spec["roleAssignments"].append({"scope": disk_id, "role": "Disk Backup Reader",
                                            "principal": "vault"})
    return spec


def slots_of(sub: str, count: int) -> list[Slot]:
    return [Slot(i, sub) for i in range(count)]
