"""What a readiness run (orchestrations/readiness.py) takes and gives back, and the facts its
activities read from Azure. JSON as domain/model.py's Record writes it (camelCase).

The facts are what Azure says, gathered per vault, per snapshot resource group and per restore
target group; `domain/readiness/checks.py` turns them into findings without reading anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.model import OMITTED_WHEN_NONE, Record
from domain.objectives import ObjectiveRules
from domain.resource_id import InvalidResourceId, ResourceId

READINESS_SCHEMA = 1


@dataclass(frozen=True)
class ObjectiveScope(Record):
    """Objectives and the disks they cover: a drill plan's selection or a recovery policy's
    match, as a plain matcher (every list or map left empty matches any disk). `source` names
    where they came from, for the report ("drill plan nightly")."""

    rules: ObjectiveRules
    source: str = ""
    vaults: list[str] = field(default_factory=list)
    resource_groups: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    include: list[str] = field(default_factory=list)  # disk ids covered whatever else says
    exclude: list[str] = field(default_factory=list)  # disk ids never covered; beats include

    def covers(self, disk_id: str, vault_id: str, tags: dict[str, str]) -> bool:
        disk = disk_id.lower().rstrip("/")
        if disk in {d.lower().rstrip("/") for d in self.exclude}:
            return False
        if disk in {d.lower().rstrip("/") for d in self.include}:
            return True
        if self.vaults and vault_id.lower() not in {v.lower() for v in self.vaults}:
            return False
        if self.resource_groups and _group_of(disk_id) not in {
                g.lower().rstrip("/") for g in self.resource_groups}:
            return False
        lowered = {k.lower(): v for k, v in tags.items()}
        return all(lowered.get(k.lower()) == v for k, v in self.tags.items())


def _group_of(resource_id: str) -> str:
    try:
        return ResourceId.parse(resource_id).resource_group_id.lower()
    except InvalidResourceId:
        return ""


@dataclass(frozen=True)
class ReadinessInput(Record):
    """The run's input, fixed when it starts (orchestrations read no settings)."""

    run_id: str
    vault_ids: list[str]
    sandbox_group_ids: list[str] = field(default_factory=list)  # drill plans' sandboxes
    objectives: list[ObjectiveScope] = field(default_factory=list)
    rpo_hours: float = 26.0  # READINESS_RPO_HOURS: the RPO where no objective covers a disk
    reserve: int = 2  # DRILL_RESTORE_RESERVE: restores a day kept for incidents
    app_principal_id: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@dataclass(frozen=True)
class VaultRequest(Record):
    vault_id: str
    now: str  # ISO-8601, the run's clock: "restores today" are those since now - 24 h


@dataclass(frozen=True)
class PointRef(Record):
    id: str
    time: str


@dataclass(frozen=True)
class InstanceFacts(Record):
    """One protected disk as its vault and Azure show it."""

    backup_instance_id: str
    disk_id: str
    vault_id: str
    protection_state: str
    snapshot_resource_group_id: str
    principal_id: str | None  # the identity the vault restores this disk with; None: none
    disk_tags: dict[str, str] = field(default_factory=dict)
    disk_exists: bool = True
    newest_point: PointRef | None = None
    point_count: int = 0
    # Recovery points whose snapshot is not in the snapshot resource group (newest first);
    # None when the snapshots could not be read (`snapshots_unread` says why).
    points_without_snapshot: list[PointRef] | None = field(default_factory=list)
    snapshots_unread: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    snapshot_group_exists: bool = True
    # Disk Snapshot Contributor on the snapshot group for `principal_id` (None: not checked)
    vault_role: bool | None = None
    restores_today: int = 0


@dataclass(frozen=True)
class VaultFacts(Record):
    vault_id: str
    exists: bool = True
    principal_id: str | None = None  # the system-assigned identity; None: none
    identity_type: str | None = None
    resource_guards: list[str] = field(default_factory=list)  # Multi-User Authorization
    instances: list[InstanceFacts] = field(default_factory=list)
    error: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)  # could not be read


@dataclass(frozen=True)
class GroupRequest(Record):
    """A snapshot resource group and the vault identities that keep snapshots there (they are
    meant to be able to delete them: not listed as deleters)."""

    group_id: str
    vault_principal_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Deleter(Record):
    principal_id: str
    principal_type: str | None
    role: str  # the role definition's name (or GUID when it could not be read)
    scope: str  # where the assignment is: the group or above it


@dataclass(frozen=True)
class GroupFacts(Record):
    group_id: str
    exists: bool = True
    delete_locks: list[str] = field(default_factory=list)  # ids of CanNotDelete/ReadOnly locks
    deleters: list[Deleter] = field(default_factory=list)
    error: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@dataclass(frozen=True)
class TargetRequest(Record):
    group_id: str
    kind: str  # "sandbox" (a drill plan's) | "source" (a protected disk's group)


@dataclass(frozen=True)
class TargetFacts(Record):
    group_id: str
    kind: str
    exists: bool = True
    can_grant: bool | None = None  # None: not known (`error` says why)
    error: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@dataclass(frozen=True)
class ReadinessFacts(Record):
    """Everything the run read; with the input, all the report is made of."""

    run_id: str
    checked_at: str
    request: ReadinessInput
    vaults: list[VaultFacts] = field(default_factory=list)
    groups: list[GroupFacts] = field(default_factory=list)
    targets: list[TargetFacts] = field(default_factory=list)


@dataclass(frozen=True)
class ReadinessWritten(Record):
    status: str
    summary: dict[str, Any]
    urls: dict[str, str]


@dataclass(frozen=True)
class ReadinessOutcome(Record):
    schema: int
    id: str
    status: str
    summary: dict[str, Any]
    reports: dict[str, str]
