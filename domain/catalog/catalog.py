"""The catalog: the protected disks a caller may restore, each with its vault, policy,
protection state, newest and oldest recovery point, restores left today, last drill verdict and
readiness, filtered and paged (GET /api/disks); and one disk's recovery points, each with
whether it can be restored now and, if not, why (GET /api/disks/{sub}/{rg}/{disk}/recovery-points).

Why ARM list operations and not Azure Resource Graph: the catalog needs recovery points and
restore counts, which Resource Graph does not hold (it has backup instances and jobs, but no
recovery points), so Graph would only replace the cheap part. The ARM calls a page costs are
bounded by the configuration and the page, not by the estate:
* one paged backup-instances list per configured vault (BACKUP_VAULT_IDS);
* one paged disks list per subscription holding protected disks (Disks_List), or, where the app
  may read disks only in some resource groups, one per resource group (Disks_ListByResourceGroup);
  with a resourceGroup filter, only that group's;
* recovery points only for the disks on the requested page (`top`, at most 100): the
  recovery-points list has its own rate limit, about 100 calls per window per subscription
  (restore-realities-2026.md 4.3), so a catalog that read every disk's points would spend it
  on disks nobody looks at;
* one jobs list per vault on the page for the restore counts (Azure allows a disk 10 restores a
  day; the jobs list has no server-side filter).
Resource Graph's own quota (15 queries per 5 s per user) would also be shared with every other
tool of the tenant. What the catalog reads is what a restore reads, so it needs no new role.

Everything here is plain Python over a reader port (the gateway's ControlPlane has these
methods); the caller's access policy comes in as `may_restore(disk_id, vault_id)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from domain import errors
from domain.model import BackupInstance, Disk, RecoveryPoint, Snapshot
from domain.resource_id import InvalidResourceId, ResourceId

from .points import DAILY_RESTORES, point_views
from .query import CatalogQuery, SortKey

MayRestore = Callable[[str, str], bool]  # (disk id, vault id) -> may the caller restore it


class CatalogReader(Protocol):
    def list_backup_instances(self, vault_id: str) -> list[BackupInstance]: ...

    def list_disks_in_subscription(self, subscription_id: str) -> list[Disk]: ...

    def list_disks(self, resource_group_id: str) -> list[Disk]: ...

    def list_recovery_points(self, backup_instance_id: str) -> list[RecoveryPoint]: ...

    def count_restores(self, vault_id: str, since: str) -> dict[str, int]: ...

    def list_snapshots(self, resource_group_id: str) -> list[Snapshot]: ...


class DiskNotInCatalog(errors.RestoreError):
    """No configured vault protects the disk, or the caller may not restore it: one answer for
    both, so a caller learns nothing about disks it may not see."""


def readiness_states(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each disk's state in a readiness report (docs/readiness.md), as a catalog item carries it:
    {"status", "findings": [codes, each once, in the report's order], "checkedAt"}."""
    found = {}
    for disk in report.get("disks") or []:
        if isinstance(disk, dict) and isinstance(disk.get("diskId"), str):
            codes = [f.get("code") for f in disk.get("findings") or [] if isinstance(f, dict)]
            found[disk_key(disk["diskId"])] = {
                "status": disk.get("status", "unknown"),
                "findings": list(dict.fromkeys(c for c in codes if isinstance(c, str))),
                "checkedAt": report.get("checkedAt")}
    return found


def disk_key(disk_id: str) -> str:
    """How the catalog keys a disk (readiness and last drills come keyed the same way)."""
    return disk_id.strip().rstrip("/").lower()


@dataclass(frozen=True)
class Protected:
    """One backup instance of a disk the caller may restore, with the disk's id parsed."""

    instance: BackupInstance
    disk: ResourceId

    @property
    def sort_key(self) -> SortKey:
        return (self.disk.subscription.lower(), self.disk.resource_group.lower(),
                self.disk.name.lower(), self.instance.vault_id.lower())

    @property
    def group_id(self) -> str:
        return f"/subscriptions/{self.disk.subscription}/resourceGroups/{self.disk.resource_group}"


