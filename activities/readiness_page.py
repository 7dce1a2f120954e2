"""The readiness report as one self-contained HTML page (inline style and SVG, nothing fetched,
every string escaped), drawn from the JSON report `domain.readiness.checks.assess` builds and the
trend of the last runs. Deterministic: the same report and trend give the same bytes.
"""

from __future__ import annotations

from typing import Any

from domain.readiness.readiness_report import every_finding

from .report_page import _e, _n  # the drill report's escaping and number format

COLOURS = {"ready": "#2e7d32", "atRisk": "#ef6c00", "notReady": "#c62828", "unknown": "#757575"}
SEVERITY = {"error": "#c62828", "warning": "#ef6c00", "info": "#1565c0"}
_LABELS = {"ready": "ready", "atRisk": "at risk", "notReady": "not ready", "unknown": "unknown"}


def _status_bar(summary: dict[str, Any]) -> str:
    """One stacked bar: how many disks are ready, at risk, not ready."""
    total = summary["disks"] or 1
    width, x, parts = 600, 0.0, []
    parts.append(f'<svg class="chart" width="{width + 10}" height="46" role="img" '
                 'aria-label="Disks by status">')
    for key in ("ready", "atRisk", "notReady"):
        count = summary[key]
        if not count:
            continue
        w = width * count / total
        parts.append(f'<rect class="status" data-status="{key}" x="{_n(x)}" y="4" '
                     f'width="{_n(w)}" height="22" fill="{COLOURS[key]}"><title>{count} '
                     f'{_LABELS[key]}</title></rect><text x="{_n(x + 4)}" y="40">{count} '
                     f'{_LABELS[key]}</text>')
        x += w
    if not summary["disks"]:
        parts.append('<text x="0" y="20">No protected disk was checked.</text>')
    parts.append("</svg>")
    return "".join(parts)


