"""Undo: put back on the VM the disks a restore run took off it (a data disk replaced in place,
an OS disk swapped), from the run's own record of the change (`vmChange`: the VM's disks before
and after). Pure: what to change, and why it cannot be undone, from what the VM is now.

An undo is refused, with the reason, when the VM changed since (another disk at a LUN the run
changed, another OS disk), when an original is gone or on another VM, or when the run took
nothing off the VM (a disk attached beside the others: detach it by hand)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.access.access_policy import Caller, RunAccess
from domain.model import OMITTED_WHEN_NONE, Disk, Record, Vm
from domain.restore.restore_run import (
    ApprovalDecision,
    ApprovalRequest,
    RunSettings,
    SlotChange,
    VmChange,
)

UNDO_PREFIX = "undo-"


@dataclass(frozen=True)
class UndoInput(Record):
    """The undo orchestration's input: the run to undo and what it changed."""

    run_id: str
    vm_change: VmChange
    settings: RunSettings
    requested_by: Caller | None = None
    access: RunAccess | None = None
    why: str | None = None
    approval: ApprovalRequest | None = None


@dataclass(frozen=True)
class UndoOutcome(Record):
    """The undo's output, as GET /api/restores/{id} shows it in `result`."""

    id: str
    outcome: str  # Succeeded | Failed | Cancelled | NotApproved
    undoes: str  # the run undone
    phases: dict[str, float]
    error: dict[str, Any] | None
    vm_change: VmChange | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    approval: ApprovalDecision | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    warnings: list[str] | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@dataclass(frozen=True)
class Reversal:
    """What an undo changes: data disk slots (from the restored disk back to the original) and
    the OS disk (from, to), or the reasons it cannot."""

    slots: list[SlotChange]
    os: tuple[str, str] | None
    problems: list[str]


def taken_off(change: VmChange) -> bool:
    """Whether the run took a disk off the VM (a replace or a swap): what an undo puts back."""
    before, after = change.before, change.after
    return (before.os_disk_id or "").lower() != (after.os_disk_id or "").lower() or any(
        (after.data_disks.get(lun) or "").lower() != disk.lower()
        for lun, disk in before.data_disks.items())


def reversal(change: VmChange, vm: Vm, originals: dict[str, Disk | None]) -> Reversal:
    """The change back, against the VM as it is now; `originals`: each disk to put back, as
    Azure has it now (None: gone)."""
    before, after = change.before, change.after
    holders = {str(d.lun): d for d in vm.data_disks}
    problems: list[str] = []
    slots: list[SlotChange] = []
    for lun, original in sorted(before.data_disks.items(), key=lambda kv: int(kv[0])):
        restored = after.data_disks.get(lun)
        if restored is None or restored.lower() == original.lower():
            continue
        holder = holders.get(lun)
        if holder is None or holder.disk_id.lower() != restored.lower():
            problems.append(f"LUN {lun} holds {holder.disk_id if holder else 'no disk'}, not "
                            f"the restored disk {restored}: the VM changed since the restore")
            continue
        slots.append(SlotChange(int(lun), restored, original, holder.caching or "None",
                                holder.write_accelerator or None))
    os: tuple[str, str] | None = None
    if (before.os_disk_id or "").lower() != (after.os_disk_id or "").lower() and \
            before.os_disk_id and after.os_disk_id:
        if (vm.os_disk_id or "").lower() != after.os_disk_id.lower():
            problems.append(f"the OS disk is {vm.os_disk_id}, not the restored disk "
                            f"{after.os_disk_id}: the VM changed since the restore")
        else:
            os = (after.os_disk_id, before.os_disk_id)
    for disk_id in [s.to_disk_id for s in slots] + ([os[1]] if os else []):
        disk = originals.get(disk_id.lower())
        if disk is None:
            problems.append(f"the original disk {disk_id} is gone")
        elif disk.managed_by:
            problems.append(f"the original disk {disk_id} is attached to {disk.managed_by}")
    if not slots and os is None and not problems:
        problems.append("the restore took no disk off the VM (a disk attached beside the others "
                        "is detached by hand)")
    return Reversal(slots, os, problems)
