"""The known divergence (durable-local-host.md §2.6, `failfast_retry`), deterministically:

    try:
        yield context.task_all([boom, call_activity_with_retry(flaky)])
    except Exception:
        pass
    return (yield context.call_activity("square", 4))

boom fails, flaky fails and will be retried. The SDK fails the task_all fast, goes on and gives the
next sequence id (2) to square; the shim's Task.WhenAll is still waiting for flaky, and DTFx's
RetryInterceptor gives id 2 to flaky's retry timer. The TimerFired(2) is later delivered to the
SDK's square task, and the orchestration would complete with null instead of 16. devhost's oracle
must catch this: under Oracle(strict=True) the instance ends Failed with the oracle's DISAGREE
message; with a non-strict oracle the divergence is still recorded.

The test app runs one activity at a time, in the order they were scheduled (host.json:
maxConcurrentActivityFunctions=1), so boom's failure always reaches the orchestrator no later than
flaky's first failure; that makes the run deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from devhost.durable.oracle import DISAGREE, Oracle
from devhost.host import DevHost

ORACLE_MESSAGE = f"devhost fidelity oracle: {DISAGREE}"


def _run(start: Callable[..., DevHost], tmp_path: Path, orchestrator: str, instance_id: str, *,
         strict: bool) -> tuple[dict, Oracle]:
    host = start(tmp_path, strict=strict)
    oracle = host.oracle
    try:
        host.engine.start_new(orchestrator, instance_id, None)
        return host.wait_for(instance_id, timeout=30), oracle
    finally:
        host.stop()


def test_failfast_retry_fails_loudly_under_the_strict_oracle(generated_host_factory, tmp_path):
    doc, oracle = _run(generated_host_factory, tmp_path, "failfast_retry", "failfast-strict",
                       strict=True)
    assert doc["runtimeStatus"] == "Failed", doc
    assert doc["output"] != 16 and doc["output"] is not None
    assert doc["output"].startswith("Orchestrator function 'failfast_retry' failed: "
                                    f"{ORACLE_MESSAGE} in failfast_retry/failfast-strict"), doc
    (divergence,) = oracle.divergences  # the first disagreement ends the instance
    # the SDK gave the id to square (a task), the host model to flaky's retry timer
    shared = divergence.sdk.keys() & divergence.host.keys()
    assert any(divergence.sdk[i].startswith("task:") and divergence.host[i] == "timer"
               for i in shared), divergence.describe()


def test_failfast_retry_is_recorded_by_a_non_strict_oracle(generated_host_factory, tmp_path):
    doc, oracle = _run(generated_host_factory, tmp_path, "failfast_retry", "failfast-lenient",
                       strict=False)
    assert oracle.divergences, "the oracle did not detect the failfast_retry divergence"
    assert all(v.instance_id == "failfast-lenient" for v in oracle.divergences)
    assert ORACLE_MESSAGE in oracle.divergences[0].describe()
    # Left alone, the modelled host silently feeds a retry timer's TimerFired to square: this is
    # exactly the wrong result the strict oracle exists to stop.
    assert doc["runtimeStatus"] == "Completed", doc
    assert doc["output"] is None, doc


# Regression: the oracle once compared only timer-vs-task per id and let this one through.
def test_failfast_retry_with_the_retry_failing_first_is_detected(generated_host_factory, tmp_path):
    doc, _oracle = _run(generated_host_factory, tmp_path, "failfast_retry_flaky_first",
                       "failfast-flaky-first", strict=True)
    assert doc["output"] != "succeeded on attempt 2", "silent wrong result: square got flaky's"
    assert doc["runtimeStatus"] == "Failed", doc
    assert ORACLE_MESSAGE in doc["output"], doc
