"""The restore-drill report as one self-contained HTML page (inline style and SVG, nothing
fetched, every user string escaped), drawn from the JSON report `domain.drills.drill_report`
builds. Deterministic: the same report gives the same bytes.
"""

from __future__ import annotations

import html
import math
from typing import Any

from domain.drills.drill_report import disk_name

_FAILED_FILL, _PASSED_FILL = "#c62828", "#2e7d32"
_VERDICT_FILL = {"met": _PASSED_FILL, "missed": _FAILED_FILL, "unknown": "#9e9e9e"}


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def human_duration(seconds: float | None) -> str:
    """Like "42 s", "4 min 12 s", "1 h 5 min"; an em dash for None."""
    if seconds is None:
        return "\u2014"
    total = round(seconds)
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


def _overall(rto: Any, rpo: Any) -> str:
    words = {rto, rpo}
    return "missed" if "missed" in words else "met" if words == {"met"} else "unknown"


def _history_chart(disks: list[dict[str, Any]]) -> str:
    """One row per judged disk, one square per drill of its last ones (this drill rightmost):
    green both objectives met, red one missed, grey unknown."""
    judged = [d for d in disks if d.get("history")]
    if not judged:
        return "<p>No disk of the plan was judged against objectives.</p>"
    columns = max(len(d["history"]) for d in judged)
    label_w, cell, gap = 200, 14, 4
    width = label_w + columns * (cell + gap) + 10
    height = len(judged) * (cell + gap) + 24
    parts = [f'<svg class="chart" width="{width}" height="{height}" role="img" '
             f'aria-label="Objective verdicts per disk over its last drills">']
    for row, d in enumerate(judged):
        y = 4 + row * (cell + gap)
        parts.append(f'<text x="{label_w - 6}" y="{y + cell - 2}" text-anchor="end">'
                     f'{_e(disk_name(d["diskId"]))}</text>')
        offset = columns - len(d["history"])  # right-aligned: the newest drills line up
        for i, entry in enumerate(d["history"]):
            word = _overall(entry.get("rto"), entry.get("rpo"))
            x = label_w + (offset + i) * (cell + gap)
            parts.append(
                f'<rect class="verdict" data-verdict="{word}" x="{x}" y="{y}" width="{cell}" '
                f'height="{cell}" fill="{_VERDICT_FILL[word]}"><title>{_e(entry.get("drillId"))}'
                f': drill {_e(entry.get("verdict"))}, RTO {_e(entry.get("rto"))}, RPO '
                f'{_e(entry.get("rpo"))}</title></rect>')
    legend_y = height - 6
    parts.append(f'<text x="{label_w}" y="{legend_y}"><tspan fill="{_PASSED_FILL}">\u25a0 met'
                 f'</tspan> <tspan fill="{_FAILED_FILL}">\u25a0 missed</tspan> '
                 f'<tspan fill="#9e9e9e">\u25a0 unknown</tspan> (oldest left, this drill '
                 f'right)</text></svg>')
    return "".join(parts)


def _target(value: Any, unit: str) -> str:
    return "no objective" if value is None else f"\u2264 {value:g} {unit}"


def _verdict(v: dict[str, Any]) -> str:
    word = v.get("verdict", "unknown")
    return f'<td class="v-{_e(word)}">{_e(word)}</td>'


def _trend_text(trend: dict[str, Any] | None) -> str:
    if not trend or trend.get("direction") in (None, "unknown"):
        return "\u2014"
    change = trend.get("change") or 0.0
    return (f"{trend['direction']} ({change * 100:+.0f} % against the median of earlier "
            f"drills, {human_duration(trend.get('baseline'))})")


def _objective_rows(disks: list[dict[str, Any]]) -> str:
    rows = []
    for d in (d for d in disks if "rto" in d):
        rto, rpo = d["rto"], d["rpo"]
        newest = d.get("newestRecoveryPoint") or {}
        note = d.get("objectivesProblem")
        age = _hours_text(d.get("newestPointAgeHours")) if newest else \
            "none" if rpo.get("verdict") == "missed" else "\u2014"  # missed: there was no point
        rows.append(
            f'<tr class="v-{_e(d["objectiveVerdict"])}"><td title="{_e(d["diskId"])}">'
            f'{_e(disk_name(d["diskId"]))}</td><td>{_e(d["objectiveVerdict"])}</td>'
            f'<td>{_e(_target(rto.get("target"), "min"))}</td>'
            f'<td>{_e(human_duration(d.get("recoverySeconds")))}</td>{_verdict(rto)}'
            f'<td>{_e(_target(rpo.get("target"), "h"))}</td>'
            f'<td title="{_e(newest.get("time"))}">{_e(age)}</td>'
            f'<td>{_hours_text(d.get("recoveryPointAgeHours"))}</td>{_verdict(rpo)}'
            f'<td>{_e(_trend_text(d.get("recoveryTrend")))}</td>'
            f'<td>{_e(note)}</td></tr>')
    if not rows:
        return "<p>No disk of the plan was judged against objectives.</p>"
    return ("<table><tr><th>Disk</th><th>Objectives</th><th>RTO</th><th>Recovery time</th>"
            "<th>RTO verdict</th><th>RPO</th><th>Newest point age</th>"
            "<th>Restored point age</th><th>RPO verdict</th><th>Recovery time trend</th>"
            "<th>Note</th></tr>" + "".join(rows) + "</table>")


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
dl.summary{display:grid;grid-template-columns:max-content auto;gap:.2em 1.2em}
dt{font-weight:600}dd{margin:0}table{border-collapse:collapse;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f2f2f2}tr.failed td{background:#fdecea}tr.skipped td{color:#777}
td.bad{color:#c62828;font-weight:600}svg.chart{font-size:11px;display:block}
td.v-missed{color:#c62828;font-weight:600}td.v-met{color:#2e7d32}td.v-unknown{color:#777}
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
    totals = s.get("objectives")
    if totals:
        facts[5:5] = [
            ("Objectives met / missed / unknown (disks)",
             f"{totals['met']} / {totals['missed']} / {totals['unknown']}"),
            *((f"{kind.upper()} met / missed / unknown",
               f"{totals[kind]['met']} / {totals[kind]['missed']} / {totals[kind]['unknown']}")
              for kind in ("rto", "rpo")),
            ("Recovery p95 trend", _trend_text(report.get("recoveryP95Trend")))]
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
        "<h2>Objectives</h2>",
        "<p>RTO: the recovery time (restore requested to restored disk verified) against the "
        "plan's rtoMinutes; a failed disk missed it. RPO: the age of the newest recovery point "
        "when the drill started (what an incident would restore from) against rpoHours; the "
        "restored point's age is beside it.</p>",
        _objective_rows(disks), _history_chart(disks),
        "<h2>Disks</h2>",
        "<table><tr><th>Disk</th><th>Verdict</th><th>Reason</th><th>Recovery point</th>"
        "<th>Point age</th><th>Recovery time</th><th>Restored disk</th><th>Kept</th></tr>"
        + "".join(rows) + "</table>",
        "<h2>Checks of failed disks</h2>", check_block, "</body>", "</html>", ""])
