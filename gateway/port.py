"""The typed gateway interface. Domain types in and out; SDK errors become domain errors.

Long-running ARM operations are *started* here and return an `Operation`; the orchestrator polls
it with `get_operation` on durable timers (monitor pattern). No method blocks on an LRO poller.
"""

from __future__ import annotations

from typing import Protocol

from domain.model import (
    BackupInstance,
    DataDisksChange,
    Disk,
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
    RoleDefinitionInfo,
    ScopeAssignment,
    VaultState,
)


class ControlPlane(Protocol):
    # ---- reads for the plan ---------------------------------------------------------------------
    def find_backup_instance(self, disk_id: str) -> BackupInstance:
        """The backup instance protecting a disk, matched case-insensitively on
        dataSourceInfo.resourceID across the subscription's Backup vaults.
        Raises BackupInstanceNotFound."""
        ...

    def get_backup_instance(self, backup_instance_id: str) -> BackupInstance:
        """Raises BackupInstanceNotFound."""
        ...

    def list_recovery_points(self, backup_instance_id: str) -> list[RecoveryPoint]:
        """Every recovery point, newest first (sorted by time, not trusted to the service)."""
        ...

    def get_disk(self, disk_id: str) -> Disk | None: ...

    def get_resource_group_location(self, resource_group_id: str) -> str | None: ...

    def get_vm(self, vm_id: str) -> Vm | None:
        """With the instance view's power state ("running", "deallocated", ...)."""
        ...

    def get_vm_size(self, subscription_id: str, location: str, size: str) -> VmSize | None:
        """What `size` allows in `location` (Resource SKUs); None when the region does not list
        it."""
        ...

    def list_snapshots(self, resource_group_id: str) -> list[Snapshot]:
        """The snapshots of a resource group, every page; [] when the group does not exist.
        Raises AppNotAuthorized when the app may not read them there."""
        ...

    # ---- role assignments -----------------------------------------------------------------------
    def grant_role(self, grant: RoleGrant) -> RoleAssignment:
        """PUT with the grant's deterministic name; idempotent. An equivalent assignment made by
        someone else (409 RoleAssignmentExists) is returned with pre_existing=True."""
        ...

    def revoke_role(self, assignment_id: str) -> bool:
        """True if deleted now, False if it was already gone."""
        ...

    def find_role_assignments(self, scope: str, principal_id: str) -> list[RoleAssignment]:
        """Assignments for the principal that apply at `scope` (atScope(), inherited included)."""
        ...

    # ---- Azure Backup ---------------------------------------------------------------------------
    def start_validate_restore(self, plan: RestorePlan) -> Operation: ...

    def start_restore(self, plan: RestorePlan) -> Operation: ...

    def get_operation(self, operation: Operation) -> OperationStatus:
        """One poll. Failed operations carry Azure's error code and message."""
        ...

    def find_restore_job(self, plan: RestorePlan) -> RestoreJob | None:
        """A restore job of the plan's backup instance whose destination is the plan's target disk
        and that started at or after the plan was made: the job a lost or retried trigger
        started."""
        ...

    def get_restore_job(self, job_id: str) -> RestoreJob:
        """`job_id` is the full ARM id the restore operation returned."""
        ...

    # ---- Compute --------------------------------------------------------------------------------
    def start_attach_data_disk(self, vm_id: str, disk_id: str, lun: int,
                               caching: str) -> Operation: ...

    def start_change_data_disks(self, change: DataDisksChange) -> Operation:
        """Detach and attach data disks in one call; what is already so is left out (nothing
        left: the operation comes back done)."""
        ...

    def start_deallocate_vm(self, vm_id: str) -> Operation: ...

    def start_power_off_vm(self, vm_id: str) -> Operation:
        """Stop the VM and keep its hardware allocated (a start needs no new capacity)."""
        ...

    def start_start_vm(self, vm_id: str) -> Operation: ...

    def start_set_os_disk(self, vm_id: str, disk_id: str) -> Operation:
        """Point a stopped VM's OS disk at another managed disk (swap, or roll back)."""
        ...

    def list_backup_instances(self, vault_id: str) -> list[BackupInstance]:
        """Every backup instance of a Backup vault."""
        ...

    def count_restores(self, vault_id: str, since: str) -> dict[str, int]:
        """Restore jobs of a vault started at or after `since` (ISO-8601), per backup instance
        id (lower-cased)."""
        ...

    def list_restore_starts(self, vault_id: str, since: str) -> dict[str, list[str]]:
        """The start times (ISO-8601) of a vault's restore jobs started at or after `since`, per
        backup instance id (lower-cased): the day's restore budget (domain/restore/budget.py)."""
        ...

    def list_disks(self, resource_group_id: str) -> list[Disk]:
        """The disks of a resource group; [] when it does not exist."""
        ...

    # ---- the catalog (issue 18) -------------------------------------------------------------
    def list_disks_in_subscription(self, subscription_id: str) -> list[Disk]:
        """Every disk of a subscription, every page. Raises AppNotAuthorized when the app may
        not read disks at the subscription (then list its resource groups with list_disks)."""
        ...

    def start_tag_disk(self, disk_id: str, tags: dict[str, str]) -> Operation:
        """Add tags to a disk, keeping its others."""
        ...

    def start_update_disk_properties(self, wanted: DiskProperties) -> Operation:
        """Add `wanted.tags` to a disk's tags (keeping its others) and set the network settings
        `wanted` names (None: left as they are), in one update; a disk that has them all already
        is done without a write. A disk that does not exist raises RestoreJobFailed."""
        ...

    def start_delete_disk(self, disk_id: str) -> Operation:
        """Delete a disk no VM uses (a restored disk nobody approved); refuse an attached one."""
        ...

    # ---- moving a restored disk into a zonal VM's zone ------------------------------------------
    def start_snapshot_disk(self, disk_id: str, snapshot_id: str) -> Operation:
        """An incremental snapshot of a disk; one of that disk already there is adopted, one of
        another disk raises ZoneCopyFailed."""
        ...

    def start_copy_disk_to_zone(self, source: Disk, snapshot_id: str, disk_id: str,
                                zone: str) -> Operation:
        """A new disk in `zone` from the snapshot, keeping the source's location, SKU, encryption
        set and tags; one already in that zone is adopted, one elsewhere raises ZoneCopyFailed."""
        ...

    def start_delete_snapshot(self, snapshot_id: str) -> Operation:
        """Delete a snapshot; one already gone is done."""
        ...

    # ---- readiness (domain/readiness): the posture reads ----------------------------------------
    def read_vault(self, vault_id: str) -> VaultState:
        """A Backup vault's identity, Resource Guard proxies and backup instances, each with the
        identity it restores with (None when it is gone: unlike list_backup_instances, a vault
        without an identity is read, not refused). Raises BackupInstanceNotFound when the vault
        does not exist."""
        ...

    def list_locks(self, resource_group_id: str) -> list[ManagementLock]:
        """The management locks of a resource group (at it, above it, on its resources); []
        when it does not exist."""
        ...

    def list_scope_assignments(self, scope: str) -> list[ScopeAssignment]:
        """Every role assignment at `scope` or above it, whoever holds it (atScope())."""
        ...

    def get_role_definition(self, scope: str, role_guid: str) -> RoleDefinitionInfo | None:
        """A role definition by GUID as seen from `scope`; None when there is none."""
        ...

    def list_own_permissions(self, resource_group_id: str) -> list[PermissionBlock] | None:
        """The app's own permissions at a resource group (the Permissions API); None when the
        group does not exist."""
        ...
