"""`diskrestore disks` and `diskrestore points` (issue 18) against a stand-in app serving the
documented shapes over HTTP (tests/cli/conftest.py): what they ask the app, what they print at a
given width, --json unchanged, paging, how DISK is resolved, and every failure as one line with
its exit code. The end-to-end test against the real routes lives in tests/restore."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from diskrestore_cli import main as cli
from rich.cells import cell_len

from .conftest import SUB, SUB2, StandIn, catalog, disk_id, item, recovery_points, runs

ROOT = Path(__file__).resolve().parents[2]
POINTS = f"/api/disks/{SUB}/rg-app/vm-app01-data0/recovery-points"


@pytest.fixture
def diskrestore(capsys, monkeypatch, stand_in):
    """Run the CLI in-process against the stand-in: (exit code, stdout, stderr). Errors are
    read at a width where rich does not fold them: one line means one line."""
    monkeypatch.setattr(cli.err, "width", 300)

    def run(*args: str, width: int = 80) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.run(["--url", stand_in.url, "--width", str(width), *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return run


def test_disks_shows_the_first_page_and_says_there_is_more(diskrestore, stand_in: StandIn):
    stand_in.page_max = 4
    code, out, err = diskrestore("disks")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["NAME", "NEWEST", "POINT"]
    assert [line.split()[0] for line in lines[1:5]] == [d["name"] for d in catalog()[:4]]
    assert lines[-1] == "(4 shown; more on the next pages: use --all)"
    assert all(cell_len(line) <= 80 for line in lines) and "/subscriptions/" not in out
    assert len(stand_in.requests("/api/disks")) == 1

    code, out, _ = diskrestore("disks", "--all")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[1:7]] == [d["name"] for d in catalog()]
    assert "use --all" not in out
    # the second page was asked of --url, with the link's query (its host is not ours)
    assert stand_in.requests("/api/disks")[-1] == {"skipToken": ["4"]}


def test_disks_json_is_the_api_answer_with_full_ids(diskrestore, stand_in: StandIn):
    stand_in.page_max = 4
    code, out, _ = diskrestore("disks", "--json")
    page = json.loads(out)
    assert code == 0 and page["value"] == catalog()[:4]
    assert page["nextLink"].endswith("skipToken=4")
    code, out, _ = diskrestore("disks", "--json", "--all")
    assert json.loads(out) == {"value": catalog(), "nextLink": None}


def test_disks_filters_are_passed_to_the_app(diskrestore, stand_in: StandIn):
    stand_in.disks[0]["tags"] = {"env": "prod", "tier": "gold"}
    code, out, err = diskrestore("disks", "--resource-group", "rg-app", "--vm", "vm-app01",
                                 "--tag", "env=prod", "--tag", "tier=gold", "--top", "10")
    assert code == 0, err
    assert stand_in.requests("/api/disks") == [{
        "resourceGroup": ["rg-app"], "vm": ["vm-app01"], "tag": ["env=prod", "tier=gold"],
        "top": ["10"]}]
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["vm-app01-os", "(hidden"]

    code, out, _ = diskrestore("disks", "-g", "rg-nothing-here")
    assert code == 0 and out.startswith("no protected disks match")


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_disks_and_points_fit_the_width_asked_for(diskrestore, width: int):
    for args in (["disks"], ["points", "vm-app01-data1"], ["list"]):
        code, out, err = diskrestore(*args, width=width)
        assert code == 0, err
        assert out and max(cell_len(line) for line in out.splitlines()) <= width, (args, out)
    code, out, _ = diskrestore("disks", width=200)
    assert "notReady (2)" in out and "RestoreBudgetSpent, SnapshotMissing" in out
    assert "hidden" not in out


def test_points_by_id_by_rg_and_name_and_by_name(diskrestore, stand_in: StandIn):
    for given in (disk_id("vm-app01-data0"), disk_id("VM-APP01-DATA0").replace(
            "resourceGroups", "resourcegroups"), "rg-app/vm-app01-data0", "vm-app01-data0",
            "VM-App01-Data0"):
        stand_in.seen.clear()
        code, out, err = diskrestore("points", given, width=120)
        assert code == 0, (given, err)
        asked = [path for path, _ in stand_in.seen if path.endswith("/recovery-points")]
        assert [p.lower() for p in asked] == [POINTS.lower()], given
        lines = out.splitlines()
        assert lines[0] == "vm-app01-data0 (rg-app)  5 recovery points, 10 restores left today"
        assert lines[1].split() == ["TIME", "AGE", "TIER", "RESTORABLE", "ID"]
        assert lines[-1].split()[-1] == "4a1f3c5e7b9d4f6a8c0e2b4d6f8a0c2e4"
        assert "no: its snapshot was deleted" in lines[-1]
    # an ARM id needs no catalog read; a name does
    stand_in.seen.clear()
    diskrestore("points", disk_id("vm-app01-data0"))
    assert stand_in.requests("/api/disks") == []


def test_points_json_is_the_api_answer(diskrestore):
    code, out, _ = diskrestore("points", "rg-app/vm-app01-data0", "--json")
    assert code == 0 and json.loads(out) == recovery_points(catalog()[1])


def test_a_name_that_names_several_disks_lists_them_in_one_line(diskrestore, stand_in: StandIn):
    stand_in.disks += [item("vm-app01-data0", rg="rg-app-dr"),
                       item("scratch", rg="rg-batch", sub=SUB2)]
    stand_in.page_max = 3  # the candidates are on different pages
    code, out, err = diskrestore("points", "vm-app01-data0")
    lines = err.splitlines()
    assert code == 2 and out == ""
    assert lines[0] == "error: 'vm-app01-data0' names 2 protected disks: rg-app-dr/vm-app01-data0" \
                       ", rg-app/vm-app01-data0"
    assert lines[1] == "hint: give RG/NAME or the disk's ARM id" and len(lines) == 2
    code, _, _ = diskrestore("points", "rg-app-dr/vm-app01-data0")
    assert code == 0
    # the same group and name in two subscriptions: RG/NAME is not enough, the ids say which
    code, _, err = diskrestore("points", "rg-batch/scratch")
    assert code == 2 and f"(subscription {SUB})" in err and f"(subscription {SUB2})" in err
    code, out, err = diskrestore("points", disk_id("scratch", "rg-batch", SUB2))
    assert code == 0 and out.startswith("scratch (rg-batch)  5 recovery points"), err


@pytest.mark.parametrize(("args", "code", "said"), [
    (["points", "no-such-disk"], 3, "error: no protected disk 'no-such-disk' that you may restore"),
    (["points", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/snapshots/x"], 2,
     "error: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/snapshots/x' is not "
     "a managed disk's ARM id"),
    (["points", "a/b/c"], 2, "error: 'a/b/c' is neither a disk's ARM id, RG/NAME, nor a name"),
    (["points", disk_id("gone")], 3, "error: no protected disk gone in rg-app that you may "
                                     "restore"),
    (["disks", "--tag", "env"], 2, "error: --tag 'env' is not NAME=VALUE"),
    (["disks", "--tag", "=prod"], 2, "error: --tag '=prod' is not NAME=VALUE"),
])
def test_every_failure_is_one_line_and_an_exit_code(diskrestore, args: list[str], code: int,
                                                    said: str):
    done, out, err = diskrestore(*args)
    lines = err.splitlines()
    assert done == code and out == ""
    assert lines[0].startswith(said), err
    assert len(lines) == 2 and lines[1].startswith("hint: ") and "Traceback" not in err


def test_without_the_routes_the_cli_says_so_in_one_line(diskrestore, stand_in: StandIn):
    stand_in.answer = lambda path, query: (404, None)  # type: ignore[method-assign]
    code, _, err = diskrestore("disks")
    assert code == 3 and err.splitlines()[0] == \
        "error: GET /api/disks: not found (is --url the diskrestore app?)"
    code = cli.run(["--url", "http://127.0.0.1:9", "disks"])
    assert code == 4


def test_width_comes_from_columns_and_is_80_off_a_terminal(stand_in: StandIn):
    """The installed console script, as an operator runs it in a pipe: 80 columns unless
    COLUMNS (or --width) says otherwise."""
    def script(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        bare = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        return subprocess.run([str(Path(sys.executable).with_name("diskrestore")), "--url",
                               stand_in.url, *args], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=60, cwd=ROOT,
                              env={**bare, **env})

    def widest(done: subprocess.CompletedProcess[str]) -> int:
        assert done.returncode == 0, done.stderr
        return max(cell_len(line) for line in done.stdout.splitlines())

    natural = widest(script("disks", "--width", "1000"))
    assert natural > 120  # so that each width below is a real constraint
    assert 70 < widest(script("disks")) <= 80
    assert widest(script("disks", COLUMNS="120")) <= 120
    assert widest(script("disks", COLUMNS="120")) > 80
    assert widest(script("--width", "60", "disks", COLUMNS="120")) <= 60


def test_list_at_80_columns_shows_ids_whole_states_and_sources(diskrestore):
    code, out, _ = diskrestore("list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["ID", "STATE", "SOURCE"]
    assert "Failed: TargetDiskExists  vm-app01-data1" in out  # the error code whole
    assert [line.split()[0] for line in lines[1:5]] == [r["id"] for r in runs()["restores"]]
    assert lines[-1] == "(hidden at 80 columns: CREATED, TARGET, STATUS; --width N or --json " \
                        "shows them)"
    code, out, _ = diskrestore("list", "--json")
    assert json.loads(out) == runs()
