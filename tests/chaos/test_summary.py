"""The chaos summary's success rate: of the runs a cancel did not end, the share that Succeeded
(issue 20: at least 99 %), next to the violations."""

from __future__ import annotations

from pathlib import Path

from chaos import driver


def _record(outcome: str | None, *, done: bool = True) -> dict:
    return {"accepted": True, "done": done, "kind": "restore", "dup": "none",
            "view": {"outcome": outcome} if outcome else None}


def test_the_success_rate_leaves_out_cancelled_runs_and_counts_unfinished_ones_as_failures():
    accepted = [_record("Succeeded"), _record("Succeeded"), _record("Succeeded"),
                _record("Failed"), _record("Cancelled"), _record("Cancelled"),
                _record(None, done=False)]
    assert driver.success_rate(accepted) == {"nonCancelled": 5, "succeeded": 3, "rate": 0.6}


def test_no_runs_have_no_rate():
    assert driver.success_rate([_record("Cancelled")]) == {
        "nonCancelled": 0, "succeeded": 0, "rate": None}


def test_the_summary_shows_the_rate_next_to_the_violations(tmp_path: Path):
    batch = driver.Batch(index=0, profile={}, runs=[],
                         records=[_record("Succeeded"), _record("Failed"), _record("Cancelled")])
    summary = driver.summarize(driver.Options(seed=7), [batch], 1.0, tmp_path)
    keys = list(summary)
    assert keys.index("successRate") == keys.index("violations") + 1
    assert summary["successRate"] == {"nonCancelled": 2, "succeeded": 1, "rate": 0.5}


def test_a_finished_run_is_checked_again_from_what_it_saved(tmp_path: Path):
    """--recheck: the invariants judge a saved run again (a fixed checker, no new run)."""
    import gzip
    import json

    unfinished = {**_record(None, done=False), "run": 3, "env": 0, "requestId": "chaos-7-3",
                  "id": "restore-chaos-7-3", "targetDiskId": "/subscriptions/s/resourceGroups/"
                  "rg/providers/Microsoft.Compute/disks/r3-restore", "deadline": 300}
    batch = driver.Batch(index=0, profile={}, runs=[], records=[unfinished])
    first = driver.summarize(driver.Options(seed=7), [batch], 12.0, tmp_path)
    assert first["violations"] == []  # as if the run's own checkers had missed it
    (tmp_path / "results.json").write_text(json.dumps({"summary": first, "environments": [
        {"index": 0, "profile": {}, "stats": {}, "runs": [unfinished]}]}))
    (tmp_path / "env-0").mkdir()
    with gzip.open(tmp_path / "env-0" / "azsim.json.gz", "wt", encoding="utf-8") as f:
        json.dump({"snapshot": {"resources": [], "roleAssignments": []}, "audit": [],
                   "fired": [], "leases": []}, f)
    again = driver.recheck(tmp_path)
    assert [(v["invariant"], v["run"]) for v in again["violations"]] == [("1-terminal", 3)]
    assert again["wallSeconds"] == 12.0 and again["seed"] == 7
    assert json.loads((tmp_path / "rechecked.json").read_text()) == json.loads(json.dumps(again))
