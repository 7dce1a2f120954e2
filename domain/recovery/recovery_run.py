"""What an alert-driven recovery run (the `recover` orchestration) takes and gives back, and the
inputs and outputs of its activities. JSON as domain/model.py's Record writes it (camelCase).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain.model import OMITTED_WHEN_NONE, Record
from domain.objectives import MISSED, UNKNOWN, Objectives, Verdict, rpo_verdict, rto_verdict
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
class RecoveryObjectives(Record):
    """A run against its policy's objectives (for the resource's tags).

    rto: minutes from the signal (its `occurred` time) to the run's end, when every disk is
    restored and attached or swapped in. Met only by a Succeeded run; a Failed or
    PartiallySucceeded one missed it; NotApproved or Cancelled is unknown (a person stopped it).
    rpo: hours from the oldest restored point to the signal: the data the recovery lost."""

    objectives: Objectives
    rto: Verdict
    rpo: Verdict


def judge(objectives: Objectives, outcome: str, signal: Signal, ended: datetime,
          restores: list[RestoreOutcome]) -> RecoveryObjectives | None:
    """None when there is nothing to judge: no objectives, or the run was ignored."""
    if objectives.empty or outcome == "Ignored":
        return None
    occurred = _utc(signal.occurred)
    if outcome in ("NotApproved", "Cancelled"):
        return RecoveryObjectives(objectives, Verdict("rto", UNKNOWN, objectives.rto_minutes),
                                  Verdict("rpo", UNKNOWN, objectives.rpo_hours))
    minutes = (_utc(ended.isoformat()) - occurred).total_seconds() / 60
    rto = rto_verdict(minutes, objectives)
    if outcome != "Succeeded" and objectives.rto_minutes is not None:
        rto = Verdict("rto", MISSED, objectives.rto_minutes, round(minutes, 1))
    restored = [_utc(r.recovery_point.time) for r in restores
                if r.outcome == "Succeeded" and r.recovery_point is not None]
    # nothing restored: no data came back, which misses any RPO
    return RecoveryObjectives(objectives, rto, rpo_verdict(min(restored, default=None), occurred,
                                                           objectives))


def _utc(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


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
    # The run against the policy's RTO and RPO; absent when the policy sets none
    objectives: RecoveryObjectives | None = field(default=None, metadata=OMITTED_WHEN_NONE)
