"""The CLI's tables fit the terminal (issue 18, part 4): at 60, 80, 120 and 200 columns every
line fits, whole columns go least important first, only the flexible column is cut (with an
ellipsis), no row wraps, and no ARM id appears (names only; --json has the ids)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from diskrestore_cli import render, table
from diskrestore_cli.table import ELLIPSIS, Column
from rich.cells import cell_len
from rich.console import Console

from .conftest import NOW, catalog, recovery_points, runs

WIDTHS = (60, 80, 120, 200)


def printed(show: Callable[..., None], data: Any, width: int) -> list[str]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, highlight=False)
    show(console, data, width, now=NOW)
    return buffer.getvalue().splitlines()


def drill_report(console: Console, report: dict[str, Any], width: int, now: Any) -> None:
    render.drill_report(console, report, width)


DRILL = {"drillId": "drill-nightly-sample-20261125T023000", "plan": "nightly-sample",
         "summary": {"passed": 2, "failed": 1, "skipped": 0, "successRate": 2 / 3,
                     "recoveryP50": 312, "recoveryP95": 1320, "recoveryMax": 1410,
                     "objectives": {"met": 1, "missed": 2, "unknown": 0}},
         "recoveryP95Trend": "rising",
         "durationSeconds": 1500, "observedParallel": 2, "maxParallel": 2,
         "disks": [{"diskId": d["diskId"], "verdict": v, "recoverySeconds": s, "reason": r,
                    "rto": {"objective": "rto", "verdict": rto},
                    "rpo": {"objective": "rpo", "verdict": "met"}}
                   for d, v, s, r, rto in zip(catalog(), ("passed", "failed", "passed"),
                                              (312, None, 1410),
                                              ("", "the restore job failed: UserError"
                                                   "SnapshotResourceGroupHasLock: the snapshot "
                                                   "resource group rg-snapshots has a delete "
                                                   "lock", ""),
                                              ("met", "missed", "missed"), strict=False)]}

TABLES: dict[str, tuple[Callable[..., None], Any]] = {
    "disks": (render.disks_table, catalog()),
    "points": (render.points_table, recovery_points(catalog()[1])),
    "list": (render.runs_table, runs()),
    "drill report": (drill_report, DRILL),
}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("kind", list(TABLES))
def test_every_line_fits_and_shows_no_arm_id(kind: str, width: int) -> None:
    show, data = TABLES[kind]
    lines = printed(show, data, width)
    assert lines
    for line in lines:
        assert cell_len(line) <= width, f"{kind} at {width}: {line!r}"
        assert "/subscriptions/" not in line and "/providers/" not in line, line


def test_disks_drop_whole_columns_least_important_first() -> None:
    headers = {w: printed(render.disks_table, catalog(), w)[0].split("  ") for w in WIDTHS}
    shown = {w: {h.strip() for h in hs if h.strip()} for w, hs in headers.items()}
    # the name and the newest point's age always (a 37-character name leaves 60 columns room
    # for the restores left but not for readiness: a narrower, less important column fits where
    # a wider one does not); readiness from 80 on; the rest as room allows
    order = ["NAME", "RG", "VM", "NEWEST POINT", "POINTS", "LEFT", "DRILL", "READY", "VAULT",
             "FINDINGS"]
    assert shown[60] == {"NAME", "NEWEST POINT", "LEFT"}
    for width in (80, 120, 200):
        assert {"NAME", "NEWEST POINT", "LEFT", "READY"} <= shown[width], (width, shown[width])
    assert [h.strip() for h in headers[200] if h.strip()] == order  # in their order
    assert shown[60] < shown[120] < shown[200]
    assert shown[200] == set(order)
    # at 200 nothing is cut: every finding is there in full; READY is never cut (a status and
    # how many findings), the codes give way first
    text = "\n".join(printed(render.disks_table, catalog(), 200))
    assert "notReady (2)" in text and "RestoreBudgetSpent, SnapshotMissing" in text
    assert ELLIPSIS not in text
    assert "notReady (2)" in "\n".join(printed(render.disks_table, catalog(), 80))
    # the hidden columns are named, and how to see them said
    note = printed(render.disks_table, catalog(), 80)[-1]
    assert note.startswith("(hidden at 80 columns: ") and "--json" in note


@pytest.mark.parametrize("width", WIDTHS)
def test_only_the_flexible_column_is_cut_and_names_stay_whole(width: int) -> None:
    for kind, flexible in (("disks", "READY"), ("points", "RESTORABLE"), ("list", "STATE"),
                           ("drill report", "REASON")):
        show, data = TABLES[kind]
        lines = printed(show, data, width)
        header = next(n for n, line in enumerate(lines) if line.startswith(
            ("NAME", "TIME", "ID", "DISK")))
        head = lines[header]
        start = head.find(flexible)
        for line in lines[header + 1:]:
            if ELLIPSIS in line and not line.startswith("(hidden"):
                assert start >= 0 and line.index(ELLIPSIS) >= start, (kind, width, line)
    # every disk's full name is on its row, at any width
    names = [d["name"] for d in catalog()]
    rows = printed(render.disks_table, catalog(), 60)[1:1 + len(names)]
    assert [r.split()[0] for r in rows] == names


def test_points_say_why_a_point_cannot_be_restored() -> None:
    wide = printed(render.points_table, recovery_points(catalog()[1]), 200)
    assert wide[0] == "vm-app01-data0 (rg-app)  5 recovery points, 10 restores left today"
    assert wide[1].split() == ["TIME", "AGE", "TIER", "RESTORABLE", "ID"]
    assert wide[2].split()[:5] == ["2026-11-25", "09:00", "3h", "ago", "operational"]
    assert wide[2].split()[5:] == ["yes", "0a1f3c5e7b9d4f6a8c0e2b4d6f8a0c2e0"]
    assert "no: its snapshot was deleted from the snapshot resource group rg-snapshots" in wide[6]
    # at 80 the reason is cut, but the point's id (what restore --point takes) is whole
    narrow = printed(render.points_table, recovery_points(catalog()[1]), 80)
    assert narrow[6].endswith("4a1f3c5e7b9d4f6a8c0e2b4d6f8a0c2e4") and f"no: its{ELLIPSIS}" not in \
        narrow[6] and ELLIPSIS in narrow[6]


def test_list_shows_where_a_running_restore_is_and_why_one_failed() -> None:
    lines = printed(render.runs_table, runs(), 120)
    assert lines[0].split() == ["ID", "STATE", "CREATED", "SOURCE", "STATUS"]  # TARGET: 122
    assert lines[-1] == "(hidden at 120 columns: TARGET; --width N or --json shows them)"
    by_id = {line.split()[0]: line for line in lines[1:]}
    assert "Running: restore job" in by_id["restore-e20df4dec4092a0966e8857f"]
    assert "Failed: TargetDiskExists" in by_id["restore-9d0c5f1e6a7b48c3a2d1e0f9"]
    assert "vm-app01-data1" in by_id["restore-9d0c5f1e6a7b48c3a2d1e0f9"]
    assert by_id["restore-ticket-42"].split()[1:4] == ["Succeeded", "5h", "ago"]


def test_fit_never_wraps_whatever_the_data() -> None:
    columns = [Column("A", 0), Column("B", 0), Column("NOTE", 1, flex=True, min_width=4)]
    rows = [["x" * 50, "two\nlines", "a\tb\r\nc"], ["é文字", "y" * 70, None]]
    for width in (20, 40, 60, 200):
        fitted = table.fit(columns, rows, width)
        assert len(fitted.lines) == 3
        for line in fitted.lines:
            assert "\n" not in line.plain and line.cell_len <= width, (width, line.plain)
    # columns that never go, wider than the terminal, are cropped, not wrapped
    assert table.fit(columns, rows, 20).lines[1].plain.endswith(ELLIPSIS)
    assert table.fit(columns, rows, 200).lines[1].plain.split() == \
        ["x" * 50, "two", "lines", "a", "b", "c"]


def test_the_flexible_column_gives_way_only_to_more_important_columns() -> None:
    columns = [Column("ID", 0), Column("WHY", 1, flex=True, min_width=5, ideal_width=20),
               Column("EXTRA", 2)]
    rows = [["id-1", "w" * 40, "e" * 10]]
    # room for WHY at its ideal and EXTRA: both
    assert [c.header for c in table.fit(columns, rows, 4 + 2 + 20 + 2 + 10).shown] == \
        ["ID", "WHY", "EXTRA"]
    # one cell less: EXTRA goes rather than WHY shrinking below its ideal for it
    narrow = table.fit(columns, rows, 4 + 2 + 20 + 2 + 10 - 1)
    assert [c.header for c in narrow.shown] == ["ID", "WHY"] and \
        [c.header for c in narrow.dropped] == ["EXTRA"]
    assert narrow.lines[1].plain == "id-1  " + "w" * 30 + ELLIPSIS  # 37 cells: WHY has 31
    # a narrow, less important column comes back when a wider one did not fit
    columns = [Column("ID", 0), Column("WIDE", 1), Column("N", 2)]
    assert [c.header for c in table.fit(columns, [["i", "w" * 30, "n"]], 10).shown] == ["ID", "N"]
    with pytest.raises(ValueError, match="at most one flexible"):
        table.fit([Column("A", flex=True), Column("B", flex=True)], [], 80)


@pytest.mark.parametrize(("seconds", "said"), [
    (0, "now"), (4, "now"), (45, "45s ago"), (60 * 12 + 5, "12m ago"), (3600 * 3 + 59, "3h ago"),
    (86400 * 5 + 3600, "5d ago"), (-300, "in 5m")])
def test_age_says_how_long_ago_in_one_unit(seconds: int, said: str) -> None:
    from datetime import timedelta
    assert table.age((NOW - timedelta(seconds=seconds)).isoformat(), NOW) == said
    assert table.age(None, NOW) == "" and table.age("not a time", NOW) == ""


def test_names_and_resource_groups_from_arm_ids() -> None:
    disk = catalog()[3]
    assert table.name(disk["diskId"]) == "sql-prod-weu-001-data-log-volume-0007"
    assert table.resource_group(disk["diskId"]) == "rg-sql-production-westeurope"
    assert table.resource_group(disk["vaultId"].replace("resourceGroups", "RESOURCEGROUPS")) \
        == "rg-backup"
    assert table.name(None) == "" and table.resource_group("/subscriptions/s") == ""


def test_a_drill_report_shows_each_disks_objective_verdicts_and_the_totals() -> None:
    lines = printed(*TABLES["drill report"], 120)
    assert any("objectives: 1 met, 2 missed, 0 unknown; p95 trend rising" in line
               for line in lines), lines
    rows = [line for line in lines if line.split() and line.split()[0] in
            {d["diskId"].rsplit("/", 1)[-1] for d in DRILL["disks"]}]
    assert [("met" in row, "missed" in row) for row in rows] == \
        [(True, False), (True, True), (True, True)], rows