def _rpo_chart(disks: list[dict[str, Any]]) -> str:
    """Per disk: the newest recovery point's age, against its RPO (the tick)."""
    timed = [d for d in disks if (d.get("rpo") or {}).get("actual") is not None]
    if not timed:
        return "<p>No disk has a recovery point.</p>"
    label_w, bar_w, row_h = 200, 420, 22
    top = max(max(float(d["rpo"]["actual"]), float(d["rpo"].get("target") or 0)) for d in timed)
    top = top or 1.0
    parts = [f'<svg class="chart" width="{label_w + bar_w + 120}" '
             f'height="{row_h * len(timed) + 10}" role="img" '
             'aria-label="Age of the newest recovery point against the RPO, per disk">']
    for i, d in enumerate(timed):
        y, age = 5 + i * row_h, float(d["rpo"]["actual"])
        target = d["rpo"].get("target")
        fill = COLOURS["notReady"] if d["rpo"]["verdict"] == "missed" else COLOURS["ready"]
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">'
                     f'{_e(d["name"])}</text><rect class="rpo" data-verdict="'
                     f'{_e(d["rpo"]["verdict"])}" x="{label_w}" y="{y + 2}" '
                     f'width="{_n(bar_w * age / top)}" height="{row_h - 6}" fill="{fill}">'
                     f'<title>{_e(d["diskId"])}: {age:g} h</title></rect>')
        if target is not None:
            tx = label_w + bar_w * float(target) / top
            parts.append(f'<line class="target" x1="{_n(tx)}" y1="{y}" x2="{_n(tx)}" '
                         f'y2="{y + row_h - 2}" stroke="#222" stroke-width="2"/>')
        goal = "\u2014" if target is None else f"{float(target):g} h"
        parts.append(f'<text x="{_n(label_w + bar_w + 6)}" y="{y + 15}">{age:g} h / '
                     f'{goal}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _findings_chart(counts: dict[str, int], severity: dict[str, str]) -> str:
    if not counts:
        return "<p>No findings.</p>"
    label_w, bar_w, row_h = 230, 360, 22
    most = max(counts.values())
    parts = [f'<svg class="chart" width="{label_w + bar_w + 60}" '
             f'height="{row_h * len(counts) + 10}" role="img" aria-label="Findings per code">']
    for i, (code, count) in enumerate(sorted(counts.items(), key=lambda c: (-c[1], c[0]))):
        y = 5 + i * row_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{_e(code)}</text>'
                     f'<rect class="finding" data-code="{_e(code)}" x="{label_w}" y="{y + 2}" '
                     f'width="{_n(bar_w * count / most)}" height="{row_h - 6}" '
                     f'fill="{SEVERITY.get(severity.get(code, "info"), "#757575")}"/>'
                     f'<text x="{_n(label_w + bar_w * count / most + 6)}" y="{y + 15}">'
                     f'{count}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _trend_chart(trend: list[dict[str, Any]]) -> str:
    """Disks ready, at risk and not ready per run."""
    width, height, left, right, top, bottom = 640, 220, 50, 20, 15, 45
    plot_w, plot_h = width - left - right, height - top - bottom
    most = max((max(t.get("ready", 0), t.get("atRisk", 0), t.get("notReady", 0))
                for t in trend), default=0) or 1

    def x(i: int) -> float:
        return left + (plot_w / 2 if len(trend) == 1 else plot_w * i / (len(trend) - 1))

    def y(value: float) -> float:
        return top + plot_h * (1 - value / most)

    parts = [f'<svg class="chart" width="{width}" height="{height}" role="img" '
             'aria-label="Disks by status per readiness run">',
             f'<line class="axis" x1="{left}" y1="{_n(y(0))}" x2="{left + plot_w}" '
             f'y2="{_n(y(0))}"/><line class="axis" x1="{left}" y1="{top}" x2="{left}" '
             f'y2="{_n(y(0))}"/>',
             f'<text x="{left - 6}" y="{_n(y(most) + 4)}" text-anchor="end">{most}</text>'
             f'<text x="{left - 6}" y="{_n(y(0) + 4)}" text-anchor="end">0</text>']
    for i, t in enumerate(trend):  # the first and last run's time, kept inside the chart
        if i in (0, len(trend) - 1):
            anchor = "end" if i and i == len(trend) - 1 else "start"
            parts.append(f'<text x="{_n(x(i))}" y="{height - bottom + 16}" '
                         f'text-anchor="{anchor}">{_e(str(t.get("checkedAt") or "")[:16])}</text>')
    for n, key in enumerate(("ready", "atRisk", "notReady")):
        points = [(x(i), y(float(t.get(key, 0)))) for i, t in enumerate(trend)]
        for i, (px, py) in enumerate(points):
            parts.append(f'<circle class="point" cx="{_n(px)}" cy="{_n(py)}" r="3" '
                         f'fill="{COLOURS[key]}"><title>{_e(trend[i].get("runId"))}: '
                         f'{trend[i].get(key, 0)} {_LABELS[key]}</title></circle>')
        if len(points) > 1:
            parts.append('<polyline points="' + " ".join(f"{_n(a)},{_n(b)}" for a, b in points)
                         + f'" fill="none" stroke="{COLOURS[key]}" stroke-width="2"/>')
        parts.append(f'<text x="{left + 120 * n}" y="{height - 6}" fill="{COLOURS[key]}">'
                     f'\u25cf {_LABELS[key]}</text>')
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
dl.summary{display:grid;grid-template-columns:max-content auto;gap:.2em 1.2em}
dt{font-weight:600}dd{margin:0}table{border-collapse:collapse;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f2f2f2}tr.notReady td{background:#fdecea}tr.atRisk td{background:#fff4e5}
td.error{color:#c62828;font-weight:600}td.warning{color:#ef6c00;font-weight:600}
svg.chart{font-size:11px;display:block}.axis{stroke:#888;stroke-width:1}
.badge{display:inline-block;padding:.1em .6em;border-radius:.6em;color:#fff}"""


def _rto_cell(disk: dict[str, Any]) -> str:
    """The last drill's time against the RTO ("12.5 min / 30 min (met)"), or why there is none."""
    rto, drill = disk.get("rto") or {}, disk.get("lastDrill")
    if drill is None:
        return "never drilled"
    took = "failed" if drill.get("verdict") == "failed" else f'{_e(rto.get("actual"))} min'
    target = f' / {_e(rto.get("target"))} min' if rto.get("target") is not None else ""
    return f'{took}{target} ({_e(rto.get("verdict", "unknown"))})'


def render_readiness_html(report: dict[str, Any], trend: list[dict[str, Any]]) -> str:
    """One self-contained HTML5 page for the report (no external resources of any kind)."""
    s, disks, status = report["summary"], report["disks"], report["status"]
    title = f"Restore readiness \u2014 {_e(report['checkedAt'])}"
    found = every_finding(report)
    severity = {f["code"]: f["severity"] for f in sorted(
        found, key=lambda f: {"error": 2, "warning": 1}.get(f["severity"], 0))}
    facts = [("Status", _LABELS.get(status, status)), ("Disks", s["disks"]),
             ("Ready", s["ready"]), ("At risk", s["atRisk"]), ("Not ready", s["notReady"]),
             ("Findings", len(found)), ("Checked at", report["checkedAt"])]
    rows = []
    for d in sorted(disks, key=lambda d: ({"notReady": 0, "atRisk": 1}.get(d["status"], 2),
                                          d["diskId"].lower())):
        rpo, point = d["rpo"], d.get("newestRecoveryPoint") or {}
        rows.append(
            f'<tr class="{_e(d["status"])}"><td title="{_e(d["diskId"])}">{_e(d["name"])}</td>'
            f'<td>{_e(_LABELS.get(d["status"], d["status"]))}</td>'
            f'<td>{_e(point.get("time"))}</td><td>{_e(rpo.get("actual"))} h / '
            f'{_e(rpo.get("target"))} h ({_e(rpo["verdict"])})</td>'
            f'<td>{_rto_cell(d)}</td>'
            f'<td>{_e(d["restoresLeftToday"])}</td>'
            f'<td>{_e(", ".join(f["code"] for f in d["findings"]) or "none")}</td></tr>')
    items = [f'<tr><td class="{_e(f["severity"])}">{_e(f["severity"])}</td>'
             f'<td>{_e(f["code"])}</td><td title="{_e(f["scope"])}">'
             f'{_e(f["scope"].rsplit("/", 1)[-1])}</td><td>{_e(f["message"])}</td></tr>'
             for f in sorted(found, key=lambda f: ({"error": 0, "warning": 1}.get(
                 f["severity"], 2), f["code"], f["scope"]))]
    finding_block = ("<table><tr><th>Severity</th><th>Code</th><th>Scope</th><th>What to do"
                     f"</th></tr>{''.join(items)}</table>" if items else "<p>No findings.</p>")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{title}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
        f'<h1>{title} <span class="badge" style="background:'
        f'{COLOURS.get(status, "#757575")}">{_e(_LABELS.get(status, status))}</span></h1>',
        '<dl class="summary">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>"
                                         for k, v in facts) + "</dl>",
        "<h2>Disks by status</h2>", _status_bar(s),
        "<h2>Newest recovery point against the RPO</h2>", _rpo_chart(disks),
        "<h2>Findings per code</h2>", _findings_chart(s["findings"], severity),
        "<h2>Trend</h2>", _trend_chart(trend),
        "<h2>Disks</h2>",
        "<table><tr><th>Disk</th><th>Status</th><th>Newest recovery point</th>"
        "<th>Age / RPO</th><th>Last drill / RTO</th><th>Restores left today</th>"
        "<th>Findings</th></tr>"
        + "".join(rows) + "</table>",
        "<h2>Findings</h2>", finding_block, "</body>", "</html>", ""])
