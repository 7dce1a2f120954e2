"""Azure Backup (Microsoft.DataProtection): backup instances, recovery points, validateRestore and
restore (started, not awaited), restore jobs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.mgmt.dataprotection import models as dp

from domain import errors
from domain.model import BackupInstance, Operation, RecoveryPoint, RestoreJob, RestorePlan
from domain.resource_id import InvalidResourceId, ResourceId

from .clients import ClientsFor
from .lro import DATAPROTECTION_API, Lro, is_retryable
from .sdk_errors import is_not_found, translated
from .wire import as_json, as_object, dig, iso, parse_time, same_id, text

DISK_TYPE = "Microsoft.Compute/disks"
_NS = "Microsoft.DataProtection/backupVaults"
# How far Azure's job start time may lag the orchestrator's clock and still count as "started
# at or after the plan was made" (the plan is always made before the restore is triggered).
CLOCK_SKEW = timedelta(minutes=2)


class Backup:
    def __init__(self, clients_for: ClientsFor, lro: Lro, vault_ids: Sequence[str] = ()) -> None:
        self._clients_for, self._lro = clients_for, lro
        self._vault_ids = tuple(vault_ids)

    # ---- backup instances -----------------------------------------------------------------
    def find_backup_instance(self, disk_id: str) -> BackupInstance:
        disk = _parse(disk_id, errors.BackupInstanceNotFound)
        missing = []
        for vault_id in self._vaults(disk.subscription):
            vault = _parse(vault_id, errors.BackupInstanceNotFound)
            client = self._clients_for(vault.subscription).dataprotection
            with translated(f"{_NS}/backupInstances/read", vault_id):
                try:
                    for item in client.backup_instances.list(vault.resource_group, vault.name):
                        bi = as_json(item)
                        if _protects(bi, disk_id):
                            return self._instance(bi, vault)
                except HttpResponseError as exc:
                    if not is_not_found(exc):
                        raise
                    missing.append(vault_id)  # a stale BACKUP_VAULT_IDS entry: say so below
        where = ", ".join(self._vault_ids) if self._vault_ids else \
            f"the Backup vaults of subscription {disk.subscription}"
        gone = f" (these vaults do not exist: {', '.join(missing)})" if missing else ""
        raise errors.BackupInstanceNotFound(f"no backup instance protects disk {disk_id} in "
                                            f"{where}{gone}",
                                            hint="configure backup for the disk, or list its "
                                                 "vault in BACKUP_VAULT_IDS")

    def get_backup_instance(self, backup_instance_id: str) -> BackupInstance:
        bi_id = _parse(backup_instance_id, errors.BackupInstanceNotFound)
        vault = _vault_of(bi_id)
        client = self._clients_for(bi_id.subscription).dataprotection
        with translated(f"{_NS}/backupInstances/read", backup_instance_id):
            try:
                bi = as_json(client.backup_instances.get(bi_id.resource_group, vault.name,
                                                         bi_id.name))
            except HttpResponseError as exc:
                if is_not_found(exc):
                    raise errors.BackupInstanceNotFound(
                        f"backup instance {backup_instance_id} does not exist") from exc
                raise
        return self._instance(bi, vault)

    def _vaults(self, subscription: str) -> Iterable[str]:
        if self._vault_ids:
            return self._vault_ids
        client = self._clients_for(subscription).dataprotection
        with translated(f"{_NS}/read", f"/subscriptions/{subscription}"):
            return [v.id for v in client.backup_vaults.get_in_subscription() if v.id]

    def list_backup_instances(self, vault_id: str) -> list[BackupInstance]:
        """Every backup instance of a vault (a drill's selection): the vault is read once."""
        vault_rid = _parse(vault_id, errors.BackupInstanceNotFound)
        vault = self._vault(vault_rid)
        client = self._clients_for(vault_rid.subscription).dataprotection
        with translated(f"{_NS}/backupInstances/read", vault_id):
            items = [as_json(i) for i in client.backup_instances.list(vault_rid.resource_group,
                                                                       vault_rid.name)]
        return [self._instance(bi, vault_rid, vault) for bi in items]

    def count_restores(self, vault_id: str, since: str) -> dict[str, int]:
        """Restore jobs started at or after `since`, per backup instance id (lower-cased), from
        one listing of the vault's jobs (Azure allows a backup instance 10 restores a day)."""
        return {bi: len(starts) for bi, starts in self.list_restore_starts(vault_id, since).items()}

    def list_restore_starts(self, vault_id: str, since: str) -> dict[str, list[str]]:
        """When each restore job started at or after `since` started (ISO-8601), per backup
        instance id (lower-cased), from one listing of the vault's jobs. Every restore job
        counts, whatever its status: Azure may count a failed one against the day's 10 too."""
        vault = _parse(vault_id, errors.BackupInstanceNotFound)
        start = parse_time(since)
        client = self._clients_for(vault.subscription).dataprotection
        starts: dict[str, list[str]] = {}
        with translated(f"{_NS}/backupJobs/read", vault_id):
            for item in client.jobs.list(vault.resource_group, vault.name):
                props = dig(as_json(item), "properties")
                operation = text(props, "operationCategory") or text(props, "operation") or ""
                # No start time (never seen): counted as started now, the longest it can count.
                started = parse_time(dig(props, "startTime")) or datetime.now(UTC)
                bi = text(props, "backupInstanceId")
                if operation.lower() == "restore" and bi and (start is None or started >= start):
                    starts.setdefault(bi.lower(), []).append(started.isoformat())
        return starts

    def _vault(self, vault_id: ResourceId) -> dict[str, Any]:
        client = self._clients_for(vault_id.subscription).dataprotection
        with translated(f"{_NS}/read", str(vault_id)):
            try:
                return as_object(client.backup_vaults.get(vault_id.resource_group, vault_id.name))
            except HttpResponseError as exc:
                if is_not_found(exc):
                    raise errors.BackupInstanceNotFound(
                        f"the Backup vault {vault_id} does not exist") from exc
                raise

    def _instance(self, bi: dict[str, Any], vault_id: ResourceId,
                  vault: dict[str, Any] | None = None) -> BackupInstance:
        vault = vault if vault is not None else self._vault(vault_id)
        props = dig(bi, "properties")
        return BackupInstance(
            id=text(bi, "id") or "",
            vault_id=text(vault, "id") or str(vault_id),
            vault_location=text(vault, "location") or text(props, "dataSourceInfo",
                                                           "resourceLocation") or "",
            datasource_id=text(props, "dataSourceInfo", "resourceID") or "",
            snapshot_resource_group_id=_snapshot_rg(props),
            vault_principal_id=_vault_principal(vault, props),
            cross_subscription_restore=text(vault, "properties", "featureSettings",
                                            "crossSubscriptionRestoreSettings", "state")
            or "Disabled",
            protection_state=text(props, "currentProtectionState")
            or text(props, "protectionStatus", "status") or "Unknown",
            policy_name=_last_segment(text(props, "policyInfo", "policyId")),
        )

    def list_recovery_points(self, backup_instance_id: str) -> list[RecoveryPoint]:
        bi_id = _parse(backup_instance_id, errors.BackupInstanceNotFound)
        client = self._clients_for(bi_id.subscription).dataprotection
        points = []
        with translated(f"{_NS}/backupInstances/recoveryPoints/read", backup_instance_id):
            try:
                for item in client.recovery_points.list(bi_id.resource_group, _vault_of(bi_id).name,
                                                        bi_id.name):
                    rp = as_json(item)
                    when = parse_time(dig(rp, "properties", "recoveryPointTime"))
                    rp_id = text(rp, "properties", "recoveryPointId") or text(rp, "name")
                    if when is not None and rp_id:
                        points.append((when, _point(rp, rp_id, when.isoformat())))
            except HttpResponseError as exc:
                if is_not_found(exc):
                    raise errors.BackupInstanceNotFound(
                        f"backup instance {backup_instance_id} does not exist") from exc
                raise
        points.sort(key=lambda p: p[0], reverse=True)
        return [p for _, p in points]

    # ---- validate and restore -------------------------------------------------------------
    def start_validate_restore(self, plan: RestorePlan) -> Operation:
        request = dp.ValidateRestoreRequestObject(restore_request_object=self._request(plan))
        return self._post(plan, "validate", "validateRestore", request)

    def start_restore(self, plan: RestorePlan) -> Operation:
        return self._post(plan, "restore", "restore", self._request(plan))

    def _post(self, plan: RestorePlan, kind: str, verb: str, body: Any) -> Operation:
        bi_id = plan.backup_instance.id
        client = self._clients_for(_parse(bi_id, errors.BackupInstanceNotFound).subscription)
        return self._lro.start(kind, client.dataprotection, "POST", f"{bi_id}/{verb}",
                               DATAPROTECTION_API, body.as_dict(exclude_readonly=True),
                               action=f"{_NS}/backupInstances/{verb}/action", scope=bi_id)

    def _request(self, plan: RestorePlan) -> dp.AzureBackupRecoveryPointBasedRestoreRequest:
        """The AzureDisk alternate-location restore request (reference §2.1/2.2)."""
        target = _parse(plan.target_disk_id, errors.ValidationFailed)
        return dp.AzureBackupRecoveryPointBasedRestoreRequest(
            recovery_point_id=plan.recovery_point.id.rstrip("/").rsplit("/", 1)[-1],
            source_data_store_type=dp.SourceDataStoreType.OPERATIONAL_STORE,
            restore_target_info=dp.RestoreTargetInfo(
                recovery_option=dp.RecoveryOption.FAIL_IF_EXISTS,
                restore_location=plan.target_location,
                datasource_info=dp.Datasource(
                    datasource_type=DISK_TYPE, object_type="Datasource",
                    resource_id=plan.target_disk_id, resource_name=target.name,
                    resource_type=DISK_TYPE, resource_location=plan.target_location,
                    resource_uri="")),
            identity_details=self._identity_details(plan.backup_instance.id),
        )

    def _identity_details(self, backup_instance_id: str) -> dp.IdentityDetails | None:
        """The backup instance's own identity choice: a user-assigned identity must be named in
        the restore request too, or the vault acts as its system identity (which holds none of
        the roles we granted to the user-assigned one)."""
        bi_id = _parse(backup_instance_id, errors.BackupInstanceNotFound)
        client = self._clients_for(bi_id.subscription).dataprotection
        with translated(f"{_NS}/backupInstances/read", backup_instance_id):
            try:
                bi = as_json(client.backup_instances.get(bi_id.resource_group,
                                                         _vault_of(bi_id).name, bi_id.name))
            except HttpResponseError as exc:
                if is_not_found(exc):
                    raise errors.BackupInstanceNotFound(
                        f"backup instance {backup_instance_id} does not exist") from exc
                raise
        uami = _user_assigned(dig(bi, "properties"))
        if uami is None:
            return None
        return dp.IdentityDetails(use_system_assigned_identity=False,
                                  user_assigned_identity_arm_url=uami)

    # ---- jobs -----------------------------------------------------------------------------
    def find_restore_job(self, plan: RestorePlan) -> RestoreJob | None:
        vault = _parse(plan.backup_instance.vault_id, errors.BackupInstanceNotFound)
        since = parse_time(plan.created)
        client = self._clients_for(vault.subscription).dataprotection
        found: list[tuple[Any, RestoreJob]] = []
        with translated(f"{_NS}/backupJobs/read", str(vault)):
            for item in client.jobs.list(vault.resource_group, vault.name):
                job = as_json(item)
                props = dig(job, "properties")
                started = parse_time(dig(props, "startTime"))
                if not _is_restore_of(props, plan) or started is None:
                    continue
                if since is not None and started < since - CLOCK_SKEW:
                    continue
                found.append((started, _restore_job(job)))
        # The one that made (or is making) the disk, not a duplicate that failed "same name".
        alive = [f for f in found if not (f[1].finished and not f[1].succeeded)]
        return max(alive or found, key=lambda f: f[0])[1] if found else None

    def get_restore_job(self, job_id: str) -> RestoreJob:
        job_rid = _parse(job_id, errors.RestoreJobFailed)
        vault = _vault_of(job_rid)
        client = self._clients_for(job_rid.subscription).dataprotection
        with translated(f"{_NS}/backupJobs/read", job_id):
            try:
                job = as_json(client.jobs.get(job_rid.resource_group, vault.name, job_rid.name))
            except HttpResponseError as exc:
                if is_not_found(exc):
                    raise errors.RestoreJobFailed(f"restore job {job_id} does not exist") \
                        from exc
                raise
        return _restore_job(job)


def _parse(rid: str, error: type[errors.RestoreError]) -> ResourceId:
    try:
        return ResourceId.parse(rid)
    except InvalidResourceId as exc:
        raise error(f"{rid!r} {exc}") from exc


def _vault_of(rid: ResourceId) -> ResourceId:
    """The Backup vault of a vault child id (backup instance, job)."""
    if rid.provider is None or rid.provider.lower() != "microsoft.dataprotection" \
            or not rid.types or rid.types[0].lower() != "backupvaults":
        raise errors.BackupInstanceNotFound(f"{rid} is not inside a Backup vault")
    return ResourceId(rid.subscription, rid.resource_group, rid.provider, rid.types[:1],
                      rid.names[:1])


def _protects(bi: dict[str, Any], disk_id: str) -> bool:
    source = dig(bi, "properties", "dataSourceInfo")
    kind = text(source, "datasourceType") or text(source, "resourceType") or ""
    return kind.lower() == DISK_TYPE.lower() and same_id(text(source, "resourceID"), disk_id)


def _snapshot_rg(props: Any) -> str:
    for params in dig(props, "policyInfo", "policyParameters", "dataStoreParametersList") or []:
        if (text(params, "objectType") or "").lower() == "azureoperationalstoreparameters":
            return text(params, "resourceGroupId") or ""
    return ""


def _user_assigned(props: Any) -> str | None:
    details = dig(props, "identityDetails")
    if not isinstance(details, dict) or dig(details, "useSystemAssignedIdentity") is not False:
        return None
    return text(details, "userAssignedIdentityArmUrl")


def _vault_principal(vault: Any, props: Any) -> str:
    identity = dig(vault, "identity")
    uami = _user_assigned(props)
    if uami is not None:
        principal = next((text(v, "principalId")
                          for k, v in (dig(identity, "userAssignedIdentities") or {}).items()
                          if same_id(k, uami)), None)
        where = f"user-assigned identity {uami}"
    else:
        principal = text(identity, "principalId")
        where = "system-assigned identity"
    if not principal:
        raise errors.ValidationFailed(
            f"the Backup vault {text(vault, 'id')} has no {where} to restore with",
            hint="enable the vault's managed identity (as backup configuration requires)")
    return principal


def _is_restore_of(props: Any, plan: RestorePlan) -> bool:
    operation = text(props, "operationCategory") or text(props, "operation") or ""
    if operation.lower() != "restore":
        return False
    if not same_id(text(props, "extendedInfo", "recoveryDestination"), plan.target_disk_id):
        return False
    point = text(props, "extendedInfo", "sourceRecoverPoint", "recoveryPointID")
    if point and point.rsplit("/", 1)[-1].lower() != plan.recovery_point.id.rsplit("/", 1)[-1] \
            .lower():
        return False  # another recovery point: not this run's restore
    bi, source = text(props, "backupInstanceId"), text(props, "dataSourceId")
    if bi:
        return same_id(bi, plan.backup_instance.id)
    return source is None or same_id(source, plan.backup_instance.datasource_id)


def _restore_job(job: Any) -> RestoreJob:
    props = dig(job, "properties")
    error = dig(props, "errorDetails", 0)
    return RestoreJob(
        id=text(job, "id") or "",
        status=text(props, "status") or "Unknown",
        restored_disk_id=text(props, "extendedInfo", "recoveryDestination"),
        error_code=text(error, "code"),
        error_message=text(error, "message"),
        started=iso(dig(props, "startTime")),
        error_retryable=is_retryable(error),
    )


def _last_segment(resource_id: str | None) -> str | None:
    return resource_id.rstrip("/").rsplit("/", 1)[-1] or None if resource_id else None


def _point(rp: dict[str, Any], rp_id: str, when: str) -> RecoveryPoint:
    """A recovery point with what the catalog shows of it: its state, expiry and data store.
    A disk's point has one store (OperationalStore, the snapshot); `visible` is False while
    Backup deletes or moves that copy, absent in older answers (None: not said)."""
    props = dig(rp, "properties")
    stores = [s for s in dig(props, "recoveryPointDataStoresDetails") or []
              if isinstance(s, dict)]
    store = stores[0] if stores else {}
    visible = dig(store, "visible")
    return RecoveryPoint(
        id=rp_id, time=when, state=text(props, "recoveryPointState"),
        expiry_time=iso(dig(props, "expiryTime") or dig(store, "expiryTime")),
        data_store=text(store, "type"),
        data_store_visible=visible if isinstance(visible, bool) else None)
