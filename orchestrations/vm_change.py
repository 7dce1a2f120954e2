"""Changing a VM's disks in one go: data disks replaced in place (one attachDetachDataDisks call
for all of them), the OS disk swapped (one stop, one start), checked first and rolled back on
failure. Used by a single-disk replace or swap, a whole-VM restore and an undo.

Right before anything changes the VM is read again (its size, disks and power state now, not at
plan time, which may be hours or an approval ago) and every disk it is to get is checked against
it (domain/restore/compatibility.py): a mismatch is a refusal with the VM untouched. An OS swap
powers the VM off rather than deallocating it (it keeps its hardware, so the start needs no new
capacity) and deallocates only when Compute refuses the change on a stopped VM. On failure the
originals are put back and the VM started again if it was running, and the error says exactly
where the VM is. Not interrupted by a cancel: a VM left half-changed is worse than a late cancel.
The disks taken off the VM are kept, tagged with the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from activities.activity import Activity
from activities.compute_activities import (
    get_disk,
    get_vm,
    get_vm_size,
    start_change_data_disks,
    start_deallocate_vm,
    start_power_off_vm,
    start_set_os_disk,
    start_start_vm,
    start_tag_disk,
)
from domain import errors
from domain.model import (
    DataDisksChange,
    DiskAttachment,
    DiskRef,
    DiskTags,
    Operation,
    OperationStatus,
    OsDiskChange,
    Record,
    Vm,
    VmRef,
    VmSize,
    VmSizeRef,
)
from domain.resource_id import ResourceId
from domain.restore import compatibility
from domain.restore.restore_run import SlotChange, VmChange, VmDisks

from .calls import Orchestration
from .steps import VM_BUSY, VM_STALE, Run

# On a disk a run took off a VM (kept, never deleted): which run, and when.
REPLACED_BY_TAG, REPLACED_AT_TAG = "diskrestore-replaced-by", "diskrestore-replaced-at"


@dataclass(frozen=True)
class OsChange(Record):
    """The VM's OS disk `from_disk_id` (as planned) becomes `to_disk_id`."""

    from_disk_id: str
    to_disk_id: str


@dataclass(frozen=True)
class Changed:
    """What `change_disks` did: the VM's disks before and after, whether the VM was running right
    before the change, and how it was stopped for an OS swap (None: it was not running, or no OS
    disk changed)."""

    vm_change: VmChange
    was_running: bool
    stopped_with: str | None


def vm_and_size(run: Run, vm_id: str) -> Orchestration[tuple[Vm, VmSize | None]]:
    """The VM as it is now, and what its size allows (None: the region does not list it)."""
    vm = yield from run.call(get_vm, VmRef(vm_id))
    if not vm.size:
        return vm, None
    found = yield from run.call(get_vm_size, VmSizeRef(
        ResourceId.parse(vm.id).subscription, vm.location, vm.size))
    return vm, found.size


