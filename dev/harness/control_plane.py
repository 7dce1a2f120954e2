"""An in-memory Azure behind the gateway's port (gateway/port.py `ControlPlane`): disks, VMs,
Backup vaults with their backup instances and recovery points, role assignments that take
effect after a propagation delay, long-running operations and restore jobs, all on the
harness's instant clock, and every call recorded.

It keeps the rules azsim keeps (dev/azsim/README.md), at the port instead of on the wire:
validateRestore and restore check the vault's roles *as of the moment the operation ends*
(Disk Restore Operator on the target resource group, Disk Snapshot Contributor on the snapshot
resource group, Reader on a CMK disk's Disk Encryption Set, each at that scope or above and only
once propagated); each recovery point has an incremental snapshot in the snapshot resource group
(listed as azsim lists it, `snapshot_time_offset` from the point's time, carrying the disk's Disk
Encryption Set) until `delete_snapshot` removes it, and validate, restore and the job read that
absence as `UserErrorDiskSnapshotNotFound`; a restore job reserves its target name while it runs
and creates the disk when it completes; a VM with an operation in flight refuses other changes
with 409 `Conflict`; an operation Azure refuses at once comes back already over and failed, as
`gateway/lro.py` reports a 4xx answer; a backup instance gets `daily_restore_limit` restores a
day (10, Azure's), counted and refused as azsim's `restoreLimit*` settings say
(`restore_limit_refusal`, `restore_limit_window`, `restore_limit_status`; `add_past_restore`
seeds earlier ones). Durations are azsim's demo scenario's, midpoints of its ranges.

Faults (each for the next `times` matching calls, every call with `times=None`):
* `fail(method, error)`: the call raises `error` (a domain error the gateway would map an ARM
  failure to: AppNotAuthorized for a 403, AzureThrottled for a 429, ...; or any exception);
* `refuse(method, code)`: a `start_*` call answered at once with an ARM error: the operation is
  already over, failed with `code`, and nothing changed;
* `fail_operation(method, code)`: the operation a `start_*` call starts runs its course, then
  ends failed with `code`; nothing changed;
* `fail_job(code)`: the next restore job ends Failed.
`refuse`, `fail_operation` and `fail_job` take `retryable`: the error's `isRetryable` as the Data
Protection service marks it (None: not said), read by the gateway into `OperationStatus.retryable`
and `RestoreJob.error_retryable`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

from azsim import roles as azsim_roles

from domain import errors
from domain.model import (
    BackupInstance,
    DataDisk,
    DataDisksChange,
    Disk,
    DiskAttachment,
    DiskProperties,
    Operation,
    OperationStatus,
    RecoveryPoint,
    RestoreJob,
    RestorePlan,
    RoleAssignment,
    RoleGrant,
    Snapshot,
    Vm,
    VmSize,
)
from domain.readiness.posture import (
    ManagementLock,
    PermissionBlock,
    ProtectedInstance,
    RoleDefinitionInfo,
    ScopeAssignment,
    VaultState,
)
from domain.resource_id import ResourceId
from domain.restore.azure_codes import budget_spent
from domain.restore.planning import DISK_RESTORE_OPERATOR, DISK_SNAPSHOT_CONTRIBUTOR, READER
from domain.restore.properties import disk_changes
from gateway.lro import DATA_URL, finished

# Seconds, azsim's demo scenario (dev/azsim/scenarios/demo.json), the middle of each range.
DURATIONS = {"validateRestore": 30.0, "triggerRestore": 3.0, "restoreJob": 270.0,
             "attach": 30.0, "vmUpdate": 8.0, "deallocate": 90.0, "start": 90.0,
             "powerOff": 45.0,
             "diskWrite": 3.0, "diskDelete": 3.0, "noop": 1.0}
PROPAGATION = timedelta(seconds=240)  # azsim's demo: rolePropagation
APP_PRINCIPAL = "a11ce000-0000-4000-8000-00000000a001"  # azsim's demo: the app
OPERATIONS = "https://management.azure.com/fake/operations/"
_ID_NAMESPACE = uuid.UUID("0b6c2e1e-6a43-4c55-9f7e-4c1b1d1f0a11")

# The documented Azure Disk Backup codes (domain/restore/azure_codes.py), in the order the
# service reports them (dev/azsim/restore_checks.py).
TARGET_RG_NOT_FOUND = "UserErrorRestoreTargetRGNotFound"
CROSS_SUBSCRIPTION = "UserErrorCrossSubscriptionRestoreNotEnabled"
NO_TARGET_PERMISSION = "UserErrorNotEnoughPermissionOnTargetRG"
SNAPSHOT_RG_NOT_FOUND = "UserErrorSnapshotRGNotFound"
NO_SNAPSHOT_PERMISSION = "UserErrorNotEnoughPermissionOnSnapshotRG"
SNAPSHOT_NOT_FOUND = "UserErrorDiskSnapshotNotFound"
NO_DES_PERMISSION = "UserErrorMSIPermissionsNotPresentOnDES"
DES_KEY_DISABLED = "UserErrorDESKeyVaultKeyDisabled"
SAME_NAME = "UserErrorSameNameDiskAlreadyExists"
CONFLICT = "Conflict"
RESTORE_LIMIT = "CloudDosAbsoluteLimitReached"  # azsim's, for the day's limit (not documented)
RESTORE_ACTION = "Microsoft.DataProtection/backupVaults/backupInstances/restore/action"

# What a few sizes allow (Resource SKUs: MaxDataDiskCount, PremiumIO, HyperVGenerations), as
# azsim's catalog has them; `add_vm_size` adds others.
SIZES = {name.lower(): VmSize(name, "", count, premium, generations) for name, count, premium,
         generations in (("Standard_D4s_v5", 8, True, ["V1", "V2"]),
                         ("Standard_D2s_v3", 4, True, ["V1", "V2"]),
                         ("Standard_D2_v3", 4, False, ["V1", "V2"]),
                         ("Standard_A2_v2", 4, False, ["V1"]),
                         ("Standard_D16s_v5", 32, True, ["V1", "V2"]))}
_PREMIUM = ("premium_lrs", "premium_zrs", "premiumv2_lrs", "ultrassd_lrs")


@dataclass(frozen=True)
class Call:
    """One call the gateway's port received."""

    method: str
    args: tuple[Any, ...]
    at: datetime


@dataclass
class _Fault:
    method: str
    times: int | None
    when: Callable[..., bool] | None
    raises: BaseException | None = None
    after: bool = False  # raise once the call has done its work
    refuse: tuple[str, str] | None = None
    fail: tuple[str, str] | None = None
    retryable: bool | None = None  # the error's isRetryable


@dataclass
class _Assignment:
    record: RoleAssignment
    created: datetime | None  # None: in effect from the start
    deleted: datetime | None = None


@dataclass
class _Vm:
    id: str
    location: str
    os_type: str | None
    os_disk_id: str | None
    data_disks: list[DataDisk]
    power_state: str
    tags: dict[str, str] = field(default_factory=dict)
    busy_until: datetime | None = None
    zones: list[str] = field(default_factory=list)
    size: str = "Standard_D4s_v5"
    security_type: str | None = None
    hyper_v_generation: str | None = "V1"
    ultra_ssd_enabled: bool = False

    def record(self) -> Vm:
        return Vm(id=self.id, location=self.location, os_type=self.os_type,
                  os_disk_id=self.os_disk_id, data_disks=sorted(self.data_disks,
                                                                key=lambda d: d.lun),
                  power_state=self.power_state, zones=list(self.zones), tags=dict(self.tags),
                  size=self.size, security_type=self.security_type,
                  hyper_v_generation=self.hyper_v_generation,
                  ultra_ssd_enabled=self.ultra_ssd_enabled)


