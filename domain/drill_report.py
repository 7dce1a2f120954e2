"""The restore-drill report: per-disk drill results turned into a JSON report and one HTML page.

A drill restores many disks from their backups into a sandbox and verifies each. `build_report`
validates the orchestrator's results (camelCase JSON) and adds the figures and the trend over
earlier drills of the same plan; `render_html` draws one self-contained page (inline style and
SVG, nothing fetched, every user string escaped); `summary_log` flattens it for dashboards.
Everything is deterministic: the same input gives the same bytes.
"""

from __future__ import annotations

import copy
import html
import math
from datetime import UTC, datetime
from typing import Any

SCHEMA = 1
VERDICTS = ("passed", "failed", "skipped")
TREND_LENGTH = 30
_ORDER = {"failed": 0, "skipped": 1, "passed": 2}
_FAILED_FILL, _PASSED_FILL = "#c62828", "#2e7d32"


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


# ---- HTML ---------------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def human_duration(seconds: float | None) -> str:
    """Like "42 s", "4 min 12 s", "1 h 5 min"; an em dash for None."""
    if seconds is None:
        return "\u2014"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _percent(rate: float | None) -> str:
    return "\u2014" if rate is None else f"{rate * 100:.1f} %"


def _hours_text(hours: float | None) -> str:
    return "\u2014" if hours is None else f"{hours:.1f} h"


def _n(value: float) -> str:
    return f"{value:.1f}"


