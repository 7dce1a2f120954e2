"""What the Azure Backup error codes of a validateRestore / restore mean for a restore.

Codes are the documented Azure Disk Backup ones (see docs/restore.md). Permission codes on the
target side are what a freshly granted role looks like until it has propagated: the orchestrator
keeps probing them until its propagation deadline. Transient codes (and any error the service
marks `isRetryable`) are tried again with a durable backoff within the step's budget
(orchestrations/steps.py `Backoff`). Everything else ends the run with a clear code.
"""

from __future__ import annotations

from domain import errors

# The target name is taken (recoveryOption FailIfExists): a disk with it exists.
SAME_NAME = "UserErrorSameNameDiskAlreadyExists"

# The target-side roles we grant have not reached the vault's identity yet.
NOT_YET_EFFECTIVE = frozenset({
    "UserErrorNotEnoughPermissionOnTargetRG",
    "UserErrorDiskBackupRestoreRGOrMSIPermissionsNotPresent",
    "UserErrorMSIPermissionsNotPresentOnDES",
    "UserErrorDiskBackupAuthorizationFailed",
})

# The service is busy or failed internally: the same request may succeed later. Reported by users
# of the az CLI (azure-cli-extensions #3795: CloudServiceRetryableError on validate-for-restore);
# the concurrency limit is documented (Azure Disk Backup troubleshooting); the throttling codes
# are ARM's and the Data Protection service's 429 codes, in case one ends an operation.
TRANSIENT = frozenset({
    "CloudServiceRetryableError",
    "UserErrorMaxConcurrentOperationLimitReached",
    "SubscriptionRequestsThrottled",
    "TooManyRequests",
    "HTTP429",
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
    "UserErrorSubscriptionDiskQuotaLimitReached": (
        errors.ValidationFailed,
        "the subscription's disk quota is used up: delete unused disks or raise the quota"),
    "UserErrorMissingSubscriptionRegistration": (
        errors.ValidationFailed,
        "register the Microsoft.Compute and Microsoft.Storage resource providers"),
}


def transient(code: str | None, retryable: bool | None = None) -> bool:
    """Whether the same Backup request may succeed later: a transient code, or an error the
    service marked `isRetryable: true`. `isRetryable: false` does not make a transient code
    permanent (CloudServiceRetryableError says "retry" in its name)."""
    return retryable is True or code in TRANSIENT


def classify(code: str | None, message: str | None,
             retryable: bool | None = None) -> errors.RestoreError | None:
    """None for a permission code that may still propagate; else the error to end the run with
    (a transient one, BackupServiceBusy, only once its retries are spent)."""
    if code in NOT_YET_EFFECTIVE:
        return None
    if transient(code, retryable):
        return errors.BackupServiceBusy(
            f"Azure Backup answered {code}: {message or 'no message'}",
            hint="a transient Azure Backup error that outlasted the retries: retry the restore "
                 "later")
    error_type, hint = _PERMANENT.get(code or "", (errors.ValidationFailed, None))
    return error_type(f"Azure Backup answered {code}: {message or 'no message'}", hint=hint)
