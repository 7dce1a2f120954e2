"""Alert-driven recovery: admitting a signal that matched a policy, and turning it into restores.

Admission is decided per policy and resource from a small record (the guard): the runs started
recently and the last run. A run still in progress or a start within the cooldown makes a new
signal a duplicate; too many starts in the last hour reject it. The overall concurrency limit is
counted by the caller (it needs the live runs).

`resolve` reads Azure (through the same reader as planning) to turn the policy's action into
restore requests: the deleted disk under its own name, a VM's OS disk for a swap, or its data
disks for attaching. Nothing protected: the run is ignored, with the reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from domain import errors
from domain.model import OMITTED_WHEN_NONE, BackupInstance, Disk, Record, Vm
from domain.recovery.policy import Policy
from domain.recovery.signals import Signal
from domain.resource_id import ResourceId
from domain.restore.request import RestoreRequest
from domain.restore.vm_request import VmRestoreRequest

STARTED, DEDUPLICATED, REJECTED, MALFORMED = "started", "deduplicated", "rejected", "malformed"
IGNORED = "ignored"  # caused by the app's own identity: recording it is all there is to do
KEEP = timedelta(hours=24)  # starts older than this are forgotten
RUN_PREFIX = "recover-"


@dataclass(frozen=True)
class Guard(Record):
    """What one policy has started for one resource."""

    policy: str
    resource_id: str
    starts: list[str] = field(default_factory=list)  # ISO-8601 UTC, oldest first
    last_run_id: str | None = None

    def started(self, run_id: str, now: datetime) -> Guard:
        recent = [s for s in self.starts if now - datetime.fromisoformat(s) < KEEP]
        return Guard(self.policy, self.resource_id, [*recent, now.isoformat()], run_id)


@dataclass(frozen=True)
class Decision(Record):
    """What became of one signal: started (with the run), deduplicated, rejected or malformed."""

    disposition: str
    reason: str
    policy: str | None = None
    run_id: str | None = None


def check_guard(policy: Policy, guard: Guard, now: datetime, *,
                last_run_active: bool) -> Decision | None:
    """None when `policy` may start a run for the guard's resource now; else why not."""
    if guard.last_run_id and last_run_active:
        return Decision(DEDUPLICATED, f"run {guard.last_run_id} for this resource is still in "
                                      "progress", policy.name, guard.last_run_id)
    starts = [datetime.fromisoformat(s) for s in guard.starts]
    cooldown = timedelta(minutes=policy.limits.cooldown_minutes)
    if starts and now - starts[-1] < cooldown:
        ago = (now - starts[-1]).total_seconds()
        return Decision(DEDUPLICATED, f"cooldown: run {guard.last_run_id} started {ago:.0f} s "
                                      f"ago; policy {policy.name} waits "
                                      f"{policy.limits.cooldown_minutes} min between runs",
                        policy.name, guard.last_run_id)
    limit = policy.limits.runs_per_resource_per_hour
    in_hour = [s for s in starts if now - s < timedelta(hours=1)]
    if len(in_hour) >= limit:
        return Decision(REJECTED, f"rate limit: {len(in_hour)} run(s) for this resource in the "
                                  f"last hour; policy {policy.name} allows {limit}", policy.name)
    return None


def run_id(policy: Policy, resource_id: str, now: datetime) -> str:
    """Readable and unique per policy, resource and second: recover-<policy>-<hash>-<time>."""
    digest = hashlib.sha256(ResourceId.parse(resource_id).key().encode()).hexdigest()[:10]
    return f"{RUN_PREFIX}{policy.name[:40]}-{digest}-{now:%Y%m%dT%H%M%S}"


class RecoveryReader(Protocol):
    def find_backup_instance(self, disk_id: str) -> BackupInstance: ...
    def get_disk(self, disk_id: str) -> Disk | None: ...
    def get_vm(self, vm_id: str) -> Vm | None: ...


@dataclass(frozen=True)
class Resolution(Record):
    """The restore requests a recovery run makes (validated as any request is), or why it makes
    none."""

    requests: list[RestoreRequest] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # disks left alone, with the reason
    ignored: str | None = None
    # Instead of `requests`: the VM's disks restored together, then one VM change (a whole-VM
    # restore: restoreDataDisksAndAttach, which replaces every protected data disk in place).
    vm_request: VmRestoreRequest | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    # The VM's tags, for the policy's per-tag objectives (a deleted disk has none to read)
    tags: dict[str, str] | None = field(default=None, metadata=OMITTED_WHEN_NONE)