def change_disks(run: Run, vm_id: str, poll: float, warnings: list[str], *,
                 slots: list[SlotChange] | None = None, os: OsChange | None = None,
                 kept: list[str] | None = None) -> Orchestration[Changed]:
    """Put each slot's `to_disk_id` at its LUN in place of `from_disk_id`, and the OS disk `os`
    describes, in one VM change. `kept`: the disks to name in a refusal as existing and kept
    (the restored disks). Raises VmNotSuitable (nothing changed), or AttachFailed / SwapFailed
    saying where the VM is after the rollback."""
    slots = list(slots or [])
    kept = kept if kept is not None else [s.to_disk_id for s in slots] + \
        ([os.to_disk_id] if os else [])
    vm, size = yield from vm_and_size(run, vm_id)
    before = VmDisks.of(vm)
    problems = yield from _problems(run, vm, size, slots, os)
    if problems:
        raise compatibility.refusal(problems, vm.id, kept=kept)
    power = _power(vm.power_state)
    was_running = os is not None and power == "running"
    stopped_with: list[str] = []
    originals = [s.from_disk_id for s in slots] + ([os.from_disk_id] if os else [])
    tagged = False
    if os is not None:
        run.note(powerState=vm.power_state or "unknown")
    try:
        if os is not None and power in ("running", "unknown"):
            power = yield from _stop(run, vm_id, power, poll, stopped_with)
        if slots:
            yield from _set_data_disks(run, vm_id, [(s.lun, s.from_disk_id, s.to_disk_id,
                                                     s.caching, s.write_accelerator)
                                                    for s in slots], poll)
        if os is not None:
            yield from _set_os_disk(run, vm_id, os.to_disk_id, power, poll, stopped_with)
        if was_running:
            # The originals are tagged while the VM starts (a minute or two): off the run's end.
            status = yield from run.operation(
                start_start_vm, VmRef(vm_id), poll, interruptible=False, busy=VM_BUSY,
                meanwhile=lambda: _mark_originals(run, originals, poll, warnings))
            tagged = True
            _succeeded(status, start_start_vm.name)
    except Exception as exc:
        said = yield from _roll_back(run, vm_id, slots, os, was_running, poll)
        if tagged:
            warnings.append(f"the original disks {', '.join(originals)} are back on the VM but "
                            f"still tagged {REPLACED_BY_TAG}={run.context.instance_id}")
        failed = errors.SwapFailed if os is not None else errors.AttachFailed
        raise failed(f"{getattr(exc, 'message', exc)}; {said}") from exc
    if not tagged:
        yield from _mark_originals(run, originals, poll, warnings)
    after = yield from run.call(get_vm, VmRef(vm_id))
    return Changed(VmChange(vm.id, before, VmDisks.of(after)), was_running,
                   ", ".join(stopped_with) or None)


def _problems(run: Run, vm: Vm, size: VmSize | None, slots: list[SlotChange],
              os: OsChange | None) -> Orchestration[list[str]]:
    """Every reason the VM, as it is now, cannot take the change (the plan's checks again)."""
    problems: list[str] = []
    holders = {d.lun: d.disk_id for d in vm.data_disks}
    for slot in slots:
        holder = holders.get(slot.lun)
        if (holder or "").lower() != slot.from_disk_id.lower():
            problems.append(f"LUN {slot.lun} holds {holder or 'no disk'}, not "
                            f"{slot.from_disk_id}: the VM changed since the plan")
        disk = (yield from run.call(get_disk, DiskRef(slot.to_disk_id))).disk
        problems += compatibility.attach_problems(vm, size, disk, slot.caching, replacing=True)
    if os is not None:
        current = vm.os_disk_id or ""
        if current.lower() != os.from_disk_id.lower():
            problems.append(f"the OS disk of {vm.id} changed since the plan: it was "
                            f"{os.from_disk_id}, it is {current or 'none'}")
        else:
            os_disk = (yield from run.call(get_disk, DiskRef(current))).disk
            disk = (yield from run.call(get_disk, DiskRef(os.to_disk_id))).disk
            problems += compatibility.swap_problems(vm, size, os_disk, disk)
    return problems


def _power(state: str | None) -> str:
    """running | stopped (allocated) | deallocated | unknown, from the instance view's power
    state; a VM on its way to a state counts as in it."""
    value = (state or "").lower()
    if value in ("running", "starting"):
        return "running"
    if value in ("stopped", "stopping"):
        return "stopped"
    return "deallocated" if value in ("deallocated", "deallocating") else "unknown"


def _stop(run: Run, vm_id: str, power: str, poll: float,
          stopped_with: list[str]) -> Orchestration[str]:
    """Power a running VM off (it keeps its hardware); deallocate one in an unknown power state,
    as the documents have always allowed. The power state it ends in."""
    action = start_power_off_vm if power == "running" else start_deallocate_vm
    yield from _operation(run, action, VmRef(vm_id), poll, VM_BUSY)
    stopped_with.append("powerOff" if power == "running" else "deallocate")
    return "stopped" if power == "running" else "deallocated"


