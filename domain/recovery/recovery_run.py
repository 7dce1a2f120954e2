"""What an alert-driven recovery run (the `recover` orchestration) takes and gives back, and the
inputs and outputs of its activities. JSON as domain/model.py's Record writes it (camelCase).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.model import OMITTED_WHEN_NONE, Record
from domain.recovery.policy import Policy
from domain.recovery.signals import Signal
from domain.restore.restore_run import RestoreOutcome, RunSettings
from domain.restore.vm_run import VmRestoreOutcome

OUTCOME_SCHEMA = 1


@dataclass(frozen=True)
class RecoveryInput(Record):
    run_id: str
    policy: Policy
    signal: Signal
    settings: RunSettings


@dataclass(frozen=True)
class ResolutionRequest(Record):
    """resolve_recovery's input; its output is admission.Resolution."""

    policy: Policy
    signal: Signal
    run_id: str


@dataclass(frozen=True)
class SlotRelease(Record):
    run_id: str


@dataclass(frozen=True)
class SlotReleased(Record):
    held: bool  # False: the run held no slot any more


@dataclass(frozen=True)
class RecoveryOutcome(Record):
    """The recover orchestration's output, as GET /api/restores/{id} shows it in `result`."""

    schema: int
    id: str
    policy: str
    action: str
    signal: Signal
    outcome: str  # Succeeded | PartiallySucceeded | Failed | Ignored | NotApproved | Cancelled
    ignored: str | None
    skipped: list[str]
    restores: list[RestoreOutcome]
    phases: dict[str, float]
    error: dict[str, Any] | None
    # A VM action's whole-VM restore run (its disks are `restores`): the skew, the VM change.
    vm_restore: VmRestoreOutcome | None = field(default=None, metadata=OMITTED_WHEN_NONE)
