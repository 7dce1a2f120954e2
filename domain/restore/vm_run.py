"""A whole-VM restore run's records: its input, its plan request and its outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.access.access_policy import Caller, RunAccess
from domain.model import OMITTED_WHEN_NONE, Record
from domain.restore.restore_run import (
    ApprovalDecision,
    ApprovalRequest,
    RestoreOutcome,
    RunSettings,
    VmChange,
)
from domain.restore.vm_plan import SkippedDisk, VmRestorePlan
from domain.restore.vm_request import VmRestoreRequest

VM_OUTCOME_SCHEMA = 1


@dataclass(frozen=True)
class VmRestoreInput(Record):
    """The whole-VM orchestration's input."""

    request: VmRestoreRequest
    settings: RunSettings
    requested_by: Caller | None = None
    access: RunAccess | None = None
    why: str | None = None
    approval: ApprovalRequest | None = None


@dataclass(frozen=True)
class VmPlanRequest(Record):
    """plan_vm_restore's input: the request, planned at the run's own clock."""

    request: VmRestoreRequest
    instance_id: str
    created: str


@dataclass(frozen=True)
class VmRestoreOutcome(Record):
    """The whole-VM run's output, as GET /api/restores/{id} shows it in `result`: each disk's
    restore (its own outcome), the points' skew, and the one VM change."""

    schema: int
    id: str
    outcome: str  # Succeeded | Failed | Cancelled | NotApproved | DryRun
    vm_id: str
    phases: dict[str, float]
    error: dict[str, Any] | None
    disks: list[RestoreOutcome] = field(default_factory=list)
    skipped: list[SkippedDisk] = field(default_factory=list)
    skew_seconds: float | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    oldest_point: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    newest_point: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    vm_change: VmChange | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    stopped_with: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    approval: ApprovalDecision | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    plan: VmRestorePlan | None = field(default=None, metadata=OMITTED_WHEN_NONE)  # a dry run's
    warnings: list[str] | None = field(default=None, metadata=OMITTED_WHEN_NONE)
