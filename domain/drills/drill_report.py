"""The restore-drill report: per-disk drill results turned into a JSON report.

A drill restores many disks from their backups into a sandbox and verifies each. `build_report`
validates the orchestrator's results (camelCase JSON) and adds the figures, each disk's verdicts
against the plan's recovery objectives, and the trend over earlier drills of the same plan;
`summary_log` flattens it for dashboards and alerts. The HTML page drawn from it is
`activities/report_page.py`'s. Everything is deterministic: the same input gives the same output.

Objectives (docs/drills.md, "Objectives"), for every disk of the plan (drilled, or skipped after
it was selected; not the disks the plan left out):
* RTO: the disk's `recoverySeconds` (its restore requested to the restored disk verified: the
  time to a usable disk) against rtoMinutes. A failed disk missed it (no usable disk came of
  the drill); a skipped one is unknown (not restored).
* RPO: the age, when the drill started, of the newest recovery point the disk had then (what an
  incident would restore from), against rpoHours. The restored point's age is beside it
  (`recoveryPointAgeHours`), which is the same point for a "latest" plan.
"""

from __future__ import annotations

import copy
import math
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain.model import OMITTED_WHEN_NONE, Record, RecoveryPoint
from domain.objectives import (
    MET,
    MISSED,
    UNKNOWN,
    ObjectiveRules,
    Verdict,
    overall,
    rpo_verdict,
    rto_verdict,
    tally,
)

SCHEMA = 1
VERDICTS = ("passed", "failed", "skipped")
TREND_LENGTH = 30
DISK_HISTORY = 10  # a disk's last verdicts shown in its row, this drill's included
BASELINE = 5  # earlier drills whose median a restore time is compared with
# A restore time 20 % above (below) the median of the earlier ones is rising (falling). Why this
# much: a managed disk's restore time varies from drill to drill with Azure's queueing and the
# snapshot's hydration; smaller changes are noise, and a single slow drill moves no median.
CHANGE = 0.2
RISING, FALLING, STEADY = "rising", "falling", "steady"
_ORDER = {"failed": 0, "skipped": 1, "passed": 2}


@dataclass(frozen=True)
class Measured(Record):
    """What the report activity read for one disk's objectives (only when the plan has any)."""

    tags: dict[str, str] = field(default_factory=dict)  # the source disk's, for byTag
    newest_point: RecoveryPoint | None = None  # the newest one when the drill started; None: none
    problem: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)  # could not be read


def newest_at(points: list[RecoveryPoint], when: datetime) -> RecoveryPoint | None:
    """The newest point that existed at `when` (a point taken during the drill is not counted)."""
    dated = [(_time(p.time, f"recovery point {p.id}"), p.id, p) for p in points]
    before = [d for d in dated if d[0] <= when]
    return max(before, key=lambda d: (d[0], d[1]))[2] if before else None


def direction(latest: float | None, earlier: list[float]) -> dict[str, Any]:
    """Whether `latest` is rising, falling or steady against the median of the last BASELINE
    `earlier` values; unknown without both."""
    base = earlier[-BASELINE:]
    baseline = statistics.median(base) if base else None
    if latest is None or not baseline or baseline <= 0:
        return {"direction": UNKNOWN, "latest": latest, "baseline": baseline, "change": None}
    change = latest / baseline - 1
    word = RISING if change > CHANGE else FALLING if change < -CHANGE else STEADY
    return {"direction": word, "latest": latest, "baseline": round(baseline, 1),
            "change": round(change, 3)}


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


def judged(result: dict[str, Any]) -> bool:
    """Whether a disk is one of the plan's, judged against its objectives: drilled, or skipped
    after the plan selected it (those skips name the backup instance; a disk the selection left
    out, or a second instance of a disk drilled once, has none)."""
    return result["verdict"] != "skipped" or bool(result.get("backupInstanceId"))