@dataclass(frozen=True)
class CatalogPage:
    items: list[dict[str, Any]]
    next_token: str | None  # the skip token of the next page; None on the last
    missing_vaults: list[str] = field(default_factory=list)  # configured, but not there


def catalog_page(reader: CatalogReader, vault_ids: tuple[str, ...], may_restore: MayRestore,
                 query: CatalogQuery, now: datetime, *,
                 readiness: Mapping[str, dict[str, Any]] | None = None,
                 last_drills: Mapping[str, dict[str, Any]] | None = None) -> CatalogPage:
    """One page of the catalog, sorted by subscription, resource group and disk name."""
    protected, missing = protected_disks(reader, vault_ids, may_restore)
    if query.resource_group:
        protected = [p for p in protected if _in_group(p, query.resource_group)]
    disks = _disks(reader, protected, by_group=query.resource_group is not None)
    chosen = [p for p in protected if _matches(disks.get(disk_key(p.instance.datasource_id)),
                                               query)]
    chosen.sort(key=lambda p: p.sort_key)
    if query.after is not None:
        chosen = [p for p in chosen if p.sort_key > query.after]
    page, more = chosen[:query.top], len(chosen) > query.top
    restores = _restores(reader, page, now)
    items = [_item(p, disks.get(disk_key(p.instance.datasource_id)),
                   reader.list_recovery_points(p.instance.id),
                   restores.get(p.instance.id.lower(), 0),
                   (readiness or {}).get(disk_key(p.instance.datasource_id)),
                   (last_drills or {}).get(disk_key(p.instance.datasource_id)))
             for p in page]
    token = query.skip_token(page[-1].sort_key) if more and page else None
    return CatalogPage(items, token, missing)


def protected_disks(reader: CatalogReader, vault_ids: tuple[str, ...], may_restore: MayRestore
                    ) -> tuple[list[Protected], list[str]]:
    """The backup instances of the configured vaults whose disks the caller may restore, and
    the configured vaults that do not exist (a stale BACKUP_VAULT_IDS entry)."""
    found, missing = [], []
    for vault_id in vault_ids:
        try:
            instances = reader.list_backup_instances(vault_id)
        except errors.BackupInstanceNotFound:
            missing.append(vault_id)
            continue
        for bi in instances:
            try:
                disk = ResourceId.parse(bi.datasource_id)
            except InvalidResourceId:
                continue  # not a disk's instance (the vault protects other kinds too)
            if disk.type.lower() == "microsoft.compute/disks" and \
                    may_restore(bi.datasource_id, bi.vault_id):
                found.append(Protected(bi, disk))
    return found, missing


def find_protected(reader: CatalogReader, vault_ids: tuple[str, ...], may_restore: MayRestore,
                   disk_id: str) -> Protected:
    """The backup instance protecting `disk_id` that the caller may restore (one that is still
    protecting it first); DiskNotInCatalog otherwise."""
    mine = [p for p in protected_disks(reader, vault_ids, may_restore)[0]
            if disk_key(p.instance.datasource_id) == disk_key(disk_id)]
    if not mine:
        raise DiskNotInCatalog(f"no protected disk {disk_id} that you may restore: it is not "
                               "protected by a configured Backup vault, does not exist, or "
                               "your access rules do not cover it")
    mine.sort(key=lambda p: (p.instance.protection_state != "ProtectionConfigured", p.sort_key))
    return mine[0]


def recovery_points_view(reader: CatalogReader, vault_ids: tuple[str, ...],
                         may_restore: MayRestore, disk_id: str, now: datetime
                         ) -> dict[str, Any]:
    """The disk's recovery points, newest first, each with whether it can be restored now."""
    found = find_protected(reader, vault_ids, may_restore, disk_id)
    bi = found.instance
    points = reader.list_recovery_points(bi.id)
    left = restores_left(reader.count_restores(bi.vault_id, _since(now)).get(bi.id.lower(), 0))
    try:
        snapshots: list[Snapshot] | None = reader.list_snapshots(bi.snapshot_resource_group_id)
    except errors.TransientError:
        raise
    except errors.RestoreError:
        snapshots = None  # not readable (403): the snapshot check is left out, not failed
    return {"diskId": bi.datasource_id, "backupInstanceId": bi.id, "restoresLeftToday": left,
            "value": point_views(points, bi, left, snapshots, now)}


