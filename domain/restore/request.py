"""The restore request: one JSON schema for HTTP and the queue, validated fully at the edge.

Every bad field is reported, not just the first, so a caller fixes a request in one round trip.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.errors import FieldError, InvalidRequest
from domain.resource_id import DISK_NAME, InvalidResourceId, ResourceId

SCHEMA_VERSION = 1
CACHING = ("None", "ReadOnly", "ReadWrite")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_TOP_LEVEL = {"requestId", "source", "recoveryPoint", "target", "attach", "swapOsDisk", "dryRun",
              "reason"}
MAX_REASON = 500
DISK = "Microsoft.Compute/disks"
BACKUP_INSTANCE = "Microsoft.DataProtection/backupVaults/backupInstances"
VM = "Microsoft.Compute/virtualMachines"


@dataclass(frozen=True)
class RecoveryPointChoice:
    """"latest", a recovery point id, or the newest point strictly before a time."""

    kind: str  # latest | id | before
    value: str | None = None

    def to_json(self) -> Any:
        return "latest" if self.kind == "latest" else {self.kind: self.value}


@dataclass(frozen=True)
class Attach:
    vm_id: str
    lun: int | None = None
    caching: str = "None"


@dataclass(frozen=True)
class RestoreRequest:
    request_id: str | None
    source_disk_id: str | None
    source_backup_instance_id: str | None
    recovery_point: RecoveryPointChoice
    target_resource_group_id: str
    target_disk_name: str
    attach: Attach | None = None
    swap_vm_id: str | None = None
    dry_run: bool = False
    reason: str | None = None  # why (a ticket, an incident): kept in the audit trail

    @property
    def target_disk_id(self) -> str:
        return f"{self.target_resource_group_id}/providers/Microsoft.Compute/disks/{self.target_disk_name}"

    def to_dict(self) -> dict[str, Any]:
        source = ({"diskId": self.source_disk_id} if self.source_disk_id
                  else {"backupInstanceId": self.source_backup_instance_id})
        doc: dict[str, Any] = {
            "schema": SCHEMA_VERSION, "requestId": self.request_id, "source": source,
            "recoveryPoint": self.recovery_point.to_json(),
            "target": {"resourceGroupId": self.target_resource_group_id,
                       "diskName": self.target_disk_name},
            "dryRun": self.dry_run}
        if self.attach:
            doc["attach"] = {"vmId": self.attach.vm_id, "lun": self.attach.lun,
                             "caching": self.attach.caching}
        if self.swap_vm_id:
            doc["swapOsDisk"] = {"vmId": self.swap_vm_id}
        if self.reason:
            doc["reason"] = self.reason
        return doc

    @classmethod
    def from_dict(cls, doc: Any) -> RestoreRequest:
        return _Parser(doc).parse()

    def instance_id(self) -> str:
        """The orchestration instance id: from requestId, else a hash of the request, so the
        same request sent twice (HTTP retry, queue redelivery) names the same run. A dry run has
        its own prefix: planning first with a requestId must not take the real run's id."""
        prefix = "dryrun" if self.dry_run else "restore"
        if self.request_id:
            return f"{prefix}-{self.request_id}"
        body = dict(self.to_dict(), requestId=None)
        body.pop("reason", None)  # the same restore, whatever reason is given
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:24]
        return f"{prefix}-{digest}"


