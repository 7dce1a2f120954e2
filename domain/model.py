"""What the gateway reads from Azure and what a restore decides, as plain frozen dataclasses.

Every type crosses the orchestrator/activity boundary as JSON through `to_dict` / `from_dict`
(no pickled classes in the Durable history), so a rename never breaks a running instance.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T", bound="Record")

# The wire convention: camelCase keys, for every Record, everywhere it crosses a boundary (an
# activity's or orchestration's input and output, the ledger). Why camelCase: what the app shows
# is camelCase already (the request schema, GET /api/restores/{id}, whose `result` is the
# orchestration's output as it is, and the Durable status endpoint, which shows a run's input and
# output), as ARM's JSON is; one convention from the request to the history to the answer, with
# no conversion layer in between. Python fields stay snake_case; `wire_name` maps them.
OMITTED_WHEN_NONE = {"omit_when_none": True}  # field(metadata=...): left out of to_dict if None


def wire_name(name: str) -> str:
    """snake_case field name -> camelCase JSON key (size_gb -> sizeGb, job_timeout_s ->
    jobTimeoutS)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class Record:
    """to_dict/from_dict for dataclasses of JSON values, nested Records, lists of them, and
    documents with their own to_dict/from_dict (a RestoreRequest, a DrillPlan, a Caller...)."""

    def to_dict(self) -> dict[str, Any]:
        return {wire_name(f.name): encode(value)
                for f in dataclasses.fields(self)  # type: ignore[arg-type]
                if not ((value := getattr(self, f.name)) is None
                        and f.metadata.get("omit_when_none"))}

    @classmethod
    def from_dict(cls: type[T], doc: dict[str, Any]) -> T:
        hints = typing.get_type_hints(cls)
        kwargs = {f.name: decode(hints[f.name], doc[key])
                  for f in dataclasses.fields(cls)  # type: ignore[arg-type]
                  if (key := wire_name(f.name)) in doc}
        return cls(**kwargs)