def restores_left(used: int) -> int:
    return max(0, DAILY_RESTORES - used)


def _since(now: datetime) -> str:
    return (now - timedelta(hours=24)).isoformat()


def _in_group(p: Protected, wanted: str) -> bool:
    if wanted.startswith("/"):
        return p.group_id.lower() == wanted
    return p.disk.resource_group.lower() == wanted


def _disks(reader: CatalogReader, protected: list[Protected], *, by_group: bool
           ) -> dict[str, Disk]:
    """The protected disks as Compute lists them: one list per subscription, or per resource
    group where the app may not read the subscription's (or the query names one group). A disk
    in neither (deleted, or in a group the app may not read) is missing: its item shows what
    its backup instance knows."""
    groups: dict[str, set[str]] = {}
    for p in protected:
        groups.setdefault(p.disk.subscription, set()).add(p.group_id)
    listed: list[Disk] = []
    for subscription, group_ids in sorted(groups.items()):
        if not by_group:
            try:
                listed += reader.list_disks_in_subscription(subscription)
                continue
            except errors.AppNotAuthorized:
                pass  # reads granted per resource group only (infra/: the source reader role)
        for group_id in sorted(group_ids):
            try:
                listed += reader.list_disks(group_id)
            except errors.AppNotAuthorized:
                continue
    return {disk_key(d.id): d for d in listed}


def _matches(disk: Disk | None, query: CatalogQuery) -> bool:
    """The VM and tag filters need the disk: one that could not be read matches neither."""
    if query.vm is not None:
        holder = (disk.managed_by or "").rstrip("/").lower() if disk else ""
        if not holder or (holder != query.vm if query.vm.startswith("/")
                          else holder.rsplit("/", 1)[-1] != query.vm):
            return False
    if query.tags:
        tags = disk.tags if disk else {}
        lowered = {k.lower(): v for k, v in tags.items()}  # tag names are case-insensitive
        if any(lowered.get(name.lower()) != value for name, value in query.tags):
            return False
    return True


def _restores(reader: CatalogReader, page: list[Protected], now: datetime) -> dict[str, int]:
    """Restore jobs of the last 24 hours per backup instance: one jobs list per vault on the
    page."""
    counts: dict[str, int] = {}
    for vault_id in sorted({p.instance.vault_id for p in page}, key=str.lower):
        counts.update(reader.count_restores(vault_id, _since(now)))
    return counts


def _item(p: Protected, disk: Disk | None, points: list[RecoveryPoint], restores: int,
          readiness: dict[str, Any] | None, last_drill: dict[str, Any] | None
          ) -> dict[str, Any]:
    bi = p.instance
    return {
        "diskId": disk.id if disk else bi.datasource_id,
        "name": p.disk.name,
        "resourceGroup": p.disk.resource_group,
        "subscriptionId": p.disk.subscription,
        "location": disk.location if disk else bi.vault_location,
        "vmId": disk.managed_by if disk else None,
        "tags": dict(disk.tags) if disk else {},
        "vaultId": bi.vault_id,
        "backupInstanceId": bi.id,
        "policyName": bi.policy_name,
        "protectionState": bi.protection_state,
        "newestRecoveryPoint": _ref(points[0]) if points else None,
        "oldestRecoveryPoint": _ref(points[-1]) if points else None,
        "recoveryPointCount": len(points),
        "restoresLeftToday": restores_left(restores),
        "lastDrill": last_drill,
        "readiness": readiness,
    }


def _ref(point: RecoveryPoint) -> dict[str, str]:
    return {"id": point.id, "time": point.time}
