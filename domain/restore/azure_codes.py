"""What the Azure Backup error codes of a validateRestore / restore mean for a restore.

Codes are the documented Azure Disk Backup ones (see docs/restore.md). Permission codes on the
target side are what a freshly granted role looks like until it has propagated: the orchestrator
keeps probing them until its propagation deadline. Everything else ends the run with a clear code.
"""

from __future__ import annotations

from domain import errors

# The target-side roles we grant have not reached the vault's identity yet.
NOT_YET_EFFECTIVE = frozenset({
    "UserErrorNotEnoughPermissionOnTargetRG",
    "UserErrorDiskBackupRestoreRGOrMSIPermissionsNotPresent",
    "UserErrorMSIPermissionsNotPresentOnDES",
    "UserErrorDiskBackupAuthorizationFailed",
})

_PERMANENT: dict[str, tuple[type[errors.RestoreError], str]] = {
    "UserErrorSameNameDiskAlreadyExists": (
        errors.TargetDiskExists, "choose another target disk name or delete the existing disk"),
    "UserErrorRestoreTargetRGNotFound": (
        errors.TargetResourceGroupNotFound, "create the target resource group first"),
    "UserErrorNotEnoughPermissionOnSnapshotRG": (
        errors.SnapshotPermissionsMissing,
        "give the vault's identity Disk Snapshot Contributor on the snapshot resource group"),
    "UserErrorDiskBackupSnapshotRGOrMSIPermissionsNotPresent": (
        errors.SnapshotPermissionsMissing,
        "the snapshot resource group is gone or the vault's identity lacks Disk Snapshot "
        "Contributor on it"),
    "UserErrorSnapshotRGOrMSIPermissionsNotPresent": (
        errors.SnapshotPermissionsMissing,
        "the snapshot resource group is gone or the vault's identity lacks Disk Snapshot "
        "Contributor on it"),
    "UserErrorSnapshotRGNotFound": (
        errors.SnapshotNotFound, "the snapshot resource group no longer exists"),
    "UserErrorDiskSnapshotNotFound": (
        errors.SnapshotNotFound,
        "this recovery point's snapshot was deleted or moved: pick another recovery point"),
    "UserErrorSnapshotMetadataNotFound": (
        errors.SnapshotNotFound,
        "this recovery point's snapshot metadata was deleted: pick another recovery point"),
    "UserErrorDESKeyVaultKeyDisabled": (
        errors.EncryptionKeyUnavailable, "enable the Key Vault key of the disk encryption set"),
    "UserErrorDESKeyVaultKeyNotAvailable": (
        errors.EncryptionKeyUnavailable,
        "the disk encryption set's Key Vault key is not available"),
}


def classify(code: str | None, message: str | None) -> errors.RestoreError | None:
    """None for a permission code that may still propagate; else the error to end the run with."""
    if code in NOT_YET_EFFECTIVE:
        return None
    error_type, hint = _PERMANENT.get(code or "", (errors.ValidationFailed, None))
    return error_type(f"Azure Backup answered {code}: {message or 'no message'}", hint=hint)