def _set_data_disks(run: Run, vm_id: str,
                    slots: list[tuple[int, str, str, str, bool | None]],
                    poll: float) -> Orchestration[None]:
    """One attachDetachDataDisks call: each (lun, off, on, caching, write accelerator) detaches
    `off` and attaches `on` at `lun`. A lost answer re-sent meets a VM already changed: the start
    reads it first and leaves out what is done."""
    change = DataDisksChange(
        vm_id, [DiskAttachment(vm_id, on, lun, caching, bool(accelerated))
                for lun, _, on, caching, accelerated in slots],
        [off for _, off, _, _, _ in slots])
    yield from _operation(run, start_change_data_disks, change, poll, VM_BUSY)


def _set_os_disk(run: Run, vm_id: str, disk_id: str, power: str, poll: float,
                 stopped_with: list[str]) -> Orchestration[None]:
    """Set the OS disk of a stopped VM. Whether Compute changes the OS disk of a VM that is
    stopped but allocated is not settled (the 2018 documents say it must be deallocated, the
    newer ones that it need not even be stopped): a refusal while stopped is answered by
    deallocating and trying once more. A lost answer re-sent by azure-core meets the VM's new
    etag (412): the start reads the VM again and finds the OS disk already set."""
    status = yield from run.operation(start_set_os_disk, OsDiskChange(vm_id, disk_id), poll,
                                      interruptible=False, busy=VM_STALE)
    if status.state != "succeeded" and power == "stopped":
        run.note(deallocating=f"{status.error_code}: {status.error_message}"[:300])
        yield from _operation(run, start_deallocate_vm, VmRef(vm_id), poll, VM_BUSY)
        stopped_with.append("deallocate")
        status = yield from run.operation(start_set_os_disk, OsDiskChange(vm_id, disk_id), poll,
                                          interruptible=False, busy=VM_STALE)
    _succeeded(status, start_set_os_disk.name)


def _operation(run: Run, activity: Activity[Any, Operation], value: Record, poll: float,
               busy: frozenset[str]) -> Orchestration[None]:
    status = yield from run.operation(activity, value, poll, interruptible=False, busy=busy)
    _succeeded(status, activity.name)


def _succeeded(status: OperationStatus, step: str) -> None:
    if status.state != "succeeded":
        raise errors.SwapFailed(f"{step}: {status.error_code}: {status.error_message}")


def _roll_back(run: Run, vm_id: str, slots: list[SlotChange], os: OsChange | None,
               was_running: bool, poll: float) -> Orchestration[str]:
    """After a failed change: the originals back on the VM and the VM running again if it was,
    then the VM as Azure reports it, in words: which disks it has, its power state, and what is
    left to do by hand. Which step failed does not say it (a change may fail before or after its
    own update), so the VM is read."""
    put_back: str | None = None
    start_failed: str | None = None
    try:
        vm = yield from run.call(get_vm, VmRef(vm_id), interruptible=False)
        holders = {d.lun: d.disk_id.lower() for d in vm.data_disks}
        undo = [s for s in slots if holders.get(s.lun) != s.from_disk_id.lower()]
        os_moved = os is not None and (vm.os_disk_id or "").lower() != os.from_disk_id.lower()
        still = not undo and not os_moved
        try:
            power = _power(vm.power_state)
            if undo:
                yield from _set_data_disks(run, vm_id, [
                    (s.lun, s.to_disk_id, s.from_disk_id, s.caching, s.write_accelerator)
                    for s in undo], poll)
            if os is not None and os_moved:
                if power in ("running", "unknown"):
                    power = yield from _stop(run, vm_id, power, poll, [])
                yield from _set_os_disk(run, vm_id, os.from_disk_id, power, poll, [])
        except Exception as failed:  # noqa: BLE001 - said below
            put_back = str(getattr(failed, "message", failed))
        if put_back is None and was_running:
            vm = yield from run.call(get_vm, VmRef(vm_id), interruptible=False)
            if _power(vm.power_state) != "running":
                try:
                    yield from _operation(run, start_start_vm, VmRef(vm_id), poll, VM_BUSY)
                except Exception as failed:  # noqa: BLE001 - said below
                    start_failed = str(getattr(failed, "message", failed))
        vm = yield from run.call(get_vm, VmRef(vm_id), interruptible=False)
    except Exception as unread:  # noqa: BLE001 - then say what must be checked
        wanted = ([f"its OS disk is {os.from_disk_id}"] if os else []) + \
            [f"LUN {s.lun} holds {s.from_disk_id}" for s in slots]
        return (f"ROLLBACK FAILED: the VM could not be read "
                f"({getattr(unread, 'message', unread)}): make sure that "
                f"{' and '.join(wanted)} on {vm_id}"
                + (" and that it is running" if was_running else ""))
    return _where(vm, slots, os, was_running, still, put_back, start_failed)


