"""Sweeps. `sweep_role_assignments` revokes role assignments left behind by runs that never
reached their own revoke step (terminated, or failed in a way that skipped it); idempotent:
revoking a gone assignment is fine. `sweep_drill_disks` deletes expired drill disks.

Input {"leftovers": [{run, assignments}], "swept": [runs already done]}; output {"swept": [...],
"report": [...]}: the next sweep skips the runs listed in "swept".
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from domain.access import audit

from .steps import RETRY, Orchestration

_SWEEPER = {"kind": "sweeper", "id": None, "name": "diskrestore"}


def sweep_role_assignments(context: df.DurableOrchestrationContext) -> Orchestration:
    doc: dict[str, Any] = context.get_input() or {}
    leftovers: list[dict[str, Any]] = doc.get("leftovers", [])
    swept = set(doc.get("swept", []))
    report = []
    for item in leftovers:
        for assignment_id in item["assignments"]:
            try:
                deleted = yield context.call_activity_with_retry("revoke_role", RETRY, audit.wrap(
                    "revoke_role", assignment_id, audit.context(
                        context.instance_id, _SWEEPER,
                        f"left behind by run {item['run']}, which did not revoke it")))
                report.append({"run": item["run"], "assignment": assignment_id,
                               "revoked": True, "wasPresent": bool(deleted)})
            except Exception as exc:  # noqa: BLE001 - report, try the others, retry next sweep
                report.append({"run": item["run"], "assignment": assignment_id,
                               "revoked": False, "error": str(exc).split("\n")[0]})
        if all(r["revoked"] for r in report if r["run"] == item["run"]):
            swept.add(item["run"])
    return {"swept": sorted(swept), "report": report}


def sweep_drill_disks(context: df.DurableOrchestrationContext) -> Orchestration:
    """Delete drill disks whose expiry tag has passed (kept failures, or disks of a drill that
    was stopped before its clean-up). Input {"sandboxes": [...], "now"}."""
    doc: dict[str, Any] = context.get_input()
    expired = yield context.call_activity_with_retry("expired_drill_disks", RETRY, doc)
    report = []
    for disk_id in expired:
        try:
            answer = yield context.call_activity_with_retry("start_delete_disk", RETRY, audit.wrap(
                "start_delete_disk", {"diskId": disk_id}, audit.context(
                    context.instance_id, _SWEEPER, "a drill disk past its expiry")))
            if isinstance(answer, dict) and "error" in answer:  # e.g. attached since: leave it
                report.append({"disk": disk_id, "deleted": False,
                               "error": answer["error"]["message"]})
            else:
                report.append({"disk": disk_id, "deleted": True})
        except Exception as exc:  # noqa: BLE001 - report, try the others, retry next sweep
            report.append({"disk": disk_id, "deleted": False, "error": str(exc).split("\n")[0]})
    return {"report": report}
