"""The whole-VM restore request: every protected disk of a VM (or a chosen few) from one point in
time, then, by default, one change of the VM. Its schema is in domain/restore/request.py's
SCHEMAS (`VmRestoreRequest`), the same registry and OpenAPI document as a single disk's.

`parse_restore_body` is what an entry point calls: a body whose `source` has `vmId` is a
whole-VM request, anything else a single disk's (RestoreRequest, unchanged).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from domain.errors import FieldError, InvalidRequest
from domain.resource_id import ResourceId
from domain.restore.request import (
    DEFAULT_DISK_NAME_SUFFIX,
    REQUEST_SCHEMAS,
    RecoveryPointChoice,
    RestoreRequest,
    differences,
    recovery_point_choice,
)

VM_SCHEMA_VERSION = 1
OS = "os"  # the OS disk in `source.disks`; a data disk is its LUN
DiskChoice = str | int
# Why prefixes of its own: a single disk's run is restore-<requestId>, so the same requestId sent
# for a disk and for a VM names two runs, never one taking the other's place.
RUN_PREFIX, DRY_RUN_PREFIX = "restorevm-", "dryrunvm-"
_SOURCE = ('must be {"diskId": "<ARM id>"}, {"backupInstanceId": "<ARM id>"} or '
           '{"vmId": "<VM ARM id>"}')


@dataclass(frozen=True)
class VmRestoreRequest:
    request_id: str | None
    vm_id: str
    disks: tuple[DiskChoice, ...] | None  # None: every protected disk; else "os" first, LUNs up
    recovery_point: RecoveryPointChoice  # latest | before (never an id: that is one disk's)
    target_resource_group_id: str
    disk_name_suffix: str = DEFAULT_DISK_NAME_SUFFIX
    apply: str = "replace"  # replace: data disks in place, OS disk swapped | none: restore only
    dry_run: bool = False
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        source: dict[str, Any] = {"vmId": self.vm_id}
        if self.disks is not None:
            source["disks"] = list(self.disks)
        doc: dict[str, Any] = {
            "schema": VM_SCHEMA_VERSION, "requestId": self.request_id, "source": source,
            "recoveryPoint": self.recovery_point.to_json(),
            "target": {"resourceGroupId": self.target_resource_group_id,
                       "diskNameSuffix": self.disk_name_suffix},
            "apply": self.apply, "dryRun": self.dry_run}
        if self.reason:
            doc["reason"] = self.reason
        return doc

    @classmethod
    def from_dict(cls, doc: Any) -> VmRestoreRequest:
        errors = REQUEST_SCHEMAS.errors("VmRestoreRequest", doc)
        if errors:
            raise InvalidRequest(errors=errors)
        source, target = doc["source"], doc["target"]
        disks = source.get("disks")
        reason = doc.get("reason")
        return cls(
            doc.get("requestId"), str(ResourceId.parse(source["vmId"])),
            _ordered(disks) if disks is not None else None,
            recovery_point_choice(doc.get("recoveryPoint", "latest")),
            str(ResourceId.parse(target["resourceGroupId"])),
            target.get("diskNameSuffix", DEFAULT_DISK_NAME_SUFFIX),
            doc.get("apply", "replace"), doc.get("dryRun", False),
            reason.strip() if reason else None)

    def differences(self, other: VmRestoreRequest) -> list[FieldError]:
        """Where `other` asks for something else, field by field (as a single disk's)."""
        return differences(self.to_dict(), other.to_dict())

    def instance_id(self) -> str:
        """The orchestration instance id: restorevm-<requestId>, else a hash of the request (the
        same request sent twice names one run); a dry run's starts with dryrunvm-."""
        prefix = DRY_RUN_PREFIX if self.dry_run else RUN_PREFIX
        if self.request_id:
            return f"{prefix}{self.request_id}"
        body = dict(self.to_dict(), requestId=None)
        body.pop("reason", None)  # the same restore, whatever reason is given
        body = json.loads(json.dumps(body).lower())  # ids are case-insensitive, as is the rest
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:24]
        return f"{prefix}{digest}"


def is_vm_request(doc: Any) -> bool:
    """Whether a body asks for a whole VM: its `source` is an object with `vmId`."""
    return isinstance(doc, dict) and isinstance(doc.get("source"), dict) and \
        "vmId" in doc["source"]


def parse_restore_body(doc: Any) -> RestoreRequest | VmRestoreRequest:
    """A restore request body (HTTP or queue), either kind, validated in full: raises
    InvalidRequest naming every bad field. A single disk's request reads exactly as
    RestoreRequest.from_dict reads it; only a bad `source` is told that vmId exists too."""
    if is_vm_request(doc):
        return VmRestoreRequest.from_dict(doc)
    try:
        return RestoreRequest.from_dict(doc)
    except InvalidRequest as exc:
        raise InvalidRequest(errors=[FieldError(e.field, _SOURCE) if e.field == "source" else e
                                     for e in exc.errors]) from None


def _ordered(disks: list[Any]) -> tuple[DiskChoice, ...]:
    """"os" first, then the LUNs in order (a LUN sent as 2.0 is 2): the same choice, however it
    is written, is the same request and the same run."""
    luns = sorted(int(d) for d in disks if d != OS)
    return (OS, *luns) if OS in disks else tuple(luns)


