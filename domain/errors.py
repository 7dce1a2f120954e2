"""Every failure a restore can end in: a stable code, whether retrying can help, and what to do.

Messages start with the code ("RoleNotYetEffective: ...") because an activity's exception reaches
the orchestrator as a bare Exception whose text is all that survives; `code_of` reads it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar


class RestoreError(Exception):
    """A failure with a stable code (the class name), whether retrying can help, and a hint."""

    code: ClassVar[str] = "RestoreError"
    retryable: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:  # the code is the class's name, so the two never drift
            cls.code = cls.__name__

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message, self.hint = message, hint
        super().__init__(f"{self.code}: {message}" + (f" ({hint})" if hint else ""))

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "hint": self.hint}


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


@dataclass
class InvalidRequest(RestoreError):
    """The request itself is wrong; it can never succeed as sent."""

    errors: list[FieldError] = field(default_factory=list)
    code: ClassVar[str] = "InvalidRequest"

    def __post_init__(self) -> None:
        summary = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        RestoreError.__init__(self, summary or "invalid request")

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(),
                "errors": [{"field": e.field, "message": e.message} for e in self.errors]}


@dataclass
class RequestIdReused(InvalidRequest):
    """A requestId that already names a run of a different request. The id is the run's
    identity (idempotency key): answering with the other run would drop this request silently,
    and starting it would replace that run; so it is refused, naming every field that differs."""

    run_id: str = ""

    def __post_init__(self) -> None:
        summary = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        RestoreError.__init__(
            self, f"run {self.run_id} was started by this requestId for a different request "
                  f"({summary})",
            hint="send a new requestId for a new request")


class TransientError(RestoreError):
    """A failure worth another attempt: the same call may succeed later."""

    retryable = True


# ---- permanent: the plan or Azure says no; retrying the same request will not help.
class BackupInstanceNotFound(RestoreError):
    """No Backup vault protects the disk (or the named backup instance does not exist)."""


class RecoveryPointNotFound(RestoreError):
    """No recovery point matches the request's `latest`, `id` or `before`."""


class TargetResourceGroupNotFound(RestoreError):
    """The target resource group does not exist."""


class TargetDiskExists(RestoreError):
    """A disk with the target name exists: Azure Backup restores only to a new disk."""


class CrossSubscriptionRestoreDisabled(RestoreError):
    """The target is in another subscription and the vault forbids it (or the disk is CMK-
    encrypted)."""


class CrossRegionRestoreUnsupported(RestoreError):
    """The target is in another region than the vault and the disk."""


class VmNotFound(RestoreError):
    """The VM to attach to or swap on does not exist."""


class VmNotSuitable(RestoreError):
    """The VM cannot take the disk: another region, no free LUN, a different OS type."""


class SnapshotPermissionsMissing(RestoreError):
    """The vault lacks Disk Snapshot Contributor on the snapshot resource group."""


class SnapshotNotFound(RestoreError):
    """The recovery point's snapshot was deleted or moved."""


class EncryptionKeyUnavailable(RestoreError):
    """The Disk Encryption Set's key is disabled or unavailable."""


class RestoreBudgetSpent(RestoreError):
    """The disk's backup instance has no restore left today: Azure Backup allows 10 a day. The
    message names the disk, the count and when a restore frees up (when known)."""


class AppNotAuthorized(RestoreError):
    """The app's own identity may not do something; the message names the action and scope."""


class ValidationFailed(RestoreError):
    """validateRestore failed for another reason; the Azure code is in the message."""


class RestoreJobFailed(RestoreError):
    """The restore job failed."""


class AttachFailed(RestoreError):
    """Attaching the restored disk failed; the restored disk exists."""


class ZoneCopyFailed(RestoreError):
    """Copying the restored disk into the zonal VM's zone failed; the restored disk exists."""


class SwapFailed(RestoreError):
    """An OS swap step failed; the message says whether the original OS disk is back."""


class UndoRefused(RestoreError):
    """An undo cannot put the originals back: the VM changed since, an original is gone or in
    use, or the run took nothing off the VM. Nothing was changed."""


class DiskInUse(RestoreError):
    """A disk to delete is attached to a VM; it is left alone."""


class ApprovalRejected(RestoreError):
    """The attach or swap was rejected by an approver."""


class ApprovalTimedOut(RestoreError):
    """Nobody approved or rejected the attach or swap in time."""


class PropagationTimedOut(RestoreError):
    """The granted roles never took effect within the propagation timeout."""


class RestoreTimedOut(RestoreError):
    """The restore job ran longer than the job timeout."""


class Cancelled(RestoreError):
    """The run was cancelled (POST .../cancel)."""


class AccessDenied(RestoreError):
    """The caller's access rules do not cover the request."""


class Unauthenticated(RestoreError):
    """There is no usable signed-in caller to judge."""


class StorageNotConfigured(RestoreError):
    """AzureWebJobsStorage says nothing the app can reach storage with."""


# ---- transient: worth another attempt.
class RoleNotYetEffective(TransientError):
    """A granted role has not taken effect yet (Azure says so until it propagates)."""


class AzureThrottled(TransientError):
    """Azure throttled the call (429) after the SDK's own retries."""


class AzureUnavailable(TransientError):
    """Azure could not be reached, or answered 5xx, after the SDK's own retries."""


class BackupServiceBusy(TransientError):
    """Azure Backup kept answering a transient error (CloudServiceRetryableError, too many
    concurrent operations, throttling, or an error it marked `isRetryable`) until the step's
    time budget ran out."""


_CODE = re.compile(r"\b([A-Z][A-Za-z]+): ")
def _every(cls: type[RestoreError]) -> list[type[RestoreError]]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_every(sub))]


KNOWN = {cls.code: cls for cls in _every(RestoreError) if cls is not TransientError}


def from_dict(doc: dict[str, Any]) -> RestoreError:
    """The error an activity reported as data (RestoreError.to_dict), as an exception again."""
    code = doc.get("code")
    if code == InvalidRequest.code:
        return InvalidRequest(errors=[FieldError(e["field"], e["message"])
                                      for e in doc.get("errors") or []])
    error_type = KNOWN.get(code or "", RestoreError)
    error = error_type(doc.get("message") or "", hint=doc.get("hint"))
    if error_type is RestoreError and code:
        error.code = code  # type: ignore[misc]  # an unknown code survives the round trip
    return error


def code_of(text: str) -> str | None:
    """The first known error code in an exception text (as it reaches the orchestrator)."""
    for match in _CODE.finditer(text):
        if match.group(1) in KNOWN:
            return match.group(1)
    return None


def as_dict(exc: BaseException) -> dict[str, Any]:
    """Any failure as an error's JSON: a RestoreError as it is; anything else (an activity's bare
    Exception, whose text is all that reaches the orchestrator) by the code its text starts
    with, or as Unexpected."""
    if isinstance(exc, RestoreError):
        return exc.to_dict()
    text = str(exc)
    code = code_of(text) or "Unexpected"
    first = text.split("\n")[0].strip()
    message = first.split(f"{code}: ", 1)[-1] if code != "Unexpected" else first
    return {"code": code, "message": message, "hint": None}
