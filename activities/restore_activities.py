"""The restore itself: planning it, validating and triggering it in the Backup vault, finding and
reading its job, and the one log record each run ends with."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from domain.access.access_policy import check_resolved
from domain.model import (
    Done,
    FoundRestoreJob,
    JobRef,
    Operation,
    RestoreJob,
    RestorePlan,
)
from domain.restore.planning import build_plan
from domain.restore.restore_run import PlanRequest, RestoreOutcome
from domain.restore.vm_plan import VmRestorePlan, build_vm_plan
from domain.restore.vm_run import VmPlanRequest
from gateway.port import ControlPlane

from .activity import Audited, activity

log = logging.getLogger("diskrestore")


def _planned(request: PlanRequest, plan: RestorePlan | None) -> dict[str, Any]:
    asked = request.request.to_dict()
    return {"source": asked["source"], "target": asked["target"],
            "recoveryPoint": asked["recoveryPoint"], "dryRun": asked["dryRun"],
            "vaultId": plan.backup_instance.vault_id if plan else None,
            "sourceDiskId": plan.backup_instance.datasource_id if plan else None,
            "recoveryPointId": plan.recovery_point.id if plan else None}


def _restored(plan: RestorePlan, _: Operation | None) -> dict[str, Any]:
    return {"vaultId": plan.backup_instance.vault_id,
            "sourceDiskId": plan.backup_instance.datasource_id,
            "recoveryPointId": plan.recovery_point.id, "targetDiskId": plan.target_disk_id}


@activity(audited=Audited("plan", _planned))
def plan_restore(request: PlanRequest, azure: ControlPlane) -> RestorePlan:
    """Every check the documented procedure leaves to a person, before anything changes; then
    the vault the plan resolved to must be one the caller's access rules cover."""
    asked = request.request
    plan = build_plan(asked, azure, instance_id=request.instance_id, created=request.created,
                      propagation_timeout_s=request.settings.propagation_timeout_s,
                      job_timeout_s=request.settings.job_timeout_s,
                      check_budget=request.check_budget)
    check_resolved(request.access, plan.backup_instance.vault_id,
                   None if asked.source_disk_id else plan.backup_instance.datasource_id)
    return plan


def _vm_planned(request: VmPlanRequest, plan: VmRestorePlan | None) -> dict[str, Any]:
    asked = request.request.to_dict()
    return {"source": asked["source"], "target": asked["target"],
            "recoveryPoint": asked["recoveryPoint"], "dryRun": asked["dryRun"],
            "disks": [{"diskId": d.source_disk_id, "recoveryPointId": d.recovery_point.id}
                      for d in plan.disks] if plan else None,
            "skewSeconds": plan.skew_seconds if plan else None}


@activity(audited=Audited("plan", _vm_planned))
def plan_vm_restore(request: VmPlanRequest, azure: ControlPlane) -> VmRestorePlan:
    """Which disks of the VM, from which points (each disk's newest the request allows), under
    which names; each disk's own run then makes every check of a single restore."""
    return build_vm_plan(request.request, azure, instance_id=request.instance_id,
                         now=datetime.fromisoformat(request.created))


@activity()
def start_validate_restore(plan: RestorePlan, azure: ControlPlane) -> Operation:
    return azure.start_validate_restore(plan)


@activity(audited=Audited("restore", _restored))
def start_restore(plan: RestorePlan, azure: ControlPlane) -> Operation:
    return azure.start_restore(plan)


@activity()
def find_restore_job(plan: RestorePlan, azure: ControlPlane) -> FoundRestoreJob:
    return FoundRestoreJob(azure.find_restore_job(plan))


@activity()
def get_restore_job(job: JobRef, azure: ControlPlane) -> RestoreJob:
    return azure.get_restore_job(job.job_id)


@activity()
def record_outcome(outcome: RestoreOutcome, _: ControlPlane) -> Done:
    """`restore finished: {json}`: one record per restore run (event RestoreFinished)."""
    error = outcome.error or {}
    log.info("restore finished: %s", json.dumps({
        "event": "RestoreFinished", "id": outcome.id, "outcome": outcome.outcome,
        "errorCode": error.get("code"), "restoredDiskId": outcome.restored_disk_id,
        "jobId": outcome.job_id, "phases": outcome.phases}))
    return Done()
