"""Turning a RestoreRequest into a RestorePlan: every check the documented procedure leaves to a
person, made before anything is changed. Pure logic over a read-only view of Azure.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from domain import errors
from domain.model import (
    AttachPlan,
    BackupInstance,
    Disk,
    RecoveryPoint,
    RestorePlan,
    RoleAssignment,
    RoleGrant,
    SwapPlan,
    Vm,
    VmSize,
)
from domain.resource_id import ResourceId
from domain.restore import compatibility
from domain.restore.budget import RestoreLog, budgets, check_disk
from domain.restore.encryption_set import SnapshotReader, encryption_set
from domain.restore.request import RecoveryPointChoice, RestoreRequest

DISK_RESTORE_OPERATOR = "b50d9833-a0cb-478e-945f-707fcc997c13"
DISK_SNAPSHOT_CONTRIBUTOR = "7efff54f-a5b4-42b5-a1c5-5411624893ce"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
MAX_LUN = 63
MAX_DISK_NAME = 80  # Compute's limit for disk and snapshot names
_NAMESPACE = uuid.UUID("5b1c7f3e-8d0a-4b8e-9a52-5f0d2c1e7a10")  # ours: assignment names


class AzureReader(SnapshotReader, RestoreLog, Protocol):
    """The read side of gateway.port.ControlPlane that planning needs."""

    def find_backup_instance(self, disk_id: str) -> BackupInstance: ...
    def get_backup_instance(self, backup_instance_id: str) -> BackupInstance: ...
    def list_recovery_points(self, backup_instance_id: str) -> list[RecoveryPoint]: ...
    def get_disk(self, disk_id: str) -> Disk | None: ...
    def get_resource_group_location(self, resource_group_id: str) -> str | None: ...
    def get_vm(self, vm_id: str) -> Vm | None: ...
    def get_vm_size(self, subscription_id: str, location: str, size: str) -> VmSize | None: ...
    def find_role_assignments(self, scope: str, principal_id: str) -> list[RoleAssignment]: ...


def assignment_name(instance_id: str, scope: str, role_guid: str) -> str:
    """Deterministic per run, scope and role: a retried grant finds its own assignment, and
    another run's assignment (a different name) comes back as pre-existing, never revoked."""
    return str(uuid.uuid5(_NAMESPACE, f"{instance_id}|{scope.lower()}|{role_guid}"))


def choose_recovery_point(points: list[RecoveryPoint],
                          choice: RecoveryPointChoice) -> RecoveryPoint:
    ordered = sorted(points, key=lambda p: _time(p.time), reverse=True)
    if choice.kind == "id":
        found = [p for p in ordered if p.id.lower() == (choice.value or "").lower()]
        if not found:
            raise errors.RecoveryPointNotFound(f"no recovery point {choice.value!r}",
                                               hint="list recovery points with a dry run")
        return found[0]
    if choice.kind == "before":
        limit = _time(choice.value or "")
        ordered = [p for p in ordered if _time(p.time) < limit]
    if not ordered:
        raise errors.RecoveryPointNotFound(
            "no recovery point" + (f" before {choice.value}" if choice.kind == "before" else ""))
    return ordered[0]


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def build_plan(request: RestoreRequest, azure: AzureReader, *, instance_id: str, created: str,
               propagation_timeout_s: int, job_timeout_s: int,
               check_budget: bool = True) -> RestorePlan:
    bi = (azure.find_backup_instance(request.source_disk_id) if request.source_disk_id
          else azure.get_backup_instance(request.source_backup_instance_id or ""))
    point = choose_recovery_point(azure.list_recovery_points(bi.id), request.recovery_point)
    source = azure.get_disk(bi.datasource_id)
    _check_target(request, azure, bi, source)
    _check_snapshot_roles(azure, bi)
    grants = [_grant(instance_id, request.target_resource_group_id, DISK_RESTORE_OPERATOR,
                     "Disk Restore Operator", bi)]
    des = encryption_set(azure, bi, point, source, request.target_resource_group_id)
    if des.id:  # a deleted disk's from its recovery point's snapshot
        grants.append(_grant(instance_id, des.id, READER, "Reader", bi))
    attach = _attach_plan(request, azure, bi, source) if request.attach else None
    swap = _swap_plan(request, azure, bi, source) if request.swap_vm_id else None
    zonal = attach or swap
    _check_zonal_copy_name(request, azure, zonal.zone if zonal else None)
    # Last, before any grant or write: Azure refuses the 11th restore of a day only once the
    # roles are granted and propagated (or even lets its job fail), and a restore needs them all.
    # Not again for a run whose parent just checked it (a drill's disk, a whole VM's).
    if check_budget:
        check_disk(bi.datasource_id, budgets(azure, [bi], _time(created))[bi.id.lower()])
    return RestorePlan(instance_id=instance_id, created=created, backup_instance=bi,
                       recovery_point=point, source_disk=source,
                       target_disk_id=request.target_disk_id, target_location=bi.vault_location,
                       grants=grants, attach=attach, swap=swap, dry_run=request.dry_run,
                       propagation_timeout_s=propagation_timeout_s, job_timeout_s=job_timeout_s,
                       warnings=[des.warning] if des.warning else None)


