"""Restore time against Azure's own critical path, the literal documented procedure, and the ARM
calls and history a restore costs (issue 9).

For each role-propagation delay (0, 4 and 15 minutes) one azsim with the demo scenario's
real-data latency profile (validateRestore 20-40 s, restore job 3-6 min, attach 25-35 s, ...) on a
virtual clock, and in it:
- the app under devhost restores vm-app01-data0 and attaches it to vm-app01 (`POST
  /api/restores`, the orchestration's default intervals). Its end-to-end time (the run's created
  time to its last update, on the simulated clock) is set against the critical path azsim reports
  for the same run: the union of every duration the simulated services imposed (propagation,
  operations, the job), i.e. the time Azure itself was busy for us.
- then, in the same azsim, a naive script follows Microsoft's documented procedure literally:
  grant, wait a fixed 15 minutes, validate, restore, poll every 30 s, attach, revoke.

Time is virtual: our own CPU time is not on the simulated clock, so the overhead measured is the
overhead of the orchestration's waits and polls. A deployed app adds the Functions host's queue
polling latency per step, which this does not measure.
"""

from __future__ import annotations

import copy
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

import azsim
from bench.environ import environ
from devhost.clock import VirtualClock
from devhost.testing import TestHost
from domain.model import Operation
from domain.planning import build_plan
from domain.request import RestoreRequest
from gateway.factory import control_plane
from settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PROPAGATIONS = (0, 240, 900)
SEEDS = (20240601, 1, 2, 3, 4)  # each draws other durations from the profile's ranges
TARGETS = {"overheadMax": 0.05, "speedupVsLiteralAt240": 2.0, "armWritesMax": 8,
           "historyEventsMax": 300}
NAIVE_WAIT, NAIVE_POLL = 900, 30


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def measure(propagation: int, seed: int = 20240601) -> dict[str, Any]:
    scenario = copy.deepcopy(azsim.load_scenario("demo"))
    scenario["durations"]["rolePropagation"] = propagation
    scenario["seed"] = seed
    clock = VirtualClock()
    with azsim.start(scenario=scenario, clock=clock) as sim:
        sub = f"/subscriptions/{sim.subscription_id}/resourceGroups"
        env = {"ARM_ENDPOINT": sim.endpoint, "ARM_CA_BUNDLE": sim.ca_bundle,
               "CALLER_AUTHORIZATION": "off",
               "ARM_CREDENTIAL": "dev-unsigned", "DEV_PRINCIPAL_ID": sim.app_principal_id,
               "DEV_TENANT_ID": sim.tenant_id}
        request = {"source": {"diskId": f"{sub}/rg-app/providers/Microsoft.Compute/disks/"
                                        "vm-app01-data0"},
                   "target": {"resourceGroupId": f"{sub}/rg-restore-target",
                              "diskName": "bench-restored"},
                   "attach": {"vmId": f"{sub}/rg-app/providers/Microsoft.Compute/"
                                      "virtualMachines/vm-app01"}}
        with environ(env):
            automated = _automated(sim, clock, request)
            naive = _naive(sim, clock, dict(request, target=dict(request["target"],
                                                                  diskName="naive-restored")))
    return {"propagationSeconds": propagation, "automated": automated, "naive": naive,
            "speedupVsLiteral": round(naive["seconds"] / automated["endToEndSeconds"], 2)}


