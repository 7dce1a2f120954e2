"""Can this VM take this disk? The checks Compute makes when a disk is attached or swapped in as
the OS disk, made by us first: at plan time (before anything is granted), and again right before
the VM changes (before it is stopped), so a mismatch is a clear refusal and never a stopped
production VM, a rollback, or a restore that ran for nothing.

What Compute refuses (reference: azure-authz-compute-events.md B4, B5; restore-realities-2026.md
1.4), each named here with what to do:
* both ways: Premium storage (Premium SSD, v2, Ultra) on a size without PremiumIO; an Ultra Disk
  on a VM without Ultra Disk compatibility; Ultra Disks and Premium SSD v2 on a regional VM (they
  attach only to VMs in an availability zone);
* attach: more data disks than the size allows; caching other than None on Ultra Disks,
  Premium SSD v2 and disks of 4 TiB or more;
* swap: Ultra Disks and Premium SSD v2 (never OS disks); another OS type, Hyper-V generation
  (the VM's, and one the size runs), security type (Trusted Launch and Confidential VM cannot be
  switched by swapping disks), Disk Encryption Set (both disks must use the same), a disk
  smaller than the VM's OS disk (an OS disk cannot shrink) or larger than an OS disk can be.
Where Azure does not say a value (an older disk without `hyperVGeneration`, a size the region
does not list), that check is left to Compute, never guessed.
"""

from __future__ import annotations

from domain import errors
from domain.model import Disk, Vm, VmSize

PREMIUM_SKUS = frozenset({"premium_lrs", "premium_zrs", "premiumv2_lrs", "ultrassd_lrs"})
NO_CACHING_SKUS = frozenset({"premiumv2_lrs", "ultrassd_lrs"})
NO_CACHING_FROM_GB = 4096  # disks of 4 TiB or more take only caching None
MAX_OS_DISK_GB = 4095


def security_class(security_type: str | None) -> str:
    """The class Compute compares: a disk's ConfidentialVM_* types all go with a ConfidentialVM
    VM; no security type is Standard."""
    value = (security_type or "").strip()
    if not value or value.lower() == "standard":
        return "Standard"
    if value.lower().startswith("confidentialvm"):
        return "ConfidentialVM"
    return "TrustedLaunch" if value.lower() == "trustedlaunch" else value


def attach_problems(vm: Vm, size: VmSize | None, disk: Disk | None, caching: str, *,
                    replacing: bool = False) -> list[str]:
    """Why `vm` cannot take `disk` as a data disk with `caching` (in the place of one of its
    data disks when `replacing`: no slot more); [] when it can."""
    problems = []
    if not replacing and size is not None and size.max_data_disks is not None and \
            len(vm.data_disks) >= size.max_data_disks:
        problems.append(f"the VM's size {size.name} takes at most {size.max_data_disks} data "
                        f"disks and it has {len(vm.data_disks)}: detach one, or resize the VM")
    if disk is None:
        return problems
    problems += _storage_problems(vm, size, disk)
    sku = (disk.sku or "").lower()
    if caching.lower() != "none":
        if sku in NO_CACHING_SKUS:
            problems.append(f"a {disk.sku} disk takes only caching None, not {caching}: attach "
                            f"with \"caching\": \"None\"")
        elif (disk.size_gb or 0) >= NO_CACHING_FROM_GB:
            problems.append(f"a disk of {disk.size_gb} GiB (4 TiB or more) takes only caching "
                            f"None, not {caching}: attach with \"caching\": \"None\"")
    return problems


