"""devhost's per-episode cost against the SDK's own replay, and activity throughput.

Per-episode cost at ~10, ~100 and ~1,000 history events comes from the episodes of one long
sequential chain (each step adds four events). The host's share is everything the episode does
outside the SDK's handle (reading history, building the context, the shim's replay, SQLite
commits), as a fraction of the time spent inside the handle. Target: under 25 %.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from devhost.clock import VirtualClock
from devhost.host import DevHost

APP = Path(__file__).parent / "apps" / "chain"
SIZES = (10, 100, 1000)  # the sizes the target is set at
SMALLER = (2, 6)  # the first episodes of any instance: reported, outside the target
TARGET_SHARE = 0.25


def _host(state: str) -> DevHost:
    return DevHost(APP, port=0, state_dir=state, clock=VirtualClock(), listeners=False).start()


def episode_costs(long_steps: int = 260,
                  chains: tuple[tuple[int, int], ...] = ((300, 3), (20, 28)),
                  ) -> list[dict[str, Any]]:
    """Episode stats from one long chain (every size up to ~1,000 events), then many short and
    medium chains so that 10 and 100 events have many samples (`chains`: (count, steps)). One
    instance runs at a time: this is the cost of an episode, not of contention between them (the
    throughput figure covers that)."""
    with tempfile.TemporaryDirectory() as state:
        host = _host(state)
        try:
            host.wait_for(host.engine.start_new("chain", None, str(long_steps)), timeout=600)
            for count, steps in chains:
                for _ in range(count):
                    host.wait_for(host.engine.start_new("chain", None, str(steps)), timeout=60)
            stats = list(host.engine.stats)
        finally:
            host.stop()
    rows = []
    for size in SMALLER + SIZES:
        near = [s for s in stats if abs(s.history_events - size) <= size // 10]  # within 10 %
        sdk = statistics.median(s.sdk_seconds for s in near)
        host = statistics.median(s.total_seconds - s.sdk_seconds for s in near)
        # The share is taken per episode (host and SDK time of the same episode), then the
        # median: immune to the machine's speed drifting during the run.
        share = statistics.median((s.total_seconds - s.sdk_seconds) / s.sdk_seconds
                                  for s in near)
        rows.append({"history_events": size, "episodes_measured": len(near),
                     "sdk_ms": round(sdk * 1000, 3), "host_ms": round(host * 1000, 3),
                     "episode_ms": round((sdk + host) * 1000, 3),
                     "host_share": round(share, 3), "in_target": size in SIZES})
    return rows


def activity_throughput(n: int = 2000, batch: int = 100) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as state:
        host = _host(state)
        try:
            t0 = time.perf_counter()
            iid = host.engine.start_new("fan_out", None, f"[{n}, {batch}]")
            doc = host.wait_for(iid, timeout=600)
            elapsed = time.perf_counter() - t0
        finally:
            host.stop()
    assert doc["output"] == n, doc
    return {"activities": n, "batch": batch, "seconds": round(elapsed, 2),
            "activities_per_second": round(n / elapsed, 1)}


def run() -> dict[str, Any]:
    costs = episode_costs()
    worst = max(r["host_share"] for r in costs if r["in_target"])
    return {"episode_costs": costs, "throughput": activity_throughput(),
            "target": {"host_share_max": TARGET_SHARE, "worst_host_share": worst,
                       "met": worst < TARGET_SHARE}}


def markdown(result: dict[str, Any]) -> str:
    lines = ["## devhost episode cost", "",
             "| history events | episodes | SDK handle (ms) | host (ms) | episode (ms) "
             "| host share |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in result["episode_costs"]:
        size = r["history_events"] if r["in_target"] else f"{r['history_events']}*"
        lines.append(f"| {size} | {r['episodes_measured']} | {r['sdk_ms']} | "
                     f"{r['host_ms']} | {r['episode_ms']} | {r['host_share']:.0%} |")
    t, target = result["throughput"], result["target"]
    lines += ["", "\\* Outside the target, shown so the fixed cost is in plain sight: an "
                  "instance's first episodes, where the SDK has almost nothing to replay."]
    lines += ["", f"Activities: {t['activities']} in batches of {t['batch']} took {t['seconds']} s "
                  f"= **{t['activities_per_second']} activities/s**.", "",
              f"Target host share < {target['host_share_max']:.0%}: worst "
              f"{target['worst_host_share']:.0%} → **{'met' if target['met'] else 'NOT met'}**."]
    lines += ["", "Host share: the median over episodes of (episode time outside the SDK's handle)"
                  " / (time inside it), one instance running at a time. Outside the handle: "
                  "reading the instance and its messages, building the context JSON, the shim's "
                  "replay of the actions, and the one SQLite transaction that makes kill -9 safe. "
                  "Inside it: the worker's invocation (the InvocationRequest's TypedData in and "
                  "out, its converters) and the SDK's replay, both of which the real host pays "
                  "too."]
    if not target["met"]:
        small = next(r for r in result["episode_costs"] if r["in_target"])
        lines += ["", f"Why not: the host's cost per episode is nearly fixed (~{small['host_ms']} "
                      "ms, most of it the SQLite commit), while the SDK's replay grows with the "
                      f"history: at {small['history_events']} events the SDK takes only "
                      f"{small['sdk_ms']} ms."]
    return "\n".join(lines) + "\n"