def _automated(sim: Any, clock: VirtualClock, request: dict[str, Any]) -> dict[str, Any]:
    host = TestHost(ROOT, clock=clock, oracle=False)
    try:
        answer = requests.post(f"{host.base_url}/api/restores", json=request, timeout=60)
        answer.raise_for_status()
        instance = answer.json()["id"]
        done = host.wait_for(instance, timeout=600)
        history = host.status(instance, show_history=True)["historyEvents"]
        # the largest history any orchestration of the restore replayed (the restore and its
        # waits, every generation): only this restore ran in this host
        replayed = max(stat.history_events for stat in host.host.engine.stats)
        episodes = len(host.host.engine.stats)
    finally:
        host.stop()
    output = done["output"]
    if output["outcome"] != "Succeeded":
        raise RuntimeError(f"the benchmark restore did not succeed: {output['error']}")
    e2e = _epoch(done["lastUpdatedTime"]) - _epoch(done["createdTime"])
    critical = sim.critical_path()
    ours = [e for e in sim.audit() if e["caller"] == sim.app_principal_id]
    writes = [e for e in ours if e["write"]]
    by_operation: dict[str, int] = {}
    for entry in writes:
        key = entry["operation"].split("/", 1)[-1]
        by_operation[key] = by_operation.get(key, 0) + 1
    probes = sum(n for op, n in by_operation.items() if op.lower().endswith("validaterestore"
                                                                             "/action"))
    return {
        "endToEndSeconds": round(e2e, 1),
        "criticalPathSeconds": round(critical["spanSeconds"], 1),
        "overhead": round(e2e / critical["spanSeconds"] - 1, 4),
        "phases": output["phases"],
        "armReads": len(ours) - len(writes), "armWrites": len(writes),
        "armWritesWithoutProbes": len(writes) - probes, "validationProbes": probes,
        "writesByOperation": dict(sorted(by_operation.items())),
        "historyEvents": replayed, "restoreHistoryEvents": len(history),
        "episodes": episodes,
    }


def _naive(sim: Any, clock: VirtualClock, request: dict[str, Any]) -> dict[str, Any]:
    """The documented procedure, literally, by a person or a script: grant the role, wait 15
    minutes, validate, restore, check every 30 s, attach, revoke."""
    plane = control_plane(Settings.from_env(dict(os.environ)), retry_backoff_factor=0.01)
    started = clock.time()
    plan = build_plan(RestoreRequest.from_dict(request), plane, instance_id="naive",
                      created=clock.now().isoformat(), propagation_timeout_s=1800,
                      job_timeout_s=14400)
    granted = [plane.grant_role(g) for g in plan.grants]
    sim.advance(NAIVE_WAIT)
    _wait(sim, plane, plane.start_validate_restore(plan))
    job_id = _wait(sim, plane, plane.start_restore(plan)).job_id
    while not plane.get_restore_job(job_id or "").finished:
        sim.advance(NAIVE_POLL)
    if plan.attach is None:
        raise RuntimeError("the naive procedure expects an attach")
    _wait(sim, plane, plane.start_attach_data_disk(plan.attach.vm_id, plan.target_disk_id,
                                                   plan.attach.lun, plan.attach.caching))
    for assignment in granted:
        plane.revoke_role(assignment.id)
    return {"seconds": round(clock.time() - started, 1), "fixedWaitSeconds": NAIVE_WAIT,
            "pollSeconds": NAIVE_POLL}


def _wait(sim: Any, plane: Any, operation: Operation) -> Any:
    while True:
        status = plane.get_operation(operation)
        if status.state == "succeeded":
            return status
        if status.state == "failed":
            raise RuntimeError(f"the naive procedure failed: {status.error_code} "
                               f"{status.error_message}")
        sim.advance(NAIVE_POLL)


def run() -> dict[str, Any]:
    started = time.monotonic()
    runs = [measure(p, seed) for p in PROPAGATIONS for seed in SEEDS]
    by_delay = {p: _summary([r for r in runs if r["propagationSeconds"] == p])
                for p in PROPAGATIONS}
    worst_overhead = max(s["overheadMax"] for s in by_delay.values())
    speedup = by_delay[240]["speedupMedian"]
    writes = max(s["armWritesMax"] for s in by_delay.values())
    history = max(s["historyEventsMax"] for s in by_delay.values())
    met = {"overhead": worst_overhead <= TARGETS["overheadMax"],
           "speedupVsLiteralAt240": speedup >= TARGETS["speedupVsLiteralAt240"],
           "armWrites": writes <= TARGETS["armWritesMax"],
           "historyEvents": history < TARGETS["historyEventsMax"]}
    return {"byDelay": by_delay, "runs": runs, "targets": TARGETS, "met": met,
            "wallSeconds": round(time.monotonic() - started, 1)}


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def median(values: list[float]) -> float:
        ordered = sorted(values)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    auto = [r["automated"] for r in runs]
    return {
        "samples": len(runs),
        "endToEndMedian": median([a["endToEndSeconds"] for a in auto]),
        "criticalPathMedian": median([a["criticalPathSeconds"] for a in auto]),
        "overheadMedian": median([a["overhead"] for a in auto]),
        "overheadMax": max(a["overhead"] for a in auto),
        "literalMedian": median([r["naive"]["seconds"] for r in runs]),
        "speedupMedian": median([r["speedupVsLiteral"] for r in runs]),
        "speedupMin": min(r["speedupVsLiteral"] for r in runs),
        "armWritesMax": max(a["armWrites"] for a in auto),
        "armWritesWithoutProbesMax": max(a["armWritesWithoutProbes"] for a in auto),
        "validationProbesMax": max(a["validationProbes"] for a in auto),
        "armReadsMax": max(a["armReads"] for a in auto),
        "historyEventsMax": max(a["historyEvents"] for a in auto),
    }


