"""What a restore drill's orchestrations (drill, drill_lane, drill_disk, sweep_drill_disks) take and
give back, and the inputs and outputs of the drill's activities. JSON as domain/model.py's Record
writes it (camelCase); a disk's result is also what the report lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.access.access_policy import Caller
from domain.drills.drill_plan import DrillPlan
from domain.drills.selection import DrillDisk
from domain.model import OMITTED_WHEN_NONE, Disk, Record
from domain.restore.restore_run import RunSettings

OUTCOME_SCHEMA = 1
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


DRILL_CALLER = "drill"  # the kind of Caller a drill's restores act for


def drill_actor(plan: DrillPlan) -> Caller:
    """Who a drill's restores act for, in their audit records (no person: the plan)."""
    return Caller(DRILL_CALLER, None, plan.name)


@dataclass(frozen=True)
class DrillInput(Record):
    drill_id: str
    plan: DrillPlan
    settings: RunSettings
    requested_by: Caller | None = None  # None: the plan's timer


@dataclass(frozen=True)
class DiskSelectionRequest(Record):
    """select_drill_disks' input; its output is selection.DrillSelection."""

    plan: DrillPlan
    drill_id: str
    now: str  # ISO-8601, from the orchestration's clock


@dataclass(frozen=True)
class NumberedDisk(Record):
    index: int  # the disk's place in the selection: its restore's and sub-orchestration's id
    disk: DrillDisk


@dataclass(frozen=True)
class DrillDiskResult(Record):
    """What became of one disk; the report lists these as they are."""

    disk_id: str
    backup_instance_id: str | None
    recovery_point_id: str | None = None
    recovery_point_time: str | None = None
    restored_disk_id: str | None = None
    verdict: str = FAILED  # passed | failed | skipped
    reason: str = ""
    phases: dict[str, float] = field(default_factory=dict)
    recovery_seconds: float | None = None
    started: str | None = None
    finished: str | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)
    kept: bool = False


@dataclass(frozen=True)
class LaneInput(Record):
    """drill_lane's input; `results` carries the lane's results across its generations."""

    drill_id: str
    plan: DrillPlan
    settings: RunSettings
    started: str  # ISO-8601: the drill's start, which the time budget counts from
    disks: list[NumberedDisk]
    results: list[DrillDiskResult] = field(default_factory=list)


@dataclass(frozen=True)
class LaneResults(Record):
    results: list[DrillDiskResult]


@dataclass(frozen=True)
class DrillDiskInput(Record):
    drill_id: str
    disk: DrillDisk
    plan: DrillPlan
    settings: RunSettings
    request_id: str  # the disk's restore request id (its restore runs as restore-<request_id>)


@dataclass(frozen=True)
class DiskVerification(Record):
    """verify_drill_disk's input: the restored disk, checked against its source."""

    source: Disk | None
    restored_disk_id: str


@dataclass(frozen=True)
class DiskChecks(Record):
    checks: list[dict[str, Any]]  # [{name, expected, actual, ok}]
    reason: str  # the first failed check, "" when all pass


@dataclass(frozen=True)
class WebhookCheck(Record):
    """verify_with_webhook's input: the plan's own check of one restored disk."""

    url: str
    timeout_seconds: float
    drill_id: str
    disk_id: str
    restored_disk_id: str
    recovery_point_id: str


@dataclass(frozen=True)
class WebhookVerdict(Record):
    passed: bool
    reason: str


@dataclass(frozen=True)
class ReportRequest(Record):
    """write_drill_report's input."""

    drill_id: str
    plan: DrillPlan
    started: str
    finished: str
    results: list[DrillDiskResult]
    observed_parallel: int | None = None
    error: dict[str, Any] | None = None


@dataclass(frozen=True)
class ReportWritten(Record):
    summary: dict[str, Any]
    urls: dict[str, str]  # json, html
    notified: list[str] | None  # where the failure notice went; None: nothing failed


@dataclass(frozen=True)
class DrillOutcome(Record):
    """The drill orchestration's output, as GET /api/drills/{id} shows it."""

    schema: int
    id: str
    plan: str
    summary: dict[str, Any]
    reports: dict[str, str]
    notified: list[str] | None
    error: dict[str, Any] | None
    phases: dict[str, float]


@dataclass(frozen=True)
class DiskSweep(Record):
    """sweep_drill_disks' input, and expired_drill_disks': the sandboxes, and the time to judge
    expiry tags by."""

    sandboxes: list[str]
    now: str  # ISO-8601


@dataclass(frozen=True)
class ExpiredDisks(Record):
    disk_ids: list[str]


@dataclass(frozen=True)
class DiskDeletion(Record):
    disk: str
    deleted: bool
    error: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@dataclass(frozen=True)
class DiskSweepReport(Record):
    report: list[DiskDeletion]
