"""Restore drills: which disks a drill restores (and from which point), the roles it shares between
its restores, and the verification of each restored disk against its source.

`select_disks` reads Azure through the same kind of reader as planning: the plan's vaults'
backup instances, their source disks (tags, size, SKU, OS type, encryption), their recovery
points and how many restores each had in the last day (Azure allows 10; a drill leaves the
incidents' reserve).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from domain.drills.drill_plan import Candidate, DrillPlan, choose_point, select, within_daily_limit
from domain.model import BackupInstance, Disk, Record, RecoveryPoint, RoleGrant
from domain.resource_id import ResourceId
from domain.restore.planning import DISK_RESTORE_OPERATOR, READER, assignment_name

DRILL_TAG, EXPIRY_TAG = "diskrestore-drill", "diskrestore-expiry"
DRILL_PREFIX = "drill-"


class DrillReader(Protocol):
    def list_backup_instances(self, vault_id: str) -> list[BackupInstance]: ...
    def get_disk(self, disk_id: str) -> Disk | None: ...
    def list_recovery_points(self, backup_instance_id: str) -> list[RecoveryPoint]: ...
    def count_restores(self, vault_id: str, since: str) -> dict[str, int]: ...


@dataclass(frozen=True)
class DrillDisk(Record):
    """One disk a drill restores."""

    disk_id: str
    backup_instance_id: str
    vault_principal_id: str
    recovery_point: RecoveryPoint
    restored_name: str
    source: Disk | None = None  # None when the source disk is gone (still worth a drill)


@dataclass(frozen=True)
class Skipped(Record):
    disk_id: str
    reason: str
    backup_instance_id: str | None = None


@dataclass(frozen=True)
class DrillSelection(Record):
    disks: list[DrillDisk] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    grants: list[RoleGrant] = field(default_factory=list)


def drill_id(plan: str, when: datetime) -> str:
    return f"{DRILL_PREFIX}{plan}-{when:%Y%m%dT%H%M%S}"


def restored_name(disk_id: str, drill: str) -> str:
    """<source name>-d<hash of the drill>: unique per drill, recognisable, within 80 chars."""
    digest = hashlib.sha256(drill.encode()).hexdigest()[:8]
    return f"{ResourceId.parse(disk_id).name[:70]}-d{digest}"


def select_disks(plan: DrillPlan, drill: str, now: datetime, azure: DrillReader,
                 drilled: dict[str, set[str]], reserve: int = 0) -> DrillSelection:
    """`drilled`: recovery point ids already drilled, per backup instance id (lower-cased);
    `reserve`: restores a day a drill leaves each disk for incidents (DRILL_RESTORE_RESERVE)."""
    instances: dict[str, BackupInstance] = {}
    sources: dict[str, Disk | None] = {}
    candidates = []
    for vault in plan.selection.vaults:
        for bi in azure.list_backup_instances(vault):
            if not bi.datasource_id:
                continue
            source = azure.get_disk(bi.datasource_id)
            instances[bi.id.lower()] = bi
            sources[ResourceId.parse(bi.datasource_id).key()] = source
            candidates.append(Candidate(bi.datasource_id, bi.id, bi.vault_id,
                                        dict(source.tags) if source else {}))
    chosen, excluded = select(plan, candidates)
    skipped = [Skipped(disk, reason) for disk, reason in excluded]
    disks = []
    since = (now - timedelta(hours=24)).isoformat()
    restores: dict[str, int] = {}
    for vault in {c.vault_id for c in chosen}:
        restores.update(azure.count_restores(vault, since))
    for candidate in chosen:
        key = ResourceId.parse(candidate.disk_id).key()
        bi = instances[candidate.backup_instance_id.lower()]  # the instance select() chose
        ok, why = within_daily_limit(restores.get(bi.id.lower(), 0), reserve)
        if not ok:
            skipped.append(Skipped(candidate.disk_id, why, bi.id))
            continue
        point, why = choose_point(plan.recovery_point, azure.list_recovery_points(bi.id),
                                  drilled=drilled.get(bi.id.lower(), set()),
                                  seed=f"{drill}|{bi.id.lower()}", now=now)
        if point is None:
            skipped.append(Skipped(candidate.disk_id, why, bi.id))
            continue
        disks.append(DrillDisk(candidate.disk_id, bi.id, bi.vault_principal_id, point,
                               restored_name(candidate.disk_id, drill), sources[key]))
    return DrillSelection(disks, skipped, _grants(plan, drill, disks))


def _grants(plan: DrillPlan, drill: str, disks: list[DrillDisk]) -> list[RoleGrant]:
    """The roles every restore of the drill needs, granted once by the drill: concurrent
    restores then find them in place (pre-existing, never revoked by a restore), and the drill
    revokes them when all its restores are done."""
    sandbox = plan.sandbox_resource_group_id
    wanted: dict[tuple[str, str, str], str] = {}
    for disk in disks:
        wanted[(sandbox, DISK_RESTORE_OPERATOR, disk.vault_principal_id)] = "Disk Restore Operator"
        if disk.source is not None and disk.source.encryption_set_id:
            wanted[(disk.source.encryption_set_id, READER, disk.vault_principal_id)] = "Reader"
    return [RoleGrant(scope=scope, role_definition_guid=role, role_name=name,
                      principal_id=principal,
                      assignment_name=assignment_name(f"{drill}|{principal}", scope, role))
            for (scope, role, principal), name in sorted(wanted.items())]


def verify(source: Disk | None, restored: Disk | None) -> tuple[list[dict[str, Any]], str]:
    """Checks of a restored disk against its source: [{name, expected, actual, ok}], and the
    reason of the first failed check ("" when all pass)."""
    if restored is None:
        return [{"name": "exists", "expected": True, "actual": False, "ok": False}], \
            "the restored disk does not exist"
    checks = [{"name": "exists", "expected": True, "actual": True, "ok": True}]
    if source is not None:
        for name, expected, actual in (
                ("sizeGB", source.size_gb, restored.size_gb),
                ("sku", source.sku, restored.sku),
                ("osType", source.os_type, restored.os_type),
                ("encryptionSet", _lower(source.encryption_set_id),
                 _lower(restored.encryption_set_id))):
            checks.append({"name": name, "expected": expected, "actual": actual,
                           "ok": expected == actual})
    failed = next((c for c in checks if not c["ok"]), None)
    reason = "" if failed is None else (f"{failed['name']} is {failed['actual']!r}, the source's "
                                        f"is {failed['expected']!r}")
    return checks, reason


def _lower(text: str | None) -> str | None:
    return text.lower() if text else None