def _where(vm: Vm, slots: list[SlotChange], os: OsChange | None, was_running: bool,
           still: bool, put_back: str | None, start_failed: str | None) -> str:
    """The VM after a rollback, in one sentence a person can act on."""
    state = vm.power_state or "in an unknown power state"
    holders = {d.lun: d.disk_id.lower() for d in vm.data_disks}
    wrong = ([f"set its OS disk back to {os.from_disk_id}"]
             if os is not None and (vm.os_disk_id or "").lower() != os.from_disk_id.lower()
             else []) + \
        [f"put {s.from_disk_id} back at LUN {s.lun}" for s in slots
         if holders.get(s.lun) != s.from_disk_id.lower()]
    what = "the original OS disk" if os is not None and not slots else \
        "the original disks" if os is not None or len(slots) > 1 else "the original disk"
    if put_back is not None or wrong:
        todo = wrong + (["start it"] if was_running and _power(vm.power_state) != "running"
                        else [])
        where = f"the OS disk of {vm.id} is {vm.os_disk_id}" if os is not None and not slots \
            else f"{vm.id} has OS disk {vm.os_disk_id} and data disks " + \
            ", ".join(f"LUN {d.lun}: {d.disk_id}" for d in vm.data_disks)
        return (f"ROLLBACK FAILED ({put_back or 'the disks did not change back'}): {where} and "
                f"the VM is {state}: {' and '.join(todo)} by hand")
    where = "still" if still else "back"
    verb = "are" if what.endswith("disks") else "is"
    if start_failed is not None:
        return (f"{what} {verb} {where} on the VM, but the VM did not start again "
                f"({start_failed}): it is {state}: start it by hand")
    if os is None:
        return f"{what} {verb} {where} on the VM"
    return f"{what} {verb} {where} on the VM, which is {state}" + \
        ("" if was_running else ", as it was")


def _mark_originals(run: Run, disk_ids: list[str], poll: float,
                    warnings: list[str]) -> Orchestration[None]:
    for disk_id in disk_ids:
        yield from _mark_original(run, disk_id, poll, warnings)


def _mark_original(run: Run, disk_id: str, poll: float,
                   warnings: list[str]) -> Orchestration[None]:
    """Tag a disk the VM had before (kept, never deleted) with the run that took it off: what an
    undo and a person looking at the resource group go by. A tag that did not land is a warning,
    not a failure: the VM has its new disk."""
    tags = {REPLACED_BY_TAG: run.context.instance_id, REPLACED_AT_TAG: run.now.isoformat()}
    try:
        status = yield from run.operation(start_tag_disk, DiskTags(disk_id, tags), poll,
                                          interruptible=False)
        failure = None if status.state == "succeeded" else \
            f"{status.error_code}: {status.error_message}"
    except Exception as exc:  # noqa: BLE001 - a warning, below
        failure = str(getattr(exc, "message", exc))
    if failure:
        warnings.append(f"the original disk {disk_id} was kept but could not be tagged "
                        f"{REPLACED_BY_TAG}={run.context.instance_id} ({failure})")
