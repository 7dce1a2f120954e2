"""The restore drill's activities that reach beyond ARM: the ledger (recovery points already
drilled), blob storage (reports), a Storage queue or webhook (failure notices), and the plan's
verification webhook. Same contract as handlers.py: JSON in, JSON out, permanent errors as data.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
# Binding parameters are annotated Dict (typing), never dict[...]: the Python worker's load
# check refuses PEP 585 generics, and Azure would then run no function of the app at all.
from typing import Any, Dict  # noqa: UP035

import azure.durable_functions as df

from domain.drills import drill_report
from domain.drills.drill_plan import DrillPlan
from domain.drills.selection import select_disks
from gateway.reports import post_json, webhook_verdict

from .restore_activities import gateway, ledger, report_store
from .handlers import reported
from .report_page import render_html

bp = df.Blueprint()
log = logging.getLogger("diskrestore.drills")


@reported
def _select(payload: dict[str, Any], _: Any) -> dict[str, Any]:
    plan = DrillPlan.from_dict(payload["plan"])
    plane, drills = gateway(), ledger()
    now = datetime.fromisoformat(payload["now"])
    instances = [bi.id for vault in plan.selection.vaults
                 for bi in plane.list_backup_instances(vault)]
    drilled = drills.drilled(instances) if plan.recovery_point.kind == "oldestNotDrilled" else {}
    return select_disks(plan, payload["drillId"], now, plane, drilled).to_dict()


@bp.activity_trigger(input_name="payload")
def select_drill_disks(payload: Dict[str, Any]) -> dict[str, Any]:
    """The plan's disks, each with its recovery point, and the roles the drill grants."""
    return _select(payload, None)


@bp.activity_trigger(input_name="payload")
def verify_with_webhook(payload: Dict[str, Any]) -> dict[str, Any]:
    """The plan's custom check (e.g. mount the disk on a probe VM): {"pass", "reason"}."""
    body = {k: payload[k] for k in ("drillId", "diskId", "restoredDiskId", "recoveryPointId")}
    return webhook_verdict(payload["url"], body, float(payload["timeoutSeconds"]))


@bp.activity_trigger(input_name="payload")
def write_drill_report(payload: Dict[str, Any]) -> dict[str, Any]:
    """Report (JSON and HTML) to blob storage, the summary to the log, the drilled points to
    the ledger, and a notice when a disk failed. Idempotent: a re-run overwrites the blobs."""
    plan = payload["plan"]
    store = report_store()
    report = drill_report.build_report(
        drill_id=payload["drillId"], plan=plan["name"], started=payload["started"],
        finished=payload["finished"], results=payload["results"],
        previous=store.previous_summaries(plan["name"]), max_parallel=plan["maxParallel"],
        observed_parallel=payload.get("observedParallel"))
    if payload.get("error"):
        report["error"] = payload["error"]
    urls = store.write(plan["name"], payload["drillId"], report, render_html(report))
    log.info("restore drill completed: %s", json.dumps(drill_report.summary_log(report)))
    drills = ledger()
    for result in payload["results"]:
        if result["verdict"] != "skipped" and result.get("recoveryPointId"):
            drills.record_drilled(result["backupInstanceId"], result["recoveryPointId"])
    summary = report["summary"]
    notified = None
    if summary["failed"] or payload.get("error"):
        notified = _notify(plan, {"event": "RestoreDrillFailed", "drillId": payload["drillId"],
                                  "plan": plan["name"], "summary": summary, "reports": urls,
                                  "failed": [{"diskId": d["diskId"], "reason": d["reason"]}
                                             for d in report["disks"]
                                             if d["verdict"] == "failed"],
                                  "error": payload.get("error")})
    return {"summary": summary, "urls": urls, "notified": notified}


def _notify(plan: dict[str, Any], message: dict[str, Any]) -> list[str]:
    notify, sent = plan.get("notify") or {}, []
    if notify.get("queue"):
        report_store().notify_queue(notify["queue"], message)
        sent.append(f"queue:{notify['queue']}")
    if notify.get("webhook"):
        status, answer = post_json(notify["webhook"], message, 30)
        if not 200 <= status < 300:
            raise RuntimeError(f"the notification webhook answered HTTP {status}: "
                               f"{str(answer)[:200]}")
        sent.append(f"webhook:{notify['webhook']}")
    return sent
