"""What the Azure Backup error codes of a validateRestore / restore mean for a restore.

Codes are the documented Azure Disk Backup ones (see docs/restore.md). Permission codes on the
target side are what a freshly granted role looks like until it has propagated: the orchestrator
keeps probing them until its propagation deadline. Transient codes (and any error the service
marks `isRetryable`) are tried again with a durable backoff within the step's budget
(orchestrations/steps.py `Backoff`). The day's restore limit (RESTORE_LIMIT) never is: it ends
the run with RestoreBudgetSpent. Everything else ends the run with a clear code.
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

# The restore past the backup instance's 10 a day. Azure does not document the code Disk Backup
# answers; these are Azure Backup's per-day operation limits: CloudDosAbsoluteLimitReached ("the
# limit on number of operations permitted in 24 hours", the workload backup troubleshooting docs;
# users met it on the 11th restore of a VM backup item in 24 h, Azure/azure-content#5067), its
# vault-wide ...WithRetry, and Data Protection's CloudDosTimeboudLimitReached (azure-cli#32441).
# Never transient, whatever `isRetryable` or the HTTP status (a 429) says: another attempt today
# fails again and may count against the day. Where it comes (the POST, its operation, the job)
# is not documented either: each ends the run with RestoreBudgetSpent.
RESTORE_LIMIT = frozenset({
    "CloudDosAbsoluteLimitReached",
    "CloudDosAbsoluteLimitReachedWithRetry",
    "CloudDosTimeboudLimitReached",
})
BUDGET_HINT = ("Azure Backup allows 10 restores of a backup instance a day, and restores by "
               "other runs, drills or people took the last one since this run planned: start "
               "the restore again once one frees up, at the latest 24 h after the oldest of the "
               "last 24 h's restores (a plan then says when)")


def budget_spent(code: str, message: str | None, where: str = "the restore") -> errors.RestoreError:
    """The run's error for a restore Azure refused for the day's limit (`where` it said so)."""
    return errors.RestoreBudgetSpent(
        f"Azure Backup refused {where}: the backup instance has no restore left today ({code}: "
        f"{message or 'no message'})", hint=BUDGET_HINT)


def job_failure(status: str, code: str | None, message: str | None) -> errors.RestoreError:
    """The error for a restore job that ended `status` with `code` (not a transient one)."""
    if code in RESTORE_LIMIT:
        return budget_spent(code, message, "the restore's job")
    return errors.RestoreJobFailed(f"restore job {status}: {code}: {message}")


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
    permanent (CloudServiceRetryableError says "retry" in its name); nor does `true` make the
    daily limit transient (RESTORE_LIMIT)."""
    if code in RESTORE_LIMIT:
        return False
    return retryable is True or code in TRANSIENT


def classify(code: str | None, message: str | None,
             retryable: bool | None = None) -> errors.RestoreError | None:
    """None for a permission code that may still propagate; else the error to end the run with
    (a transient one, BackupServiceBusy, only once its retries are spent)."""
    if code in NOT_YET_EFFECTIVE:
        return None
    if code in RESTORE_LIMIT:
        return budget_spent(code, message)
    if transient(code, retryable):
        return errors.BackupServiceBusy(
            f"Azure Backup answered {code}: {message or 'no message'}",
            hint="a transient Azure Backup error that outlasted the retries: retry the restore "
                 "later")
    error_type, hint = _PERMANENT.get(code or "", (errors.ValidationFailed, None))
    return error_type(f"Azure Backup answered {code}: {message or 'no message'}", hint=hint)
