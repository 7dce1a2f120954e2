"""What a restored disk should carry that the Backup restore does not give it.

The restore request has no tags, network access policy or disk access fields
(RestoreTargetInfo), and what a restored disk gets is not documented: the run assumes the least
kind answer (no tags, export allowed from anywhere) and sets, in one disk update after the
restore (and after a copy into the VM's zone) and before the disk goes onto a VM:
* the source disk's tags, plus three of provenance: restoredFrom (the source disk's id),
  recoveryPoint (the recovery point's name and time) and restoredBy (the run's id);
* the source's networkAccessPolicy, diskAccessId and publicNetworkAccess: a private-link disk
  must not come back with public export allowed.
A source disk that is gone (a recovery of a deleted disk) gives only the provenance tags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.model import Disk, DiskProperties, Record, RestorePlan

# Azure's limits on a resource's tags (azure-resource-manager/management/tag-resources.md): a
# write over them is refused as a whole, so the run leaves out what would cross them.
MAX_TAGS = 50
MAX_TAG_VALUE = 256
PROVENANCE = ("restoredFrom", "recoveryPoint", "restoredBy")
NETWORK = (("networkAccessPolicy", "network_access_policy"), ("diskAccessId", "disk_access_id"),
           ("publicNetworkAccess", "public_network_access"))


@dataclass(frozen=True)
class NotCopied(Record):
    property: str  # tags | restoredFrom | ... | networkAccessPolicy | diskAccessId | ...
    reason: str


@dataclass(frozen=True)
class PropertiesReport(Record):
    """What the run set on the restored disk (`copied`) and what it could not, with why."""

    disk_id: str
    copied: list[str] = field(default_factory=list)
    not_copied: list[NotCopied] = field(default_factory=list)


def wanted(plan: RestorePlan, disk_id: str, run_id: str
           ) -> tuple[DiskProperties, list[str], list[NotCopied]]:
    """(the update for `disk_id`, the properties it carries, what cannot be copied at all)."""
    source = plan.source_disk
    point = plan.recovery_point
    provenance = {
        "restoredFrom": plan.backup_instance.datasource_id,
        "recoveryPoint": f"{point.id.rstrip('/').rsplit('/', 1)[-1]} {point.time}",
        "restoredBy": run_id,
    }
    missing: list[NotCopied] = []
    for key, value in list(provenance.items()):
        if len(value) > MAX_TAG_VALUE:
            del provenance[key]
            missing.append(NotCopied(key, f"{len(value)} characters; Azure's tag values take "
                                          f"at most {MAX_TAG_VALUE}"))
    if source is None:
        gone = ("the source disk is gone, so its value is not known; the restored disk keeps "
                "what the restore gave it")
        missing = [NotCopied("tags", gone)] + missing + \
            [NotCopied(name, gone + " (" + _public_hint() + ")") for name, _ in NETWORK]
        return DiskProperties(disk_id, provenance), list(provenance), missing
    tags = {k: v for k, v in source.tags.items() if k not in provenance}
    if len(tags) + len(provenance) > MAX_TAGS:
        missing += [NotCopied(key, f"the source's {len(tags)} tags and this one would pass "
                                   f"Azure's {MAX_TAGS} tags on a resource")
                    for key in provenance]
        provenance = {}
    network = {attr: getattr(source, attr) for _, attr in NETWORK
               if getattr(source, attr) is not None}
    carried = (["tags"] if tags else []) + list(provenance) + \
        [name for name, attr in NETWORK if attr in network]
    return DiskProperties(disk_id, {**tags, **provenance}, **network), carried, missing


def landed(update: DiskProperties, carried: list[str], disk: Disk | None,
           failure: str | None) -> tuple[list[str], list[NotCopied]]:
    """(what of `carried` the disk shows now, what it does not and why), from the disk as read
    after the update (None: it could not be read) and the update's failure, if it failed."""
    copied: list[str] = []
    missing: list[NotCopied] = []
    for name in carried:
        if disk is not None and _shows(disk, update, name):
            copied.append(name)
        elif failure is not None:
            missing.append(NotCopied(name, f"the disk update failed: {failure}"))
        elif disk is None:
            missing.append(NotCopied(name, "the disk could not be read after the update"))
        else:
            missing.append(NotCopied(name, "the disk does not show it after the update"))
    return copied, missing


def _shows(disk: Disk, update: DiskProperties, name: str) -> bool:
    if name == "tags":
        return all(disk.tags.get(k) == v for k, v in update.tags.items()
                   if k not in PROVENANCE)
    if name in PROVENANCE:
        return disk.tags.get(name) == update.tags.get(name)
    attr = dict(NETWORK)[name]
    return (getattr(disk, attr) or "").lower() == (getattr(update, attr) or "").lower()


def disk_changes(disk: Disk, update: DiskProperties) -> dict[str, Any]:
    """What `update` changes on `disk`, by DiskUpdate attribute name ("tags" when a tag is
    missing or different); {} when nothing does (a re-run after the update went through)."""
    changes: dict[str, Any] = {}
    if any(disk.tags.get(k) != v for k, v in update.tags.items()):
        changes["tags"] = update.tags
    for _, attr in NETWORK:
        value = getattr(update, attr)
        if value is not None and (getattr(disk, attr) or "").lower() != value.lower():
            changes[attr] = value
    return changes


def exposure(source: Disk, disk_id: str, restored: Disk | None) -> str | None:
    """A loud warning when the source disk's export was private and the restored disk's is not
    (or could not be read); None when it is not."""
    if not source.private or (restored is not None and restored.private):
        return None
    now = ("could not be read" if restored is None else
           f"has networkAccessPolicy {restored.network_access_policy or 'unknown'}, "
           f"publicNetworkAccess {restored.public_network_access or 'unknown'}")
    return (f"PUBLIC EXPORT: the source disk {source.id} allowed export only privately "
            f"(networkAccessPolicy {source.network_access_policy or 'unknown'}, "
            f"publicNetworkAccess {source.public_network_access or 'unknown'}"
            + (f", diskAccessId {source.disk_access_id}" if source.disk_access_id else "")
            + f"); the restored disk {disk_id} {now}: set its network access by hand "
            "(az disk update --network-access-policy ... --disk-access ...)")


def _public_hint() -> str:
    return "a restored disk allows export from anywhere until told otherwise: set it by hand " \
           "if the source was private"