def _judge(disk: dict[str, Any], rules: ObjectiveRules, facts: Measured | None,
           begin: datetime) -> None:
    targets = rules.for_tags(facts.tags if facts else None)
    seconds = disk.get("recoverySeconds")
    minutes = None if seconds is None else float(seconds) / 60
    if disk["verdict"] == "passed":
        rto = rto_verdict(minutes, targets)
    elif disk["verdict"] == "failed":  # no usable disk came of it, however fast it failed
        rto = Verdict("rto", UNKNOWN if targets.rto_minutes is None else MISSED,
                      targets.rto_minutes, None if minutes is None else round(minutes, 1))
    else:
        rto = Verdict("rto", UNKNOWN, targets.rto_minutes)
    newest = facts.newest_point if facts else None
    if facts is None or facts.problem:
        rpo = Verdict("rpo", UNKNOWN, targets.rpo_hours)
    else:  # no point at all when the drill started: an incident would have nothing to restore
        rpo = rpo_verdict(None if newest is None else _time(newest.time, "newestPoint"), begin,
                          targets)
    disk.update({"objectives": targets.to_dict(),
                 "newestRecoveryPoint": None if newest is None else newest.to_dict(),
                 "newestPointAgeHours": rpo.actual, "rto": rto.to_dict(), "rpo": rpo.to_dict(),
                 "objectiveVerdict": overall(rto, rpo)})
    if facts is not None and facts.problem:
        disk["objectivesProblem"] = facts.problem


def _disk_results(disks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the next drills' per-disk trend reads back from this drill's summary."""
    return [{"diskId": d["diskId"], "verdict": d["verdict"], "rto": d["rto"]["verdict"],
             "rpo": d["rpo"]["verdict"], "recoverySeconds": d.get("recoverySeconds")}
            for d in disks if "rto" in d]


def _history(disks: list[dict[str, Any]], ordered: list[tuple[datetime, dict[str, Any]]],
             drill_id: str, started: str) -> None:
    """Each judged disk's last DISK_HISTORY verdicts (oldest first, this drill last) and whether
    its restore time is rising against its earlier passed drills."""
    past: dict[str, list[dict[str, Any]]] = {}
    for _, summary in ordered:
        if summary.get("drillId") == drill_id:
            continue
        entries = summary.get("diskResults")
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("diskId"), str):
                past.setdefault(entry["diskId"].lower(), []).append(
                    {"drillId": summary.get("drillId"), "started": summary.get("started"),
                     **{k: entry.get(k) for k in ("verdict", "rto", "rpo", "recoverySeconds")}})
    for disk in (d for d in disks if "rto" in d):
        earlier = past.get(disk["diskId"].lower(), [])
        now = {"drillId": drill_id, "started": started, "verdict": disk["verdict"],
               "rto": disk["rto"]["verdict"], "rpo": disk["rpo"]["verdict"],
               "recoverySeconds": disk.get("recoverySeconds")}
        disk["history"] = [*earlier, now][-DISK_HISTORY:]
        times = [float(e["recoverySeconds"]) for e in earlier
                 if e.get("verdict") == "passed" and isinstance(e.get("recoverySeconds"),
                                                                int | float)]
        latest = disk.get("recoverySeconds") if disk["verdict"] == "passed" else None
        disk["recoveryTrend"] = direction(None if latest is None else float(latest), times)


def build_report(*, drill_id: str, plan: str, started: str, finished: str,
                 results: list[dict[str, Any]], previous: list[dict[str, Any]],
                 max_parallel: int, observed_parallel: int | None = None,
                 objectives: ObjectiveRules | None = None,
                 measured: dict[str, Measured] | None = None) -> dict[str, Any]:
    """The drill's JSON report; raises ValueError naming the first malformed input field.

    `objectives`: the plan's; `measured`: what was read for them, by lower-cased disk id (a
    disk without an entry has an unknown RPO)."""
    for index, result in enumerate(results):
        _check(index, result)
    begin, end = _time(started, "started"), _time(finished, "finished")
    rules, facts = objectives or ObjectiveRules(), measured or {}
    disks: list[dict[str, Any]] = []
    for index, result in enumerate(results):
        disk = copy.deepcopy(result)
        point = result.get("recoveryPointTime")
        disk["recoveryPointAgeHours"] = None if point is None else _hours(
            begin, _time(point, f"results[{index}].recoveryPointTime"))
        if judged(result):
            _judge(disk, rules, facts.get(result["diskId"].lower()), begin)
        disks.append(disk)
    disks.sort(key=lambda d: (_ORDER[d["verdict"]], d["diskId"]))
    count = {v: sum(1 for d in disks if d["verdict"] == v) for v in VERDICTS}
    attempts = count["passed"] + count["failed"]
    times = [float(d["recoverySeconds"]) for d in disks
             if d["verdict"] == "passed" and d.get("recoverySeconds") is not None]
    ages = [d["recoveryPointAgeHours"] for d in disks if d["recoveryPointAgeHours"] is not None]
    summary: dict[str, Any] = {
        "drillId": drill_id, "plan": plan, "started": started, "finished": finished,
        "disks": len(disks), **count,
        "successRate": count["passed"] / attempts if attempts else None,
        "recoveryP50": _round(percentile(times, 50)),
        "recoveryP95": _round(percentile(times, 95)),
        "recoveryMax": _round(max(times)) if times else None,
        "oldestPointAgeHours": max(ages) if ages else None,
        "newestPointAgeHours": min(ages) if ages else None,
        "objectives": _totals(disks),
        "diskResults": _disk_results(disks),
    }
    earlier = [(_time(s.get("started"), f"previous[{i}].started"), s)
               for i, s in enumerate(previous) if s.get("drillId") != drill_id]
    ordered = sorted([*earlier, (begin, summary)], key=lambda pair: pair[0])
    _history(disks, ordered, drill_id, started)
    trend = [{**{k: s.get(k) for k in ("drillId", "started", "successRate", "recoveryP50",
                                       "recoveryP95", "disks")},
              "objectives": _counts(s.get("objectives"))} for _, s in ordered]
    p95s = [float(s["recoveryP95"]) for _, s in ordered
            if s is not summary and isinstance(s.get("recoveryP95"), int | float)]
    return {"schema": SCHEMA, "drillId": drill_id, "plan": plan, "started": started,
            "finished": finished, "durationSeconds": round((end - begin).total_seconds(), 1),
            "maxParallel": max_parallel, "observedParallel": observed_parallel,
            "summary": summary, "trend": trend[-TREND_LENGTH:],
            "recoveryP95Trend": direction(summary["recoveryP95"], p95s), "disks": disks}


def _totals(disks: list[dict[str, Any]]) -> dict[str, Any]:
    """Per plan: disks that met both objectives, missed one, or are unknown; and per objective."""
    judged_disks = [d for d in disks if "rto" in d]
    return {**tally([d["objectiveVerdict"] for d in judged_disks]),
            "rto": tally([d["rto"]["verdict"] for d in judged_disks]),
            "rpo": tally([d["rpo"]["verdict"] for d in judged_disks])}


def _counts(totals: Any) -> dict[str, int] | None:
    """An earlier summary's disk totals (None for a summary written before objectives)."""
    if not isinstance(totals, dict):
        return None
    return {k: totals[k] for k in (MET, MISSED, UNKNOWN) if isinstance(totals.get(k), int)}