def json_object(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one: for reading what a run published
    (custom status, output), which an older or failed run may not have written."""
    return value if isinstance(value, dict) else {}


def encode(value: Any) -> Any:
    """A Record (or a document with to_dict, or a list of them) as JSON; JSON values as they are."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def decode(hint: Any, value: Any) -> Any:
    """JSON back into the type `hint` names: a Record, a document with from_dict, an optional or
    a list of them; anything else as it is."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return decode(inner[0], value) if len(inner) == 1 else value
    if origin in (list, tuple):
        (item,) = typing.get_args(hint)[:1]
        loaded = [decode(item, v) for v in value]
        return tuple(loaded) if origin is tuple else loaded
    if isinstance(hint, type) and hasattr(hint, "from_dict"):
        return hint.from_dict(value)
    return value


# ---- what Azure says ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BackupInstance(Record):
    id: str
    vault_id: str
    vault_location: str
    datasource_id: str  # the protected source disk
    snapshot_resource_group_id: str
    vault_principal_id: str  # the identity the vault uses for this instance
    cross_subscription_restore: str  # Enabled | Disabled | PermanentlyDisabled
    protection_state: str
    # The catalog's (issue 18): the Backup policy's name (policyInfo.policyId's last segment).
    policy_name: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@dataclass(frozen=True)
class RecoveryPoint(Record):
    id: str
    time: str  # ISO-8601 UTC
    # The catalog's (issue 18), None where Azure did not say: recoveryPointState (Completed,
    # CompletedWithWarnings, Provisioning, ...), when the point expires, and its data store
    # (OperationalStore for disks) and whether that store's copy is visible (not being deleted).
    state: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    expiry_time: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    data_store: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    data_store_visible: bool | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@dataclass(frozen=True)
class Disk(Record):
    id: str
    location: str
    size_gb: int | None = None
    sku: str | None = None
    os_type: str | None = None
    encryption_set_id: str | None = None
    managed_by: str | None = None
    state: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    zones: list[str] = field(default_factory=list)  # [] = regional (or ZRS: no zone at all)
    # Export and import over the network: AllowAll | AllowPrivate (through `disk_access_id`, a
    # Microsoft.Compute/diskAccesses) | DenyAll; publicNetworkAccess Enabled | Disabled. None:
    # Azure did not say (an older record).
    network_access_policy: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    disk_access_id: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    public_network_access: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    # What an OS swap must match (Compute refuses a mismatch): V1 | V2, and the security type
    # (TrustedLaunch, ConfidentialVM_...; None: Standard). None when Azure does not say.
    hyper_v_generation: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    security_type: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)

    @property
    def private(self) -> bool:
        """Export restricted: to a private endpoint, or not at all."""
        return (self.network_access_policy or "").lower() in ("denyall", "allowprivate") or \
            (self.public_network_access or "").lower() == "disabled"

    @property
    def zone_redundant(self) -> bool:
        """A ZRS disk has no zone and attaches to a VM in any zone of its region."""
        return (self.sku or "").upper().endswith("_ZRS")


@dataclass(frozen=True)
class Snapshot(Record):
    """A Microsoft.Compute/snapshots resource as the planner needs it: whose copy it is
    (`creationData.sourceResourceId`), when it was taken and the Disk Encryption Set it is
    encrypted with (None: a platform key)."""

    id: str
    source_resource_id: str | None
    time_created: str | None  # ISO-8601 UTC
    encryption_set_id: str | None = None
    incremental: bool = False


@dataclass(frozen=True)
class DataDisk(Record):
    lun: int
    disk_id: str
    caching: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)  # None: not said
    write_accelerator: bool = False


@dataclass(frozen=True)
class Vm(Record):
    id: str
    location: str
    os_type: str | None
    os_disk_id: str | None
    data_disks: list[DataDisk] = field(default_factory=list)
    power_state: str | None = None  # e.g. "running", "deallocated", "stopped"
    zones: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    # What decides which disks the VM can take (domain/restore/compatibility.py): its size
    # (hardwareProfile.vmSize), security type (securityProfile.securityType; None: Standard),
    # Hyper-V generation (instanceView.hyperVGeneration) and Ultra Disk compatibility
    # (additionalCapabilities.ultraSSDEnabled). None when Azure does not say.
    size: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    security_type: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    hyper_v_generation: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    ultra_ssd_enabled: bool = False


@dataclass(frozen=True)
class VmSize(Record):
    """What a VM size allows, from Compute's Resource SKUs in one region. None: not stated."""

    name: str
    location: str
    max_data_disks: int | None = None
    premium_io: bool | None = None
    hyper_v_generations: list[str] = field(default_factory=list)  # [] = not stated


@dataclass(frozen=True)
class RoleAssignment(Record):
    id: str
    scope: str
    role_definition_guid: str
    principal_id: str
    pre_existing: bool  # found in place: never ours to revoke


@dataclass(frozen=True)
class Operation(Record):
    """An ARM long-running operation we started and poll from the orchestrator."""

    kind: str  # validate | restore | attach | detach | deallocate | start | swap
    status_url: str | None
    result_url: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class OperationStatus(Record):
    state: str  # running | succeeded | failed
    error_code: str | None = None
    error_message: str | None = None
    job_id: str | None = None
    retryable: bool | None = None  # the service's `isRetryable` on the error, when it says


@dataclass(frozen=True)
class RestoreJob(Record):
    id: str
    status: str  # InProgress | Completed | CompletedWithWarnings | Failed | Cancelled | ...
    restored_disk_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    started: str | None = None
    error_retryable: bool | None = None  # errorDetails[0].isRetryable, when the job says

    @property
    def finished(self) -> bool:
        return self.status.lower() in ("completed", "completedwithwarnings", "succeeded",
                                       "failed", "cancelled", "canceled")

    @property
    def succeeded(self) -> bool:
        return self.status.lower() in ("completed", "completedwithwarnings", "succeeded")


# ---- what a restore decides ---------------------------------------------------------------------
@dataclass(frozen=True)
class RoleGrant(Record):
    scope: str
    role_definition_guid: str
    role_name: str
    principal_id: str
    assignment_name: str  # deterministic GUID: a re-run finds its own assignment


@dataclass(frozen=True)
class AttachPlan(Record):
    vm_id: str
    lun: int
    caching: str
    zone: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)  # a zonal VM's zone
    # Replace in place: the data disk the restored disk takes the place of (its LUN, caching and
    # write accelerator), detached in the same call and kept. None: attached beside the others.
    replaces: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    write_accelerator: bool | None = field(default=None, metadata=OMITTED_WHEN_NONE)  # None: off