def swap_problems(vm: Vm, size: VmSize | None, os_disk: Disk | None,
                  disk: Disk | None) -> list[str]:
    """Why `disk` cannot replace `os_disk` (the VM's OS disk now) on `vm`; [] when it can."""
    if disk is None:
        return []
    problems = []
    if (disk.sku or "").lower() in NO_CACHING_SKUS:
        problems.append(f"a {disk.sku} disk cannot be an OS disk: restore it and attach it as a "
                        "data disk")
    if (disk.os_type or "").lower() != (vm.os_type or "").lower():
        problems.append(f"the disk's OS type is {disk.os_type or 'none (a data disk)'}, the "
                        f"VM's is {vm.os_type}: swap only an OS disk of the same OS type")
    wanted = vm.hyper_v_generation or (os_disk.hyper_v_generation if os_disk else None)
    generation = disk.hyper_v_generation
    if generation and wanted and generation.upper() != wanted.upper():
        problems.append(f"the disk is Hyper-V generation {generation}, the VM {wanted}: a VM "
                        "boots only a disk of its own generation")
    elif generation and size is not None and size.hyper_v_generations and \
            generation.upper() not in {g.upper() for g in size.hyper_v_generations}:
        problems.append(f"the VM's size {size.name} runs Hyper-V generation "
                        f"{', '.join(size.hyper_v_generations)}, the disk is {generation}: "
                        "resize the VM to a size that runs it")
    vm_class, disk_class = security_class(vm.security_type), security_class(disk.security_type)
    if vm_class != disk_class:
        problems.append(f"the VM's security type is {vm_class}, the disk's {disk_class}: Trusted "
                        "Launch and Confidential VM cannot be switched by swapping the OS disk; "
                        "create a VM of the disk's security type from it")
    if os_disk is not None and (disk.encryption_set_id or "").lower() != \
            (os_disk.encryption_set_id or "").lower():
        problems.append(f"the VM's OS disk is encrypted with "
                        f"{os_disk.encryption_set_id or 'a platform-managed key'} and the disk "
                        f"with {disk.encryption_set_id or 'a platform-managed key'}: both must "
                        "use the same Disk Encryption Set")
    if os_disk is not None and disk.size_gb is not None and os_disk.size_gb is not None and \
            disk.size_gb < os_disk.size_gb:
        problems.append(f"the disk has {disk.size_gb} GiB, the VM's OS disk {os_disk.size_gb} "
                        f"GiB, and an OS disk cannot shrink: grow the disk to "
                        f"{os_disk.size_gb} GiB (az disk update --size-gb) and swap it by hand")
    if disk.size_gb is not None and disk.size_gb > MAX_OS_DISK_GB:
        problems.append(f"the disk has {disk.size_gb} GiB; an OS disk can have at most "
                        f"{MAX_OS_DISK_GB} GiB")
    return problems + _storage_problems(vm, size, disk)


def _storage_problems(vm: Vm, size: VmSize | None, disk: Disk) -> list[str]:
    problems = []
    sku = (disk.sku or "").lower()
    if sku in PREMIUM_SKUS and size is not None and size.premium_io is False:
        problems.append(f"the disk is {disk.sku} and the VM's size {size.name} does not support "
                        "Premium storage: resize the VM to a size that does (an 's' size)")
    if sku in NO_CACHING_SKUS and not vm.zones:
        problems.append(f"a {disk.sku} disk attaches only to a VM in an availability zone, and "
                        "the VM is regional")
    if sku == "ultrassd_lrs" and not vm.ultra_ssd_enabled:
        problems.append("the disk is an Ultra Disk and the VM does not have Ultra Disk "
                        "compatibility (additionalCapabilities.ultraSSDEnabled): enable it "
                        "while the VM is deallocated")
    return problems


def refusal(problems: list[str], vm_id: str, *, kept: list[str] | None = None
            ) -> errors.VmNotSuitable:
    """One error naming every problem; after the restore, `kept` names the restored disks that
    exist and are kept."""
    where = f"the VM {vm_id} cannot take the {'restored ' if kept else ''}" \
        f"disk{'s' if kept and len(kept) > 1 else ''}: "
    hint = "nothing was changed on the VM" + (
        f"; the restored disk{'s' if len(kept) > 1 else ''} {', '.join(kept)} "
        f"exist{'' if len(kept) > 1 else 's'} and {'are' if len(kept) > 1 else 'is'} kept"
        if kept else " and nothing was granted")
    return errors.VmNotSuitable(where + "; ".join(problems), hint=hint)
