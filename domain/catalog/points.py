"""A recovery point as the catalog shows it: its tier, its state, and whether a restore from it
can start now, with the one reason it cannot.

A point can be restored now when all hold, checked in this order (the first that fails is the
reason):
* it is in the operational tier: Azure Disk Backup restores from the snapshots it keeps
  (OperationalStore), and this app's restore request reads from there only;
* its state is Completed (not said: not held against it);
* its copy in that tier is visible (Backup hides one it is deleting or moving);
* it has not expired;
* the disk has restores left today (Azure allows a backup instance 10 restores in 24 hours);
* its incremental snapshot is still in the snapshot resource group, when that group's snapshots
  can be read (disk backups are snapshots in the customer's own subscription: soft delete and
  immutability do not cover them, and anyone with delete rights there can remove one).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.model import BackupInstance, RecoveryPoint, Snapshot
from domain.restore.encryption_set import AFTER_WINDOW, snapshot_of_point
from domain.timestamps import maybe_utc

DAILY_RESTORES = 10  # restores Azure allows one backup instance in 24 hours
# Data store type -> tier. "Snapshot" and "BackupStorage" are the older names the REST examples
# still show for the operational and vault stores.
TIERS = {"operationalstore": "operational", "snapshot": "operational", "vaultstore": "vault",
         "backupstorage": "vault", "archivestore": "archive"}


def tier_of(data_store: str | None) -> str:
    if not data_store:
        return "unknown"
    return TIERS.get(data_store.lower(), data_store[:1].lower() + data_store[1:])


def point_views(points: list[RecoveryPoint], bi: BackupInstance, restores_left: int,
                snapshots: list[Snapshot] | None, now: datetime) -> list[dict[str, Any]]:
    """`points` (newest first, as the gateway gives them) as the API shows them.
    `snapshots`: the snapshot resource group's, or None when they could not be read."""
    views = []
    for point in points:
        reason = _why_not(point, bi, restores_left, snapshots, now)
        views.append({"id": point.id, "time": point.time, "tier": tier_of(point.data_store),
                      "state": point.state, "restorable": reason is None, "reason": reason})
    return views


def _why_not(point: RecoveryPoint, bi: BackupInstance, restores_left: int,
             snapshots: list[Snapshot] | None, now: datetime) -> str | None:
    tier = tier_of(point.data_store)
    if tier not in ("operational", "unknown"):
        return (f"it is in the {tier} tier; disks are restored from the operational tier's "
                "snapshots")
    if point.state is not None and point.state != "Completed":
        return f"its state is {point.state}, not Completed"
    if point.data_store_visible is False:
        return (f"its copy in the {tier} tier is not visible (Backup is deleting or moving it)")
    expiry = maybe_utc(point.expiry_time)
    if expiry is not None and expiry <= now:
        return f"it expired at {point.expiry_time}"
    if restores_left <= 0:
        return (f"the disk's {DAILY_RESTORES} restores of the last 24 hours are used (Azure's "
                "daily limit per backup instance)")
    if snapshots is not None and not _snapshot_there(snapshots, bi.datasource_id, point.time):
        return (f"its snapshot is not in {bi.snapshot_resource_group_id} any more (deleted "
                "from the snapshot resource group)")
    return None


def _snapshot_there(snapshots: list[Snapshot], disk_id: str, point_time: str) -> bool:
    """A snapshot of the disk taken within AFTER_WINDOW of the point's time, either side: the
    planner's nearest-snapshot rule, bounded before the point too, so the day before's
    snapshot does not stand in for a deleted one."""
    found = snapshot_of_point(snapshots, disk_id, point_time)
    taken, point = (maybe_utc(found.time_created) if found else None), maybe_utc(point_time)
    return taken is not None and point is not None and abs(taken - point) <= AFTER_WINDOW


