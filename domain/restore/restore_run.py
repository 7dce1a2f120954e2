"""What a restore run takes and gives back, and what its steps pass each other: the records at
the boundaries of the restore orchestration (restore_managed_disk), of its two waits
(await_propagation, track_restore_job) and of plan_restore. JSON as domain/model.py's Record
writes it (camelCase).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.access.access_policy import Caller, RunAccess
from domain.model import (
    OMITTED_WHEN_NONE,
    AttachPlan,
    Record,
    RecoveryPoint,
    RestorePlan,
    SwapPlan,
    Vm,
)
from domain.restore.properties import PropertiesReport
from domain.restore.request import RestoreRequest

OUTCOME_SCHEMA = 1


@dataclass(frozen=True)
class RunSettings(Record):
    """How a run paces itself. A trigger fixes it from settings into the run's input at start:
    orchestrations never read settings, and a change of settings never changes a run in flight."""

    propagation_timeout_s: int
    job_timeout_s: int
    probe_interval_s: float
    poll_interval_s: float
    operation_poll_s: float


@dataclass(frozen=True)
class ApprovalRequest(Record):
    """A second person decides before a VM is touched, within `timeout_minutes`."""

    timeout_minutes: int


@dataclass(frozen=True)
class ApprovalDecision(Record):
    """A person's decision: the `approval` event that POST /api/restores/{id}/approve (or
    /reject) raises."""

    approved: bool
    by: str | None = None
    principal_id: str | None = None
    authenticated: bool = False
    comment: str | None = None


@dataclass(frozen=True)
class RestoreInput(Record):
    """The restore orchestration's input."""

    request: RestoreRequest
    settings: RunSettings
    requested_by: Caller | None = None
    access: RunAccess | None = None  # None: no self-service caller started the run
    why: str | None = None
    approval: ApprovalRequest | None = None
    # A disk of a whole-VM restore: restore it and make it ready for the VM (its zone, its
    # properties), but leave the VM change to the parent run, which changes the VM once.
    defer_vm_change: bool = False


@dataclass(frozen=True)
class PlanRequest(Record):
    """plan_restore's input: the request, planned at the run's own clock."""

    request: RestoreRequest
    instance_id: str
    created: str  # ISO-8601, from the orchestration's clock
    settings: RunSettings
    access: RunAccess | None = None
    # The disk's daily restore budget (domain/restore/budget.py); False when the parent run
    # checked it a moment ago (a drill at its selection, a whole VM at its plan): listing a
    # vault's jobs costs O(jobs), and a drill of 500 disks would list them 500 times.
    check_budget: bool = True


@dataclass(frozen=True)
class PropagationWait(Record):
    """await_propagation's input; `probes` counts across its generations (continue-as-new)."""

    plan: RestorePlan
    settings: RunSettings
    started: str  # ISO-8601
    probes: int = 0
    busy: int = 0  # transient Backup answers in a row (the backoff grows with them)


@dataclass(frozen=True)
class PropagationDone(Record):
    probes: int


@dataclass(frozen=True)
class JobWatch(Record):
    """track_restore_job's input; its output is the finished RestoreJob."""

    job_id: str
    settings: RunSettings
    started: str  # ISO-8601
    timeout_s: int


@dataclass(frozen=True)
class AssignmentReport(Record):
    """One role assignment the run made or found, and whether it was revoked."""

    id: str
    scope: str
    role: str  # the role definition's GUID
    pre_existing: bool
    revoked: bool | str  # True, False, or why not ("not revoked: ...")


@dataclass(frozen=True)
class ZoneCopyReport(Record):
    """The restored disk landed outside the zonal VM's zone: it was copied into `zone` (through
    `snapshot_id`) as `disk_id`, which the VM got; the restored disk and the snapshot were then
    deleted (`cleaned`: True, or what is left to delete by hand)."""

    zone: str
    disk_id: str
    intermediate_disk_id: str
    snapshot_id: str
    cleaned: bool | str


@dataclass(frozen=True)
class VmDisks(Record):
    """A VM's managed disks at one moment: its OS disk and its data disks by LUN."""

    os_disk_id: str | None
    data_disks: dict[str, str]  # LUN (as text: a JSON key) -> disk id

    @classmethod
    def of(cls, vm: Vm) -> VmDisks:
        return cls(vm.os_disk_id, {str(d.lun): d.disk_id for d in vm.data_disks})


@dataclass(frozen=True)
class SlotChange(Record):
    """A data disk replaced in place: at `lun`, `from_disk_id` (detached, kept) becomes
    `to_disk_id`, with the slot's caching and write accelerator."""

    lun: int
    from_disk_id: str
    to_disk_id: str
    caching: str
    write_accelerator: bool | None = field(default=None, metadata=OMITTED_WHEN_NONE)


IAC_NOTE = ("The VM's disks changed outside your infrastructure code: a Terraform or Bicep apply "
            "that still names the old disk will try to put it back, or fail. Update the code to "
            "the disks in `after` (or import the change) before the next apply.")


@dataclass(frozen=True)
class VmChange(Record):
    """What the run changed on a VM: every disk before and after, and the note for those who
    keep the VM in infrastructure-as-code."""

    vm_id: str
    before: VmDisks
    after: VmDisks
    note: str = IAC_NOTE


@dataclass(frozen=True)
class RestoreOutcome(Record):
    """The restore orchestration's output, as GET /api/restores/{id} shows it in `result`."""

    schema: int
    id: str
    outcome: str  # Succeeded | Failed | Cancelled | NotApproved | DryRun
    restored_disk_id: str | None
    job_id: str | None
    recovery_point: RecoveryPoint | None
    phases: dict[str, float]
    role_assignments: list[AssignmentReport]
    error: dict[str, Any] | None  # RestoreError.to_dict(): code, message, hint
    attach: AttachPlan | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    swap: SwapPlan | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    approval: ApprovalDecision | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    plan: RestorePlan | None = field(default=None, metadata=OMITTED_WHEN_NONE)  # a dry run's
    # The disk the restore job created, when it was copied into the VM's zone (restoredDiskId is
    # then the copy) and the copy's details.
    intermediate_disk_id: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    zone_copy: ZoneCopyReport | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    # The source's tags and network settings set on the restored disk (what was, what was not).
    properties: PropertiesReport | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    # Loud: things the run did that leave the estate weaker than before (a private-link disk
    # restored with public export allowed).
    warnings: list[str] | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    # The VM's disks before and after the attach or swap (absent when no VM changed).
    vm_change: VmChange | None = field(default=None, metadata=OMITTED_WHEN_NONE)
