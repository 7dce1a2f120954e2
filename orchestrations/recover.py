"""An alert-driven recovery run: resolve what the matched policy restores, run one restore (a
sub-orchestration of restore_managed_disk) per disk, then give back the concurrency slot that
admission took.

Input {"runId", "policy": Policy.to_dict(), "signal": Signal.to_dict(), "config"}; same replay
rules as every orchestration here (see restore_managed_disk.py).
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from .outcome import error_dict
from .steps import RETRY, Orchestration, Run

SCHEMA = 1


def recover(context: df.DurableOrchestrationContext) -> Orchestration:
    doc: dict[str, Any] = context.get_input()
    run = Run(context)
    policy, signal = doc["policy"], doc["signal"]
    run.subject = {"source": {"resourceId": signal["resourceId"]}, "policy": policy["name"],
                   "signal": signal["eventType"]}
    approval = policy.get("approval") or {}
    children: list[str] = []
    restores: list[dict[str, Any]] = []
    resolution: dict[str, Any] = {}
    error: dict[str, Any] | None = None
    try:
        run.enter("resolve", policy=policy["name"], signal=signal["summary"])
        resolution = yield from run.call("resolve_recovery", {
            "policy": policy, "signal": signal, "runId": doc["runId"]})
        if not resolution.get("ignored"):
            children = [f"restore-{r['requestId']}" for r in resolution["requests"]]
            run.enter("restore", policy=policy["name"], signal=signal["summary"],
                      children=children)
            for request, child_id in zip(resolution["requests"], children, strict=True):
                child = {"request": request, "config": doc["config"],
                         "requestedBy": {"kind": "policy", "id": None, "name": policy["name"]},
                         "why": f"{signal['eventType']}: {signal['summary']}"}
                if approval.get("required"):
                    child["approval"] = {"timeoutMinutes": approval["timeoutMinutes"]}
                result = yield context.call_sub_orchestrator("restore_managed_disk", child,
                                                             child_id)
                restores.append(result)
    except Exception as exc:  # noqa: BLE001 - the slot is given back whatever happened
        error = error_dict(exc)
    run.enter("release")
    try:
        yield context.call_activity_with_retry("release_recovery_slot", RETRY, doc["runId"])
    except Exception as exc:  # noqa: BLE001 - reported; admission also frees slots of ended runs
        error = error or error_dict(exc)
    run.finish()
    return {"schema": SCHEMA, "id": context.instance_id, "policy": policy["name"],
            "action": policy["action"]["type"], "signal": signal,
            "outcome": _outcome(resolution, restores, error),
            "ignored": resolution.get("ignored"), "skipped": resolution.get("skipped", []),
            "restores": restores, "phases": run.durations(), "error": error}


def _outcome(resolution: dict[str, Any], restores: list[dict[str, Any]],
             error: dict[str, Any] | None) -> str:
    if error is not None:
        return "Failed"
    if resolution.get("ignored"):
        return "Ignored"
    results = {r.get("outcome") for r in restores}
    if results == {"Succeeded"}:
        return "Succeeded"
    if len(results) == 1:
        return results.pop() or "Failed"  # all NotApproved, all Cancelled, all Failed
    return "PartiallySucceeded" if "Succeeded" in results else "Failed"
