"""Turning a whole-VM request into a VmRestorePlan: which of the VM's disks are restored, from
which recovery point each, under which name, and what each disk's run is asked to do to the VM.
Pure logic over a read-only view of Azure, and no clock: the caller passes `now`.

Each chosen disk becomes a single disk's RestoreRequest whose recovery point is the id chosen
here: every disk's run restores exactly the point the plan shows, however long the runs take or
whenever they are re-run. What a disk's run checks itself (the vault's roles, the Disk
Encryption Set, the VM's size and zone: domain/restore/planning.py) is not repeated here; what
would fail one disk's run after others had started (a disk the VM does not have, a point in time
one disk cannot reach, a target name taken, a disk with no restore left today) is refused here,
naming every disk it concerns.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from domain import errors
from domain.errors import FieldError
from domain.model import OMITTED_WHEN_NONE, BackupInstance, Disk, Record, RecoveryPoint, Vm
from domain.resource_id import ResourceId
from domain.restore.budget import HINT, RestoreLog, budgets, describe
from domain.restore.planning import MAX_DISK_NAME, choose_recovery_point
from domain.restore.request import RestoreRequest
from domain.restore.vm_request import OS, DiskChoice, VmRestoreRequest

MAX_REQUEST_ID = 100  # request.REQUEST_ID: a disk's run id is restore-<its requestId>


class VmPlanReader(RestoreLog, Protocol):
    """The read side of gateway.port.ControlPlane that planning a whole VM needs."""

    def get_vm(self, vm_id: str) -> Vm | None: ...
    def find_backup_instance(self, disk_id: str) -> BackupInstance: ...
    def list_recovery_points(self, backup_instance_id: str) -> list[RecoveryPoint]: ...
    def get_disk(self, disk_id: str) -> Disk | None: ...
    def get_resource_group_location(self, resource_group_id: str) -> str | None: ...


@dataclass(frozen=True)
class VmDiskPlan(Record):
    """One disk of the VM to restore, and the request its own run is started with."""

    role: str  # os | data
    source_disk_id: str
    backup_instance: BackupInstance
    recovery_point: RecoveryPoint  # the newest of its instance's points the request allows
    request: RestoreRequest  # recoveryPoint {"id"} of the point above; attach/swap per `apply`
    lun: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)  # a data disk's

    @property
    def label(self) -> str:
        return disk_label(self.role, self.lun)


@dataclass(frozen=True)
class SkippedDisk(Record):
    """A disk of the VM the request left out, and why (only when it chose every disk)."""

    role: str  # os | data
    disk_id: str | None  # None: an OS disk that is not a managed disk
    reason: str
    lun: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@dataclass(frozen=True)
class VmRestorePlan(Record):
    instance_id: str
    created: str  # ISO-8601, the caller's `now`
    vm: Vm  # as read at plan time: its disks, size, power state and zone
    apply: str  # replace | none
    disks: list[VmDiskPlan]  # the OS disk first, then the data disks by LUN
    skipped: list[SkippedDisk]
    # The chosen points' span: the newest point's time minus the oldest's. Disks of one VM are
    # separate backup instances, backed up at their own moments: 0 only when their points match.
    oldest_point: str
    newest_point: str
    skew_seconds: float
    dry_run: bool = False

    @property
    def os_disk(self) -> VmDiskPlan | None:
        return next((d for d in self.disks if d.role == "os"), None)

    @property
    def data_disks(self) -> list[VmDiskPlan]:
        return [d for d in self.disks if d.role == "data"]


def disk_label(role: str, lun: int | None) -> str:
    return "the OS disk" if role == "os" else f"LUN {lun}"


@dataclass(frozen=True)
class _Slot:
    role: str
    lun: int | None
    disk_id: str | None

    @property
    def label(self) -> str:
        return disk_label(self.role, self.lun)


def build_vm_plan(request: VmRestoreRequest, azure: VmPlanReader, *, instance_id: str,
                  now: datetime) -> VmRestorePlan:
    """The plan for `request`, run `instance_id` (whose disks' runs get requestIds
    `<instance_id>-os` and `<instance_id>-lun<N>`). Raises VmNotFound; InvalidRequest naming
    each disk `source.disks` names that the VM does not have or no vault protects;
    BackupInstanceNotFound when no chosen disk is protected; RecoveryPointNotFound naming each
    disk with no point the request allows; TargetResourceGroupNotFound; TargetDiskExists naming
    every restored disk name taken; RestoreBudgetSpent naming each disk with no restore left
    today."""
    vm = azure.get_vm(request.vm_id)
    if vm is None:
        raise errors.VmNotFound(f"virtual machine {request.vm_id} does not exist")
    protected, skipped = _protected(request, vm, azure)
    points = _points(request, vm, protected, azure)
    names = _target_names(request, [slot for slot, _ in protected], azure)
    _check_budgets(vm, protected, azure, now)
    disks = [VmDiskPlan(role=slot.role, lun=slot.lun, source_disk_id=slot.disk_id or "",
                        backup_instance=bi, recovery_point=point,
                        request=_disk_request(request, vm, slot, point, name, instance_id))
             for (slot, bi), point, name in zip(protected, points, names, strict=True)]
    times = sorted(_time(p.time) for p in points)
    return VmRestorePlan(instance_id=instance_id, created=now.isoformat(), vm=vm,
                         apply=request.apply, disks=disks, skipped=skipped,
                         oldest_point=times[0].isoformat(), newest_point=times[-1].isoformat(),
                         skew_seconds=(times[-1] - times[0]).total_seconds(),
                         dry_run=request.dry_run)


def _slots(vm: Vm) -> list[_Slot]:
    return [_Slot("os", None, vm.os_disk_id),
            *(_Slot("data", d.lun, d.disk_id) for d in sorted(vm.data_disks, key=lambda d: d.lun))]


def _chosen(request: VmRestoreRequest, vm: Vm) -> list[_Slot]:
    """The slots the request names (all of them when it names none); a named disk the VM does
    not have is an InvalidRequest naming each one."""
    slots = _slots(vm)
    if request.disks is None:
        return slots
    by_choice = {_choice(s.role, s.lun): s for s in slots}
    luns = ", ".join(str(s.lun) for s in slots if s.role == "data") or "none"
    problems = [FieldError("source.disks", f"LUN {choice}: the VM has no data disk there (its "
                                           f"data disks' LUNs: {luns})")
                for choice in request.disks if choice not in by_choice]
    if problems:
        raise errors.InvalidRequest(errors=problems)
    return [by_choice[choice] for choice in request.disks]


def _choice(role: str, lun: int | None) -> DiskChoice:
    """A disk as `source.disks` names it: "os", or its LUN."""
    return OS if role == "os" or lun is None else lun


def _protected(request: VmRestoreRequest, vm: Vm, azure: VmPlanReader
               ) -> tuple[list[tuple[_Slot, BackupInstance]], list[SkippedDisk]]:
    """The chosen disks a Backup vault protects, and the others: skipped when the request chose
    every disk; when it named them, an error naming each one (asked for, it must be restored)."""
    found: list[tuple[_Slot, BackupInstance]] = []
    skipped: list[SkippedDisk] = []
    for slot in _chosen(request, vm):
        if slot.disk_id is None:
            reason = "it is not a managed disk (Azure Disk Backup protects managed disks only)"
        else:
            try:
                found.append((slot, azure.find_backup_instance(slot.disk_id)))
                continue
            except errors.BackupInstanceNotFound:
                reason = "no Backup vault protects it"
        skipped.append(SkippedDisk(role=slot.role, lun=slot.lun, disk_id=slot.disk_id,
                                   reason=reason))
    if request.disks is not None and skipped:
        raise errors.InvalidRequest(errors=[
            FieldError("source.disks", f"{_named(s)}: {s.reason}") for s in skipped])
    if not found:
        raise errors.BackupInstanceNotFound(
            f"no disk of {vm.id} is protected by a Backup vault ("
            + "; ".join(f"{disk_label(s.role, s.lun)}: {s.reason}" for s in skipped) + ")",
            hint="configure Azure Disk Backup for the VM's disks, or list their vault in "
                 "BACKUP_VAULT_IDS")
    return found, skipped


def _named(skipped: SkippedDisk) -> str:
    choice = _choice(skipped.role, skipped.lun)
    shown = f"LUN {choice}" if isinstance(choice, int) else f'"{choice}"'
    return f"{shown} ({skipped.disk_id})" if skipped.disk_id else shown


def _points(request: VmRestoreRequest, vm: Vm, protected: list[tuple[_Slot, BackupInstance]],
            azure: VmPlanReader) -> list[RecoveryPoint]:
    """Each disk's point: the newest of its own backup instance's points the request allows
    (the rule a single disk's request follows). A disk without one is an error naming every
    such disk: restoring the others alone would not be the VM at that time."""
    found: list[RecoveryPoint] = []
    missing: list[str] = []
    for slot, bi in protected:
        points = azure.list_recovery_points(bi.id)
        try:
            found.append(choose_recovery_point(points, request.recovery_point))
        except errors.RecoveryPointNotFound:
            oldest = min(points, key=lambda p: _time(p.time), default=None)
            missing.append(f"{slot.label} ({slot.disk_id})" +
                           (f": its oldest is {oldest.time}" if oldest else ": none yet"))
    if missing:
        choice = request.recovery_point
        when = f"before {choice.value}" if choice.kind == "before" else "yet"
        raise errors.RecoveryPointNotFound(
            f"no recovery point {when} for {len(missing)} disk(s) of {vm.id}: "
            + "; ".join(missing),
            hint="leave those disks out with source.disks, or choose another recoveryPoint")
    return found


def _target_names(request: VmRestoreRequest, slots: list[_Slot], azure: VmPlanReader
                  ) -> list[str]:
    """Each restored disk's name, `<source name><suffix>` cut to Compute's 80 characters; the
    group must exist and every name be free (Azure Backup restores only to a new disk), all
    checked before any disk's run starts."""
    rg = request.target_resource_group_id
    if azure.get_resource_group_location(rg) is None:
        raise errors.TargetResourceGroupNotFound(f"resource group {rg} does not exist",
                                                 hint="create it first")
    names = [restored_disk_name(slot.disk_id or "", request.disk_name_suffix) for slot in slots]
    clashes = [f"{a.label} and {b.label} would both be {name!r}"
               for i, (a, name) in enumerate(zip(slots, names, strict=True))
               for b, other in zip(slots[i + 1:], names[i + 1:], strict=True)
               if name.lower() == other.lower()]
    if clashes:
        raise errors.InvalidRequest(errors=[FieldError("source.disks", "; ".join(clashes) +
                                                       ": restore them in separate requests")])
    taken = [f"{name!r} ({slot.label})" for slot, name in zip(slots, names, strict=True)
             if azure.get_disk(_disk_id(rg, name)) is not None]
    if taken:
        raise errors.TargetDiskExists(
            f"disks named {', '.join(taken)} already exist in {rg}",
            hint="Azure Backup restores only to a new disk: choose another "
                 "target.diskNameSuffix")
    return names


def _check_budgets(vm: Vm, protected: list[tuple[_Slot, BackupInstance]], azure: VmPlanReader,
                   now: datetime) -> None:
    """Every chosen disk must have a restore left today (Azure Backup allows 10 a day per
    backup instance): one without would fail its run after the others had restored. An error
    naming each such disk, the count and when a restore frees up."""
    left = budgets(azure, [bi for _, bi in protected], now)
    spent = [f"{slot.label} ({slot.disk_id}): {describe(left[bi.id.lower()])}"
             for slot, bi in protected if left[bi.id.lower()].left <= 0]
    if spent:
        raise errors.RestoreBudgetSpent(
            f"{len(spent)} disk(s) of {vm.id} have no restore left today: " + "; ".join(spent),
            hint=f"leave those disks out with source.disks, or wait: {HINT}")


def restored_disk_name(source_disk_id: str, suffix: str) -> str:
    """`<source disk name><suffix>`, the name cut so the whole fits Compute's 80 characters."""
    name = ResourceId.parse(source_disk_id).name
    return name[:MAX_DISK_NAME - len(suffix)] + suffix


def _disk_id(rg: str, name: str) -> str:
    return f"{rg}/providers/Microsoft.Compute/disks/{name}"


def _disk_request(request: VmRestoreRequest, vm: Vm, slot: _Slot, point: RecoveryPoint,
                  name: str, instance_id: str) -> RestoreRequest:
    """The request of one disk's run: the point chosen here by id, and its part of the VM
    change (replace in place for a data disk, the OS swap) when the VM is to change."""
    doc: dict[str, Any] = {
        "requestId": disk_request_id(instance_id, "os" if slot.role == "os" else f"lun{slot.lun}"),
        "source": {"diskId": slot.disk_id}, "recoveryPoint": {"id": point.id},
        "target": {"resourceGroupId": request.target_resource_group_id, "diskName": name},
        "dryRun": request.dry_run, "reason": request.reason}
    if request.apply == "replace":
        if slot.role == "os":
            doc["swapOsDisk"] = {"vmId": vm.id}
        else:
            doc["attach"] = {"vmId": vm.id, "mode": "replace"}
    return RestoreRequest.from_dict(doc)


def disk_request_id(instance_id: str, tag: str) -> str:
    """`<VM run id>-<tag>`, a valid requestId (at most 100 characters): a longer run id is cut
    and a hash of it kept, so two VM runs never share a disk's run."""
    whole = f"{instance_id}-{tag}"
    if len(whole) <= MAX_REQUEST_ID:
        return whole
    digest = hashlib.sha256(instance_id.encode()).hexdigest()[:12]
    keep = MAX_REQUEST_ID - len(tag) - len(digest) - 2
    return f"{instance_id[:keep]}-{digest}-{tag}"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