@dataclass
class _Protected:
    record: BackupInstance
    points: list[RecoveryPoint]
    snapshot: Disk  # the source disk as the snapshots hold it: what a restore creates
    deleted_snapshots: set[str] = field(default_factory=set)  # recovery point ids


@dataclass
class _Snapshot:
    """A snapshot the app made (a restored disk on its way into a zonal VM's zone)."""

    content: Disk  # what a disk copied from it gets
    source_id: str
    created: datetime


@dataclass
class _Job:
    id: str
    backup_instance_id: str
    target_disk_id: str
    location: str
    snapshot: Disk
    started: datetime
    due: datetime
    status: str = "InProgress"
    error: tuple[str, str] | None = None
    error_retryable: bool | None = None
    recovery_point_id: str = ""

    def record(self) -> RestoreJob:
        return RestoreJob(id=self.id, status=self.status, restored_disk_id=self.target_disk_id,
                          error_code=self.error[0] if self.error else None,
                          error_message=self.error[1] if self.error else None,
                          started=self.started.isoformat(),
                          error_retryable=self.error_retryable if self.error else None)


@dataclass
class _Operation:
    id: str
    kind: str
    due: datetime
    complete: Callable[[datetime], OperationStatus]
    status: OperationStatus | None = None


def _port(method: Callable[..., Any]) -> Callable[..., Any]:
    """A method of the port: the call is recorded, every change due by now takes effect first,
    and the fault that applies to it (if any) is raised before it, raised after it (a lost
    answer), or handed to it as `self._fault` (a refusal or a failing operation)."""
    name = method.__name__

    @functools.wraps(method)
    def call(self: FakeControlPlane, *args: Any) -> Any:
        self.calls.append(Call(name, args, self.clock()))
        self._settle()
        fault = self._take_fault(name, args)
        if fault is not None and fault.raises is not None and not fault.after:
            raise fault.raises
        self._fault = fault if fault is not None and fault.raises is None else None
        try:
            result = method(self, *args)
        finally:
            self._fault = None
        if fault is not None and fault.raises is not None:
            raise fault.raises  # the work is done; its answer is lost
        return result
    return call


def _key(resource_id: str) -> str:
    return resource_id.lower().rstrip("/")


def _covers(scope: str, target: str) -> bool:
    """An assignment at `scope` applies at `target`: the same scope, or one above it."""
    scope, target = _key(scope), _key(target)
    return target == scope or target.startswith(scope + "/")


