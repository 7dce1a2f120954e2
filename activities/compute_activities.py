"""Virtual machines and disks: read a VM, its size's limits or a disk; attach a data disk; power
off or deallocate, point the OS disk at another disk, start (a swap); tag, update and delete
disks; copy a disk into a zone (snapshot, disk from the snapshot, delete the snapshot). Each start
returns the ARM operation, which the orchestration polls (get_operation) on durable timers."""

from __future__ import annotations

from typing import Any

from domain import errors
from domain.model import (
    DataDisksChange,
    DiskAttachment,
    DiskProperties,
    DiskRef,
    DiskSnapshot,
    DiskTags,
    FoundDisk,
    FoundVmSize,
    Operation,
    OsDiskChange,
    Record,
    SnapshotRef,
    Vm,
    VmRef,
    VmSizeRef,
    ZoneCopy,
)
from gateway.port import ControlPlane

from .activity import Audited, activity


def _on(value: Record, _: Operation | None) -> dict[str, Any]:
    """The VM and disk an operation acts on (and the LUN and caching of an attach)."""
    return {k: v for k, v in value.to_dict().items()
            if k in ("vmId", "diskId", "lun", "caching", "snapshotId", "zone",
                     "networkAccessPolicy", "diskAccessId", "publicNetworkAccess")}


@activity()
def get_vm(vm: VmRef, azure: ControlPlane) -> Vm:
    found = azure.get_vm(vm.vm_id)
    if found is None:
        raise errors.VmNotFound(f"virtual machine {vm.vm_id} does not exist")
    return found


@activity()
def get_vm_size(size: VmSizeRef, azure: ControlPlane) -> FoundVmSize:
    return FoundVmSize(azure.get_vm_size(size.subscription_id, size.location, size.size))


@activity(audited=Audited("attach", _on))
def start_attach_data_disk(attachment: DiskAttachment, azure: ControlPlane) -> Operation:
    return azure.start_attach_data_disk(attachment.vm_id, attachment.disk_id, attachment.lun,
                                        attachment.caching)


def _changed(change: Record, _: Operation | None) -> dict[str, Any]:
    """What a data-disk change does: the VM, each disk attached (at its LUN) and detached."""
    assert isinstance(change, DataDisksChange)
    return {"vmId": change.vm_id,
            "attach": [{"diskId": a.disk_id, "lun": a.lun, "caching": a.caching}
                       for a in change.attach], "detach": list(change.detach)}


@activity(audited=Audited("attach", _changed))
def start_change_data_disks(change: DataDisksChange, azure: ControlPlane) -> Operation:
    return azure.start_change_data_disks(change)


@activity(audited=Audited("swap", _on))
def start_deallocate_vm(vm: VmRef, azure: ControlPlane) -> Operation:
    return azure.start_deallocate_vm(vm.vm_id)


@activity(audited=Audited("swap", _on))
def start_power_off_vm(vm: VmRef, azure: ControlPlane) -> Operation:
    return azure.start_power_off_vm(vm.vm_id)


@activity(audited=Audited("swap", _on))
def start_set_os_disk(change: OsDiskChange, azure: ControlPlane) -> Operation:
    return azure.start_set_os_disk(change.vm_id, change.disk_id)


@activity(audited=Audited("swap", _on))
def start_start_vm(vm: VmRef, azure: ControlPlane) -> Operation:
    return azure.start_start_vm(vm.vm_id)


@activity(audited=Audited("delete", _on))
def start_delete_disk(disk: DiskRef, azure: ControlPlane) -> Operation:
    return azure.start_delete_disk(disk.disk_id)


@activity()
def start_tag_disk(tags: DiskTags, azure: ControlPlane) -> Operation:
    return azure.start_tag_disk(tags.disk_id, tags.tags)


@activity(audited=Audited("update", _on))
def start_update_disk_properties(wanted: DiskProperties, azure: ControlPlane) -> Operation:
    """The restored disk's tags and network settings, which the Backup restore does not set."""
    return azure.start_update_disk_properties(wanted)


@activity()
def get_disk(disk: DiskRef, azure: ControlPlane) -> FoundDisk:
    return FoundDisk(azure.get_disk(disk.disk_id))


@activity(audited=Audited("zone-copy", _on))
def start_snapshot_disk(order: DiskSnapshot, azure: ControlPlane) -> Operation:
    return azure.start_snapshot_disk(order.disk_id, order.snapshot_id)


@activity(audited=Audited("zone-copy", _on))
def start_copy_disk_to_zone(copy: ZoneCopy, azure: ControlPlane) -> Operation:
    return azure.start_copy_disk_to_zone(copy.source, copy.snapshot_id, copy.disk_id, copy.zone)


@activity(audited=Audited("zone-copy", _on))
def start_delete_snapshot(snapshot: SnapshotRef, azure: ControlPlane) -> Operation:
    return azure.start_delete_snapshot(snapshot.snapshot_id)
