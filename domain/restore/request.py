"""The restore request: one JSON schema for HTTP and the queue, validated fully at the edge.

SCHEMAS is that schema, and the OpenAPI document's components for it
(dev/tools/openapi_document.py): the app validates with it (domain/validation.py), then builds the
record. Every bad field is reported, not just the first, so a caller fixes a request in one round
trip. A whole VM's request (`VmRestoreRequest`, read by domain/restore/vm_request.py) is in the
same SCHEMAS: one registry, one document.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.errors import FieldError, InvalidRequest
from domain.resource_id import DISK_NAME, ResourceId, id_problem, id_schema
from domain.validation import Schemas, check, ref

SCHEMA_VERSION = 1
CACHING = ("None", "ReadOnly", "ReadWrite")
ATTACH_MODES = ("add", "replace")
VM_APPLY = ("replace", "none")  # a whole-VM request: replace the VM's disks, or restore only
DEFAULT_DISK_NAME_SUFFIX = "-restored"
# A whole-VM request's restored disks are <source name><suffix>: the suffix keeps a disk name's
# end (a letter, digit or "_") and leaves at least one character of the name (80 in all).
DISK_NAME_SUFFIX = r"^(?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$"
REQUEST_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
_REQUEST_ID = re.compile(REQUEST_ID.replace("$", r"\Z"))
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
    mode: str = "add"  # add: beside the VM's disks | replace: in the source disk's place


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
        return (f"{self.target_resource_group_id}/providers/Microsoft.Compute/disks/"
                f"{self.target_disk_name}")

    def to_dict(self) -> dict[str, Any]:
        source = ({"diskId": self.source_disk_id} if self.source_disk_id
                  else {"backupInstanceId": self.source_backup_instance_id})
        doc: dict[str, Any] = {
            "schema": SCHEMA_VERSION, "requestId": self.request_id, "source": source,
            "recoveryPoint": self.recovery_point.to_json(),
            "target": {"resourceGroupId": self.target_resource_group_id,
                       "diskName": self.target_disk_name},
            "dryRun": self.dry_run}
        if self.attach and self.attach.mode == "replace":  # the replaced disk's LUN and caching
            doc["attach"] = {"vmId": self.attach.vm_id, "mode": "replace"}
        elif self.attach:  # the shape of earlier requests, unchanged
            doc["attach"] = {"vmId": self.attach.vm_id, "lun": self.attach.lun,
                             "caching": self.attach.caching}
        if self.swap_vm_id:
            doc["swapOsDisk"] = {"vmId": self.swap_vm_id}
        if self.reason:
            doc["reason"] = self.reason
        return doc

    @classmethod
    def from_dict(cls, doc: Any) -> RestoreRequest:
        return _request(doc)

    def differences(self, other: RestoreRequest) -> list[FieldError]:
        """Where `other` asks for something else, field by field."""
        return differences(self.to_dict(), other.to_dict())

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


def differences(mine_doc: dict[str, Any], theirs_doc: dict[str, Any]) -> list[FieldError]:
    """Where a request's JSON `theirs_doc` asks for something else than `mine_doc`, field by
    field (the reason aside: the same restore, whatever the why); resource ids compare as ARM
    does, ignoring case."""
    mine, theirs = _flat(mine_doc), _flat(theirs_doc)
    return [FieldError(key, f"the run has {mine.get(key)!r}, this request {theirs.get(key)!r}")
            for key in sorted((set(mine) | set(theirs)) - {"reason"})
            if _same(mine.get(key)) != _same(theirs.get(key))]


def _flat(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        elif value is not None:
            flat[f"{prefix}{key}"] = value
    return flat


def _same(value: Any) -> Any:
    return value.lower() if isinstance(value, str) and value.startswith("/subscriptions/") \
        else value


def _request(doc: Any) -> RestoreRequest:
    errors = REQUEST_SCHEMAS.errors("RestoreRequest", doc)
    if errors:
        raise InvalidRequest(errors=errors)
    source, target = doc["source"], doc["target"]
    attach, swap = doc.get("attach"), doc.get("swapOsDisk")
    reason = doc.get("reason")
    return RestoreRequest(
        doc.get("requestId"), _id(source.get("diskId")), _id(source.get("backupInstanceId")),
        recovery_point_choice(doc.get("recoveryPoint", "latest")),
        _rid(target["resourceGroupId"]), target["diskName"],
        Attach(_rid(attach["vmId"]), None if attach.get("lun") is None else int(attach["lun"]),
               attach.get("caching", "None"), attach.get("mode", "add"))
        if attach is not None else None,
        _id(swap["vmId"]) if swap is not None else None, doc.get("dryRun", False),
        reason.strip() if reason else None)


def _id(value: str | None) -> str | None:
    return _rid(value) if value is not None else None


def _rid(value: str) -> str:
    return str(ResourceId.parse(value))


def recovery_point_choice(value: Any) -> RecoveryPointChoice:
    """A validated `recoveryPoint` as its choice (latest, id or before, the time in UTC)."""
    if value == "latest":
        return RecoveryPointChoice("latest")
    if "id" in value:
        return RecoveryPointChoice("id", value["id"].strip())
    when = datetime.fromisoformat(zulu(value["before"]))
    return RecoveryPointChoice("before", when.astimezone(UTC).isoformat())


@check("resource-id")
def _resource_id(value: Any, schema: Any) -> str | None:
    return id_problem(value, schema["x-resource-type"])


@check("time-with-zone")
def _time_with_zone(value: Any, schema: Any) -> str | None:
    """ISO 8601 as Python reads it (a little more than RFC 3339's date-time), with a zone."""
    try:
        when = datetime.fromisoformat(zulu(str(value)))
    except ValueError:
        return "must be an ISO-8601 time"
    if when.tzinfo is None:
        return "must include a time zone (e.g. Z)"
    try:
        when.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00: before the first UTC time there is
        return "is out of range"
    return None


_RECOVERY_POINT = ('must be "latest", {"id": "<recovery point id>"} or '
                   '{"before": "<ISO-8601 time>"}')


def _before(message: str) -> dict[str, Any]:
    return {"type": "object", "required": ["before"],
            "properties": {"before": {
                "type": "string", "description": "An ISO 8601 time with a time zone, e.g. "
                "`2026-11-20T10:00:00Z`.", "format": "date-time",
                "x-check": "time-with-zone"}},
            "additionalProperties": False, "x-error": message}


_VM_RECOVERY_POINT = 'must be "latest" or {"before": "<ISO-8601 time>"}'
_VM_APPLIES = ("not in a whole-VM request: apply says what happens to the VM (replace: the "
               "data disks in place, the OS disk swapped; none: restore only)")
_EXAMPLE = "/subscriptions/6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6/resourceGroups"
SCHEMAS: dict[str, dict[str, Any]] = {
    "ResourceGroupId": id_schema(
        "resourceGroups", "A resource group's ARM id (`/subscriptions/<GUID>/resourceGroups/"
        "<name>`; compared case-insensitively, as ARM does).", f"{_EXAMPLE}/rg-restore-target"),
    "DiskId": id_schema(
        DISK, "A managed disk's ARM id (`.../resourceGroups/<rg>/providers/Microsoft.Compute/"
        "disks/<name>`; case-insensitive).",
        f"{_EXAMPLE}/rg-app/providers/Microsoft.Compute/disks/vm-app01-data0"),
    "VmId": id_schema(
        VM, "A virtual machine's ARM id (`.../providers/Microsoft.Compute/virtualMachines/"
        "<name>`; case-insensitive).",
        f"{_EXAMPLE}/rg-app/providers/Microsoft.Compute/virtualMachines/vm-app01"),
    "BackupInstanceId": id_schema(
        BACKUP_INSTANCE, "A backup instance's ARM id (`.../providers/Microsoft.DataProtection/"
        "backupVaults/<vault>/backupInstances/<name>`; case-insensitive).",
        f"{_EXAMPLE}/rg-backup/providers/Microsoft.DataProtection/backupVaults/bv-demo/"
        "backupInstances/vm-app01-data0-bi"),
    "RestoreRequest": {
        "type": "object",
        "description": "What to restore, from which recovery point, to where, and what to do "
                       "with the restored disk. Validated in full at the edge: an unknown field, "
                       "a wrong type or an id of the wrong resource type is a 400 naming every "
                       "bad field.",
        "required": ["source", "target"],
        "properties": {
            "requestId": {
                "type": ["string", "null"],
                "description": "Idempotency key: the run's id is `restore-<requestId>` (a dry "
                               "run's `dryrun-<requestId>`). Without it the id is a hash of the "
                               "request, so the same request sent twice still names one run.",
                "pattern": REQUEST_ID, "examples": ["ticket-1234"],
                "x-error": "must be 1-100 letters, digits, '.', '_' or '-', starting with a "
                           "letter or digit"},
            "source": ref("RestoreSource"),
            "recoveryPoint": ref("RecoveryPointChoice"),
            "target": ref("RestoreTarget"),
            "attach": {
                "anyOf": [ref("AttachRequest"), {"type": "null"}],
                "description": "Attach the restored disk to a VM as a data disk: beside its "
                               "disks, or in place of the source disk (`mode: replace`). Not "
                               "with `swapOsDisk`.",
                "x-error": 'must be {"vmId": "<ARM id>", "lun": <int>, "caching": "..."} or '
                           '{"vmId": "<ARM id>", "mode": "replace"}'},
            "swapOsDisk": {
                "anyOf": [ref("SwapRequest"), {"type": "null"}],
                "description": "Swap the restored disk in as the VM's OS disk (deallocate, swap, "
                               "start again if it was running). Not with `attach`.",
                "x-error": 'must be {"vmId": "<ARM id>"}'},
            "dryRun": {
                "type": "boolean", "default": False,
                "description": "Plan only: validate everything against Azure and return the plan "
                               "in `result.plan`; nothing is granted, restored or changed.",
                "x-error": "must be true or false"},
            "schema": {
                "description": "Accepted and ignored (the schema version of a request as the app "
                               "stores it), so a stored request can be sent again."},
            "reason": {
                "type": ["string", "null"], "pattern": "\\S", "maxLength": MAX_REASON,
                "description": "Why (a ticket, an incident): kept with the run and written as "
                               "`why` in every audit record of its privileged actions.",
                "examples": ["INC-4711: data disk corrupted after a bad deploy"],
                "x-error": f"must be a non-empty string of at most {MAX_REASON} characters"},
        },
        "additionalProperties": False,
        "x-error": "the request must be a JSON object",
        # attach and swapOsDisk exclude each other; the refusal names swapOsDisk
        "if": {"required": ["attach"], "properties": {"attach": {"not": {"type": "null"}}}},
        "then": {"properties": {"swapOsDisk": {
            "type": "null", "description": "Not with `attach`.",
            "x-error": "cannot be combined with attach: choose one"}}},
    },
    "RestoreSource": {
        "type": "object",
        "description": "Exactly one of `diskId` and `backupInstanceId`.",
        "properties": {
            "diskId": {**ref("DiskId"),
                       "description": "The protected disk (it may have been deleted since): its "
                                      "Backup vault and backup instance are found across the "
                                      "subscription's vaults."},
            "backupInstanceId": ref("BackupInstanceId"),
        },
        "additionalProperties": False,
        "oneOf": [{"required": ["diskId"]}, {"required": ["backupInstanceId"]}],
        "x-error": 'must be {"diskId": "<ARM id>"} or {"backupInstanceId": "<ARM id>"}',
    },
    "RecoveryPointChoice": {
        "description": 'Which recovery point: `"latest"` (the default), a recovery point id, or '
                       "the newest point strictly before a time.",
        "default": "latest",
        "oneOf": [
            {"const": "latest"},
            {"type": "object", "required": ["id"],
             "properties": {"id": {"type": "string", "description": "A recovery point id of "
                                   "the backup instance (not blank).", "pattern": "\\S"}},
             "additionalProperties": False, "x-error": _RECOVERY_POINT},
            _before(_RECOVERY_POINT),
        ],
        "x-error": _RECOVERY_POINT,
    },
    "RestoreTarget": {
        "type": "object",
        "required": ["resourceGroupId", "diskName"],
        "properties": {
            "resourceGroupId": {**ref("ResourceGroupId"),
                                "description": "The resource group to restore into (it must "
                                "exist; another subscription only if the vault allows "
                                "cross-subscription restore)."},
            "diskName": {
                "type": "string",
                "description": "The new disk's name: 1-80 letters, digits, `_`, `.` or `-`, "
                               "starting with a letter or digit and ending with one or `_`. "
                               "Azure Backup restores only to a new disk, so it must not exist.",
                "pattern": DISK_NAME.pattern.replace("\\Z", "$"),
                "examples": ["vm-app01-data0-restored"],
                "x-error": "must be 1-80 letters, digits, '_', '.' or '-', starting with a "
                           "letter or digit and ending with one or '_'"},
        },
        "additionalProperties": False,
        "x-error": 'is required: {"resourceGroupId": "<ARM id>", "diskName": "<name>"}',
    },
    "AttachRequest": {
        "type": "object",
        "required": ["vmId"],
        "properties": {
            "vmId": {**ref("VmId"), "description": "The VM (same region as the restored disk)."},
            "lun": {"type": ["integer", "null"], "minimum": 0, "maximum": 63,
                    "description": "The LUN; absent or null: the lowest free LUN.",
                    "x-error": "must be an integer from 0 to 63"},
            "caching": {"enum": list(CACHING), "default": "None",
                        "x-error": f"must be one of {', '.join(CACHING)}"},
            "mode": {"enum": list(ATTACH_MODES), "default": "add",
                     "description": "`add`: at a free LUN, beside the VM's disks. `replace`: in "
                                    "place of the source disk, which must be a data disk of the "
                                    "VM: one call detaches it and attaches the restored disk at "
                                    "its LUN with its caching and write accelerator; the "
                                    "original is kept, tagged with the run. A block copy beside "
                                    "its original gives the guest two file systems with one "
                                    "UUID.",
                     "x-error": f"must be one of {', '.join(ATTACH_MODES)}"},
        },
        "additionalProperties": False,
        # replace takes the source disk's LUN and caching: giving either is a mistake
        "if": {"required": ["mode"], "properties": {"mode": {"const": "replace"}}},
        "then": {"properties": {
            "lun": {"type": "null", "x-error": "not with mode replace: the restored disk takes "
                                               "the replaced disk's LUN"},
            "caching": {"not": {}, "x-error": "not with mode replace: the restored disk takes "
                                              "the replaced disk's caching"}}},
    },
    "SwapRequest": {
        "type": "object",
        "required": ["vmId"],
        "properties": {
            "vmId": {**ref("VmId"),
                     "description": "The VM whose OS disk is replaced by the restored disk."},
        },
        "additionalProperties": False,
    },
    # ---- whole-VM restores (domain/restore/vm_request.py): the same registry, one document --
    "VmRestoreRequest": {
        "type": "object",
        "description": "Restore every protected disk of a VM (or the ones `source.disks` names) "
                       "from one point in time, then, with `apply: replace`, put the restored "
                       "data disks in place of the VM's in one call and swap its OS disk. Each "
                       "disk gets its own backup instance's newest recovery point (before the "
                       "requested time, if one is given); the plan reports the skew between "
                       "them. Validated in full at the edge, every bad field named.",
        "required": ["source", "target"],
        "properties": {
            "requestId": {
                "type": ["string", "null"],
                "description": "Idempotency key: the run's id is `restorevm-<requestId>` (a dry "
                               "run's `dryrunvm-<requestId>`), never a single disk's run's. "
                               "Without it the id is a hash of the request.",
                "pattern": REQUEST_ID, "examples": ["ticket-1234"],
                "x-error": "must be 1-100 letters, digits, '.', '_' or '-', starting with a "
                           "letter or digit"},
            "source": ref("VmRestoreSource"),
            "recoveryPoint": ref("VmRecoveryPointChoice"),
            "target": ref("VmRestoreTarget"),
            "apply": {
                "enum": list(VM_APPLY), "default": "replace",
                "description": "`replace`: once every disk is restored, one change of the VM: "
                               "the restored data disks in place of the originals (one "
                               "`attachDetachDataDisks` call, each at its LUN with its caching "
                               "and write accelerator) and the restored OS disk swapped in; the "
                               "originals are kept. `none`: restore only, the VM is not touched.",
                "x-error": f"must be one of {', '.join(VM_APPLY)}"},
            "dryRun": {
                "type": "boolean", "default": False,
                "description": "Plan only: the disks, their recovery points and the skew; "
                               "nothing is granted, restored or changed.",
                "x-error": "must be true or false"},
            "schema": {
                "description": "Accepted and ignored (the schema version of a request as the app "
                               "stores it), so a stored request can be sent again."},
            "reason": {
                "type": ["string", "null"], "pattern": "\\S", "maxLength": MAX_REASON,
                "description": "Why (a ticket, an incident): kept with the run and its disks' "
                               "runs, and written as `why` in every audit record.",
                "examples": ["INC-4711: the VM does not boot after a bad deploy"],
                "x-error": f"must be a non-empty string of at most {MAX_REASON} characters"},
            "attach": {"not": {}, "description": "Not in a whole-VM request: `apply` says what "
                                                 "happens to the VM.",
                       "x-error": _VM_APPLIES},
            "swapOsDisk": {"not": {}, "description": "Not in a whole-VM request: `apply` says "
                                                     "what happens to the VM.",
                           "x-error": _VM_APPLIES},
        },
        "additionalProperties": False,
        "x-error": "the request must be a JSON object",
    },
    "VmRestoreSource": {
        "type": "object",
        "required": ["vmId"],
        "properties": {
            "vmId": {**ref("VmId"), "description": "The VM whose disks are restored."},
            "disks": {
                "type": ["array", "null"], "items": ref("VmDiskChoice"), "minItems": 1,
                "uniqueItems": True,
                "description": "Which of the VM's disks: `\"os\"` and data disks by LUN. Absent "
                               "or null: every disk a Backup vault protects (the others are "
                               "listed as skipped). A disk named here that the VM does not "
                               "have, or that no vault protects, is an error.",
                "examples": [["os", 0, 2]],
                "x-error": 'must be a non-empty list of distinct disks: "os" and LUNs'},
        },
        "additionalProperties": False,
        "x-unknown": "unknown field (a whole VM's source is its vmId and, optionally, disks)",
        "x-error": 'must be {"vmId": "<VM ARM id>", "disks": ["os", <LUN>, ...]}',
    },
    "VmDiskChoice": {
        "description": 'A disk of the VM: `"os"`, or a data disk\'s LUN.',
        "oneOf": [{"const": "os"}, {"type": "integer", "minimum": 0, "maximum": 63}],
        "x-error": 'must be "os" or a LUN (an integer from 0 to 63)',
    },
    "VmRecoveryPointChoice": {
        "description": 'Which point in time: `"latest"` (the default: each disk\'s newest '
                       "recovery point) or `{\"before\": <time>}` (each disk's newest point "
                       "strictly before it). A recovery point id names one disk's point, so it "
                       "is refused for a VM.",
        "default": "latest",
        "oneOf": [
            {"const": "latest"},
            _before(_VM_RECOVERY_POINT),
            {"type": "object", "required": ["id"],
             "description": "Refused: a recovery point id belongs to one disk's backup instance.",
             "properties": {"id": {
                 "not": {}, "x-error": "a recovery point id names one disk's point: a whole-VM "
                                       'request takes "latest" or {"before": "<ISO-8601 time>"} '
                                       "(or restore the disk alone with source.diskId)"}}},
        ],
        "x-error": _VM_RECOVERY_POINT,
    },
    "VmRestoreTarget": {
        "type": "object",
        "required": ["resourceGroupId"],
        "properties": {
            "resourceGroupId": {**ref("ResourceGroupId"),
                                "description": "The resource group every restored disk goes "
                                               "into (it must exist)."},
            "diskNameSuffix": {
                "type": "string", "default": DEFAULT_DISK_NAME_SUFFIX,
                "description": "Each restored disk is named `<source disk name><suffix>` (the "
                               "name cut to fit Compute's 80 characters); the names must be "
                               "free. Up to 79 letters, digits, `_`, `.` or `-`, ending with a "
                               "letter, digit or `_`; empty keeps the source names (another "
                               "resource group).",
                "pattern": DISK_NAME_SUFFIX, "examples": ["-r1124"],
                "x-error": "must be up to 79 letters, digits, '_', '.' or '-', ending with a "
                           "letter, digit or '_'"},
        },
        "additionalProperties": False,
        "x-unknown": "unknown field (a whole-VM restore names each disk <its name>"
                     "<diskNameSuffix>)",
        "x-error": 'is required: {"resourceGroupId": "<ARM id>", "diskNameSuffix": "<suffix>"}',
    },
    "RestoreBody": {
        "description": "A restore request: one disk (`source.diskId` or "
                       "`source.backupInstanceId`) or a whole VM (`source.vmId`).",
        "oneOf": [ref("RestoreRequest"), ref("VmRestoreRequest")],
    },
}
REQUEST_SCHEMAS = Schemas(SCHEMAS)


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