class _Parser:
    def __init__(self, doc: Any) -> None:
        self.doc, self.errors = doc, []

    def bad(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field, message))

    def parse(self) -> RestoreRequest:
        doc = self.doc
        if not isinstance(doc, dict):
            raise InvalidRequest(errors=[FieldError("", "the request must be a JSON object")])
        for key in sorted(set(doc) - _TOP_LEVEL - {"schema"}):
            self.bad(key, "unknown field")
        request_id = self.request_id(doc.get("requestId"))
        disk, bi = self.source(doc.get("source"))
        point = self.recovery_point(doc.get("recoveryPoint", "latest"))
        rg, name = self.target(doc.get("target"))
        attach = self.attach(doc.get("attach"))
        swap = self.swap(doc.get("swapOsDisk"))
        if doc.get("attach") is not None and doc.get("swapOsDisk") is not None:
            self.bad("swapOsDisk", "cannot be combined with attach: choose one")
        dry_run = doc.get("dryRun", False)
        if not isinstance(dry_run, bool):
            self.bad("dryRun", "must be true or false")
        reason = doc.get("reason")
        if reason is not None and (not isinstance(reason, str) or not reason.strip()
                                   or len(reason) > MAX_REASON):
            self.bad("reason", f"must be a non-empty string of at most {MAX_REASON} characters")
            reason = None
        if self.errors:
            raise InvalidRequest(errors=self.errors)
        return RestoreRequest(request_id, disk, bi, point, rg, name, attach, swap, bool(dry_run),
                              reason.strip() if reason else None)

    def request_id(self, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not _REQUEST_ID.fullmatch(value):  # "$" takes "x\n"
            self.bad("requestId", "must be 1-100 letters, digits, '.', '_' or '-', starting with "
                                  "a letter or digit")
            return None
        return value

    def arm_id(self, field: str, value: Any, expected: str) -> str | None:
        if value is None:
            self.bad(field, "is required")
            return None
        try:
            rid = ResourceId.parse(value)
        except InvalidResourceId as exc:
            self.bad(field, str(exc))
            return None
        if not rid.is_type(expected):
            self.bad(field, f"must be a {expected} id, got a {rid.type} id")
            return None
        return str(rid)

    def source(self, value: Any) -> tuple[str | None, str | None]:
        if not isinstance(value, dict) or len(set(value) & {"diskId", "backupInstanceId"}) != 1:
            self.bad("source", 'must be {"diskId": "<ARM id>"} or {"backupInstanceId": "<ARM id>"}')
            return None, None
        for key in sorted(set(value) - {"diskId", "backupInstanceId"}):
            self.bad(f"source.{key}", "unknown field")
        if "diskId" in value:
            return self.arm_id("source.diskId", value["diskId"], DISK), None
        return None, self.arm_id("source.backupInstanceId", value["backupInstanceId"],
                                 BACKUP_INSTANCE)

    def recovery_point(self, value: Any) -> RecoveryPointChoice:
        if value == "latest":
            return RecoveryPointChoice("latest")
        if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("id"), str) \
                and value["id"].strip():
            return RecoveryPointChoice("id", value["id"].strip())
        if isinstance(value, dict) and len(value) == 1 and "before" in value:
            try:
                when = datetime.fromisoformat(zulu(str(value["before"])))
            except ValueError:
                self.bad("recoveryPoint.before", "must be an ISO-8601 time")
                return RecoveryPointChoice("latest")
            if when.tzinfo is None:
                self.bad("recoveryPoint.before", "must include a time zone (e.g. Z)")
                return RecoveryPointChoice("latest")
            try:
                return RecoveryPointChoice("before", when.astimezone(UTC).isoformat())
            except OverflowError:  # 0001-01-01T00:00+01:00: before the first UTC time there is
                self.bad("recoveryPoint.before", "is out of range")
                return RecoveryPointChoice("latest")
        self.bad("recoveryPoint", 'must be "latest", {"id": "<recovery point id>"} or '
                                  '{"before": "<ISO-8601 time>"}')
        return RecoveryPointChoice("latest")

    def target(self, value: Any) -> tuple[str, str]:
        if not isinstance(value, dict):
            self.bad("target", 'is required: {"resourceGroupId": "<ARM id>", "diskName": "<name>"}')
            return "", ""
        for key in sorted(set(value) - {"resourceGroupId", "diskName"}):
            self.bad(f"target.{key}", "unknown field")
        rg = self.arm_id("target.resourceGroupId", value.get("resourceGroupId"), "resourceGroups")
        name = value.get("diskName")
        if not isinstance(name, str) or not DISK_NAME.fullmatch(name):
            self.bad("target.diskName", "must be 1-80 letters, digits, '_', '.' or '-', starting "
                                        "with a letter or digit and ending with one or '_'")
            name = ""
        return rg or "", name

    def attach(self, value: Any) -> Attach | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.bad("attach", 'must be {"vmId": "<ARM id>", "lun": <int>, "caching": "..."}')
            return None
        for key in sorted(set(value) - {"vmId", "lun", "caching"}):
            self.bad(f"attach.{key}", "unknown field")
        vm = self.arm_id("attach.vmId", value.get("vmId"), VM)
        lun = value.get("lun")
        if isinstance(lun, float) and lun.is_integer():
            lun = int(lun)  # JSON has one number type: 3.0 is the integer 3 (as JSON Schema says)
        if lun is not None and (not isinstance(lun, int) or isinstance(lun, bool)
                                or not 0 <= lun <= 63):
            self.bad("attach.lun", "must be an integer from 0 to 63")
        caching = value.get("caching", "None")
        if caching not in CACHING:
            self.bad("attach.caching", f"must be one of {', '.join(CACHING)}")
        return Attach(vm, lun, caching) if vm else None

    def swap(self, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, dict) or set(value) != {"vmId"}:
            self.bad("swapOsDisk", 'must be {"vmId": "<ARM id>"}')
            return None
        return self.arm_id("swapOsDisk.vmId", value["vmId"], VM)


def parse_json(data: bytes | str) -> Any:
    """A request body or message as JSON; ValueError saying why not. json.loads raises
    RecursionError, not ValueError, for nesting deeper than the interpreter's stack allows, which
    escaped every entry point's `except ValueError` as a 500 (or a retried queue message)."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("it is nested too deeply (arrays and objects within one another)") \
            from None


def zulu(text: str) -> str:
    """RFC 3339 allows "Z" or "z" for UTC; fromisoformat in Python 3.11 reads only "Z"."""
    return text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