def markdown(result: dict[str, Any]) -> str:
    rows = ["| propagation | end to end | Azure's critical path | overhead (worst) | literal "
            "procedure | speed-up (worst) | ARM writes: changes + probes | ARM reads | "
            "history events |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for delay, s in result["byDelay"].items():
        rows.append(
            f"| {int(delay) // 60} min | {s['endToEndMedian']:.0f} s | "
            f"{s['criticalPathMedian']:.0f} s | {s['overheadMedian']:.1%} "
            f"({s['overheadMax']:.1%}) | {s['literalMedian']:.0f} s | "
            f"{s['speedupMedian']:.2f}x ({s['speedupMin']:.2f}x) | "
            f"{s['armWritesWithoutProbesMax']} + {s['validationProbesMax']} = "
            f"{s['armWritesMax']} | {s['armReadsMax']} | {s['historyEventsMax']} |")
    met = result["met"]
    verdict = "\n".join(f"- {name}: **{'met' if ok else 'NOT met'}**" for name, ok in met.items())
    samples = next(iter(result["byDelay"].values()))["samples"]
    return ("## Restore time against Azure's critical path\n\n"
            "Restore-and-attach of vm-app01-data0 in azsim's demo scenario (real-data latency "
            f"profile, virtual time; {samples} seeds per delay, medians with the worst case in "
            "brackets), against the time Azure itself was busy for the run (azsim's critical "
            "path), and a script following the documented procedure literally in the same azsim "
            "(grant, fixed 15-minute wait, validate, restore, poll every 30 s, attach, revoke)."
            "\n\n" + "\n".join(rows) + "\n\n"
            f"Targets: overhead <= {TARGETS['overheadMax']:.0%} at every delay; >= "
            f"{TARGETS['speedupVsLiteralAt240']:g}x the literal procedure at 4 min (median); <= "
            f"{TARGETS['armWritesMax']} ARM writes; < {TARGETS['historyEventsMax']} history events"
            f" per restore.\n\n{verdict}\n\n{WHY}\nWall clock: {result['wallSeconds']} s.\n")


WHY = """Where the figures come from, and why a target is not met:
- Overhead is the time nobody in Azure worked for us: the gap between an operation or the job
  ending and our next poll (operations polled every 5 s, the restore job every 10 s, validation
  probes every 20 s). With short propagation the restore job's poll dominates. Shorter polls cost
  ARM reads, not history: the two long waits are orchestrations of their own that continue as
  new (orchestrations/polls.py), so "history events" is the largest history any orchestration of
  the restore replayed.
- Each validation probe is a POST (validateRestore), which ARM counts as a write. The restore's
  own changes are 4 writes (grant, restore, attach, revoke); the probes that find out when the role
  has propagated come on top, one per ~50 s of propagation. A budget of 8 writes allows 4 probes,
  which at 15 minutes of propagation means one every ~4 minutes: an overhead of up to ~15%. The
  two targets pull against each other; this table shows the current choice.
- The literal procedure's fixed 15-minute wait is the whole difference: when propagation takes 15
  minutes both take as long.
"""
