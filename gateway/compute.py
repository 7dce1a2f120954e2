"""Compute (disks, VMs: attach, deallocate, start, OS-disk swap) and resource groups.

VM changes are started, not awaited (see lro.py):
* attach: POST attachDetachDataDisks (202, `Location` only) with the disk, LUN and caching;
  `deleteOption: Detach` so deleting the VM never deletes the restored disk. A replace in place
  detaches the original in the same call (`dataDisksToDetach`), so the VM is never without it.
* power off / deallocate / start: POST the power action (202, `Azure-AsyncOperation` + `Location`).
* update (a restored disk's tags and network settings, which the Backup restore does not set):
  PATCH the disk (DiskUpdate), after reading it: nothing is written when it has them already.
* delete (a restored disk nobody approved): DELETE the disk, only when no VM uses it.
* move to a zone (a restored disk outside a zonal VM's zone): PUT a snapshot of the disk
  (`createOption: Copy`), PUT a disk from it with `zones: [zone]`, DELETE the snapshot; each
  reads first, so a re-run adopts what a previous attempt made.
* swap: PATCH the VM's `storageProfile.osDisk` with the new disk's name and `managedDisk.id`,
  keeping `createOption`/`osType` as they are, guarded by the VM's etag (If-Match); Compute
  answers 200 with `Azure-AsyncOperation`.
Attach and swap read the VM first: if the change is already in place (a retried activity), the
operation comes back already succeeded and nothing is written.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import models as cm

from domain import errors
from domain.model import (
    DataDisk,
    DataDisksChange,
    Disk,
    DiskAttachment,
    DiskProperties,
    Operation,
    Snapshot,
    Vm,
    VmSize,
)
from domain.resource_id import InvalidResourceId, ResourceId
from domain.restore.properties import disk_changes

from .clients import ClientsFor
from .lro import DISK_API, VM_API, Lro, finished
from .sdk_errors import is_not_found, translated
from .wire import as_json, as_object, dig, iso, same_id, text

_VM = "Microsoft.Compute/virtualMachines"
_SNAPSHOTS = "Microsoft.Compute/snapshots"
# Resource SKUs change with Azure's releases, not with a restore: one list per subscription and
# region per hour (a region lists thousands of SKUs; reading it per plan would cost seconds).
_SIZES_TTL_S = 3600.0
_sizes: dict[tuple[str, str], tuple[float, dict[str, VmSize]]] = {}
_sizes_lock = threading.Lock()


class Compute:
    def __init__(self, clients_for: ClientsFor, lro: Lro) -> None:
        self._clients_for, self._lro = clients_for, lro

    # ---- reads ----------------------------------------------------------------------------
    def get_disk(self, disk_id: str) -> Disk | None:
        rid = _parse(disk_id)
        if rid is None:
            return None
        client = self._clients_for(rid.subscription).compute
        with translated("Microsoft.Compute/disks/read", disk_id):
            try:
                disk = as_json(client.disks.get(rid.resource_group, rid.name))
            except HttpResponseError as exc:
                if is_not_found(exc):
                    return None
                raise
        return _disk(disk, disk_id)

    def list_disks(self, resource_group_id: str) -> list[Disk]:
        """The disks of a resource group (the drill sweeper looks for expired drill disks)."""
        rid = _parse(resource_group_id)
        if rid is None:
            return []
        client = self._clients_for(rid.subscription).compute
        with translated("Microsoft.Compute/disks/read", resource_group_id):
            try:
                return [_disk(as_json(d), "") for d in
                        client.disks.list_by_resource_group(rid.resource_group)]
            except HttpResponseError as exc:
                if is_not_found(exc):
                    return []
                raise

    # ---- the catalog (issue 18) -------------------------------------------------------------
    def list_disks_in_subscription(self, subscription_id: str) -> list[Disk]:
        """Every disk of a subscription, one paged list (Disks_List; the SDK's pager follows
        `nextLink`). Needs `disks/read` at the subscription: an app that may read disks only in
        some resource groups raises AppNotAuthorized (or, where ARM filters a collection by the
        caller's access, gets only those: Azure does not document which)."""
        client = self._clients_for(subscription_id).compute
        with translated("Microsoft.Compute/disks/read", f"/subscriptions/{subscription_id}"):
            return [_disk(as_json(d), "") for d in client.disks.list()]

    def list_snapshots(self, resource_group_id: str) -> list[Snapshot]:
        """The snapshots of a resource group (a Backup vault's snapshot resource group: the
        planner looks for a deleted disk's Disk Encryption Set there), every page: the SDK's
        pager follows `nextLink`. Needs `snapshots/read` on the group (infra/: source reader)."""
        rid = _parse(resource_group_id)
        if rid is None:
            return []
        client = self._clients_for(rid.subscription).compute
        with translated(f"{_SNAPSHOTS}/read", resource_group_id):
            try:
                return [_snapshot(as_json(s)) for s in
                        client.snapshots.list_by_resource_group(rid.resource_group)]
            except HttpResponseError as exc:
                if is_not_found(exc):
                    return []
                raise

    def get_resource_group_location(self, resource_group_id: str) -> str | None:
        rid = _parse(resource_group_id)
        if rid is None:
            return None
        client = self._clients_for(rid.subscription).resource
        with translated("Microsoft.Resources/subscriptions/resourceGroups/read",
                        resource_group_id):
            try:
                return client.resource_groups.get(rid.resource_group).location
            except HttpResponseError as exc:
                if is_not_found(exc):
                    return None
                raise

    def get_vm(self, vm_id: str) -> Vm | None:
        vm = self._vm_json(vm_id, instance_view=True)
        if vm is None:
            return None
        storage = dig(vm, "properties", "storageProfile")
        data_disks = [DataDisk(lun=dig(d, "lun"), disk_id=text(d, "managedDisk", "id") or "",
                               caching=text(d, "caching"),
                               write_accelerator=dig(d, "writeAcceleratorEnabled") is True)
                      for d in dig(storage, "dataDisks") or []
                      if isinstance(dig(d, "lun"), int) and not dig(d, "toBeDetached")]
        return Vm(
            id=text(vm, "id") or vm_id,
            location=text(vm, "location") or "",
            os_type=text(storage, "osDisk", "osType"),
            os_disk_id=text(storage, "osDisk", "managedDisk", "id"),
            data_disks=sorted(data_disks, key=lambda d: d.lun),
            power_state=_power_state(dig(vm, "properties", "instanceView", "statuses")),
            zones=[z for z in dig(vm, "zones") or [] if isinstance(z, str)],
            tags=_tags(vm),
            size=text(vm, "properties", "hardwareProfile", "vmSize"),
            security_type=text(vm, "properties", "securityProfile", "securityType"),
            hyper_v_generation=text(vm, "properties", "instanceView", "hyperVGeneration"),
            ultra_ssd_enabled=dig(vm, "properties", "additionalCapabilities",
                                  "ultraSSDEnabled") is True,
        )

    def get_vm_size(self, subscription_id: str, location: str, size: str) -> VmSize | None:
        """What `size` allows in `location`, from Resource SKUs (every page of the region's list,
        `$filter=location eq ...`); cached per subscription and region for an hour."""
        key = (subscription_id.lower(), _region(location))
        with _sizes_lock:
            cached = _sizes.get(key)
        if cached is None or time.monotonic() - cached[0] > _SIZES_TTL_S:
            client = self._clients_for(subscription_id).compute
            try:
                with translated("Microsoft.Compute/skus/read",
                                f"/subscriptions/{subscription_id}"):
                    listed = [as_json(s) for s in client.resource_skus.list(
                        filter=f"location eq '{_region(location)}'")]
            except errors.AppNotAuthorized:
                # Not granted in this subscription (infra/ grants it in its own): the size-bound
                # checks are left to Compute, which refuses the same mismatches later.
                return None
            sizes = {}
            for sku in listed:
                if (text(sku, "resourceType") or "").lower() == "virtualmachines" and \
                        (name := text(sku, "name")):
                    sizes[name.lower()] = _vm_size(sku, name, location)
            cached = (time.monotonic(), sizes)
            with _sizes_lock:
                _sizes[key] = cached
        return cached[1].get(size.lower())

    def _vm_json(self, vm_id: str, *, instance_view: bool = False) -> dict[str, Any] | None:
        rid = _parse(vm_id)
        if rid is None:
            return None
        client = self._clients_for(rid.subscription).compute
        with translated(f"{_VM}/read", vm_id):
            try:
                return as_object(client.virtual_machines.get(
                    rid.resource_group, rid.name,
                    expand=cm.InstanceViewTypes.INSTANCE_VIEW if instance_view else None))
            except HttpResponseError as exc:
                if is_not_found(exc):
                    return None
                raise

    # ---- changes (LROs) -------------------------------------------------------------------
    def start_attach_data_disk(self, vm_id: str, disk_id: str, lun: int, caching: str
                               ) -> Operation:
        return self.start_change_data_disks(DataDisksChange(
            vm_id, [DiskAttachment(vm_id, disk_id, lun, caching)], []))

    def start_change_data_disks(self, change: DataDisksChange) -> Operation:
        vm = self._existing_vm(change.vm_id)
        attached = {(text(d, "managedDisk", "id") or "").lower()
                    for d in dig(vm, "properties", "storageProfile", "dataDisks") or []}
        attach = [a for a in change.attach if a.disk_id.lower() not in attached]
        detach = [d for d in change.detach if d.lower() in attached]
        if not attach and not detach:  # a re-run after the change went through
            return finished("attach")
        body = cm.AttachDetachDataDisksRequest(
            data_disks_to_attach=[cm.DataDisksToAttach(
                disk_id=a.disk_id, lun=a.lun, caching=a.caching,
                write_accelerator_enabled=a.write_accelerator or None,
                delete_option=cm.DiskDeleteOptionTypes.DETACH) for a in attach] or None,
            data_disks_to_detach=[cm.DataDisksToDetach(disk_id=d) for d in detach] or None)
        return self._start("attach", change.vm_id, "POST", "/attachDetachDataDisks", body.as_dict(),
                           f"{_VM}/attachDetachDataDisks/action")

    def start_deallocate_vm(self, vm_id: str) -> Operation:
        return self._start("deallocate", vm_id, "POST", "/deallocate", None,
                           f"{_VM}/deallocate/action")

    def start_power_off_vm(self, vm_id: str) -> Operation:
        return self._start("powerOff", vm_id, "POST", "/powerOff", None,
                           f"{_VM}/powerOff/action")

    def start_start_vm(self, vm_id: str) -> Operation:
        return self._start("start", vm_id, "POST", "/start", None, f"{_VM}/start/action")

    def start_set_os_disk(self, vm_id: str, disk_id: str) -> Operation:
        vm = self._existing_vm(vm_id)
        os_disk = dig(vm, "properties", "storageProfile", "osDisk")
        if same_id(text(os_disk, "managedDisk", "id"), disk_id):
            return finished("swap")
        disk = _parse(disk_id)
        body = cm.VirtualMachineUpdate(properties=cm.VirtualMachineProperties(
            storage_profile=cm.StorageProfile(os_disk=cm.OSDisk(
                name=disk.name if disk else disk_id.rstrip("/").rsplit("/", 1)[-1],
                create_option=text(os_disk, "createOption") or cm.DiskCreateOptionTypes.ATTACH,
                os_type=text(os_disk, "osType"),
                managed_disk=cm.ManagedDiskParameters(id=disk_id)))))
        etag = text(vm, "etag")
        return self._start("swap", vm_id, "PATCH", "", body.as_dict(exclude_readonly=True),
                           f"{_VM}/write", headers={"If-Match": etag} if etag else None)

    def start_tag_disk(self, disk_id: str, tags: dict[str, str]) -> Operation:
        """Add `tags` to a disk (keeping its others): PATCH, as Compute updates disks."""
        disk = self.get_disk(disk_id)
        if disk is None:
            raise errors.RestoreJobFailed(f"disk {disk_id} does not exist")
        if all(disk.tags.get(k) == v for k, v in tags.items()):
            return finished("tag")
        rid = _parse(disk_id)
        assert rid is not None
        client = self._clients_for(rid.subscription).compute
        return self._lro.start("tag", client, "PATCH", str(rid), DISK_API,
                               {"tags": {**disk.tags, **tags}},
                               action="Microsoft.Compute/disks/write", scope=disk_id)

    def start_update_disk_properties(self, wanted: DiskProperties) -> Operation:
        """PATCH a disk (a DiskUpdate) with `wanted`'s tags added to its own and its network
        settings; read first: a disk that has them already (a re-run) is done, unwritten."""
        disk = self.get_disk(wanted.disk_id)
        if disk is None:
            raise errors.RestoreJobFailed(f"disk {wanted.disk_id} does not exist")
        changes = disk_changes(disk, wanted)
        if not changes:
            return finished("update")
        rid = _parse(wanted.disk_id)
        assert rid is not None  # get_disk found it
        body = cm.DiskUpdate(
            tags={**disk.tags, **wanted.tags} if "tags" in changes else None,
            properties=cm.DiskUpdateProperties(**{
                k: v for k, v in changes.items() if k != "tags"}) if set(changes) - {"tags"}
            else None)
        client = self._clients_for(rid.subscription).compute
        return self._lro.start("update", client, "PATCH", str(rid), DISK_API, body.as_dict(),
                               action="Microsoft.Compute/disks/write", scope=wanted.disk_id)

    def start_delete_disk(self, disk_id: str) -> Operation:
        """Delete a disk this app restored and no VM uses (a restore nobody approved). Refuses an
        attached disk; a disk already gone is done."""
        disk = self.get_disk(disk_id)
        if disk is None:
            return finished("delete")
        if disk.managed_by or (disk.state or "").lower() not in ("unattached", ""):
            raise errors.DiskInUse(f"disk {disk_id} is attached to {disk.managed_by or 'a VM'} "
                                   f"(state {disk.state}); not deleting it")
        rid = _parse(disk_id)
        assert rid is not None  # get_disk found it
        client = self._clients_for(rid.subscription).compute
        return self._lro.start("delete", client, "DELETE", str(rid), DISK_API, None,
                               action="Microsoft.Compute/disks/delete", scope=disk_id)

    def start_snapshot_disk(self, disk_id: str, snapshot_id: str) -> Operation:
        """A snapshot of `disk_id` named `snapshot_id`; one already there is adopted. Incremental:
        the only kind Premium SSD v2 and Ultra disks allow, and cheaper for the others."""
        rid = _parse(snapshot_id)
        if rid is None:
            raise errors.RestoreJobFailed(f"{snapshot_id!r} is not a snapshot id")
        client = self._clients_for(rid.subscription).compute
        with translated(f"{_SNAPSHOTS}/read", snapshot_id):
            try:
                found = as_json(client.snapshots.get(rid.resource_group, rid.name))
            except HttpResponseError as exc:
                if not is_not_found(exc):
                    raise
                found = None
        if found is not None:
            if not same_id(text(found, "properties", "creationData", "sourceResourceId"),
                           disk_id):
                raise errors.ZoneCopyFailed(
                    f"snapshot {snapshot_id} exists but is not of {disk_id}",
                    hint="delete or rename it, then run the restore again")
            return finished("snapshot")
        disk = self.get_disk(disk_id)
        if disk is None:
            raise errors.ZoneCopyFailed(f"the restored disk {disk_id} does not exist")
        body = {"location": disk.location, "properties": {
            "creationData": {"createOption": "Copy", "sourceResourceId": disk_id},
            "incremental": True}}
        return self._lro.start("snapshot", client, "PUT", str(rid), DISK_API, body,
                               action=f"{_SNAPSHOTS}/write", scope=snapshot_id)

    def start_copy_disk_to_zone(self, source: Disk, snapshot_id: str, disk_id: str,
                                zone: str) -> Operation:
        """A disk `disk_id` in `zone` from the snapshot, with the source's SKU, encryption set
        and tags; one already in that zone is adopted, one elsewhere is refused."""
        found = self.get_disk(disk_id)
        if found is not None:
            if found.zones != [zone]:
                raise errors.ZoneCopyFailed(
                    f"disk {disk_id} exists but is in "
                    f"{'zone ' + ','.join(found.zones) if found.zones else 'no zone'}, not {zone}",
                    hint="delete or rename it, then run the restore again")
            return finished("copy")
        rid = _parse(disk_id)
        if rid is None:
            raise errors.ZoneCopyFailed(f"{disk_id!r} is not a disk id")
        properties: dict[str, Any] = {
            "creationData": {"createOption": "Copy", "sourceResourceId": snapshot_id}}
        if source.encryption_set_id:
            properties["encryption"] = {"type": "EncryptionAtRestWithCustomerKey",
                                        "diskEncryptionSetId": source.encryption_set_id}
        body: dict[str, Any] = {"location": source.location, "zones": [zone],
                                "properties": properties}
        if source.sku:
            body["sku"] = {"name": source.sku}
        if source.tags:
            body["tags"] = dict(source.tags)
        client = self._clients_for(rid.subscription).compute
        return self._lro.start("copy", client, "PUT", str(rid), DISK_API, body,
                               action="Microsoft.Compute/disks/write", scope=disk_id)

    def start_delete_snapshot(self, snapshot_id: str) -> Operation:
        """Delete a snapshot this app made; one already gone is done (ARM answers 204)."""
        rid = _parse(snapshot_id)
        if rid is None:
            return finished("delete")
        client = self._clients_for(rid.subscription).compute
        return self._lro.start("delete", client, "DELETE", str(rid), DISK_API, None,
                               action=f"{_SNAPSHOTS}/delete", scope=snapshot_id)

    def _existing_vm(self, vm_id: str) -> dict[str, Any]:
        vm = self._vm_json(vm_id)
        if vm is None:
            raise errors.VmNotFound(f"virtual machine {vm_id} does not exist")
        return vm

    def _start(self, kind: str, vm_id: str, method: str, suffix: str, body: Any, action: str,
               headers: dict[str, str] | None = None) -> Operation:
        rid = _parse(vm_id)
        if rid is None:
            raise errors.VmNotFound(f"{vm_id!r} is not a virtual machine id")
        client = self._clients_for(rid.subscription).compute
        return self._lro.start(kind, client, method, f"{rid}{suffix}", VM_API, body,
                               action=action, scope=vm_id, headers=headers)


def _parse(rid: str) -> ResourceId | None:
    try:
        return ResourceId.parse(rid)
    except InvalidResourceId:
        return None


def _power_state(statuses: Any) -> str | None:
    for status in statuses or []:
        code = text(status, "code") or ""
        if code.lower().startswith("powerstate/"):
            return code.split("/", 1)[1].lower()
    return None


def _region(location: str) -> str:
    return location.replace(" ", "").lower()


def _vm_size(sku: Any, name: str, location: str) -> VmSize:
    caps = {text(c, "name"): text(c, "value") for c in dig(sku, "capabilities") or []}
    count = caps.get("MaxDataDiskCount")
    premium = caps.get("PremiumIO")
    generations = caps.get("HyperVGenerations")
    return VmSize(name=name, location=location,
                  max_data_disks=int(count) if count and count.isdigit() else None,
                  premium_io=premium.lower() == "true" if premium else None,
                  hyper_v_generations=[g.strip() for g in generations.split(",") if g.strip()]
                  if generations else [])


def _tags(resource: Any) -> dict[str, str]:
    return {k: v for k, v in (dig(resource, "tags") or {}).items() if isinstance(v, str)}


def _snapshot(snapshot: Any) -> Snapshot:
    return Snapshot(
        id=text(snapshot, "id") or "",
        source_resource_id=text(snapshot, "properties", "creationData", "sourceResourceId"),
        time_created=iso(dig(snapshot, "properties", "timeCreated")),
        encryption_set_id=text(snapshot, "properties", "encryption", "diskEncryptionSetId"),
        incremental=dig(snapshot, "properties", "incremental") is True,
    )


def _disk(disk: Any, disk_id: str) -> Disk:
    size = dig(disk, "properties", "diskSizeGB")
    return Disk(
        id=text(disk, "id") or disk_id,
        location=text(disk, "location") or "",
        size_gb=size if isinstance(size, int) else None,
        sku=text(disk, "sku", "name"),
        os_type=text(disk, "properties", "osType"),
        encryption_set_id=text(disk, "properties", "encryption", "diskEncryptionSetId"),
        managed_by=text(disk, "managedBy"),
        state=text(disk, "properties", "diskState"),
        tags=_tags(disk),
        zones=[z for z in dig(disk, "zones") or [] if isinstance(z, str)],
        network_access_policy=text(disk, "properties", "networkAccessPolicy"),
        disk_access_id=text(disk, "properties", "diskAccessId"),
        public_network_access=text(disk, "properties", "publicNetworkAccess"),
        hyper_v_generation=text(disk, "properties", "hyperVGeneration"),
        security_type=text(disk, "properties", "securityProfile", "securityType"),
    )
