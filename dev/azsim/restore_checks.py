"""What the Backup service checks before (and when) it restores a disk.

Codes and messages are the documented Azure Disk Backup ones (disk-backup-troubleshoot.md, via
the reference). Only the role definitions the docs support count: Disk Restore Operator on the
target resource group, Disk Snapshot Contributor on the snapshot resource group, Reader on the
Disk Encryption Set of a CMK disk; each at that scope or above, and only once propagated.
"""

from __future__ import annotations

from typing import Any

from . import roles
from .auth import has_role
from .dataprotection import JOB_TYPE, snapshot_of, snapshot_rg_of
from .errors import bad_request
from .state import SimState

_MESSAGES = {
    "UserErrorRestoreTargetRGNotFound":
        "Operation failed as the Target Resource Group does not exist.",
    "UserErrorNotEnoughPermissionOnTargetRG":
        "Azure Backup Service requires additional permissions on the Target Resource Group to "
        "do this operation.",
    "UserErrorSnapshotRGNotFound":
        "Could not perform the operation as Snapshot Data store Resource Group does not exist.",
    "UserErrorNotEnoughPermissionOnSnapshotRG":
        "Azure Backup Service requires additional permissions on the Snapshot Data store "
        "Resource Group to do this operation.",
    "UserErrorDiskSnapshotNotFound": "The disk snapshot for this Restore point has been deleted.",
    "UserErrorMSIPermissionsNotPresentOnDES":
        "Azure Backup Service needs permission to access the disk encryption set used with the "
        "disk.",
    "UserErrorDESKeyVaultKeyDisabled":
        "The key vault key used for disk encryption set is not in enabled state.",
    "UserErrorSameNameDiskAlreadyExists":
        "Could not restore as a Disk with same name already exists in the selected target "
        "resource group",
    "UserErrorDiskBackupAuthorizationFailed":
        "Backup Vault managed identity is missing the necessary permissions to do this "
        "operation.",
    # Not in the troubleshooting doc: the simulator's name for the vault's
    # crossSubscriptionRestoreSettings refusing a target in another subscription.
    "UserErrorCrossSubscriptionRestoreNotEnabled":
        "Cross subscription restore is disabled for this Backup vault.",
}


def fail(code: str) -> None:
    raise bad_request(code, _MESSAGES[code])


def run(state: SimState, bi: dict[str, Any], rp: dict[str, Any], target_id: str,
        identity_url: str | None, at: float) -> None:
    """Raise the first failing check's ArmError, in the order the service reports them."""
    vault = state.get(bi["id"].split("/backupInstances/")[0])
    principal = _vault_principal(vault, identity_url)
    target_rg = "/".join(target_id.split("/")[:5])
    if state.get(target_rg) is None:
        fail("UserErrorRestoreTargetRGNotFound")
    cross = vault["properties"]["featureSettings"]["crossSubscriptionRestoreSettings"]["state"]
    if target_id.split("/")[2].lower() != vault["id"].split("/")[2].lower() and cross != "Enabled":
        fail("UserErrorCrossSubscriptionRestoreNotEnabled")
    if not has_role(state, principal, roles.DISK_RESTORE_OPERATOR, target_rg, at):
        fail("UserErrorNotEnoughPermissionOnTargetRG")
    snapshot_rg = snapshot_rg_of(bi)
    if state.get(snapshot_rg) is None:
        fail("UserErrorSnapshotRGNotFound")
    if not has_role(state, principal, roles.DISK_SNAPSHOT_CONTRIBUTOR, snapshot_rg, at):
        fail("UserErrorNotEnoughPermissionOnSnapshotRG")
    snapshot = snapshot_of(state, rp)
    if snapshot is None:  # deleted or moved: the resource is the only record of it
        fail("UserErrorDiskSnapshotNotFound")
    _check_encryption_set(state, principal, snapshot, at)
    if state.get(target_id) is not None or (
            state.same_name_rule == "jobRunning" and _restore_running(state, target_id)):
        fail("UserErrorSameNameDiskAlreadyExists")


def _vault_principal(vault: Any, identity_url: str | None) -> str:
    identity = (vault or {}).get("identity") or {}
    if identity_url is None:
        principal = identity.get("principalId")
    else:
        uamis = {k.lower(): v for k, v in (identity.get("userAssignedIdentities") or {}).items()}
        principal = uamis.get(identity_url.lower(), {}).get("principalId")
    if not principal:
        fail("UserErrorDiskBackupAuthorizationFailed")
    return principal  # type: ignore[return-value]


def _check_encryption_set(state: SimState, principal: str, snapshot: dict[str, Any],
                          at: float) -> None:
    """The set the snapshot is encrypted with: the restored disk is made from the snapshot."""
    des_id = snapshot["properties"].get("encryption", {}).get("diskEncryptionSetId")
    if not des_id:
        return
    if not has_role(state, principal, roles.READER, des_id, at):
        fail("UserErrorMSIPermissionsNotPresentOnDES")
    des = state.get(des_id)
    if des is not None and not des["_keyEnabled"]:
        fail("UserErrorDESKeyVaultKeyDisabled")


def _restore_running(state: SimState, target_id: str) -> bool:
    """A restore job still creating `target_id` (the scenario's stricter `sameNameRule`)."""
    return any(
        job["properties"]["status"] == "InProgress"
        and job["properties"]["extendedInfo"].get("recoveryDestination", "").lower()
        == target_id.lower()
        for job in state.resources.values() if job.get("type") == JOB_TYPE
    )
