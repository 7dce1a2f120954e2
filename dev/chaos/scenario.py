"""The chaos scenario: azsim's demo subscription plus one "slot" per concurrent request.

A slot is what one request at a time may touch without meeting another request: its own VM
(`vm-chaos<i>`, running, Trusted Launch Linux like the demo's) with an OS disk and a data disk,
both protected by the demo vault, and its own target resource group (`rg-chaos<i>`) where the app
may assign roles and create disks. Odd slots' data disks are encrypted with their own Disk
Encryption Set (`des-chaos<i>`), so their restores grant a second role (Reader on the DES).
Slots never share a VM or a role-assignment scope; concurrent requests on one slot are the
duplicates of one request only.

Built from the demo scenario (dev/azsim/scenarios/demo.json), so it follows that file.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import azsim

RG = "/subscriptions/{subscriptionId}/resourceGroups"
# Not in azsim's MaxDataDiskCount table: 64 data disks, so attaches never run out of LUNs.
VM_SIZE = "Standard_D16s_v5"


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
        return self._rg(f"rg-chaos{self.index}")

    @property
    def cmk(self) -> bool:
        return self.index % 2 == 1

    @property
    def des_id(self) -> str | None:
        """The Disk Encryption Set of the slot's data disk (odd slots), else None."""
        if not self.cmk:
            return None
        return f"{self._rg('rg-keys')}/providers/Microsoft.Compute/diskEncryptionSets/" \
               f"des-chaos{self.index}"

    def disk_id(self, name: str) -> str:
        return f"{self._rg('rg-app')}/providers/Microsoft.Compute/disks/{name}"

    def target_disk_id(self, name: str) -> str:
        return f"{self.target_rg}/providers/Microsoft.Compute/disks/{name}"


def build(slots: int, seed: int) -> dict[str, Any]:
    """The demo scenario with `slots` slots added, seeded with `seed`."""
    spec = copy.deepcopy(azsim.load_scenario("demo"))
    sub = spec["subscriptionId"]
    spec["name"], spec["seed"] = "chaos", seed
    demo_os = next(d for d in spec["disks"] if d["name"] == "vm-app01-osdisk")
    demo_vm = spec["virtualMachines"][0]
    vault = spec["backupVaults"][0]
    template = vault["backupInstances"][0]
    app = spec["principals"][spec.get("appPrincipal", "app")]
    for i in range(slots):
        os_name, data_name, vm_name = f"vm-chaos{i}-osdisk", f"vm-chaos{i}-data0", f"vm-chaos{i}"
        spec["resourceGroups"].append({"name": f"rg-chaos{i}"})
        app["grants"].append({"scope": f"/subscriptions/{sub}/resourceGroups/rg-chaos{i}",
                              "actions": ["Microsoft.Authorization/roleAssignments/*",
                                          "Microsoft.Compute/disks/*"]})
        os_disk = copy.deepcopy(demo_os)
        os_disk["name"] = os_name
        data = {"resourceGroup": "rg-app", "name": data_name, "sku": "Premium_LRS",
                "sizeGB": 128, "tags": {"workload": f"chaos{i}"}, "properties": {}}
        if i % 2 == 1:
            des = f"/subscriptions/{sub}/resourceGroups/rg-keys/providers/" \
                  f"Microsoft.Compute/diskEncryptionSets/des-chaos{i}"
            spec["diskEncryptionSets"].append({
                "resourceGroup": "rg-keys", "name": f"des-chaos{i}",
                "keyVaultId": f"/subscriptions/{sub}/resourceGroups/rg-keys/providers/"
                              "Microsoft.KeyVault/vaults/kv-demo-disks",
                "keyUrl": f"https://kv-demo-disks.vault.azure.net/keys/chaos{i}/0123456789abcdef"})
            data["diskEncryptionSetId"] = des
            app["grants"].append({"scope": des,
                                  "actions": ["Microsoft.Authorization/roleAssignments/*"]})
        spec["disks"] += [os_disk, data]
        vm = copy.deepcopy(demo_vm)
        vm.update(name=vm_name, size=VM_SIZE, osDisk=os_name, tags={"workload": f"chaos{i}"},
                  dataDisks=[{"disk": data_name, "lun": 0, "caching": "ReadOnly"}])
        vm["properties"]["osProfile"]["computerName"] = vm_name
        vm["properties"]["networkProfile"]["networkInterfaces"][0]["id"] = \
            f"/subscriptions/{sub}/resourceGroups/rg-app/providers/Microsoft.Network/" \
            f"networkInterfaces/{vm_name}-nic"
        vm["instanceView"]["computerName"] = vm_name
        spec["virtualMachines"].append(vm)
        for name in (os_name, data_name):
            disk_id = f"/subscriptions/{sub}/resourceGroups/rg-app/providers/" \
                      f"Microsoft.Compute/disks/{name}"
            vault["backupInstances"].append(dict(copy.deepcopy(template), disk=disk_id))
            spec["roleAssignments"].append({"scope": disk_id, "role": "Disk Backup Reader",
                                            "principal": "vault"})
    return spec


def slots_of(sub: str, count: int) -> list[Slot]:
    return [Slot(i, sub) for i in range(count)]
