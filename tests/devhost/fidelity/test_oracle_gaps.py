"""Regression: the fidelity oracle once reported a false DISAGREE on an orchestration's last
episode.

When one episode's batch holds two completions and the first one completes the orchestration, the
SDK's executor stops reading the history there (TaskOrchestrationExecutor.execute breaks once the
execution has completed), so the second completion's task stays in `context.open_tasks`. The host
model (HostReplay) walks the whole batch and retires that id. The oracle compares the two at the end
of the history and reported DISAGREE although host and SDK assigned every id identically; with
Oracle(strict=True) (devhost.testing's default) a correct orchestration was then failed with the
oracle's message. The oracle now compares the host at the event where the SDK stopped. The
SDK's own fixture test_sequential_orchestrator_with_retry::
test_concurrent_retriable_results_alternating_taskIDs_when_any is such a history (two retried
tasks complete in one episode and task_any returns on the first); test_sdk_histories.py compares
at the point where the SDK stopped reading, and agrees.

Repro here: task_any over two durable timers due at the same instant; with the virtual clock both
TimerFired messages become visible at once and arrive in one episode.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from devhost.durable.oracle import AGREE, Oracle
from devhost.host import DevHost


def _run(start: Callable[..., DevHost], tmp_path: Path, instance_id: str, *,
         strict: bool) -> tuple[dict, Oracle]:
    host = start(tmp_path, strict=strict)
    oracle = host.oracle
    try:
        host.engine.start_new("timers_tie", instance_id, None)
        doc = host.wait_for(instance_id, timeout=30)
        history = host.store.history(instance_id)
        return doc | {"history_types": [e["EventType"] for e in history]}, oracle
    finally:
        host.stop()


def test_timers_tie_is_right_and_both_timers_arrive_in_the_last_episode(generated_host_factory,
                                                                        tmp_path):
    """Both timers arrive in the last episode, and the oracle agrees there."""
    doc, oracle = _run(generated_host_factory, tmp_path, "tie-lenient", strict=False)
    assert doc["runtimeStatus"] == "Completed", doc
    assert doc["output"] == "first"
    # ... OrchestratorStarted TimerFired TimerFired OrchestratorCompleted ExecutionCompleted
    assert doc["history_types"][-5:] == [12, 11, 11, 13, 1], doc["history_types"]
    # the last episode, which the oracle once flagged, now agrees
    assert [v.verdict for v in oracle.verdicts][-1] == AGREE


# Regression: the oracle once compared after the whole batch, past where the SDK stopped.
def test_timers_tie_completes_under_the_strict_oracle(generated_host_factory, tmp_path):
    doc, oracle = _run(generated_host_factory, tmp_path, "tie-strict", strict=True)
    assert oracle.divergences == []
    assert doc["runtimeStatus"] == "Completed", doc
    assert doc["output"] == "first"
