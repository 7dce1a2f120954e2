"""The restore drill's activities: choosing the disks, verifying a restored disk (against its
source, and the plan's webhook), the report (blob storage, verdicts against the plan's
objectives, the ledger of drilled points and of each disk's last drill, a failure notice on a
Storage queue or webhook), and finding drill disks past their expiry."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from domain import errors
from domain.drills import drill_report
from domain.drills.drill_plan import DrillPlan
from domain.drills.drill_report import Measured, newest_at
from domain.drills.drill_run import (
    FAILED,
    SKIPPED,
    DiskChecks,
    DiskSelectionRequest,
    DiskSweep,
    DiskVerification,
    DrillDiskResult,
    ExpiredDisks,
    ReportRequest,
    ReportWritten,
    WebhookCheck,
    WebhookVerdict,
)
from domain.drills.selection import DRILL_TAG, EXPIRY_TAG, DrillSelection, select_disks, verify
from gateway.port import ControlPlane
from gateway.reports import post_json, webhook_verdict
from settings import settings

from .activity import activity, ledger, report_store
from .report_page import render_html

log = logging.getLogger("diskrestore.drills")


@activity()
def select_drill_disks(request: DiskSelectionRequest, azure: ControlPlane) -> DrillSelection:
    """The plan's disks, each with its recovery point, and the roles the drill grants."""
    plan = request.plan
    instances = [bi.id for vault in plan.selection.vaults
                 for bi in azure.list_backup_instances(vault)]
    drilled = ledger().drilled(instances) \
        if plan.recovery_point.kind == "oldestNotDrilled" else {}
    return select_disks(plan, request.drill_id, datetime.fromisoformat(request.now), azure,
                        drilled, reserve=settings().drill_restore_reserve)


@activity()
def verify_drill_disk(verification: DiskVerification, azure: ControlPlane) -> DiskChecks:
    checks, reason = verify(verification.source,
                            azure.get_disk(verification.restored_disk_id))
    return DiskChecks(checks, reason)


@activity(errors_as_data=False)
def verify_with_webhook(check: WebhookCheck, _: ControlPlane) -> WebhookVerdict:
    """The plan's custom check (e.g. mount the disk on a probe VM)."""
    body = {"drillId": check.drill_id, "diskId": check.disk_id,
            "restoredDiskId": check.restored_disk_id, "recoveryPointId": check.recovery_point_id}
    answer = webhook_verdict(check.url, body, float(check.timeout_seconds))
    return WebhookVerdict(passed=answer["pass"], reason=answer["reason"])


@activity(errors_as_data=False)
def write_drill_report(request: ReportRequest, azure: ControlPlane) -> ReportWritten:
    """Report (JSON and HTML) to blob storage, the summary to the log, the drilled points and
    each drilled disk's last drill to the ledger, and a notice when a disk failed. Idempotent: a
    re-run overwrites the blobs and the ledger rows."""
    plan = request.plan
    store = report_store()
    report = drill_report.build_report(
        drill_id=request.drill_id, plan=plan.name, started=request.started,
        finished=request.finished, results=[r.to_dict() for r in request.results],
        previous=store.previous_summaries(plan.name), max_parallel=plan.max_parallel,
        observed_parallel=request.observed_parallel, objectives=plan.objectives,
        measured=_measure(plan, request, azure))
    if request.error:
        report["error"] = request.error
    urls = store.write(plan.name, request.drill_id, report, render_html(report))
    log.info("restore drill completed: %s", json.dumps(drill_report.summary_log(report)))
    drills = ledger()
    for result in request.results:
        if result.verdict != SKIPPED and result.recovery_point_id:
            drills.record_drilled(result.backup_instance_id or "", result.recovery_point_id)
    for disk in report["disks"]:  # the catalog's "lastDrill" of each disk the drill restored
        if disk["verdict"] != SKIPPED:
            drills.record_last_drill(disk["diskId"], {
                "drillId": request.drill_id, "at": request.started, "verdict": disk["verdict"],
                "rto": disk["rto"], "rpo": disk["rpo"]})
    summary = drill_report.outcome_summary(report["summary"])
    notified = None
    if summary["failed"] or request.error:
        notified = _notify(plan, {"event": "RestoreDrillFailed", "drillId": request.drill_id,
                                  "plan": plan.name, "summary": summary, "reports": urls,
                                  "failed": [{"diskId": d["diskId"], "reason": d["reason"]}
                                             for d in report["disks"]
                                             if d["verdict"] == FAILED],
                                  "error": request.error})
    return ReportWritten(summary, urls, notified)


def _measure(plan: DrillPlan, request: ReportRequest,
             azure: ControlPlane) -> dict[str, Measured]:
    """For a plan with objectives, each of its disks' newest recovery point when the drill
    started (and its tags, when the objectives differ by tag), read now: by lower-cased disk id.

    Read here rather than carried from the selection: a disk skipped before its points were
    listed gets its RPO too. Two reads per disk at most, and none for a plan without
    objectives. A read that fails leaves that disk's RPO unknown, saying why: the report is
    still written."""
    if plan.objectives.empty:
        return {}
    started = datetime.fromisoformat(request.started)
    found: dict[str, Measured] = {}
    for result in (r for r in request.results if _judged(r)):
        try:
            tags: dict[str, str] = {}
            if plan.objectives.by_tag:
                source = azure.get_disk(result.disk_id)
                tags = dict(source.tags) if source is not None else {}  # gone: the defaults
            points = azure.list_recovery_points(result.backup_instance_id or "")
            found[result.disk_id.lower()] = Measured(tags, newest_at(points, started))
        except Exception as exc:  # noqa: BLE001 - one disk's unknown verdict, not a lost report
            found[result.disk_id.lower()] = Measured(problem="its recovery points could not be "
                                                     f"read: {errors.as_dict(exc)['message']}")
    return found


def _judged(result: DrillDiskResult) -> bool:
    return drill_report.judged({"verdict": result.verdict,
                                "backupInstanceId": result.backup_instance_id})


@activity()
def expired_drill_disks(sweep: DiskSweep, azure: ControlPlane) -> ExpiredDisks:
    """Drill disks in the sandboxes whose expiry tag is before `now` and that no VM uses."""
    now = datetime.fromisoformat(sweep.now)
    return ExpiredDisks([d.id for sandbox in sweep.sandboxes for d in azure.list_disks(sandbox)
                         if d.tags.get(DRILL_TAG) and not d.managed_by
                         and _before(d.tags.get(EXPIRY_TAG), now)])


def _before(text: str | None, now: datetime) -> bool:
    try:
        return text is not None and datetime.fromisoformat(text) < now
    except ValueError:
        return False


def _notify(plan: DrillPlan, message: dict[str, Any]) -> list[str]:
    sent = []
    if plan.notify.queue:
        report_store().notify_queue(plan.notify.queue, message)
        sent.append(f"queue:{plan.notify.queue}")
    if plan.notify.webhook:
        status, answer = post_json(plan.notify.webhook, message, 30)
        if not 200 <= status < 300:
            raise RuntimeError(f"the notification webhook answered HTTP {status}: "
                               f"{str(answer)[:200]}")
        sent.append(f"webhook:{plan.notify.webhook}")
    return sent