def _grant(instance_id: str, scope: str, role: str, role_name: str,
           bi: BackupInstance) -> RoleGrant:
    return RoleGrant(scope=scope, role_definition_guid=role, role_name=role_name,
                     principal_id=bi.vault_principal_id,
                     assignment_name=assignment_name(instance_id, scope, role))


def _check_target(request: RestoreRequest, azure: AzureReader, bi: BackupInstance,
                  source: Disk | None) -> None:
    rg = request.target_resource_group_id
    if azure.get_resource_group_location(rg) is None:
        raise errors.TargetResourceGroupNotFound(f"resource group {rg} does not exist",
                                                 hint="create it first")
    if azure.get_disk(request.target_disk_id) is not None:
        raise errors.TargetDiskExists(
            f"a disk named {request.target_disk_name!r} already exists in {rg}",
            hint="Azure Backup restores only to a new disk: choose another name")
    target_sub = ResourceId.parse(rg).subscription
    if target_sub != ResourceId.parse(bi.id).subscription:
        if bi.cross_subscription_restore.lower() != "enabled":
            raise errors.CrossSubscriptionRestoreDisabled(
                f"the vault's cross-subscription restore is {bi.cross_subscription_restore}",
                hint="restore into the vault's subscription or enable it on the vault")
        if source is not None and source.encryption_set_id:
            raise errors.CrossSubscriptionRestoreDisabled(
                "disks encrypted with a customer-managed key cannot be restored to another "
                "subscription", hint="restore into the vault's subscription")


def _check_zonal_copy_name(request: RestoreRequest, azure: AzureReader,
                           zone: str | None) -> None:
    """A zonal VM may get a copy of the restored disk in its zone (see `needs_zonal_copy`): its
    name must be free too, or the run would adopt someone else's disk as its copy."""
    if zone is None:
        return
    copy_id = zonal_copy_id(request.target_disk_id, zone)
    if azure.get_disk(copy_id) is not None:
        raise errors.TargetDiskExists(
            f"a disk named {ResourceId.parse(copy_id).name!r} already exists in "
            f"{request.target_resource_group_id}: the name of the copy in zone {zone} that the "
            f"VM may need", hint="choose another disk name, or delete that disk")


def _check_snapshot_roles(azure: AzureReader, bi: BackupInstance) -> None:
    held = azure.find_role_assignments(bi.snapshot_resource_group_id, bi.vault_principal_id)
    if not any(a.role_definition_guid == DISK_SNAPSHOT_CONTRIBUTOR for a in held):
        raise errors.SnapshotPermissionsMissing(
            f"the vault's identity {bi.vault_principal_id} has no Disk Snapshot Contributor role "
            f"on the snapshot resource group {bi.snapshot_resource_group_id}",
            hint="assign it (as when backup was configured); this app grants only target-side "
                 "roles")


def _vm(azure: AzureReader, vm_id: str, bi: BackupInstance) -> Vm:
    vm = azure.get_vm(vm_id)
    if vm is None:
        raise errors.VmNotFound(f"virtual machine {vm_id} does not exist")
    if vm.location.lower() != bi.vault_location.lower():
        raise errors.VmNotSuitable(f"the VM is in {vm.location}; the disk is restored in "
                                   f"{bi.vault_location} and cannot be attached across regions")
    return vm


def _attach_plan(request: RestoreRequest, azure: AzureReader, bi: BackupInstance,
                 source: Disk | None) -> AttachPlan:
    attach = request.attach
    assert attach is not None
    vm = _vm(azure, attach.vm_id, bi)
    if attach.mode == "replace":
        return _replace_plan(vm, azure, bi, source)
    used = {d.lun for d in vm.data_disks}
    if attach.lun is not None and attach.lun in used:
        raise errors.VmNotSuitable(f"LUN {attach.lun} is in use on the VM",
                                   hint=f"free LUNs start at {_lowest_free(used)}")
    # The restored disk is the source as it was backed up: its SKU, size and encryption.
    problems = compatibility.attach_problems(vm, _size_of(azure, vm), source, attach.caching)
    if problems:
        raise compatibility.refusal(problems, vm.id)
    lun = attach.lun if attach.lun is not None else _lowest_free(used)
    return AttachPlan(vm_id=vm.id, lun=lun, caching=attach.caching, zone=zone_of(vm))


