"""The restore-time benchmark's measurement (bench/restore_time.py; figures and targets live in
`make bench`, not here): what it counts must be what happened."""

from __future__ import annotations

from bench.restore_time import NAIVE_WAIT, measure


def test_the_restore_benchmark_measures_one_restore_and_the_literal_procedure():
    result = measure(240, seed=7)
    auto, naive = result["automated"], result["naive"]
    # Azure's busy time cannot exceed the run that waited for it
    assert 0 < auto["criticalPathSeconds"] <= auto["endToEndSeconds"]
    assert auto["overhead"] == round(auto["endToEndSeconds"] / auto["criticalPathSeconds"] - 1, 4)
    assert auto["phases"]["propagate"] >= 240  # the role took 4 minutes to work
    # the restore's own changes: grant, restore, attach, revoke; the rest are probes
    assert auto["armWritesWithoutProbes"] == 4, auto["writesByOperation"]
    assert auto["validationProbes"] >= 2
    assert auto["armWrites"] == 4 + auto["validationProbes"]
    assert auto["historyEvents"] > 0
    assert naive["seconds"] > NAIVE_WAIT
    assert result["speedupVsLiteral"] == round(naive["seconds"] / auto["endToEndSeconds"], 2)
