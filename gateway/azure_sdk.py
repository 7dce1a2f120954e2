"""`AzureControlPlane`: the `ControlPlane` port over the real azure-mgmt SDK clients.

    clients = ClientCache(credential, base_url=..., connection_verify=...)   # or any
    plane = AzureControlPlane(clients, backup_vault_ids=settings.backup_vault_ids,
                              arm_endpoint=settings.arm_endpoint)

`clients` is a callable `subscription_id -> SubscriptionClients` (resources may live in other
subscriptions than the vault; `gateway.clients.ClientCache` builds and caches them), or one
`SubscriptionClients` when everything is in one subscription. `gateway.factory.control_plane`
builds all of it from Settings.

Nothing here blocks on an LRO: `start_*` return an `Operation` and `get_operation` makes one
poll (see gateway/lro.py for how each answer maps). SDK failures become domain errors
(gateway/sdk_errors.py); 404s of looked-up resources become None or the port's NotFound error.
"""

from __future__ import annotations

from collections.abc import Sequence

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

from .backup import Backup
from .clients import ClientsFor, SubscriptionClients
from .compute import Compute
from .lro import Lro
from .rbac import Rbac
from .readiness_reads import ReadinessReads


class AzureControlPlane:
    def __init__(self, clients: ClientsFor | SubscriptionClients, *,
                 backup_vault_ids: Sequence[str] = (), arm_endpoint: str | None = None) -> None:
        """`backup_vault_ids`: search only these vaults for a disk's backup instance (else every
        vault in the disk's subscription). `arm_endpoint`: operation URLs are followed only on
        this origin (None: not checked)."""
        if isinstance(clients, SubscriptionClients):
            single = clients
            clients_for: ClientsFor = lambda _subscription: single  # noqa: E731
        else:
            clients_for = clients
        self._clients = clients
        self._lro = Lro(clients_for, arm_endpoint)
        self._backup = Backup(clients_for, self._lro, backup_vault_ids)
        self._rbac = Rbac(clients_for)
        self._compute = Compute(clients_for, self._lro)
        self._readiness = ReadinessReads(clients_for)

    def close(self) -> None:
        """Close the clients this control plane was given (if they can be closed)."""
        close = getattr(self._clients, "close", None)
        if callable(close):
            close()

    # ---- reads for the plan -------------------------------------------------------------------
    def find_backup_instance(self, disk_id: str) -> BackupInstance:
        return self._backup.find_backup_instance(disk_id)

    def get_backup_instance(self, backup_instance_id: str) -> BackupInstance:
        return self._backup.get_backup_instance(backup_instance_id)

    def list_recovery_points(self, backup_instance_id: str) -> list[RecoveryPoint]:
        return self._backup.list_recovery_points(backup_instance_id)

    def get_disk(self, disk_id: str) -> Disk | None:
        return self._compute.get_disk(disk_id)

    def get_resource_group_location(self, resource_group_id: str) -> str | None:
        return self._compute.get_resource_group_location(resource_group_id)

    def get_vm(self, vm_id: str) -> Vm | None:
        return self._compute.get_vm(vm_id)

    def get_vm_size(self, subscription_id: str, location: str, size: str) -> VmSize | None:
        return self._compute.get_vm_size(subscription_id, location, size)
    def list_snapshots(self, resource_group_id: str) -> list[Snapshot]:
        return self._compute.list_snapshots(resource_group_id)

    # ---- role assignments -------------------------------------------------------------------
    def grant_role(self, grant: RoleGrant) -> RoleAssignment:
        return self._rbac.grant_role(grant)

    def revoke_role(self, assignment_id: str) -> bool:
        return self._rbac.revoke_role(assignment_id)

    def find_role_assignments(self, scope: str, principal_id: str) -> list[RoleAssignment]:
        return self._rbac.find_role_assignments(scope, principal_id)

    # ---- Azure Backup -----------------------------------------------------------------------
    def start_validate_restore(self, plan: RestorePlan) -> Operation:
        return self._backup.start_validate_restore(plan)

    def start_restore(self, plan: RestorePlan) -> Operation:
        return self._backup.start_restore(plan)

    def get_operation(self, operation: Operation) -> OperationStatus:
        return self._lro.poll(operation)

    def find_restore_job(self, plan: RestorePlan) -> RestoreJob | None:
        return self._backup.find_restore_job(plan)

    def get_restore_job(self, job_id: str) -> RestoreJob:
        return self._backup.get_restore_job(job_id)

    # ---- Compute ----------------------------------------------------------------------------
    def start_attach_data_disk(self, vm_id: str, disk_id: str, lun: int,
                               caching: str) -> Operation:
        return self._compute.start_attach_data_disk(vm_id, disk_id, lun, caching)

    def start_change_data_disks(self, change: DataDisksChange) -> Operation:
        return self._compute.start_change_data_disks(change)

    def start_deallocate_vm(self, vm_id: str) -> Operation:
        return self._compute.start_deallocate_vm(vm_id)

    def start_power_off_vm(self, vm_id: str) -> Operation:
        return self._compute.start_power_off_vm(vm_id)

    def start_start_vm(self, vm_id: str) -> Operation:
        return self._compute.start_start_vm(vm_id)

    def start_set_os_disk(self, vm_id: str, disk_id: str) -> Operation:
        return self._compute.start_set_os_disk(vm_id, disk_id)

    def list_backup_instances(self, vault_id: str) -> list[BackupInstance]:
        return self._backup.list_backup_instances(vault_id)

    def count_restores(self, vault_id: str, since: str) -> dict[str, int]:
        return self._backup.count_restores(vault_id, since)

    def list_restore_starts(self, vault_id: str, since: str) -> dict[str, list[str]]:
        return self._backup.list_restore_starts(vault_id, since)

    def list_disks(self, resource_group_id: str) -> list[Disk]:
        return self._compute.list_disks(resource_group_id)

    # ---- the catalog (issue 18) -------------------------------------------------------------
    def list_disks_in_subscription(self, subscription_id: str) -> list[Disk]:
        return self._compute.list_disks_in_subscription(subscription_id)

    def start_tag_disk(self, disk_id: str, tags: dict[str, str]) -> Operation:
        return self._compute.start_tag_disk(disk_id, tags)

    def start_update_disk_properties(self, wanted: DiskProperties) -> Operation:
        return self._compute.start_update_disk_properties(wanted)

    def start_delete_disk(self, disk_id: str) -> Operation:
        return self._compute.start_delete_disk(disk_id)

    def start_snapshot_disk(self, disk_id: str, snapshot_id: str) -> Operation:
        return self._compute.start_snapshot_disk(disk_id, snapshot_id)

    def start_copy_disk_to_zone(self, source: Disk, snapshot_id: str, disk_id: str,
                                zone: str) -> Operation:
        return self._compute.start_copy_disk_to_zone(source, snapshot_id, disk_id, zone)

    def start_delete_snapshot(self, snapshot_id: str) -> Operation:
        return self._compute.start_delete_snapshot(snapshot_id)

    # ---- readiness: the posture reads ---------------------------------------------------------
    def read_vault(self, vault_id: str) -> VaultState:
        return self._readiness.read_vault(vault_id)

    def list_locks(self, resource_group_id: str) -> list[ManagementLock]:
        return self._readiness.list_locks(resource_group_id)

    def list_scope_assignments(self, scope: str) -> list[ScopeAssignment]:
        return self._readiness.list_scope_assignments(scope)

    def get_role_definition(self, scope: str, role_guid: str) -> RoleDefinitionInfo | None:
        return self._readiness.get_role_definition(scope, role_guid)

    def list_own_permissions(self, resource_group_id: str) -> list[PermissionBlock] | None:
        return self._readiness.list_own_permissions(resource_group_id)