def resolve(policy: Policy, signal: Signal, run: str, azure: RecoveryReader) -> Resolution:
    action = policy.action.type
    if action == "restoreDeletedDisk":
        return _deleted_disk(policy, signal, run, azure)
    vm = azure.get_vm(signal.resource_id)
    if vm is None:
        return Resolution(ignored=f"virtual machine {signal.resource_id} does not exist")
    return replace(_vm_action(action, signal, run, vm, azure), tags=dict(vm.tags))


def _vm_action(action: str, signal: Signal, run: str, vm: Vm,
               azure: RecoveryReader) -> Resolution:
    before = {"before": signal.occurred}  # the newest point before things went wrong
    rg = ResourceId.parse(vm.id).resource_group_id
    if action == "restoreOsDiskAndSwap":
        if not vm.os_disk_id:
            return Resolution(ignored=f"{vm.id} has no managed OS disk")
        if not _protected(azure, vm.os_disk_id):
            return Resolution(ignored=f"the OS disk {vm.os_disk_id} is not protected by a "
                                      "Backup vault")
        return Resolution(requests=[RestoreRequest.from_dict({
            "requestId": f"{run}-0", "source": {"diskId": vm.os_disk_id},
            "recoveryPoint": before,
            "target": {"resourceGroupId": rg, "diskName": _copy_name(vm.os_disk_id, signal)},
            "swapOsDisk": {"vmId": vm.id}})])
    requests: list[RestoreRequest] = []
    skipped: list[str] = []
    luns: list[int] = []
    for disk in vm.data_disks:
        if not _protected(azure, disk.disk_id):
            skipped.append(f"{disk.disk_id}: not protected by a Backup vault")
            continue
        luns.append(disk.lun)
        requests.append(RestoreRequest.from_dict({
            "requestId": f"{run}-{len(requests)}", "source": {"diskId": disk.disk_id},
            "recoveryPoint": before,
            "target": {"resourceGroupId": rg, "diskName": _copy_name(disk.disk_id, signal)},
            "attach": {"vmId": vm.id, "mode": "add"}}))
    if not requests:
        return Resolution(skipped=skipped, ignored=f"no data disk of {vm.id} is protected by a "
                                                   "Backup vault" if vm.data_disks else
                                                   f"{vm.id} has no data disks")
    if action == "restoreDataDisksAndAttachBeside":
        return Resolution(requests=requests, skipped=skipped)
    # In each original's place, all at once from one moment, then one VM change: a block copy
    # beside its original gives the guest two file systems with one UUID (XFS refuses it; Linux
    # may mount the wrong one), and one disk after the other takes as long as all of them.
    return Resolution(skipped=skipped, vm_request=VmRestoreRequest.from_dict({
        "requestId": run, "source": {"vmId": vm.id, "disks": luns}, "recoveryPoint": before,
        "target": {"resourceGroupId": rg, "diskNameSuffix": _copy_suffix(signal)},
        "apply": "replace"}))


def _deleted_disk(policy: Policy, signal: Signal, run: str,
                  azure: RecoveryReader) -> Resolution:
    disk_id = signal.resource_id
    if azure.get_disk(disk_id) is not None:
        return Resolution(ignored=f"disk {disk_id} exists (again): nothing to recover")
    if not _protected(azure, disk_id):
        return Resolution(ignored=f"disk {disk_id} is not protected by a Backup vault")
    rid = ResourceId.parse(disk_id)
    request: dict[str, Any] = {
        "requestId": f"{run}-0", "source": {"diskId": disk_id}, "recoveryPoint": "latest",
        "target": {"resourceGroupId": rid.resource_group_id, "diskName": rid.name}}
    attach = policy.action.attach_to
    if attach is not None:
        request["attach"] = {"vmId": attach.vm_id, "lun": attach.lun, "caching": attach.caching}
    return Resolution(requests=[RestoreRequest.from_dict(request)])


def _protected(azure: RecoveryReader, disk_id: str) -> bool:
    try:
        azure.find_backup_instance(disk_id)
    except errors.BackupInstanceNotFound:
        return False
    return True


def _copy_name(disk_id: str, signal: Signal) -> str:
    """<disk>-r<signal time>, within the 80 characters a disk name allows."""
    return f"{ResourceId.parse(disk_id).name[:69]}{_copy_suffix(signal)}"


def _copy_suffix(signal: Signal) -> str:
    stamp = datetime.fromisoformat(signal.occurred.replace("Z", "+00:00")).strftime("%m%d%H%M")
    return f"-r{stamp}"
