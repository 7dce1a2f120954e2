"""The readiness report's log records (what an alert queries) and its trend point.

One `ReadinessChecked` record per run and one `ReadinessFinding` record per error finding, each
a flat JSON object after a fixed prefix in the log message (infra/app/alerts.bicep parses them
from AppTraces), so an alert can fire per finding and name the disk.
"""

from __future__ import annotations

from typing import Any

from .findings import ERROR

RUN_PREFIX = "readiness checked: "
FINDING_PREFIX = "readiness finding: "
RUN_EVENT, FINDING_EVENT = "ReadinessChecked", "ReadinessFinding"


def every_finding(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [*(f for d in report["disks"] for f in d["findings"]), *report["findings"]]


def summary_log(report: dict[str, Any], run_id: str) -> dict[str, Any]:
    """One flat record for the run (Log Analytics custom dimensions)."""
    summary, found = report["summary"], every_finding(report)
    return {"event": RUN_EVENT, "runId": run_id, "checkedAt": report["checkedAt"],
            "status": report["status"],
            **{k: summary[k] for k in ("disks", "ready", "atRisk", "notReady")},
            "errors": sum(1 for f in found if f["severity"] == ERROR),
            "warnings": sum(1 for f in found if f["severity"] == "warning"),
            "codes": ",".join(sorted(summary["findings"]))}


def error_logs(report: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
    """One flat record per error finding, the disk's own and the general ones."""
    return [{"event": FINDING_EVENT, "runId": run_id, "code": f["code"],
             "severity": f["severity"], "scope": f["scope"], "diskId": f.get("diskId", ""),
             "message": f["message"]}
            for f in every_finding(report) if f["severity"] == ERROR]


def trend_point(report: dict[str, Any], run_id: str) -> dict[str, Any]:
    """What the next runs' pages draw of this one."""
    summary = report["summary"]
    return {"runId": run_id, "checkedAt": report["checkedAt"], "status": report["status"],
            **{k: summary[k] for k in ("disks", "ready", "atRisk", "notReady")}}
