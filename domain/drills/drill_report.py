"""The restore-drill report: per-disk drill results turned into a JSON report.

A drill restores many disks from their backups into a sandbox and verifies each. `build_report`
validates the orchestrator's results (camelCase JSON) and adds the figures and the trend over
earlier drills of the same plan; `summary_log` flattens it for dashboards. The HTML page drawn
from it is `activities/report_page.py`'s. Everything is deterministic: the same input gives the
same output.
"""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime
from typing import Any

SCHEMA = 1
VERDICTS = ("passed", "failed", "skipped")
TREND_LENGTH = 30
_ORDER = {"failed": 0, "skipped": 1, "passed": 2}


def percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p!r} is not in [0, 100]")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _time(text: Any, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not an ISO-8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _hours(later: datetime, earlier: datetime) -> float:
    return round((later - earlier).total_seconds() / 3600, 1)


def disk_name(resource_id: str | None) -> str:
    """The last segment of a resource id ("" for None)."""
    return (resource_id or "").rstrip("/").rsplit("/", 1)[-1]


def _check(index: int, result: Any) -> None:
    where = f"results[{index}]"
    if not isinstance(result, dict):
        raise ValueError(f"{where}: {type(result).__name__} is not an object")
    if not isinstance(result.get("diskId"), str) or not result["diskId"]:
        raise ValueError(f"{where}.diskId: missing")
    if result.get("verdict") not in VERDICTS:
        raise ValueError(f"{where}.verdict: {result.get('verdict')!r} is not one of "
                         + ", ".join(VERDICTS))
    seconds = result.get("recoverySeconds")
    if seconds is not None and (isinstance(seconds, bool) or
                                not isinstance(seconds, int | float)):
        raise ValueError(f"{where}.recoverySeconds: {seconds!r} is not a number")


def build_report(*, drill_id: str, plan: str, started: str, finished: str,
                 results: list[dict[str, Any]], previous: list[dict[str, Any]],
                 max_parallel: int, observed_parallel: int | None = None) -> dict[str, Any]:
    """The drill's JSON report; raises ValueError naming the first malformed input field."""
    for index, result in enumerate(results):
        _check(index, result)
    begin, end = _time(started, "started"), _time(finished, "finished")
    disks: list[dict[str, Any]] = []
    for index, result in enumerate(results):
        disk = copy.deepcopy(result)
        point = result.get("recoveryPointTime")
        disk["recoveryPointAgeHours"] = None if point is None else _hours(
            begin, _time(point, f"results[{index}].recoveryPointTime"))
        disks.append(disk)
    disks.sort(key=lambda d: (_ORDER[d["verdict"]], d["diskId"]))
    count = {v: sum(1 for d in disks if d["verdict"] == v) for v in VERDICTS}
    attempts = count["passed"] + count["failed"]
    times = [float(d["recoverySeconds"]) for d in disks
             if d["verdict"] == "passed" and d.get("recoverySeconds") is not None]
    ages = [d["recoveryPointAgeHours"] for d in disks if d["recoveryPointAgeHours"] is not None]
    summary = {
        "drillId": drill_id, "plan": plan, "started": started, "finished": finished,
        "disks": len(disks), **count,
        "successRate": count["passed"] / attempts if attempts else None,
        "recoveryP50": _round(percentile(times, 50)),
        "recoveryP95": _round(percentile(times, 95)),
        "recoveryMax": _round(max(times)) if times else None,
        "oldestPointAgeHours": max(ages) if ages else None,
        "newestPointAgeHours": min(ages) if ages else None,
    }
    earlier = [(_time(s.get("started"), f"previous[{i}].started"), s)
               for i, s in enumerate(previous) if s.get("drillId") != drill_id]
    ordered = sorted([*earlier, (begin, summary)], key=lambda pair: pair[0])
    trend = [{k: s.get(k) for k in ("drillId", "started", "successRate", "recoveryP50",
                                    "recoveryP95", "disks")} for _, s in ordered]
    return {"schema": SCHEMA, "drillId": drill_id, "plan": plan, "started": started,
            "finished": finished, "durationSeconds": round((end - begin).total_seconds(), 1),
            "maxParallel": max_parallel, "observedParallel": observed_parallel,
            "summary": summary, "trend": trend[-TREND_LENGTH:], "disks": disks}


def summary_log(report: dict[str, Any]) -> dict[str, Any]:
    """One flat record for dashboards (Log Analytics custom dimensions)."""
    summary = report["summary"]
    failed = [disk_name(d["diskId"]) for d in report["disks"] if d["verdict"] == "failed"]
    return {"event": "RestoreDrillCompleted", "drillId": report["drillId"],
            "plan": report["plan"],
            **{k: summary[k] for k in ("disks", "passed", "failed", "skipped", "successRate",
                                       "recoveryP50", "recoveryP95")},
            "durationSeconds": report["durationSeconds"], "failedDisks": ",".join(failed)}
