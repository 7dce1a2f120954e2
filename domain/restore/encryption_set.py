"""The Disk Encryption Set a restore needs Reader on, also when the source disk is gone.

Restoring a disk encrypted with a customer-managed key needs Reader on its Disk Encryption Set
for the vault's identity (`UserErrorMSIPermissionsNotPresentOnDES`; reference §4, §6). The set
of a live disk is on the disk. A deleted disk (an alert-driven recovery) cannot be read, but what
the restore is made from can: the recovery point's incremental snapshot, encrypted with the
disk's set. Which member of a recovery point names its snapshot is not documented
(`recoveryPointDataStoresDetails[].id` has no documented meaning), so the snapshot is found the
documented way: Backup keeps incremental snapshots in the backup instance's snapshot resource
group, and a snapshot's `creationData.sourceResourceId` is the disk it copies
(virtual-machines-disks-incremental-snapshot: "You can identify incremental snapshots from the
same disk with the SourceResourceId"). Of those, the one taken nearest the point's time is the
point's. How a snapshot's `timeCreated` relates to the point's time is not documented either
(taken within the backup job, before the point's time; or stamped after it), so a snapshot taken
after the point counts too, when it is nearer than any before it and within `AFTER_WINDOW`.

When the snapshots cannot be read (the app may not read that group: 403) or none is of the
disk, the restore still goes on: a platform-key disk needs no set, and a plan that refused
would block every recovery of a deleted disk on one missing read. The plan carries a warning
instead, so the outcome says what to grant by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from domain import errors
from domain.model import BackupInstance, Disk, RecoveryPoint, Snapshot
from domain.resource_id import ResourceId
from domain.timestamps import maybe_utc

# A snapshot taken after the recovery point's time is its snapshot only when nearer than any
# taken before it and at most this much later: half the shortest interval Azure Disk Backup
# schedules (hourly), so it can never be the next backup's.
AFTER_WINDOW = timedelta(minutes=30)
UNDETERMINED = ("the Disk Encryption Set could not be determined: if the disk used a "
                "customer-managed key, grant the vault Reader on it")


class SnapshotReader(Protocol):
    def list_snapshots(self, resource_group_id: str) -> list[Snapshot]: ...


@dataclass(frozen=True)
class EncryptionSet:
    """The set to grant Reader on (None: none needed, or not known) and, when it could not be
    determined, the warning the outcome carries."""

    id: str | None
    warning: str | None = None


def encryption_set(azure: SnapshotReader, bi: BackupInstance, point: RecoveryPoint,
                   source: Disk | None, target_resource_group_id: str) -> EncryptionSet:
    """The source disk's set; for a disk that is gone, the set of the recovery point's snapshot
    (and, as for a live CMK disk, no restore into another subscription)."""
    if source is not None:
        return EncryptionSet(source.encryption_set_id)
    try:
        snapshots = azure.list_snapshots(bi.snapshot_resource_group_id)
    except errors.TransientError:
        raise  # the activity's retries: a lost read must not drop a grant the restore needs
    except errors.RestoreError as exc:
        return _undetermined(bi, f"the snapshots in {bi.snapshot_resource_group_id} could not "
                                 f"be read: {exc}")
    found = snapshot_of_point(snapshots, bi.datasource_id, point.time)
    if found is None:
        return _undetermined(bi, f"no snapshot of {bi.datasource_id} taken near the recovery "
                                 f"point's time {point.time} is in "
                                 f"{bi.snapshot_resource_group_id}")
    if found.encryption_set_id and ResourceId.parse(target_resource_group_id).subscription \
            != ResourceId.parse(bi.id).subscription:
        raise errors.CrossSubscriptionRestoreDisabled(
            "disks encrypted with a customer-managed key cannot be restored to another "
            f"subscription (the recovery point's snapshot {found.id} is encrypted with "
            f"{found.encryption_set_id})", hint="restore into the vault's subscription")
    return EncryptionSet(found.encryption_set_id)


def snapshot_of_point(snapshots: list[Snapshot], disk_id: str, point_time: str
                      ) -> Snapshot | None:
    """The snapshot of `disk_id` taken nearest `point_time`: at or before it, or after it within
    `AFTER_WINDOW`; at equal distance the earlier one. None when there is none."""
    point = maybe_utc(point_time)
    if point is None:
        return None
    nearest: tuple[timedelta, bool, Snapshot] | None = None
    for snapshot in snapshots:
        taken = maybe_utc(snapshot.time_created)
        if taken is None or not _same_id(snapshot.source_resource_id, disk_id):
            continue
        after = taken > point
        if after and taken - point > AFTER_WINDOW:
            continue
        candidate = (abs(taken - point), after, snapshot)
        if nearest is None or candidate[:2] < nearest[:2]:
            nearest = candidate
    return nearest[2] if nearest else None


def _undetermined(bi: BackupInstance, why: str) -> EncryptionSet:
    return EncryptionSet(None, f"{UNDETERMINED} (the vault's identity {bi.vault_principal_id}; "
                               f"{why})")


def _same_id(a: str | None, b: str) -> bool:
    """ARM ids compare case-insensitively; Compute's examples even drop the leading slash."""
    return a is not None and a.strip("/").lower() == b.strip("/").lower()