def _replace_plan(vm: Vm, azure: AzureReader, bi: BackupInstance,
                  source: Disk | None) -> AttachPlan:
    """The restored disk in the source disk's place: its LUN, caching and write accelerator
    (a block copy beside its original would give the guest two file systems with one UUID)."""
    slot = next((d for d in vm.data_disks if d.disk_id.lower() == bi.datasource_id.lower()),
                None)
    if slot is None:
        raise errors.VmNotSuitable(
            f"the source disk {bi.datasource_id} is not a data disk of {vm.id}, so there is "
            "nothing to replace", hint='attach beside the VM\'s disks instead ("mode": "add"), '
                                       "or swap an OS disk with swapOsDisk")
    caching = slot.caching or "None"
    problems = compatibility.attach_problems(vm, _size_of(azure, vm), source, caching,
                                             replacing=True)
    if problems:
        raise compatibility.refusal(problems, vm.id)
    return AttachPlan(vm_id=vm.id, lun=slot.lun, caching=caching, zone=zone_of(vm),
                      replaces=slot.disk_id, write_accelerator=slot.write_accelerator or None)


def _size_of(azure: AzureReader, vm: Vm) -> VmSize | None:
    """What the VM's size allows; None (the size-bound checks left to Compute) when the region
    does not list it."""
    if not vm.size:
        return None
    return azure.get_vm_size(ResourceId.parse(vm.id).subscription, vm.location, vm.size)


def _lowest_free(used: set[int]) -> int:
    free = [n for n in range(MAX_LUN + 1) if n not in used]
    if not free:
        raise errors.VmNotSuitable("the VM has no free LUN")
    return free[0]


def _swap_plan(request: RestoreRequest, azure: AzureReader, bi: BackupInstance,
               source: Disk | None) -> SwapPlan:
    vm = _vm(azure, request.swap_vm_id or "", bi)
    if vm.os_disk_id is None:
        raise errors.VmNotSuitable("the VM has no managed OS disk to swap")
    problems = compatibility.swap_problems(vm, _size_of(azure, vm), azure.get_disk(vm.os_disk_id),
                                           source)
    if problems:
        raise compatibility.refusal(problems, vm.id)
    return SwapPlan(vm_id=vm.id, original_os_disk_id=vm.os_disk_id,
                    was_running=(vm.power_state or "").lower() == "running", zone=zone_of(vm))


# ---- zones ---------------------------------------------------------------------------------------
# The Backup restore request takes no zone, and no document says where the restored disk lands
# (regional, or the source disk's zone: restore-realities-2026.md 1.1). A zonal VM attaches only a
# disk in its own zone ("Disk ... cannot be attached to the VM because it is not in zone '1'"),
# so the plan records the VM's zone and, once the job is done, the run reads the restored disk and
# copies it into that zone when it is elsewhere: through a snapshot, the path Azure documents for
# a non-zonal disk going zonal (availability-zones/migrate-managed-disks.md).
def zone_of(vm: Vm) -> str | None:
    """The zone of a zonal VM; None for a regional one."""
    return vm.zones[0] if vm.zones else None


def needs_zonal_copy(disk: Disk, zone: str | None) -> bool:
    """Whether `disk` must be copied into `zone` before a VM there can use it: never for a
    regional VM (zone None) nor for a ZRS disk (no zone, attaches in any zone); otherwise unless
    the disk is in exactly that zone."""
    if zone is None or disk.zone_redundant:
        return False
    return [z.strip() for z in disk.zones] != [zone]


def zonal_copy_id(target_disk_id: str, zone: str) -> str:
    """The zonal copy of the restored disk: the same group, its name + `-zone<N>` (the name cut
    to fit Compute's 80 characters). Deterministic: a re-run finds its own copy."""
    return _sibling(target_disk_id, "disks", f"-zone{zone}")


def zonal_snapshot_id(target_disk_id: str, zone: str) -> str:
    """The snapshot the zonal copy is made from, beside the restored disk (deleted after)."""
    return _sibling(target_disk_id, "snapshots", f"-zone{zone}-snapshot")


def _sibling(disk_id: str, kind: str, suffix: str) -> str:
    rid = ResourceId.parse(disk_id)
    name = rid.name[:MAX_DISK_NAME - len(suffix)] + suffix
    return f"{rid.resource_group_id}/providers/Microsoft.Compute/{kind}/{name}"
