"""What the CLI shows: the live progress of a run (one row per phase), the plan of a dry run,
lists, drill reports, and errors as one line plus a hint."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Console, Group
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from . import table
from .table import Column

RESTORE_PHASES = ["plan", "grant", "propagate", "restore", "track", "revoke"]
DRILL_PHASES = ["select", "grant", "restore", "revoke", "report"]
LABELS = {
    "plan": "plan", "grant": "grant roles", "propagate": "roles take effect",
    "restore": "start restore", "track": "restore job", "approval": "approval",
    "cleanup": "clean up", "attach": "attach disk", "swap": "swap OS disk",
    "revoke": "revoke roles", "select": "select disks", "report": "report", "verify": "verify",
}
GOOD = {"Succeeded", "DryRun", "Completed"}
ROLE_NAMES = {"b50d9833-a0cb-478e-945f-707fcc997c13": "Disk Restore Operator",
              "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader"}


def expected_phases(view: dict[str, Any], action: str | None, drill: bool = False) -> list[str]:
    """The phases to show: those seen so far, in order, then the ones still to come."""
    seen = list((view.get("phases") or {}).keys())
    if view.get("phase") and view["phase"] != "done" and view["phase"] not in seen:
        seen.append(view["phase"])
    plan = list(DRILL_PHASES if drill else RESTORE_PHASES)
    if action in ("attach", "swap"):
        plan.insert(plan.index("revoke"), action)
    if view.get("done"):
        return seen
    return seen + [p for p in plan if p not in seen and
                   (not seen or plan.index(p) > max((plan.index(s) for s in seen if s in plan),
                                                    default=-1))]


def progress(view: dict[str, Any], *, action: str | None = None, drill: bool = False,
             now: datetime | None = None) -> Group:
    """The live display of a run: a header line and one row per phase."""
    now = now or datetime.now(UTC)
    current = view.get("phase")
    table = Table.grid(padding=(0, 2))
    table.add_column(width=2)
    table.add_column(min_width=18)
    table.add_column(justify="right", min_width=8)
    table.add_column()
    phases = view.get("phases") or {}
    failed = view.get("done") and view.get("outcome") not in GOOD
    for name in expected_phases(view, action, drill):
        span = phases.get(name) or {}
        start, end = _time(span.get("start")), _time(span.get("end"))
        label = LABELS.get(name, name)
        if end is not None:
            last_failed = failed and name == _last(phases)
            icon: Any = Text("✗", style="bold red") if last_failed else Text("✓", style="green")
            table.add_row(icon, label, _seconds((end - start).total_seconds()) if start else "",
                          Text(_detail(name, view) if last_failed else "", style="dim"))
        elif name == current and not view.get("done"):
            elapsed = (now - start).total_seconds() if start else 0
            table.add_row(Spinner("dots", style="cyan"), Text(label, style="bold"),
                          _seconds(max(elapsed, 0)), Text(_detail(name, view), style="cyan"))
        else:
            table.add_row(Text("·", style="dim"), Text(label, style="dim"), "", "")
    return Group(header(view), table)


def header(view: dict[str, Any]) -> Text:
    state = view.get("outcome") or view.get("runtimeStatus") or "Pending"
    style = "green" if state in GOOD else "red" if view.get("done") else "yellow"
    text = Text.assemble((view.get("id") or "", "bold"), "  ", (state, style))
    return text


def _detail(name: str, view: dict[str, Any]) -> str:
    detail = view.get("progress") or {}
    if view.get("done") and view.get("error"):
        return f"{view['error'].get('code')}: {view['error'].get('message')}"
    if name == "propagate" and detail.get("probe"):
        last = f": not in effect yet ({detail['lastError']})" if detail.get("lastError") else ""
        return f"validation probe {detail['probe']}{last}"
    if name == "track":
        return f"job {detail.get('jobStatus') or 'started'}"
    if name == "approval":
        return f"waiting for approve/reject of the {detail.get('action', 'action')}"
    if name == "attach" and "lun" in detail:
        return f"LUN {detail['lun']}"
    if name in ("restore", "grant") and "disks" in detail:
        return f"{detail['disks']} disk(s)"
    return ""


def _last(phases: dict[str, Any]) -> str | None:
    return list(phases)[-1] if phases else None


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.0f}s" if value >= 10 else f"{value:.1f}s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}m{seconds:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def phase_line(view: dict[str, Any]) -> str:
    """For a terminal that is not one (a pipe, a CI log): one line per change."""
    detail = _detail(view.get("phase") or "", view)
    return f"{view.get('id')}: {view.get('phase') or 'pending'}" + (f" ({detail})" if detail
                                                                       else "")


# ---- results -----------------------------------------------------------------------------------
def result(console: Console, view: dict[str, Any]) -> None:
    """The end of a restore: what was restored, where it is now, what was left."""
    out = view.get("result") or {}
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("outcome", Text(view.get("outcome") or "?",
                                  style="green" if view.get("outcome") in GOOD else "red"))
    point = out.get("recoveryPoint") or {}
    if point:
        table.add_row("recovery point", f"{point.get('time')}  ({point.get('id')})")
    if out.get("restoredDiskId"):
        # its name and group: the full id folds over three lines of 80 columns (--json has it)
        table.add_row("restored disk", f"{name(out['restoredDiskId'])} in "
                                       f"{resource_group(out['restoredDiskId'])}")
    for disk in out.get("disks") or []:  # a whole-VM restore: each disk's run
        attach = disk.get("attach") or {}
        where = "OS disk" if disk.get("swap") else f"LUN {attach.get('lun')}" if attach else ""
        made = name(disk.get("restoredDiskId")) or (disk.get("error") or {}).get("code")
        table.add_row(f"disk {where}".strip(), f"{disk.get('outcome')}: {made}")
    if out.get("skewSeconds") is not None:
        table.add_row("points", f"{out.get('oldestPoint')} .. {out.get('newestPoint')} "
                      f"(skew {_seconds(out['skewSeconds'])})")
    if out.get("undoes"):
        table.add_row("undoes", out["undoes"])
    if out.get("attach"):
        attach = out["attach"]
        table.add_row("replaced" if attach.get("replaces") else "attached",
                      (f"{name(attach['replaces'])} on " if attach.get("replaces") else "")
                      + f"{name(attach.get('vmId'))} at LUN {attach.get('lun')}")
    if out.get("swap"):
        table.add_row("OS disk swapped", name(out["swap"].get("vmId")))
    change = out.get("vmChange") or {}
    if change:
        table.add_row("VM disks", _disks_changed(change))
        table.add_row("note", change.get("note") or "")
    assignments = out.get("roleAssignments") or []
    if assignments:
        table.add_row("role assignments", _assignments(assignments))
    for warning in out.get("warnings") or []:
        table.add_row(Text("warning", style="yellow"), warning)
    began, ended = _time(view.get("createdTime")), _time(view.get("lastUpdatedTime"))
    if began and ended:
        table.add_row("took", _seconds((ended - began).total_seconds()))
    if out.get("approval"):
        decision = out["approval"]
        table.add_row("approval", f"{'approved' if decision.get('approved') else 'not approved'}"
                      f" by {decision.get('by') or 'nobody'}")
    console.print(table)


def _assignments(assignments: list[dict[str, Any]]) -> str:
    """What became of the run's role assignments: revoked (True), kept for other runs that
    still hold them ("kept: ..."), found in place, or left (another text: the sweeper's)."""
    found = sum(1 for a in assignments if a.get("preExisting"))
    ours = [a for a in assignments if not a.get("preExisting")]
    revoked = sum(1 for a in ours if a.get("revoked") is True)
    shared = sum(1 for a in ours if str(a.get("revoked")).startswith("kept"))
    left = len(ours) - revoked - shared
    parts = [f"{len(assignments)} used", f"{revoked} revoked"]
    if found:
        parts.append(f"{found} pre-existing")
    if shared:
        parts.append(f"{shared} kept for other runs")
    if left:
        parts.append(f"{left} LEFT (the sweeper removes them)")
    return ", ".join(parts)


def _disks_changed(change: dict[str, Any]) -> str:
    """Each disk slot that changed: `OS: a -> b`, `LUN 0: a -> b` (names; ids in --json)."""
    before, after = change.get("before") or {}, change.get("after") or {}
    lines = []
    if (before.get("osDiskId") or "").lower() != (after.get("osDiskId") or "").lower():
        lines.append(f"OS: {name(before.get('osDiskId'))} -> {name(after.get('osDiskId'))}")
    was, now = before.get("dataDisks") or {}, after.get("dataDisks") or {}
    for lun in sorted(set(was) | set(now), key=lambda k: int(k) if k.isdigit() else 0):
        if (was.get(lun) or "").lower() != (now.get(lun) or "").lower():
            lines.append(f"LUN {lun}: {name(was.get(lun)) if was.get(lun) else '-'} -> "
                         f"{name(now.get(lun)) if now.get(lun) else '-'}")
    return "\n".join(lines) or "unchanged"


def plan_table(console: Console, view: dict[str, Any]) -> None:
    """A dry run's resolved plan."""
    out = view.get("result") or {}
    plan = out.get("plan") or {}
    table = Table(title="Restore plan (dry run: nothing was changed)", show_header=False,
                  title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    point = plan.get("recoveryPoint") or {}
    bi = plan.get("backupInstance") or {}
    source = plan.get("sourceDisk") or {}
    rows = [("backup instance", bi.get("id")),
            ("vault", bi.get("vaultId")),
            ("source disk", bi.get("datasourceId")),
            ("  size, SKU", ", ".join(filter(None, [
                f"{source['sizeGb']} GiB" if source.get("sizeGb") else None,
                source.get("sku"), source.get("osType")])) or None),
            ("  encryption set", source.get("encryptionSetId")),
            ("recovery point", f"{point.get('time')}  ({point.get('id')})" if point else None),
            ("target disk", plan.get("targetDiskId")),
            ("region", plan.get("targetLocation")),
            ("snapshot resource group", bi.get("snapshotResourceGroupId")),
            ("vault identity", bi.get("vaultPrincipalId"))]
    for key, value in rows:
        if value:
            table.add_row(key, str(value))
    for grant in plan.get("grants") or []:
        role = grant.get("roleName") or ROLE_NAMES.get(grant.get("roleDefinitionGuid"), "?")
        table.add_row("will grant", f"{role} on {grant.get('scope')}")
    if plan.get("attach"):
        attach = plan["attach"]
        if attach.get("replaces"):
            table.add_row("then replace", f"{name(attach['replaces'])} on "
                          f"{name(attach.get('vmId'))} at LUN {attach.get('lun')} (caching "
                          f"{attach.get('caching')}; the original is kept)")
        else:
            table.add_row("then attach", f"to {name(attach.get('vmId'))} at LUN "
                          f"{attach.get('lun')} (caching {attach.get('caching')})")
    if plan.get("swap"):
        table.add_row("then swap", f"the OS disk of {name(plan['swap'].get('vmId'))}")
    table.add_row("and finally", "revoke every role it granted")
    console.print(table)


# Tables (table.py fits them to the terminal: whole columns go, least important first; ids are
# names here, full in --json).
def runs_table(console: Console, listing: dict[str, Any], width: int | None = None,
               now: datetime | None = None) -> None:
    runs = listing.get("restores") or []
    if not runs:
        console.print(f"no restores since {listing.get('since')}")
        return
    # newest first, so which disk matters more than how long ago (CREATED goes before SOURCE)
    columns = [Column("ID", 0), Column("STATE", 1, flex=True, min_width=9, ideal_width=24),
               Column("CREATED", 3, justify="right"), Column("SOURCE", 2), Column("TARGET", 4),
               Column("STATUS", 5)]
    rows = []
    for run in runs:
        if run.get("done"):
            state = run.get("outcome") or run.get("runtimeStatus") or ""
            if run.get("errorCode") and run["errorCode"] not in state:
                state = f"{state}: {run['errorCode']}"
            style = "green" if run.get("outcome") in GOOD else "red"
        else:  # where it is: the runtime status alone says only "Running"
            phase = run.get("phase")
            state = f"{run.get('runtimeStatus') or 'Pending'}" + (
                f": {LABELS.get(phase, phase)}" if phase else "")
            style = "yellow"
        target = run.get("target") or {}
        rows.append([
            run["id"], Text(state + (" (dry run)" if run.get("dryRun") and "DryRun" not in state
                                     else ""), style=style),
            table.age(run.get("createdTime"), now),
            name(run.get("source")) or ("(recovery)" if run.get("kind") == "recovery" else ""),
            "/".join(filter(None, [name(target.get("resourceGroupId")),
                                   target.get("diskName")])),
            run.get("runtimeStatus") or ""])
    table.show(console, columns, rows, width)
    if listing.get("truncated"):
        console.print(f"(the {listing.get('count')} newest; --top shows more)", style="dim")


READY_STYLE = {"ready": "green", "atRisk": "yellow", "notReady": "red"}
VERDICT_STYLE = {"passed": "green", "failed": "red", "met": "green", "missed": "red"}


def disks_table(console: Console, disks: list[dict[str, Any]], width: int | None = None,
                now: datetime | None = None) -> None:
    """GET /api/disks: one row per protected disk (docs/cli.md)."""
    columns = [Column("NAME", 0), Column("RG", 3), Column("VM", 4),
               Column("NEWEST POINT", 1, justify="right"), Column("POINTS", 6, justify="right"),
               Column("LEFT", 2, justify="right"), Column("DRILL", 5),
               Column("READY", 1), Column("VAULT", 7),
               Column("FINDINGS", 6, flex=True, min_width=12, ideal_width=40)]
    rows = []
    for disk in disks:
        newest = disk.get("newestRecoveryPoint") or {}
        drill = disk.get("lastDrill") or {}
        readiness = disk.get("readiness") or {}
        status = readiness.get("status") or ""
        findings = [str(f) for f in readiness.get("findings") or []]
        left = disk.get("restoresLeftToday")
        rows.append([
            disk.get("name") or name(disk.get("diskId")),
            disk.get("resourceGroup") or table.resource_group(disk.get("diskId")),
            name(disk.get("vmId")) or "-",
            table.age(newest.get("time"), now) or Text("none", style="red"),
            str(disk.get("recoveryPointCount", "")),
            Text(str(left if left is not None else ""), style="red" if left == 0 else ""),
            Text(drill.get("verdict") or "-",
                 style=VERDICT_STYLE.get(str(drill.get("verdict")), "")),
            # the status whole, with how many findings; the codes where there is room
            Text(f"{status} ({len(findings)})" if findings else status or "-",
                 style=READY_STYLE.get(status, "")),
            name(disk.get("vaultId")), ", ".join(findings) or "-"])
    table.show(console, columns, rows, width)


def points_table(console: Console, points: dict[str, Any], width: int | None = None,
                 now: datetime | None = None) -> None:
    """GET /api/disks/{sub}/{rg}/{disk}/recovery-points: newest first (docs/cli.md)."""
    width = width or console.width
    value = points.get("value") or []
    left = points.get("restoresLeftToday")
    disk = points.get("diskId")
    head = Text.assemble((name(disk), "bold"), f" ({table.resource_group(disk)})  "
                         f"{len(value)} recovery point{'' if len(value) == 1 else 's'}")
    if left is not None:
        head.append(f", {left} restore{'' if left == 1 else 's'} left today",
                    style="red" if left == 0 else "")
    console.print(table.crop(head, width), soft_wrap=True)
    if not value:
        return
    columns = [Column("TIME", 0), Column("AGE", 2, justify="right"), Column("TIER", 3),
               Column("RESTORABLE", 1, flex=True, min_width=10,
                                                 ideal_width=28), Column("ID", 0)]
    rows = []
    for point in value:
        restorable = point.get("restorable")
        reason = point.get("reason")
        said = ("yes" if restorable else "no") + (f": {reason}" if reason else "")
        rows.append([table.clock(point.get("time")), table.age(point.get("time"), now),
                     point.get("tier") or "",
                     Text(said, style="green" if restorable else "red"),
                     name(point.get("id"))])
    table.show(console, columns, rows, width)


def drill_report(console: Console, report: dict[str, Any], width: int | None = None) -> None:
    summary = report.get("summary") or {}
    rate = summary.get("successRate")
    width = width or console.width
    lines = [
        Text.assemble("drill ", (report.get("drillId", ""), "bold"),
                      f", plan {report.get('plan')}"),
        Text.assemble((f"{summary.get('passed', 0)} passed", "green"), ", ",
                      (f"{summary.get('failed', 0)} failed",
                       "red" if summary.get("failed") else ""),
                      f", {summary.get('skipped', 0)} skipped",
                      f" ({rate:.0%} success)" if rate is not None else ""),
        Text(f"recovery time p50 {_opt(summary.get('recoveryP50'))}, p95 "
             f"{_opt(summary.get('recoveryP95'))}, max {_opt(summary.get('recoveryMax'))}"),
        Text(f"took {_opt(report.get('durationSeconds'))}, at most "
             f"{report.get('observedParallel')} at once (cap {report.get('maxParallel')})")]
    if isinstance(objectives := summary.get("objectives"), dict):
        lines.append(Text.assemble(
            "objectives: ", (f"{objectives.get('met', 0)} met", "green"), ", ",
            (f"{objectives.get('missed', 0)} missed", "red" if objectives.get("missed") else ""),
            f", {objectives.get('unknown', 0)} unknown",
            f"; p95 trend {report.get('recoveryP95Trend')}"
            if report.get("recoveryP95Trend") else ""))
    for line in lines:
        console.print(table.crop(line, width), soft_wrap=True)
    columns = [Column("DISK", 0), Column("RG", 4), Column("VERDICT", 0),
               Column("RECOVERY", 1, justify="right"), Column("RTO", 2), Column("RPO", 2),
               Column("REASON", 3, flex=True, min_width=12, ideal_width=30)]
    rows = []
    for disk in report.get("disks") or []:
        verdict = disk.get("verdict", "")
        rows.append([name(disk.get("diskId")), table.resource_group(disk.get("diskId")),
                     Text(verdict, style=VERDICT_STYLE.get(verdict, "")),
                     _opt(disk.get("recoverySeconds")), _objective(disk.get("rto")),
                     _objective(disk.get("rpo")), disk.get("reason") or ""])
    table.show(console, columns, rows, width)


def _objective(verdict: Any) -> Text | str:
    """A disk's verdict against one objective ("met", "missed"; "—" for none or unknown)."""
    word = verdict.get("verdict") if isinstance(verdict, dict) else None
    if word not in ("met", "missed"):
        return "—"
    return Text(str(word), style=VERDICT_STYLE[str(word)])


def _opt(seconds: Any) -> str:
    return "—" if seconds is None else _seconds(float(seconds))


name = table.name
resource_group = table.resource_group