class FakeControlPlane:
    """gateway.port.ControlPlane over in-memory state; see the module docstring."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.propagation = PROPAGATION
        self.durations = dict(DURATIONS)
        self.calls: list[Call] = []
        self.resource_groups: dict[str, str] = {}  # key -> location
        self.disks: dict[str, Disk] = {}
        self.vms: dict[str, _Vm] = {}
        self.vaults: dict[str, dict[str, str]] = {}  # key -> {id, location, crossSubscription}
        self.protected: dict[str, _Protected] = {}  # backup instance key -> instance
        self.encryption_sets: dict[str, bool] = {}  # DES key -> its key vault key enabled
        self.disk_accesses: dict[str, str] = {}  # disk access key -> location
        self.assignments: dict[str, _Assignment] = {}
        self.jobs: dict[str, _Job] = {}
        # Where a restore job puts its disk (azsim's `restoredDiskZone`): "regional" or "source".
        self.restored_disk_zone = "regional"
        # When a restore's target name is refused (azsim's `sameNameRule`): once the disk exists
        # ("diskExists", as Azure documents) or also while a job is creating it ("jobRunning").
        self.same_name_rule = "diskExists"
        # When Compute changes a VM's OS disk (azsim's `osDiskSwapRequires`; not settled in
        # Azure's documents): "deallocated", "stopped" (or deallocated), or "none".
        self.os_disk_swap_requires = "deallocated"
        # Whether a restored disk keeps the source's securityProfile (azsim's
        # `restoredDiskSecurityProfile`; not documented): "kept" or "dropped".
        self.restored_disk_security = "kept"
        # Azure Backup's restores per backup instance a day, and how the next one is refused
        # (azsim's dailyRestoreLimit, restoreLimitRefusal, restoreLimitWindow,
        # restoreLimitStatus; not documented, dev/azsim/restore_limit.py): "trigger" (refused at
        # the POST, 400 or 429 alike: the gateway raises RestoreBudgetSpent), "operation" (its
        # operation ends failed) or "job" (a job starts and ends Failed); "rolling" or "utcDay".
        self.daily_restore_limit = 10
        self.restore_limit_refusal = "trigger"
        self.restore_limit_window = "rolling"
        self.restore_limit_status = 400
        self.past_restores: list[tuple[str, datetime]] = []  # (backup instance key, started)
        self._triggered: dict[str, tuple[str, datetime]] = {}  # restore operation -> (bi, at)
        self.vm_sizes: dict[str, VmSize] = dict(SIZES)
        self.snapshots: dict[str, _Snapshot] = {}  # the app's own (zone copies), by key
        # How a Backup snapshot's timeCreated relates to its recovery point's time (azsim's
        # `snapshotTimeOffsetSeconds`: not documented).
        self.snapshot_time_offset = timedelta(seconds=-30)
        # ---- the catalog (issue 18) ----
        # Where the app may read disks (azsim: its grants' `Microsoft.Compute/disks/read`);
        # None: anywhere. A list at a scope it may read only part of meets `list_authorization`
        # (azsim's `listAuthorization`, not documented): "deny" (AppNotAuthorized) or "filter".
        self.disk_read_scopes: list[str] | None = None
        self.list_authorization = "deny"
        self._operations: dict[str, _Operation] = {}
        self._faults: list[_Fault] = []
        self._fault: _Fault | None = None  # the refusal or failure for the call in progress
        self._job_failures: list[tuple[str, str, bool | None]] = []
        self._ids = 0
        # ---- readiness (domain/readiness): the posture azsim keeps -----------------------------
        self.app_principal_id = APP_PRINCIPAL  # whose own permissions list_own_permissions reads
        self.locks: dict[str, ManagementLock] = {}  # lock key -> lock (azsim's `locks`)
        self.resource_guards: dict[str, list[str]] = {}  # vault key -> resource guard ids
        self.vaults_without_identity: set[str] = set()  # vault keys whose identity is gone
        self.principal_types: dict[str, str] = {}  # principal id (lower) -> User | Group | ...
        # What the app may do without a role assignment (azsim's scenario `grants` of its
        # principal): (scope, ARM actions), counted by list_own_permissions as azsim counts them.
        self.app_grants: list[tuple[str, list[str]]] = []

    # ---- building the estate ------------------------------------------------------------------
    def add_resource_group(self, rg_id: str, location: str) -> None:
        self.resource_groups[_key(rg_id)] = location

    def add_disk(self, disk: Disk) -> Disk:
        self.disks[_key(disk.id)] = disk
        return disk

    def add_vm(self, vm_id: str, location: str, *, os_type: str | None, os_disk_id: str | None,
               data_disks: list[DataDisk], power_state: str = "running",
               tags: dict[str, str] | None = None, zones: list[str] | None = None,
               **extra: Any) -> None:
        """`extra`: size, security_type, hyper_v_generation, ultra_ssd_enabled."""
        self.vms[_key(vm_id)] = _Vm(vm_id, location, os_type, os_disk_id, list(data_disks),
                                    power_state, dict(tags or {}), zones=list(zones or []),
                                    **extra)
        for disk_id in [os_disk_id, *(d.disk_id for d in data_disks)]:
            if disk_id and _key(disk_id) in self.disks:
                self._set_disk(disk_id, managed_by=vm_id, state="Attached")

    def add_vault(self, vault_id: str, location: str, *, cross_subscription: str = "Enabled"
                  ) -> None:
        self.vaults[_key(vault_id)] = {"id": vault_id, "location": location,
                                       "crossSubscription": cross_subscription}

    def protect(self, vault_id: str, disk_id: str, *, principal_id: str, snapshot_rg_id: str,
                points: list[RecoveryPoint], policy: str = "disk-daily-7d",
                retention_days: int = 7) -> BackupInstance:
        """Points without a state, expiry or data store get azsim's: Completed, `time` plus
        `retention_days`, a visible OperationalStore copy."""
        vault = self.vaults[_key(vault_id)]
        source = self.disks[_key(disk_id)]
        bi = BackupInstance(
            id=f"{vault['id']}/backupInstances/{ResourceId.parse(disk_id).name}-{self._guid()}",
            vault_id=vault["id"], vault_location=vault["location"], datasource_id=disk_id,
            snapshot_resource_group_id=snapshot_rg_id, vault_principal_id=principal_id,
            cross_subscription_restore=vault["crossSubscription"],
            protection_state="ProtectionConfigured", policy_name=policy)
        points = [dataclasses.replace(
            p, state=p.state or "Completed", data_store=p.data_store or "OperationalStore",
            data_store_visible=True if p.data_store_visible is None else p.data_store_visible,
            expiry_time=p.expiry_time or (datetime.fromisoformat(p.time)
                                          + timedelta(days=retention_days)).isoformat())
            for p in points]
        self.protected[_key(bi.id)] = _Protected(bi, list(points),
                                                 dataclasses.replace(source, managed_by=None,
                                                                     state=None, tags={}))
        return bi

    def add_disk_access(self, access_id: str, location: str) -> None:
        self.disk_accesses[_key(access_id)] = location

    def add_encryption_set(self, des_id: str, *, key_enabled: bool = True) -> None:
        self.encryption_sets[_key(des_id)] = key_enabled

    def assign(self, scope: str, role_guid: str, principal_id: str, name: str | None = None
               ) -> RoleAssignment:
        """A role assignment in effect from the start (made before the test began)."""
        name = name or self._guid()
        record = RoleAssignment(
            id=f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", scope=scope,
            role_definition_guid=role_guid, principal_id=principal_id, pre_existing=False)
        self.assignments[_key(record.id)] = _Assignment(record, created=None)
        return record

    # ---- faults -------------------------------------------------------------------------------
    def fail(self, method: str, error: BaseException, *, times: int | None = 1,
             when: Callable[..., bool] | None = None) -> None:
        self._faults.append(_Fault(method, times, when, raises=error))

    def lose_answer(self, method: str, error: BaseException, *, times: int | None = 1,
                    when: Callable[..., bool] | None = None) -> None:
        """The call does its work, then raises `error`: Azure did it, the answer was lost."""
        self._faults.append(_Fault(method, times, when, raises=error, after=True))

    def refuse(self, method: str, code: str, message: str = "refused by the fake",
               *, times: int | None = 1, when: Callable[..., bool] | None = None,
               retryable: bool | None = None) -> None:
        self._faults.append(_Fault(method, times, when, refuse=(code, message),
                                   retryable=retryable))

    def fail_operation(self, method: str, code: str, message: str = "failed in the fake",
                       *, times: int | None = 1, when: Callable[..., bool] | None = None,
                       retryable: bool | None = None) -> None:
        self._faults.append(_Fault(method, times, when, fail=(code, message),
                                   retryable=retryable))

    def fail_job(self, code: str, message: str = "the restore job failed in the fake", *,
                 retryable: bool | None = None) -> None:
        self._job_failures.append((code, message, retryable))

    def delete_snapshot(self, backup_instance_id: str, point_id: str) -> None:
        self.protected[_key(backup_instance_id)].deleted_snapshots.add(point_id)

    # ---- what happened ------------------------------------------------------------------------
    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def live_assignments(self, principal_id: str | None = None) -> list[RoleAssignment]:
        return [a.record for a in self.assignments.values() if a.deleted is None
                and (principal_id is None or a.record.principal_id == principal_id)]

    def has_role(self, principal_id: str, role_guid: str, scope: str, at: datetime) -> bool:
        """Whether the principal holds the role at `scope` as the service sees it at `at`: an
        assignment takes effect, and a deleted one stops working, `propagation` later."""
        for a in self.assignments.values():
            r = a.record
            if r.principal_id != principal_id or r.role_definition_guid.lower() != \
                    role_guid.lower() or not _covers(r.scope, scope):
                continue
            effective = a.created is None or a.created + self.propagation <= at
            gone = a.deleted is not None and a.deleted + self.propagation <= at
            if effective and not gone:
                return True
        return False

    # ---- the port: reads ----------------------------------------------------------------------
    @_port
    def find_backup_instance(self, disk_id: str) -> BackupInstance:
        for p in self.protected.values():
            if _key(p.record.datasource_id) == _key(disk_id):
                return p.record
        raise errors.BackupInstanceNotFound(
            f"no backup instance protects disk {disk_id} in the Backup vaults of the "
            "subscription", hint="configure backup for the disk, or list its vault in "
                                 "BACKUP_VAULT_IDS")

    @_port
    def get_backup_instance(self, backup_instance_id: str) -> BackupInstance:
        return self._instance(backup_instance_id).record

    @_port
    def list_recovery_points(self, backup_instance_id: str) -> list[RecoveryPoint]:
        points = self._instance(backup_instance_id).points
        return sorted(points, key=lambda p: datetime.fromisoformat(p.time), reverse=True)

    @_port
    def get_disk(self, disk_id: str) -> Disk | None:
        return self.disks.get(_key(disk_id))

    @_port
    def get_resource_group_location(self, resource_group_id: str) -> str | None:
        return self.resource_groups.get(_key(resource_group_id))

    @_port
    def get_vm_size(self, subscription_id: str, location: str, size: str) -> VmSize | None:
        found = self.vm_sizes.get(size.lower())
        return dataclasses.replace(found, location=location) if found else None

    @_port
    def get_vm(self, vm_id: str) -> Vm | None:
        vm = self.vms.get(_key(vm_id))
        return vm.record() if vm else None

    @_port
    def list_snapshots(self, resource_group_id: str) -> list[Snapshot]:
        """Backup's snapshots (one per recovery point whose snapshot was not deleted) and the
        app's own, as azsim lists them; [] for a group that does not exist."""
        if _key(resource_group_id) not in self.resource_groups:
            return []
        found = [snapshot for p in self.protected.values() for point in p.points
                 if (snapshot := self._backup_snapshot(p, point)) is not None
                 and _key(p.record.snapshot_resource_group_id) == _key(resource_group_id)]
        found += [Snapshot(id=s.content.id, source_resource_id=s.source_id,
                           time_created=s.created.isoformat(),
                           encryption_set_id=s.content.encryption_set_id, incremental=True)
                  for s in self.snapshots.values()
                  if _key(ResourceId.parse(s.content.id).resource_group_id) ==
                  _key(resource_group_id)]
        return sorted(found, key=lambda s: s.id.lower())

    @_port
    def list_backup_instances(self, vault_id: str) -> list[BackupInstance]:
        if _key(vault_id) not in self.vaults:
            raise errors.BackupInstanceNotFound(f"the Backup vault {vault_id} does not exist")
        return [p.record for p in self.protected.values()
                if _key(p.record.vault_id) == _key(vault_id)]

    @_port
    def count_restores(self, vault_id: str, since: str) -> dict[str, int]:
        return {bi: len(starts) for bi, starts in self._restore_starts(vault_id, since).items()}

    @_port
    def list_disks(self, resource_group_id: str) -> list[Disk]:
        found = [d for d in self.disks.values()
                 if _key(ResourceId.parse(d.id).resource_group_id) == _key(resource_group_id)]
        return self._readable_disks(resource_group_id, found)

    # ---- the port: the catalog (issue 18) -----------------------------------------------------
    @_port
    def list_disks_in_subscription(self, subscription_id: str) -> list[Disk]:
        scope = f"/subscriptions/{subscription_id}"
        found = [d for d in self.disks.values() if _covers(scope, d.id)]
        return self._readable_disks(scope, found)

    def _readable_disks(self, scope: str, disks: list[Disk]) -> list[Disk]:
        """As azsim lists them (auth.readable): all, in id order, to a reader at the scope;
        else AppNotAuthorized ("deny") or only those it may read ("filter")."""
        disks = sorted(disks, key=lambda d: d.id.lower())
        readers = self.disk_read_scopes
        if readers is None or any(_covers(r, scope) for r in readers):
            return disks
        if self.list_authorization == "filter":
            return [d for d in disks if any(_covers(r, d.id) for r in readers)]
        raise errors.AppNotAuthorized(
            f"the app may not perform Microsoft.Compute/disks/read at {scope} "
            "(AuthorizationFailed)")

    @_port
    def list_restore_starts(self, vault_id: str, since: str) -> dict[str, list[str]]:
        return self._restore_starts(vault_id, since)

    # ---- the port: role assignments -----------------------------------------------------------
    @_port
    def grant_role(self, grant: RoleGrant) -> RoleAssignment:
        assignment_id = (f"{grant.scope.rstrip('/')}/providers/Microsoft.Authorization/"
                         f"roleAssignments/{grant.assignment_name}")
        mine = self.assignments.get(_key(assignment_id))
        if mine is not None and mine.deleted is None:
            return mine.record  # PUT again with the same name: the same assignment
        for a in self.assignments.values():
            r = a.record
            if a.deleted is None and r.principal_id == grant.principal_id and \
                    _key(r.scope) == _key(grant.scope) and \
                    r.role_definition_guid.lower() == grant.role_definition_guid.lower():
                # 409 RoleAssignmentExists: someone else's equivalent assignment
                return dataclasses.replace(r, pre_existing=True)
        record = RoleAssignment(id=assignment_id, scope=grant.scope,
                                role_definition_guid=grant.role_definition_guid.lower(),
                                principal_id=grant.principal_id, pre_existing=False)
        self.assignments[_key(assignment_id)] = _Assignment(record, created=self.clock())
        return record

    @_port
    def revoke_role(self, assignment_id: str) -> bool:
        found = self.assignments.get(_key(assignment_id))
        if found is None or found.deleted is not None:
            return False
        found.deleted = self.clock()
        return True

    @_port
    def find_role_assignments(self, scope: str, principal_id: str) -> list[RoleAssignment]:
        return [dataclasses.replace(a.record, pre_existing=True)
                for a in self.assignments.values()
                if a.deleted is None and a.record.principal_id == principal_id
                and _covers(a.record.scope, scope)]

    # ---- the port: Azure Backup ---------------------------------------------------------------
    @_port
    def start_validate_restore(self, plan: RestorePlan) -> Operation:
        fault = self._fault
        return self._operation("validate", "validateRestore", fault,
                               lambda at: self._checked(plan, at) or OperationStatus("succeeded"))

    @_port
    def start_restore(self, plan: RestorePlan) -> Operation:
        fault = self._fault
        bi_key = _key(plan.backup_instance.id)
        if fault is None and (limited := self._limit_refusal(bi_key, self.clock(), "trigger")):
            # Refused at the POST, 400 or 429: the gateway raises it as RestoreBudgetSpent
            # (gateway/sdk_errors.py), as the answer to the call, whatever its status.
            raise budget_spent(*limited, f"'{RESTORE_ACTION}' on '{plan.backup_instance.id}'")

        def complete(at: datetime) -> OperationStatus:
            self._triggered.pop(op.status_url or "", None)
            if (limited := self._limit_refusal(bi_key, at, "operation")) is not None:
                return OperationStatus("failed", *limited)
            refused = self._checked(plan, at)
            if refused is not None:
                return refused
            limited = self._limit_refusal(bi_key, at, "job")  # before this job counts
            job = _Job(id=f"{plan.backup_instance.vault_id}/backupJobs/{self._guid()}",
                       backup_instance_id=plan.backup_instance.id,
                       target_disk_id=plan.target_disk_id, location=plan.target_location,
                       snapshot=self._instance(plan.backup_instance.id).snapshot, started=at,
                       due=at + self._seconds("restoreJob"),
                       recovery_point_id=plan.recovery_point.id)
            if limited is not None:
                job.error, job.error_retryable = limited, False
            elif self._job_failures:
                code, message, job.error_retryable = self._job_failures.pop(0)
                job.error = (code, message)
            self.jobs[_key(job.id)] = job
            return OperationStatus("succeeded", job_id=job.id)
        op = self._operation("restore", "triggerRestore", fault, complete)
        if op.status_url is not None:
            self._triggered[op.status_url] = (bi_key, self.clock())
        return op

    @_port
    def get_operation(self, operation: Operation) -> OperationStatus:
        if operation.status_url is None:  # over when it started (gateway/lro.py `finished`)
            body = json.loads(unquote(operation.result_url[len(DATA_URL):])) \
                if operation.result_url else {}
            if isinstance(body.get("error"), dict):
                return OperationStatus("failed", body["error"]["code"], body["error"]["message"],
                                       retryable=body["error"].get("isRetryable"))
            return OperationStatus("succeeded", job_id=body.get("jobId"))
        found = self._operations[operation.status_url]
        return found.status or OperationStatus("running")

    @_port
    def find_restore_job(self, plan: RestorePlan) -> RestoreJob | None:
        since = datetime.fromisoformat(plan.created) - timedelta(minutes=2)
        found = [j for j in self.jobs.values()
                 if _key(j.backup_instance_id) == _key(plan.backup_instance.id)
                 and _key(j.target_disk_id) == _key(plan.target_disk_id) and j.started >= since
                 and j.recovery_point_id == plan.recovery_point.id]
        alive = [j for j in found if j.status != "Failed"]  # as gateway/backup.py
        return max(alive or found, key=lambda j: j.started).record() if found else None

    @_port
    def get_restore_job(self, job_id: str) -> RestoreJob:
        job = self.jobs.get(_key(job_id))
        if job is None:
            raise errors.RestoreJobFailed(f"restore job {job_id} does not exist")
        return job.record()

    # ---- the port: Compute --------------------------------------------------------------------
    @_port
    def start_attach_data_disk(self, vm_id: str, disk_id: str, lun: int, caching: str
                               ) -> Operation:
        return self._change_data_disks(DataDisksChange(
            vm_id, [DiskAttachment(vm_id, disk_id, lun, caching)], []))

    @_port
    def start_change_data_disks(self, change: DataDisksChange) -> Operation:
        return self._change_data_disks(change)

    def _change_data_disks(self, change: DataDisksChange) -> Operation:
        """One attachDetachDataDisks call (as azsim's): detaches first, then attaches; what is
        already so is left out; every check before anything changes."""
        fault = self._fault
        vm = self._existing_vm(change.vm_id)
        attached = {_key(d.disk_id) for d in vm.data_disks}
        attach = [a for a in change.attach if _key(a.disk_id) not in attached]
        detach = [d for d in change.detach if _key(d) in attached]
        if not attach and not detach and not change.detach:
            return finished("attach")
        refused = self._busy(vm) or self._refusal(fault)
        gone = [d for d in change.detach if _key(d) not in attached]
        if refused is None and gone and attach:
            refused = ("InvalidParameter", f"Disk {gone[0]} is not attached to VM {vm.id}.")
        kept = [d for d in vm.data_disks if _key(d.disk_id) not in {_key(x) for x in detach}]
        for a in attach:
            if refused is not None:
                break
            disk = self.disks.get(_key(a.disk_id))
            if disk is None:
                refused = ("NotFound", f"disk {a.disk_id} was not found")
            elif disk.managed_by or any(d.lun == a.lun for d in kept):
                refused = ("OperationNotAllowed", f"disk {a.disk_id} is attached to "
                           f"{disk.managed_by}" if disk.managed_by else f"LUN {a.lun} is in use")
            else:
                refused = _zone_refusal(vm, disk) or \
                    self._attach_refusal(vm, disk, a.caching, len(kept))
            kept.append(DataDisk(a.lun, a.disk_id, a.caching, a.write_accelerator))
        if refused is not None:
            return _refused("attach", refused)

        def apply() -> None:
            for disk_id in detach:
                self._set_disk(disk_id, managed_by=None, state="Unattached")
            vm.data_disks[:] = kept
            for a in attach:
                self._set_disk(a.disk_id, managed_by=vm.id, state="Attached")
        return self._vm_operation(vm, "attach", "attach", fault, apply)

    @_port
    def start_deallocate_vm(self, vm_id: str) -> Operation:
        return self._power(vm_id, "deallocating", "deallocated", "deallocate")

    @_port
    def start_power_off_vm(self, vm_id: str) -> Operation:
        return self._power(vm_id, "stopping", "stopped", "powerOff")

    @_port
    def start_start_vm(self, vm_id: str) -> Operation:
        return self._power(vm_id, "starting", "running", "start")

    @_port
    def start_set_os_disk(self, vm_id: str, disk_id: str) -> Operation:
        fault = self._fault
        vm = self._existing_vm(vm_id)
        if vm.os_disk_id and _key(vm.os_disk_id) == _key(disk_id):
            return finished("swap")
        refused = self._busy(vm) or self._refusal(fault)
        disk = self.disks.get(_key(disk_id))
        if refused is None and disk is None:
            refused = ("NotFound", f"disk {disk_id} was not found")
        elif refused is None and (disk.os_type or "").lower() != (vm.os_type or "").lower():
            refused = ("PropertyChangeNotAllowed",
                       "Changing property 'osDisk.osType' is not allowed.")
        refused = refused or _zone_refusal(vm, disk) or self._swap_refusal(vm, disk)
        if refused is not None:
            return _refused("swap", refused)

        def apply() -> None:
            if vm.os_disk_id:
                self._set_disk(vm.os_disk_id, managed_by=None, state="Unattached")
            vm.os_disk_id = disk.id
            self._set_disk(disk.id, managed_by=vm.id, state="Attached")
        return self._vm_operation(vm, "swap", "vmUpdate", fault, apply)

    @_port
    def start_tag_disk(self, disk_id: str, tags: dict[str, str]) -> Operation:
        fault = self._fault
        disk = self.disks.get(_key(disk_id))
        if disk is None:
            raise errors.RestoreJobFailed(f"disk {disk_id} does not exist")
        if all(disk.tags.get(k) == v for k, v in tags.items()):
            return finished("tag")
        if (refused := self._refusal(fault)) is not None:
            return _refused("tag", refused)
        if fault is None or fault.fail is None:  # Compute applies disk changes at once
            self._set_disk(disk_id, tags={**disk.tags, **tags})
        return self._operation("tag", "diskWrite", fault, lambda at: OperationStatus("succeeded"))

    @_port
    def start_update_disk_properties(self, wanted: DiskProperties) -> Operation:
        fault = self._fault
        disk = self.disks.get(_key(wanted.disk_id))
        if disk is None:
            raise errors.RestoreJobFailed(f"disk {wanted.disk_id} does not exist")
        changes = disk_changes(disk, wanted)
        if not changes:
            return finished("update")
        if (refused := self._refusal(fault)) is not None:
            return _refused("update", refused)
        if refused := self._network_refusal(disk, changes):
            return _refused("update", refused)
        if fault is None or fault.fail is None:  # Compute applies disk changes at once
            if "tags" in changes:
                changes["tags"] = {**disk.tags, **wanted.tags}
            self._set_disk(wanted.disk_id, **changes)
        return self._operation("update", "diskWrite", fault,
                               lambda at: OperationStatus("succeeded"))

    @_port
    def start_delete_disk(self, disk_id: str) -> Operation:
        fault = self._fault
        disk = self.disks.get(_key(disk_id))
        if disk is None:
            return finished("delete")
        if disk.managed_by or (disk.state or "").lower() not in ("unattached", ""):
            raise errors.DiskInUse(f"disk {disk_id} is attached to {disk.managed_by or 'a VM'} "
                                   f"(state {disk.state}); not deleting it")
        if (refused := self._refusal(fault) or self._lock_refusal(disk_id)) is not None:
            return _refused("delete", refused)

        def complete(at: datetime) -> OperationStatus:
            self.disks.pop(_key(disk_id), None)
            return OperationStatus("succeeded")
        return self._operation("delete", "diskDelete", fault, complete)

    @_port
    def start_snapshot_disk(self, disk_id: str, snapshot_id: str) -> Operation:
        fault = self._fault
        found = self.snapshots.get(_key(snapshot_id))
        if found is not None:
            if _key(found.source_id) != _key(disk_id):
                raise errors.ZoneCopyFailed(f"snapshot {snapshot_id} exists but is not of "
                                            f"{disk_id}")
            return finished("snapshot")
        disk = self.disks.get(_key(disk_id))
        if disk is None:
            raise errors.ZoneCopyFailed(f"the restored disk {disk_id} does not exist")
        if (refused := self._refusal(fault)) is not None:
            return _refused("snapshot", refused)
        if fault is None or fault.fail is None:  # Compute creates the resource at once
            self.snapshots[_key(snapshot_id)] = _Snapshot(dataclasses.replace(
                disk, id=snapshot_id, sku="Standard_ZRS", zones=[], managed_by=None, state=None,
                tags={}), disk.id, self.clock())
        return self._operation("snapshot", "diskWrite", fault,
                               lambda at: OperationStatus("succeeded"))

    @_port
    def start_copy_disk_to_zone(self, source: Disk, snapshot_id: str, disk_id: str,
                                zone: str) -> Operation:
        fault = self._fault
        found = self.disks.get(_key(disk_id))
        if found is not None:
            if found.zones != [zone]:
                raise errors.ZoneCopyFailed(f"disk {disk_id} exists but is not in zone {zone}")
            return finished("copy")
        snapshot = self.snapshots.get(_key(snapshot_id))
        refused = self._refusal(fault)
        if refused is None and snapshot is None:
            refused = ("NotFound", f"Resource {snapshot_id} is not found.")
        elif refused is None and (source.sku or "").upper().endswith("_ZRS"):
            refused = ("BadRequest", f"A disk with sku '{source.sku}' cannot be created in an "
                       "availability zone.")
        if refused is not None:
            return _refused("copy", refused)
        assert snapshot is not None
        if fault is None or fault.fail is None:
            self.disks[_key(disk_id)] = dataclasses.replace(
                snapshot.content, id=disk_id, location=source.location, sku=source.sku,
                encryption_set_id=source.encryption_set_id, tags=dict(source.tags),
                zones=[zone], managed_by=None, state="Unattached",
                network_access_policy="AllowAll", public_network_access="Enabled",
                disk_access_id=None)  # a new disk's defaults: the request names none
        return self._operation("copy", "diskWrite", fault, lambda at: OperationStatus("succeeded"))

    @_port
    def start_delete_snapshot(self, snapshot_id: str) -> Operation:
        fault = self._fault
        if _key(snapshot_id) not in self.snapshots:
            return finished("delete")
        if (refused := self._refusal(fault) or self._lock_refusal(snapshot_id)) is not None:
            return _refused("delete", refused)

        def complete(at: datetime) -> OperationStatus:
            self.snapshots.pop(_key(snapshot_id), None)
            return OperationStatus("succeeded")
        return self._operation("delete", "diskDelete", fault, complete)

    # ---- readiness (domain/readiness): building the posture, and its reads ---------------------
    def add_lock(self, scope: str, name: str, level: str = "CanNotDelete") -> ManagementLock:
        lock = ManagementLock(f"{scope.rstrip('/')}/providers/Microsoft.Authorization/locks/"
                              f"{name}", level)
        self.locks[_key(lock.id)] = lock
        return lock

    def add_resource_guard(self, vault_id: str, guard_id: str) -> None:
        self.resource_guards.setdefault(_key(vault_id), []).append(guard_id)

    def remove_vault_identity(self, vault_id: str) -> None:
        """The vault's identity is disabled: it restores with nothing (azsim: type None)."""
        self.vaults_without_identity.add(_key(vault_id))

    def set_protection_state(self, backup_instance_id: str, state: str) -> None:
        protected = self._instance(backup_instance_id)
        protected.record = dataclasses.replace(protected.record, protection_state=state)

    @_port
    def read_vault(self, vault_id: str) -> VaultState:
        vault = self.vaults.get(_key(vault_id))
        if vault is None:
            raise errors.BackupInstanceNotFound(f"the Backup vault {vault_id} does not exist")
        gone = _key(vault_id) in self.vaults_without_identity
        instances = [p.record for p in self.protected.values()
                     if _key(p.record.vault_id) == _key(vault_id)]
        principal = None if gone else next((i.vault_principal_id for i in instances), None)
        return VaultState(
            id=vault["id"], location=vault["location"],
            identity_type="None" if gone else "SystemAssigned", principal_id=principal,
            resource_guards=sorted(self.resource_guards.get(_key(vault_id), [])),
            instances=[ProtectedInstance(
                id=i.id, datasource_id=i.datasource_id,
                snapshot_resource_group_id=i.snapshot_resource_group_id,
                protection_state=i.protection_state,
                principal_id=None if gone else i.vault_principal_id) for i in instances])

    @_port
    def list_locks(self, resource_group_id: str) -> list[ManagementLock]:
        """As azsim lists them (`lockListing: withInherited`): the group's, its resources' and
        the subscription's."""
        if _key(resource_group_id) not in self.resource_groups:
            return []
        subscription = "/".join(_key(resource_group_id).split("/")[:3])
        return sorted((lock for lock in self.locks.values()
                       if _covers(resource_group_id, lock.scope)
                       or _key(lock.scope) == subscription), key=lambda lk: lk.id.lower())

    @_port
    def list_scope_assignments(self, scope: str) -> list[ScopeAssignment]:
        return [ScopeAssignment(a.record.id, a.record.scope, a.record.role_definition_guid,
                                a.record.principal_id,
                                self.principal_types.get(a.record.principal_id.lower(),
                                                         "ServicePrincipal"))
                for a in self.assignments.values()
                if a.deleted is None and _covers(a.record.scope, scope)]

    @_port
    def get_role_definition(self, scope: str, role_guid: str) -> RoleDefinitionInfo | None:
        role = azsim_roles.BUILT_IN.get(role_guid.lower())
        if role is None:
            return None
        return RoleDefinitionInfo(
            f"/providers/Microsoft.Authorization/roleDefinitions/{role_guid.lower()}",
            role["roleName"], [PermissionBlock(list(role["actions"]),
                                               list(role.get("notActions", [])))])

    @_port
    def list_own_permissions(self, resource_group_id: str) -> list[PermissionBlock] | None:
        """As azsim's Permissions API: one block per grant and per role the app holds (in effect)
        at the group or above it."""
        if _key(resource_group_id) not in self.resource_groups:
            return None
        blocks = [PermissionBlock(list(actions), []) for scope, actions in self.app_grants
                  if _covers(scope, resource_group_id)]
        for a in self.assignments.values():
            role = azsim_roles.BUILT_IN.get(a.record.role_definition_guid.lower())
            if role is not None and a.record.principal_id == self.app_principal_id and \
                    _covers(a.record.scope, resource_group_id) and \
                    self.has_role(self.app_principal_id, a.record.role_definition_guid,
                                  resource_group_id, self.clock()):
                blocks.append(PermissionBlock(list(role["actions"]),
                                              list(role.get("notActions", []))))
        return blocks

    def _lock_refusal(self, resource_id: str) -> tuple[str, str] | None:
        """azsim's 409 ScopeLocked: a CanNotDelete or ReadOnly lock at or above the resource."""
        held = [lk.scope for lk in self.locks.values()
                if lk.prevents_delete and _covers(lk.scope, resource_id)]
        if not held:
            return None
        scopes = ",".join(f"'{s}'" for s in held)
        return ("ScopeLocked", f"The scope '{resource_id}' cannot perform delete operation "
                f"because following scope(s) are locked: {scopes}. Please remove the lock and "
                "try again.")

    # ---- the daily restore limit (as dev/azsim/restore_limit.py) -------------------------------
    def add_past_restore(self, backup_instance_id: str, started: datetime) -> None:
        """A restore of the backup instance made before the test (azsim's `pastRestores`)."""
        self.past_restores.append((_key(backup_instance_id), started))

    def add_restores_today(self, backup_instance_id: str, count: int) -> None:
        """`count` restores of the last 24 h, an hour apart (azsim's `restoresToday`)."""
        now = self.clock()
        for n in range(count):
            self.add_past_restore(backup_instance_id, now - timedelta(hours=n + 1))

    def _restore_starts(self, vault_id: str, since: str) -> dict[str, list[str]]:
        """Every restore job's start (any status) and past restore, per backup instance key."""
        start = datetime.fromisoformat(since)
        found = [(bi, at) for bi, at in self.past_restores] + \
            [(_key(j.backup_instance_id), j.started) for j in self.jobs.values()]
        starts: dict[str, list[str]] = {}
        for bi, at in found:
            if _key(self.protected[bi].record.vault_id) == _key(vault_id) and at >= start:
                starts.setdefault(bi, []).append(at.isoformat())
        return starts

    def _limit_refusal(self, bi_key: str, at: datetime, where: str) -> tuple[str, str] | None:
        """(code, message) refusing a restore of `bi_key` at `at` `where` the settings refuse
        it, when it has no restore left; else None. Counted as azsim counts: every job and past
        restore started in the window, and, at the trigger, restores accepted but not started."""
        if self.restore_limit_refusal != where:
            return None
        since = at - timedelta(days=1) if self.restore_limit_window == "rolling" else \
            at.replace(hour=0, minute=0, second=0, microsecond=0)
        starts = [t for bi, t in [*self.past_restores, *self._triggered.values()]
                  if bi == bi_key] if where == "trigger" else \
            [t for bi, t in self.past_restores if bi == bi_key]
        starts += [j.started for j in self.jobs.values() if _key(j.backup_instance_id) == bi_key]
        if sum(since <= t <= at for t in starts) < self.daily_restore_limit:
            return None
        return (RESTORE_LIMIT, "Operation is blocked as you have reached the limit on number "
                               "of operations permitted in 24 hours.")

    # ---- inside -------------------------------------------------------------------------------
    def _take_fault(self, method: str, args: tuple[Any, ...]) -> _Fault | None:
        for fault in self._faults:
            if fault.method == method and (fault.when is None or fault.when(*args)):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _settle(self) -> None:
        """Operations and jobs that are due end, in due order and as of their due time."""
        now = self.clock()
        due: list[tuple[datetime, int, Callable[[], None]]] = []
        for n, op in enumerate(self._operations.values()):
            if op.status is None and op.due <= now:
                due.append((op.due, n, lambda op=op: setattr(op, "status", op.complete(op.due))))
        for n, job in enumerate(self.jobs.values()):
            if job.status == "InProgress" and job.due <= now:
                due.append((job.due, len(self._operations) + n,
                            lambda job=job: self._finish_job(job)))
        for _, _, apply in sorted(due, key=lambda d: (d[0], d[1])):
            apply()

    def _finish_job(self, job: _Job) -> None:
        if job.error is None and _key(job.target_disk_id) in self.disks:
            # another job made the disk first: FailIfExists (as azsim's jobs.py)
            job.error = (SAME_NAME, "Could not restore as a Disk with same name already exists "
                                    "in the selected target resource group")
        protected = self.protected[_key(job.backup_instance_id)]
        point = next((p for p in protected.points if p.id == job.recovery_point_id), None)
        if job.error is None and point is not None and \
                self._backup_snapshot(protected, point) is None:  # deleted while the job ran
            job.error = (SNAPSHOT_NOT_FOUND, "The disk snapshot for this Restore point has been "
                                             "deleted.")
        if job.error is not None:
            job.status = "Failed"
            return
        job.status = "Completed"
        if _key(job.target_disk_id) not in self.disks:
            self.disks[_key(job.target_disk_id)] = dataclasses.replace(
                job.snapshot, id=job.target_disk_id, location=job.location, managed_by=None,
                state="Unattached", tags={},
                zones=list(job.snapshot.zones) if self.restored_disk_zone == "source" else [],
                # What a restored disk gets is not documented: the least kind answer (azsim's).
                network_access_policy="AllowAll", public_network_access="Enabled",
                disk_access_id=None,
                security_type=job.snapshot.security_type
                if self.restored_disk_security == "kept" else None)

    def _checked(self, plan: RestorePlan, at: datetime) -> OperationStatus | None:
        """What the Backup service answers a validate or restore of `plan` ending at `at`."""
        code = self._restore_check(plan, at)
        return None if code is None else OperationStatus("failed", code,
                                                         f"{code} (the fake's restore checks)")

    def _restore_check(self, plan: RestorePlan, at: datetime) -> str | None:
        protected = self._instance(plan.backup_instance.id)
        bi, principal = protected.record, protected.record.vault_principal_id
        target_rg = ResourceId.parse(plan.target_disk_id).resource_group_id
        if _key(target_rg) not in self.resource_groups:
            return TARGET_RG_NOT_FOUND
        if ResourceId.parse(target_rg).subscription != ResourceId.parse(bi.id).subscription \
                and bi.cross_subscription_restore != "Enabled":
            return CROSS_SUBSCRIPTION
        if not self.has_role(principal, DISK_RESTORE_OPERATOR, target_rg, at):
            return NO_TARGET_PERMISSION
        if _key(bi.snapshot_resource_group_id) not in self.resource_groups:
            return SNAPSHOT_RG_NOT_FOUND
        if not self.has_role(principal, DISK_SNAPSHOT_CONTRIBUTOR, bi.snapshot_resource_group_id,
                             at):
            return NO_SNAPSHOT_PERMISSION
        snapshot = self._backup_snapshot(protected, plan.recovery_point)
        if snapshot is None:  # deleted: the listing and this check read the same absence
            return SNAPSHOT_NOT_FOUND
        des = snapshot.encryption_set_id
        if des and not self.has_role(principal, READER, des, at):
            return NO_DES_PERMISSION
        if des and not self.encryption_sets.get(_key(des), True):
            return DES_KEY_DISABLED
        if _key(plan.target_disk_id) in self.disks or (self.same_name_rule == "jobRunning" and any(
                j.status == "InProgress" and _key(j.target_disk_id) == _key(plan.target_disk_id)
                for j in self.jobs.values())):
            return SAME_NAME
        return None

    def _operation(self, kind: str, duration: str, fault: _Fault | None,
                   complete: Callable[[datetime], OperationStatus]) -> Operation:
        if (refused := self._refusal(fault)) is not None:
            return _refused(kind, refused, fault.retryable if fault else None)
        if fault is not None and fault.fail is not None:
            code, message = fault.fail
            retryable = fault.retryable

            def complete(at: datetime, code: str = code, message: str = message
                         ) -> OperationStatus:
                return OperationStatus("failed", code, message, retryable=retryable)
        op = _Operation(f"{OPERATIONS}{self._guid()}", kind,
                        self.clock() + self._seconds(duration), complete)
        self._operations[op.id] = op
        return Operation(kind=kind, status_url=op.id, result_url=op.id)

    def _vm_operation(self, vm: _Vm, kind: str, duration: str, fault: _Fault | None,
                      apply: Callable[[], None]) -> Operation:
        if fault is None or fault.fail is None:
            apply()  # Compute changes the VM's model at once; the operation runs on
        vm.busy_until = self.clock() + self._seconds(duration)
        return self._operation(kind, duration, fault, lambda at: OperationStatus("succeeded"))

    def _power(self, vm_id: str, during: str, final: str, duration: str) -> Operation:
        fault = self._fault
        vm = self._existing_vm(vm_id)
        kind = duration
        refused = self._busy(vm) or self._refusal(fault)
        if refused is not None:
            return _refused(kind, refused)
        if vm.power_state == final or (final == "stopped" and vm.power_state == "deallocated"):
            return self._vm_operation(vm, kind, "noop", fault, lambda: None)
        failing = fault is not None and fault.fail is not None
        before = vm.power_state
        if not failing:
            vm.power_state = during
        vm.busy_until = self.clock() + self._seconds(duration)

        def complete(at: datetime) -> OperationStatus:
            if failing:
                vm.power_state = before
                code, message = fault.fail  # type: ignore[union-attr, misc]
                return OperationStatus("failed", code, message)
            vm.power_state = final
            return OperationStatus("succeeded")
        op = _Operation(f"{OPERATIONS}{self._guid()}", kind, vm.busy_until, complete)
        self._operations[op.id] = op
        return Operation(kind=kind, status_url=op.id, result_url=op.id)

    def _attach_refusal(self, vm: _Vm, disk: Disk, caching: str,
                        kept: int) -> tuple[str, str] | None:
        """Compute's refusals of a data disk the VM cannot take (as dev/azsim/vm_disks.py);
        `kept`: the VM's data disks the same call does not detach."""
        size = self.vm_sizes.get(vm.size.lower())
        if size is not None and size.max_data_disks is not None and \
                kept >= size.max_data_disks:
            return ("OperationNotAllowed", "The maximum number of data disks allowed to be "
                    f"attached to a VM of this size is {size.max_data_disks}.")
        sku = (disk.sku or "").lower()
        if caching.lower() != "none" and (sku in ("premiumv2_lrs", "ultrassd_lrs")
                                           or (disk.size_gb or 0) >= 4096):
            return ("InvalidParameter", f"Caching '{caching}' is not supported for disk "
                    f"{disk.id}.")
        return self._storage_refusal(vm, disk)

    def _swap_refusal(self, vm: _Vm, disk: Disk) -> tuple[str, str] | None:
        """Compute's refusals of an OS disk the VM cannot take (as dev/azsim/vm_disks.py)."""
        allowed = {"deallocated": ("deallocated",), "stopped": ("deallocated", "stopped"),
                   "none": None}[self.os_disk_swap_requires]
        if allowed is not None and vm.power_state not in allowed:
            return ("OperationNotAllowed", f"The OS disk of VM {vm.id} can be changed only when "
                    f"the VM is {' or '.join(allowed)}.")
        old = self.disks.get(_key(vm.os_disk_id or ""))
        if (disk.sku or "").lower() in ("premiumv2_lrs", "ultrassd_lrs"):
            return ("BadRequest", f"A disk of SKU {disk.sku} cannot be used as an OS disk.")
        if disk.hyper_v_generation and vm.hyper_v_generation and \
                disk.hyper_v_generation != vm.hyper_v_generation:
            return ("BadRequest", "The Hyper-V generation of the OS disk does not match the "
                    "virtual machine's.")
        if _security(vm.security_type) != _security(disk.security_type):
            return ("BadRequest", "Security type of VM is not compatible with the security type "
                    "of attached OS Disk.")
        if old is not None and (old.encryption_set_id or "").lower() != \
                (disk.encryption_set_id or "").lower():
            return ("BadRequest", "The OS disk and the new disk must use the same disk "
                    "encryption set.")
        if old is not None and (disk.size_gb or 0) < (old.size_gb or 0):
            return ("BadRequest", f"The disk {disk.id} cannot be resized down. Reducing "
                    "disk/snapshot size is not supported.")
        return self._storage_refusal(vm, disk)

    def _storage_refusal(self, vm: _Vm, disk: Disk) -> tuple[str, str] | None:
        size = self.vm_sizes.get(vm.size.lower())
        sku = (disk.sku or "").lower()
        if sku in _PREMIUM and size is not None and size.premium_io is False:
            return ("OperationNotAllowed", f"Storage account type '{disk.sku}' is not supported "
                    f"for VM size '{vm.size}'.")
        if sku in ("premiumv2_lrs", "ultrassd_lrs") and not vm.zones:
            return ("BadRequest", f"A disk of SKU {disk.sku} can be attached only to a VM in an "
                    "availability zone.")
        if sku == "ultrassd_lrs" and not vm.ultra_ssd_enabled:
            return ("OperationNotAllowed", "UltraSSD disks can be attached only to a VM with "
                    "additionalCapabilities.ultraSSDEnabled.")
        return None

    def _busy(self, vm: _Vm) -> tuple[str, str] | None:
        if vm.busy_until is not None and self.clock() < vm.busy_until:
            return CONFLICT, "The request failed due to conflict with a concurrent request."
        return None

    @staticmethod
    def _refusal(fault: _Fault | None) -> tuple[str, str] | None:
        return fault.refuse if fault is not None else None

    def _existing_vm(self, vm_id: str) -> _Vm:
        vm = self.vms.get(_key(vm_id))
        if vm is None:
            raise errors.VmNotFound(f"virtual machine {vm_id} does not exist")
        return vm

    def _instance(self, backup_instance_id: str) -> _Protected:
        found = self.protected.get(_key(backup_instance_id))
        if found is None:
            raise errors.BackupInstanceNotFound(
                f"backup instance {backup_instance_id} does not exist")
        return found

    def _backup_snapshot(self, protected: _Protected, point: RecoveryPoint) -> Snapshot | None:
        """The incremental snapshot Backup keeps for `point` (as azsim's scenario names it), or
        None once deleted or when the snapshot resource group does not exist."""
        rg = protected.record.snapshot_resource_group_id
        if point.id in protected.deleted_snapshots or _key(rg) not in self.resource_groups:
            return None
        taken = datetime.fromisoformat(point.time)
        name = f"{ResourceId.parse(protected.record.datasource_id).name}-{int(taken.timestamp())}"
        return Snapshot(id=f"{rg}/providers/Microsoft.Compute/snapshots/{name}",
                        source_resource_id=protected.record.datasource_id,
                        time_created=(taken + self.snapshot_time_offset).isoformat(),
                        encryption_set_id=protected.snapshot.encryption_set_id, incremental=True)

    def _network_refusal(self, disk: Disk, changes: dict[str, Any]) -> tuple[str, str] | None:
        """Compute's refusals of a disk's network settings (as dev/azsim/compute.py): a
        private-endpoint policy without a disk access; a disk access that does not exist or is
        in another region."""
        policy = changes.get("network_access_policy", disk.network_access_policy)
        access = changes.get("disk_access_id", disk.disk_access_id)
        if (policy or "").lower() == "allowprivate" and not access:
            return ("InvalidParameter", "diskAccessId is required when networkAccessPolicy is "
                    "AllowPrivate.")
        if access and _key(access) not in self.disk_accesses:
            name = access.rstrip("/").rsplit("/", 1)[-1]
            return ("ResourceNotFound", f"The Resource 'Microsoft.Compute/diskAccesses/{name}' "
                    "was not found.")
        if access and self.disk_accesses[_key(access)].lower() != disk.location.lower():
            return ("BadRequest", f"The disk access {access} is in another region than the "
                    "disk.")
        return None

    def _set_disk(self, disk_id: str, **changes: Any) -> None:
        disk = self.disks[_key(disk_id)]
        self.disks[_key(disk_id)] = dataclasses.replace(disk, **changes)

    def _seconds(self, name: str) -> timedelta:
        return timedelta(seconds=self.durations[name])

    def _guid(self) -> str:
        """Deterministic ids: the same test makes the same ids."""
        self._ids += 1
        return str(uuid.uuid5(_ID_NAMESPACE, str(self._ids)))


def _security(security_type: str | None) -> str:
    value = (security_type or "Standard").lower()
    return "confidentialvm" if value.startswith("confidentialvm") else value


def _zone_refusal(vm: _Vm, disk: Disk) -> tuple[str, str] | None:
    """Compute's refusal of a disk outside a zonal VM's zone (as dev/azsim/vm_disks.py); a ZRS
    disk has no zone and attaches in any zone."""
    if not vm.zones or disk.zone_redundant or disk.zones == vm.zones:
        return None
    if not disk.zones:
        return ("BadRequest", f"Disk {disk.id} cannot be attached to the VM because it is not in "
                f"zone '{vm.zones[0]}'.")
    return ("BadRequest", f"Disk {disk.id} cannot be attached to the VM because it is not in the "
            f"same zone as the VM. VM zone: '{vm.zones[0]}'. Disk zone: '{disk.zones[0]}'.")


def _refused(kind: str, refusal: tuple[str, str], retryable: bool | None = None) -> Operation:
    code, message = refusal
    error: dict[str, Any] = {"code": code, "message": message}
    if retryable is not None:
        error["isRetryable"] = retryable
    return finished(kind, {"error": error})