@dataclass(frozen=True)
class SwapPlan(Record):
    vm_id: str
    original_os_disk_id: str
    was_running: bool  # in the outcome: as read right before the swap, not at plan time
    zone: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)  # a zonal VM's zone
    # In the outcome: how the VM was stopped for the swap (powerOff, deallocate, or both when
    # Compute wanted it deallocated); None: it was not running.
    stopped_with: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@dataclass(frozen=True)
class RestorePlan(Record):
    instance_id: str
    created: str  # ISO-8601, from the orchestration's clock
    backup_instance: BackupInstance
    recovery_point: RecoveryPoint
    source_disk: Disk | None  # None when the source disk is gone (restore still possible)
    target_disk_id: str
    target_location: str
    grants: list[RoleGrant]
    attach: AttachPlan | None = None
    swap: SwapPlan | None = None
    dry_run: bool = False
    propagation_timeout_s: int = 1800
    job_timeout_s: int = 7200
    # What the plan could not settle and the outcome must say (a deleted CMK disk's Disk
    # Encryption Set that could not be read): the run goes on.
    warnings: list[str] | None = field(default=None, metadata=OMITTED_WHEN_NONE)


# ---- what an activity is asked: one record per input, one per output ----------------------------
# One dataclass per activity input (the Temporal samples' rule), not bare strings: a field can be
# added later without changing the activity's signature.
@dataclass(frozen=True)
class Revocation(Record):
    assignment_id: str


@dataclass(frozen=True)
class Revoked(Record):
    was_present: bool  # False: the assignment was gone already


@dataclass(frozen=True)
class VmRef(Record):
    vm_id: str


@dataclass(frozen=True)
class DiskRef(Record):
    disk_id: str


@dataclass(frozen=True)
class JobRef(Record):
    job_id: str


@dataclass(frozen=True)
class FoundRestoreJob(Record):
    job: RestoreJob | None  # None: the vault has no job for this plan's target disk


@dataclass(frozen=True)
class DiskAttachment(Record):
    vm_id: str
    disk_id: str
    lun: int
    caching: str
    write_accelerator: bool = False


@dataclass(frozen=True)
class DataDisksChange(Record):
    """One attachDetachDataDisks call: `detach` these disks and `attach` those, together (a
    replace in place: the VM never has both, nor neither for longer than the call)."""

    vm_id: str
    attach: list[DiskAttachment]
    detach: list[str]


@dataclass(frozen=True)
class OsDiskChange(Record):
    vm_id: str
    disk_id: str


@dataclass(frozen=True)
class DiskTags(Record):
    disk_id: str
    tags: dict[str, str]


@dataclass(frozen=True)
class DiskProperties(Record):
    """What a restored disk gets after the restore (the Backup restore sets none of it): tags
    added to its own, and the network settings; None: left as they are."""

    disk_id: str
    tags: dict[str, str] = field(default_factory=dict)
    network_access_policy: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    disk_access_id: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    public_network_access: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@dataclass(frozen=True)
class VmSizeRef(Record):
    subscription_id: str  # Resource SKUs are listed per subscription and region
    location: str
    size: str


@dataclass(frozen=True)
class FoundVmSize(Record):
    size: VmSize | None  # None: the region does not list that size


@dataclass(frozen=True)
class FoundDisk(Record):
    disk: Disk | None  # None: no such disk


@dataclass(frozen=True)
class DiskSnapshot(Record):
    """A snapshot `snapshot_id` of the disk `disk_id` (the first half of a move to a zone)."""

    disk_id: str
    snapshot_id: str


@dataclass(frozen=True)
class SnapshotRef(Record):
    snapshot_id: str


@dataclass(frozen=True)
class ZoneCopy(Record):
    """A new disk `disk_id` in `zone` from the snapshot `snapshot_id` of `source`."""

    source: Disk  # the restored disk: its location, SKU and encryption set are kept
    snapshot_id: str
    disk_id: str
    zone: str


@dataclass(frozen=True)
class Done(Record):
    """The output of an activity that answers nothing but that it ran."""
