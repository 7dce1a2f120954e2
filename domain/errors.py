"""Every failure a restore can end in: a stable code, whether retrying can help, and what to do.

Messages start with the code ("RoleNotYetEffective: ...") because an activity's exception reaches
the orchestrator as a bare Exception whose text is all that survives; `code_of` reads it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar


class RestoreError(Exception):
    code: ClassVar[str] = "RestoreError"
    retryable: ClassVar[bool] = False

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


def _error(name: str, *, retryable: bool = False) -> type[RestoreError]:
    return type(name, (RestoreError,), {"code": name, "retryable": retryable})


# Permanent: the plan or Azure says no; retrying the same request will not help.
BackupInstanceNotFound = _error("BackupInstanceNotFound")
RecoveryPointNotFound = _error("RecoveryPointNotFound")
TargetResourceGroupNotFound = _error("TargetResourceGroupNotFound")
TargetDiskExists = _error("TargetDiskExists")
CrossSubscriptionRestoreDisabled = _error("CrossSubscriptionRestoreDisabled")
CrossRegionRestoreUnsupported = _error("CrossRegionRestoreUnsupported")
VmNotFound = _error("VmNotFound")
VmNotSuitable = _error("VmNotSuitable")
SnapshotPermissionsMissing = _error("SnapshotPermissionsMissing")
SnapshotNotFound = _error("SnapshotNotFound")
EncryptionKeyUnavailable = _error("EncryptionKeyUnavailable")
AppNotAuthorized = _error("AppNotAuthorized")
ValidationFailed = _error("ValidationFailed")
RestoreJobFailed = _error("RestoreJobFailed")
AttachFailed = _error("AttachFailed")
SwapFailed = _error("SwapFailed")
DiskInUse = _error("DiskInUse")
ApprovalRejected = _error("ApprovalRejected")
ApprovalTimedOut = _error("ApprovalTimedOut")
PropagationTimedOut = _error("PropagationTimedOut")
RestoreTimedOut = _error("RestoreTimedOut")
Cancelled = _error("Cancelled")
AccessDenied = _error("AccessDenied")  # the caller's access rules do not cover the request
Unauthenticated = _error("Unauthenticated")  # no usable signed-in caller to judge
StorageNotConfigured = _error("StorageNotConfigured")  # AzureWebJobsStorage says nothing

# Transient: worth another attempt.
RoleNotYetEffective = _error("RoleNotYetEffective", retryable=True)
AzureThrottled = _error("AzureThrottled", retryable=True)
AzureUnavailable = _error("AzureUnavailable", retryable=True)

_CODE = re.compile(r"\b([A-Z][A-Za-z]+): ")
KNOWN = {cls.code: cls for cls in RestoreError.__subclasses__()}


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