def outcome_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary as the drill's outcome and its notice carry it: without the per-disk results
    (those are for the next drills' trend and would make every outcome grow with the plan)."""
    return {k: v for k, v in summary.items() if k != "diskResults"}


def summary_log(report: dict[str, Any]) -> dict[str, Any]:
    """One flat record for dashboards (Log Analytics custom dimensions)."""
    summary = report["summary"]
    failed = [disk_name(d["diskId"]) for d in report["disks"] if d["verdict"] == "failed"]
    missed = [disk_name(d["diskId"]) for d in report["disks"]
              if d.get("objectiveVerdict") == MISSED]
    totals = summary["objectives"]
    return {"event": "RestoreDrillCompleted", "drillId": report["drillId"],
            "plan": report["plan"],
            **{k: summary[k] for k in ("disks", "passed", "failed", "skipped", "successRate",
                                       "recoveryP50", "recoveryP95")},
            "durationSeconds": report["durationSeconds"], "failedDisks": ",".join(failed),
            # flat, so an alert can query misses: RestoreDrillCompleted | where objectivesMissed > 0
            "objectivesMet": totals[MET], "objectivesMissed": totals[MISSED],
            "objectivesUnknown": totals[UNKNOWN],
            **{f"{kind}{word.capitalize()}": totals[kind][word]
               for kind in ("rto", "rpo") for word in (MET, MISSED, UNKNOWN)},
            "recoveryP95Trend": report["recoveryP95Trend"]["direction"],
            "missedObjectiveDisks": ",".join(missed)}
