"""The estate the fast tests restore in: azsim's demo scenario (dev/azsim/scenarios/demo.json)
in the fake control plane, with the same names, so a fast test reads like its end-to-end twin.

`rg-app` holds VM `vm-app01` (running, Linux, Standard_D4s_v5, Trusted Launch, Gen2) on
`vm-app01-osdisk` with data disks
`vm-app01-data0` (LUN 0) and `vm-app01-data1` (LUN 1, CMK through `rg-keys/des-cmk`); vault
`rg-backup/bv-demo` (system-assigned identity `VAULT_PRINCIPAL`) protects the three disks with
7 daily recovery points (02:00 UTC); `rg-snapshots` carries the vault's Disk Snapshot
Contributor; `rg-restore-target` is empty.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from domain.model import DataDisk, Disk, RecoveryPoint
from domain.restore.planning import DISK_SNAPSHOT_CONTRIBUTOR

from .control_plane import FakeControlPlane

SUBSCRIPTION = "6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6"
LOCATION = "westeurope"
VAULT_PRINCIPAL = "b0b0b0b0-0000-4000-8000-00000000b001"
DISK_BACKUP_READER = "3e5e47e6-65f7-47ef-90b5-e5dd4d455f24"
_POINTS = uuid.UUID("4f1d6a0e-2f43-4bb5-8d0c-6a3c1f9e7b21")


def rg(name: str = "rg-app") -> str:
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{name}"


def disk_id(name: str, group: str = "rg-app") -> str:
    return f"{rg(group)}/providers/Microsoft.Compute/disks/{name}"


def vm_id(name: str = "vm-app01") -> str:
    return f"{rg()}/providers/Microsoft.Compute/virtualMachines/{name}"


VM = vm_id()
OS_DISK, DATA0, DATA1 = disk_id("vm-app01-osdisk"), disk_id("vm-app01-data0"), \
    disk_id("vm-app01-data1")
DES = f"{rg('rg-keys')}/providers/Microsoft.Compute/diskEncryptionSets/des-cmk"
VAULT = f"{rg('rg-backup')}/providers/Microsoft.DataProtection/backupVaults/bv-demo"
SNAPSHOTS, TARGET = rg("rg-snapshots"), rg("rg-restore-target")


def build(plane: FakeControlPlane, now: datetime) -> None:
    """The demo estate as of `now` (recovery points are the 7 latest 02:00 UTC before it)."""
    for name in ("rg-app", "rg-keys", "rg-backup", "rg-snapshots", "rg-restore-target"):
        plane.add_resource_group(rg(name), LOCATION)
    plane.add_encryption_set(DES)
    public = {"network_access_policy": "AllowAll", "public_network_access": "Enabled"}
    plane.add_disk(Disk(OS_DISK, LOCATION, 64, "Premium_LRS", "Linux", tags={"workload": "app01"},
                        hyper_v_generation="V2", security_type="TrustedLaunch", **public))
    plane.add_disk(Disk(DATA0, LOCATION, 256, "Premium_LRS", tags={"workload": "app01"},
                        **public))
    plane.add_disk(Disk(DATA1, LOCATION, 512, "Premium_LRS", encryption_set_id=DES,
                        tags={"workload": "app01"}, **public))
    plane.add_vm(VM, LOCATION, os_type="Linux", os_disk_id=OS_DISK,
                 data_disks=[DataDisk(0, DATA0, "ReadOnly"), DataDisk(1, DATA1, "None")],
                 tags={"workload": "app01"}, size="Standard_D4s_v5",
                 security_type="TrustedLaunch", hyper_v_generation="V2")
    # The demo app's grants that include Microsoft.Compute/disks/read (none at the subscription).
    plane.disk_read_scopes = [rg("rg-app"), TARGET]
    plane.add_vault(VAULT, LOCATION)
    # The app's own permissions (demo.json's `grants` of `app`): what the Permissions API shows.
    plane.app_grants = [
        (TARGET, ["Microsoft.Authorization/roleAssignments/*", "Microsoft.Compute/disks/*",
                  "Microsoft.Compute/snapshots/*"]),
        (DES, ["Microsoft.Authorization/roleAssignments/*"]),
        (rg(), ["Microsoft.Compute/virtualMachines/*", "Microsoft.Compute/disks/*",
                "Microsoft.Compute/snapshots/*"]),
        (VAULT, ["Microsoft.DataProtection/backupVaults/backupInstances/validateRestore/action",
                 "Microsoft.DataProtection/backupVaults/backupInstances/restore/action"])]
    plane.assign(SNAPSHOTS, DISK_SNAPSHOT_CONTRIBUTOR, VAULT_PRINCIPAL)
    newest = now.replace(hour=2, minute=0, second=0, microsecond=0)
    if newest > now:
        newest -= timedelta(days=1)
    for disk in (OS_DISK, DATA0, DATA1):
        plane.assign(disk, DISK_BACKUP_READER, VAULT_PRINCIPAL)
        points = [RecoveryPoint(id=uuid.uuid5(_POINTS, f"{disk}|{n}").hex,
                                time=(newest - timedelta(days=n)).isoformat())
                  for n in range(7)]
        plane.protect(VAULT, disk, principal_id=VAULT_PRINCIPAL, snapshot_rg_id=SNAPSHOTS,
                      points=points)


def backup_instance_of(plane: FakeControlPlane, disk: str) -> str:
    """The id of the backup instance protecting `disk` (read without recording a call)."""
    return next(p.record.id for p in plane.protected.values()
                if p.record.datasource_id.lower() == disk.lower())