def _bar_chart(disks: list[dict[str, Any]]) -> str:
    timed = sorted((d for d in disks if d.get("recoverySeconds") is not None),
                   key=lambda d: (-float(d["recoverySeconds"]), d["diskId"]))
    if not timed:
        return "<p>No disk has a recovery time.</p>"
    label_w, bar_w, row_h = 200, 420, 22
    longest = max(float(d["recoverySeconds"]) for d in timed) or 1.0
    height = row_h * len(timed) + 10
    parts = [f'<svg class="chart" width="{label_w + bar_w + 110}" height="{height}" '
             f'role="img" aria-label="Recovery time per disk">']
    for i, d in enumerate(timed):
        y, value = 5 + i * row_h, float(d["recoverySeconds"])
        fill = _FAILED_FILL if d["verdict"] == "failed" else _PASSED_FILL
        width = bar_w * value / longest
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">'
            f'{_e(disk_name(d["diskId"]))}</text>'
            f'<rect class="bar" data-verdict="{_e(d["verdict"])}" x="{label_w}" y="{y + 2}" '
            f'width="{_n(width)}" height="{row_h - 6}" fill="{fill}">'
            f'<title>{_e(d["diskId"])}</title></rect>'
            f'<text x="{_n(label_w + width + 6)}" y="{y + 15}">{_e(human_duration(value))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _trend_chart(trend: list[dict[str, Any]]) -> str:
    width, height, left, right, top, bottom = 640, 240, 60, 80, 15, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    p95s = [float(t["recoveryP95"]) for t in trend if t.get("recoveryP95") is not None]
    p95_top = max(p95s) if p95s and max(p95s) > 0 else 1.0

    def x(i: int) -> float:
        return left + (plot_w / 2 if len(trend) == 1 else plot_w * i / (len(trend) - 1))

    def y(fraction: float) -> float:
        return top + plot_h * (1 - fraction)

    parts = [f'<svg class="chart" width="{width}" height="{height}" role="img" '
             f'aria-label="Success rate and p95 recovery time per drill">',
             f'<line class="axis" x1="{left}" y1="{y(0)}" x2="{left + plot_w}" y2="{y(0)}"/>',
             f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{y(0)}"/>',
             f'<line class="axis" x1="{left + plot_w}" y1="{top}" x2="{left + plot_w}" '
             f'y2="{y(0)}"/>']
    for fraction in (0.0, 0.5, 1.0):
        parts.append(f'<text x="{left - 6}" y="{_n(y(fraction) + 4)}" text-anchor="end" '
                     f'fill="{_PASSED_FILL}">{fraction * 100:.0f} %</text>'
                     f'<text x="{left + plot_w + 6}" y="{_n(y(fraction) + 4)}" fill="#1565c0">'
                     f'{_e(human_duration(p95_top * fraction))}</text>')
    parts.append(f'<text x="{left}" y="{height - 4}" fill="{_PASSED_FILL}">\u25cf success rate '
                 f'(left axis)</text><text x="{left + 200}" y="{height - 4}" fill="#1565c0">'
                 f'\u25cf p95 recovery time (right axis)</text>')
    step = max(1, math.ceil(len(trend) / 6))
    for i, t in enumerate(trend):
        if i % step == 0 or i == len(trend) - 1:
            parts.append(f'<text x="{_n(x(i))}" y="{height - bottom + 18}" '
                         f'text-anchor="middle">{_e(str(t.get("started") or "")[:10])}</text>')
    series = (("successRate", 1.0, _PASSED_FILL, "success rate"),
              ("recoveryP95", p95_top, "#1565c0", "p95 recovery"))
    for key, scale, colour, name in series:
        runs: list[list[tuple[float, float]]] = [[]]
        for i, t in enumerate(trend):
            if t.get(key) is None:
                runs.append([])
                continue
            runs[-1].append((x(i), y(float(t[key]) / scale)))
            text = _percent(t[key]) if key == "successRate" else human_duration(t[key])
            parts.append(f'<circle class="point" cx="{_n(x(i))}" cy="{_n(runs[-1][-1][1])}" '
                         f'r="3.5" fill="{colour}"><title>{_e(t.get("drillId"))}: {name} '
                         f'{_e(text)}</title></circle>')
        for run in (r for r in runs if len(r) > 1):
            points = " ".join(f"{_n(px)},{_n(py)}" for px, py in run)
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                         f'stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
dl.summary{display:grid;grid-template-columns:max-content auto;gap:.2em 1.2em}
dt{font-weight:600}dd{margin:0}table{border-collapse:collapse;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f2f2f2}tr.failed td{background:#fdecea}tr.skipped td{color:#777}
td.bad{color:#c62828;font-weight:600}svg.chart{font-size:11px;display:block}
.axis{stroke:#888;stroke-width:1}"""


def render_html(report: dict[str, Any]) -> str:
    """One self-contained HTML5 page for the report (no external resources of any kind)."""
    s, disks = report["summary"], report["disks"]
    title = f"Restore drill {_e(report['plan'])} \u2014 {_e(report['drillId'])}"
    observed = report.get("observedParallel")
    facts = [("Disks", s["disks"]), ("Passed", s["passed"]), ("Failed", s["failed"]),
             ("Skipped", s["skipped"]), ("Success rate", _percent(s["successRate"])),
             ("Recovery p50", human_duration(s["recoveryP50"])),
             ("Recovery p95", human_duration(s["recoveryP95"])),
             ("Recovery max", human_duration(s["recoveryMax"])),
             ("Oldest recovery point", _hours_text(s["oldestPointAgeHours"])),
             ("Newest recovery point", _hours_text(s["newestPointAgeHours"])),
             ("Drill duration", human_duration(report["durationSeconds"])),
             ("Started", report["started"]), ("Finished", report["finished"]),
             ("Parallel (max / observed)", f"{report['maxParallel']} / "
              + ("\u2014" if observed is None else str(observed)))]
    rows = []
    for d in disks:
        rows.append(
            f'<tr class="{_e(d["verdict"])}"><td title="{_e(d["diskId"])}">'
            f'{_e(disk_name(d["diskId"]))}</td><td>{_e(d["verdict"])}</td>'
            f'<td>{_e(d.get("reason"))}</td><td>{_e(d.get("recoveryPointTime"))}</td>'
            f'<td>{_hours_text(d.get("recoveryPointAgeHours"))}</td>'
            f'<td>{_e(human_duration(d.get("recoverySeconds")))}</td>'
            f'<td title="{_e(d.get("restoredDiskId"))}">{_e(disk_name(d.get("restoredDiskId")))}'
            f'</td><td>{"yes" if d.get("kept") else "no"}</td></tr>')
    checks = []
    for d in (d for d in disks if d["verdict"] == "failed"):
        for c in d.get("checks") or []:
            ok = bool(c.get("ok"))
            checks.append(
                f'<tr><td title="{_e(d["diskId"])}">{_e(disk_name(d["diskId"]))}</td>'
                f'<td>{_e(c.get("name"))}</td><td>{_e(c.get("expected"))}</td>'
                f'<td>{_e(c.get("actual"))}</td>'
                f'<td class="{"ok" if ok else "bad"}">{"ok" if ok else "failed"}</td></tr>')
    check_block = ("<table><tr><th>Disk</th><th>Check</th><th>Expected</th><th>Actual</th>"
                   f"<th>Result</th></tr>{''.join(checks)}</table>" if checks
                   else "<p>No checks recorded for failed disks.</p>")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{title}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
        f"<h1>{title}</h1>",
        '<dl class="summary">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>"
                                         for k, v in facts) + "</dl>",
        "<h2>Recovery time per disk</h2>", _bar_chart(disks),
        "<h2>Trend</h2>", _trend_chart(report["trend"]),
        "<h2>Disks</h2>",
        "<table><tr><th>Disk</th><th>Verdict</th><th>Reason</th><th>Recovery point</th>"
        "<th>Point age</th><th>Recovery time</th><th>Restored disk</th><th>Kept</th></tr>"
        + "".join(rows) + "</table>",
        "<h2>Checks of failed disks</h2>", check_block, "</body>", "</html>", ""])
