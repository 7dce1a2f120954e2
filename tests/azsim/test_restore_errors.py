"""validateRestore / restore failures: each documented error code, where the service reports it
(operation status `Failed`), and the synchronous 400s for requests the service refuses outright."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from azsim.roles import DISK_RESTORE_OPERATOR
from azure.core.exceptions import HttpResponseError

if TYPE_CHECKING:
    from conftest import Demo

OTHER_SUB = "7e3a2b1c-0000-4000-8000-0000000c0002"
DES = "/subscriptions/{subscriptionId}/resourceGroups/rg-keys/providers/Microsoft.Compute/" \
      "diskEncryptionSets/des-cmk"


def validation_error(demo: Demo, disk: str, target: str, target_rg: str | None = None,
                     edit: Callable[[dict[str, Any]], None] | None = None) -> str:
    bi = demo.backup_instance(disk)
    request = demo.restore_request(demo.latest_point(bi.name).name, target, target_rg)
    if edit:
        request = request.as_dict()
        edit(request)
    with pytest.raises(HttpResponseError) as failed:
        demo.finish(demo.validate(bi.name, request), 45)
    assert failed.value.status_code == 200  # reported by the operation status, not the POST
    return failed.value.error.code


def _drop_snapshot_role(spec: dict[str, Any]) -> None:
    spec["roleAssignments"] = [a for a in spec["roleAssignments"]
                               if a["role"] != "Disk Snapshot Contributor"]


def _drop_snapshot_group(spec: dict[str, Any]) -> None:
    spec["resourceGroups"] = [g for g in spec["resourceGroups"] if g["name"] != "rg-snapshots"]


def _delete_latest_snapshot(spec: dict[str, Any]) -> None:
    spec["backupVaults"][0]["backupInstances"][1]["recoveryPoints"]["deletedSnapshots"] = [0]


def _disable_key(spec: dict[str, Any]) -> None:
    spec["diskEncryptionSets"][0]["keyEnabled"] = False


def _other_subscription(spec: dict[str, Any]) -> None:
    spec["resourceGroups"].append({"name": "rg-elsewhere", "subscriptionId": OTHER_SUB})
    spec["backupVaults"][0]["crossSubscriptionRestore"] = "Disabled"


@pytest.mark.parametrize(("edit", "grants", "disk", "target_rg", "code"), [
    (None, "", "vm-app01-data0", None, "UserErrorNotEnoughPermissionOnTargetRG"),
    (None, "", "vm-app01-data0", "rg-missing", "UserErrorRestoreTargetRGNotFound"),
    (_drop_snapshot_role, "dro", "vm-app01-data0", None,
     "UserErrorNotEnoughPermissionOnSnapshotRG"),
    (_drop_snapshot_group, "dro", "vm-app01-data0", None, "UserErrorSnapshotRGNotFound"),
    (_delete_latest_snapshot, "dro", "vm-app01-data0", None, "UserErrorDiskSnapshotNotFound"),
    (None, "dro", "vm-app01-data1", None, "UserErrorMSIPermissionsNotPresentOnDES"),
    (_disable_key, "dro+des", "vm-app01-data1", None, "UserErrorDESKeyVaultKeyDisabled"),
])
def test_validation_error_codes(make_demo: Callable[..., Demo], edit: Any, grants: str,
                                disk: str, target_rg: str | None, code: str) -> None:
    chosen = {"dro": ("/subscriptions/{subscriptionId}/resourceGroups/rg-restore-target",
                      "Disk Restore Operator", "vault"),
              "des": (DES, "Reader", "vault")}
    demo = make_demo(edit, tuple(chosen[g] for g in grants.split("+") if g))
    assert validation_error(demo, disk, "restored", target_rg) == code


def test_cross_subscription_target_needs_the_vault_setting(make_demo: Callable[..., Demo]
                                                           ) -> None:
    demo = make_demo(_other_subscription)
    bi = demo.backup_instance("vm-app01-data0")
    request = demo.restore_request(demo.latest_point(bi.name).name, "restored").as_dict()
    request["restoreTargetInfo"]["datasourceInfo"]["resourceID"] = (
        f"/subscriptions/{OTHER_SUB}/resourceGroups/rg-elsewhere/providers/Microsoft.Compute/"
        "disks/restored")
    with pytest.raises(HttpResponseError) as failed:
        demo.finish(demo.validate(bi.name, request), 45)
    assert failed.value.error.code == "UserErrorCrossSubscriptionRestoreNotEnabled"


def test_unknown_user_assigned_identity(granted: Demo) -> None:
    def use_uami(request: dict[str, Any]) -> None:
        request["identityDetails"] = {"useSystemAssignedIdentity": False,
                                      "userAssignedIdentityArmUrl": "/subscriptions/x/uami"}
    assert validation_error(granted, "vm-app01-data0", "restored", edit=use_uami) == \
        "UserErrorDiskBackupAuthorizationFailed"


def test_same_name_disk_already_exists(granted: Demo) -> None:
    granted.c.compute.disks.begin_create_or_update(granted.target_rg, "taken", {
        "location": "westeurope",
        "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 8}})
    assert validation_error(granted, "vm-app01-data0", "taken") == \
        "UserErrorSameNameDiskAlreadyExists"


def test_second_trigger_for_the_same_disk_fails_while_and_after_the_first_runs(
        granted: Demo) -> None:
    """TriggerRestore is not idempotent: a re-sent trigger answers the same-name error (with
    the stricter `sameNameRule` jobRunning, also while the first job runs)."""
    granted.sim.state.same_name_rule = "jobRunning"
    bi = granted.backup_instance("vm-app01-data0")
    request = granted.restore_request(granted.latest_point(bi.name).name, "once")
    first = granted.finish(granted.trigger(bi.name, request), 10).job_id
    with pytest.raises(HttpResponseError) as running:
        granted.finish(granted.trigger(bi.name, request), 10)
    assert running.value.error.code == "UserErrorSameNameDiskAlreadyExists"
    granted.clock.advance(400)
    with pytest.raises(HttpResponseError) as done:
        granted.finish(granted.trigger(bi.name, request), 10)
    assert done.value.error.code == "UserErrorSameNameDiskAlreadyExists"
    jobs = [j for j in granted.c.dataprotection.jobs.list(granted.vault_rg, granted.vault)
            if j.properties.operation == "Restore"]
    assert [(j.id, j.properties.status) for j in jobs] == [(first, "Completed")]


def test_revoked_snapshot_role_keeps_working_until_propagated(demo: Demo) -> None:
    operator = demo.clients_as("operator")
    snapshots = demo.rg_id("rg-snapshots")
    demo.grant(demo.rg_id(demo.target_rg), DISK_RESTORE_OPERATOR, demo.vault_principal,
               str(uuid.uuid4()))
    demo.clock.advance(240)
    existing = next(iter(operator.authorization.role_assignments.list_for_scope(
        snapshots, filter="atScope()")))
    operator.authorization.role_assignments.delete(snapshots, existing.name)
    bi = demo.backup_instance("vm-app01-data0")
    request = demo.restore_request(demo.latest_point(bi.name).name, "restored")
    demo.finish(demo.validate(bi.name, request), 45)  # still effective
    demo.clock.advance(240)
    with pytest.raises(HttpResponseError) as failed:
        demo.finish(demo.validate(bi.name, request), 45)
    assert failed.value.error.code == "UserErrorNotEnoughPermissionOnSnapshotRG"
    operator.close()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("recoveryPointId", "0" * 32, "Recovery point"),
    ("objectType", "AzureBackupRecoveryTimeBasedRestoreRequest", "RecoveryPointBased"),
    ("sourceDataStoreType", "VaultStore", "OperationalStore"),
    ("target", "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z",
     "resourceID"),
    ("location", "northeurope", "region"),
])
def test_requests_refused_synchronously(granted: Demo, field: str, value: str,
                                        message: str) -> None:
    bi = granted.backup_instance("vm-app01-data0")
    request = granted.restore_request(granted.latest_point(bi.name).name, "restored").as_dict()
    if field == "target":
        request["restoreTargetInfo"]["datasourceInfo"]["resourceID"] = value
    elif field == "location":
        request["restoreTargetInfo"]["restoreLocation"] = value
    else:
        request[field] = value
    with pytest.raises(HttpResponseError) as refused:
        granted.trigger(bi.name, request)
    assert refused.value.status_code == 400
    assert message in refused.value.error.message


def test_lowercase_resource_id_is_accepted_as_the_cli_sends_it(granted: Demo) -> None:
    bi = granted.backup_instance("vm-app01-data0")
    request = granted.restore_request(granted.latest_point(bi.name).name, "cli").as_dict()
    info = request["restoreTargetInfo"]["datasourceInfo"]
    info["resourceId"] = info.pop("resourceID")
    assert granted.finish(granted.trigger(bi.name, request), 10).job_id
