"""What the gateway reads from Azure and what a restore decides, as plain frozen dataclasses.

Every type crosses the orchestrator/activity boundary as JSON through `to_dict` / `from_dict`
(no pickled classes in the Durable history), so a rename never breaks a running instance.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T", bound="Record")


class Record:
    """to_dict/from_dict for flat dataclasses of JSON values and nested Records (and lists)."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _dump(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[T], doc: dict[str, Any]) -> T:
        hints = typing.get_type_hints(cls)
        kwargs = {f.name: _load(hints[f.name], doc[f.name])
                  for f in dataclasses.fields(cls) if f.name in doc}  # type: ignore[arg-type]
        return cls(**kwargs)


def _dump(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [_dump(v) for v in value]
    return value


def _load(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _load(inner[0], value) if len(inner) == 1 else value
    if origin in (list, tuple):
        (item,) = typing.get_args(hint)[:1]
        loaded = [_load(item, v) for v in value]
        return tuple(loaded) if origin is tuple else loaded
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint.from_dict(value)
    return value


# ---- what Azure says ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BackupInstance(Record):
    id: str
    vault_id: str
    vault_location: str
    datasource_id: str  # the protected source disk
    snapshot_resource_group_id: str
    vault_principal_id: str  # the identity the vault uses for this instance
    cross_subscription_restore: str  # Enabled | Disabled | PermanentlyDisabled
    protection_state: str


@dataclass(frozen=True)
class RecoveryPoint(Record):
    id: str
    time: str  # ISO-8601 UTC


@dataclass(frozen=True)
class Disk(Record):
    id: str
    location: str
    size_gb: int | None = None
    sku: str | None = None
    os_type: str | None = None
    encryption_set_id: str | None = None
    managed_by: str | None = None
    state: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DataDisk(Record):
    lun: int
    disk_id: str


@dataclass(frozen=True)
class Vm(Record):
    id: str
    location: str
    os_type: str | None
    os_disk_id: str | None
    data_disks: list[DataDisk] = field(default_factory=list)
    power_state: str | None = None  # e.g. "running", "deallocated", "stopped"
    zones: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RoleAssignment(Record):
    id: str
    scope: str
    role_definition_guid: str
    principal_id: str
    pre_existing: bool  # found in place: never ours to revoke


@dataclass(frozen=True)
class Operation(Record):
    """An ARM long-running operation we started and poll from the orchestrator."""

    kind: str  # validate | restore | attach | detach | deallocate | start | swap
    status_url: str | None
    result_url: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class OperationStatus(Record):
    state: str  # running | succeeded | failed
    error_code: str | None = None
    error_message: str | None = None
    job_id: str | None = None


@dataclass(frozen=True)
class RestoreJob(Record):
    id: str
    status: str  # InProgress | Completed | CompletedWithWarnings | Failed | Cancelled | ...
    restored_disk_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    started: str | None = None

    @property
    def finished(self) -> bool:
        return self.status.lower() in ("completed", "completedwithwarnings", "succeeded",
                                       "failed", "cancelled", "canceled")

    @property
    def succeeded(self) -> bool:
        return self.status.lower() in ("completed", "completedwithwarnings", "succeeded")


# ---- what a restore decides ---------------------------------------------------------------------
@dataclass(frozen=True)
class RoleGrant(Record):
    scope: str
    role_definition_guid: str
    role_name: str
    principal_id: str
    assignment_name: str  # deterministic GUID: a re-run finds its own assignment


@dataclass(frozen=True)
class AttachPlan(Record):
    vm_id: str
    lun: int
    caching: str


@dataclass(frozen=True)
class SwapPlan(Record):
    vm_id: str
    original_os_disk_id: str
    was_running: bool


@dataclass(frozen=True)
class RestorePlan(Record):
    instance_id: str
    created: str  # ISO-8601, from the orchestration's clock
    backup_instance: BackupInstance
    recovery_point: RecoveryPoint
    source_disk: Disk | None  # None when the source disk is gone (restore still possible)
    target_disk_id: str
    target_location: str
    grants: list[RoleGrant]
    attach: AttachPlan | None = None
    swap: SwapPlan | None = None
    dry_run: bool = False
    propagation_timeout_s: int = 1800
    job_timeout_s: int = 7200
