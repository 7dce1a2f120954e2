"""The restore-time benchmark's measurement (dev/bench/restore_time.py; figures and targets live in
`make bench`, not here): what it counts must be what happened."""

from __future__ import annotations

import pytest
from bench.restore_time import NAIVE_WAIT, measure


def test_the_restore_benchmark_measures_one_restore_and_the_literal_procedure():
    result = measure(240, seed=7)
    auto, naive = result["automated"], result["naive"]
    # Azure's busy time cannot exceed the run that waited for it
    assert 0 < auto["criticalPathSeconds"] <= auto["endToEndSeconds"]
    assert auto["overhead"] == round(auto["endToEndSeconds"] / auto["criticalPathSeconds"] - 1, 4)
    assert auto["phases"]["propagate"] >= 240  # the role took 4 minutes to work
    # the restore's own changes: grant, restore, the restored disk's properties (its provenance
    # tags and the source's network settings), attach, revoke; the rest are probes
    assert auto["armWritesWithoutProbes"] == 5, auto["writesByOperation"]
    assert auto["writesByOperation"]["disks/write"] == 1
    assert auto["validationProbes"] >= 2
    assert auto["armWrites"] == 5 + auto["validationProbes"]
    assert auto["historyEvents"] > 0
    assert naive["seconds"] > NAIVE_WAIT
    assert result["speedupVsLiteral"] == round(naive["seconds"] / auto["endToEndSeconds"], 2)
    # the critical path: one chain from the start to the end, through both waits
    path = auto["criticalPath"]
    assert path["waits"]["start"] == 1 and path["instances"] == 3  # the restore and its waits
    assert path["episodes"] == sum(path["waits"].values())
    assert path["episodes"] <= auto["episodes"]
    assert path["dispatchSeconds"] == 0 and auto["queuePolls"] is None  # no polling model


def test_with_queue_polling_the_timers_on_the_critical_path_pay_for_it():
    polled = measure(0, seed=7, config={"maxInterval": 30.0, "wake": True},
                     naive=False)["automated"]
    path = polled["criticalPath"]
    # the timers on the chain, and the start (sent from outside the durable instance, an hour
    # after the host started), wait for polls; activities never do on one durable instance
    assert path["waits"]["timer"] >= 1
    assert path["dispatchSeconds"] > 0
    assert path["activityDispatchSeconds"] == 0
    assert polled["queuePolls"] > 0
    assert polled["endToEndSeconds"] > polled["criticalPathSeconds"]
    assert polled["overhead"] == pytest.approx(
        polled["endToEndSeconds"] / polled["criticalPathSeconds"] - 1, abs=1e-3)
