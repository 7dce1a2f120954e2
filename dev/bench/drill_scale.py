"""Restore drills at scale: 1, 10, 100 and 500 protected disks in azsim, drilled with a cap of
10, each size in a process of its own (so its peak memory is its own).

Figures (virtual time: azsim's Azure durations, no real waiting): the restore phase's length
against the ideal for the cap (the total disk time divided by the cap, or the longest disk if
that is longer); the peak number of disks in flight, read from azsim's audit log (a disk is in
flight from its first validateRestore to the deletion of its restored copy); the largest history
any orchestration replayed and the orchestration episodes per disk, from devhost; the process's
peak resident memory (devhost, azsim and the app share it). Targets: within 1.1x the ideal at
500 disks; the cap never exceeded. tests/restore/test_drills.py runs a smaller one.
"""

from __future__ import annotations

import copy
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import azsim
import requests
from demo import APP_IDENTITY
from devhost.azurite import Azurite
from devhost.clock import VirtualClock
from devhost.testing import TestHost

from bench.environ import environ

ROOT = Path(__file__).resolve().parents[2]
TARGET_RATIO = 1.1
SIZES, CAP = (1, 10, 100, 500), 10


def many_disks(scenario: dict[str, Any], count: int) -> None:
    """`count` more protected data disks in rg-app, and ARM pages of 200 (thousands of jobs
    listed 50 at a time only cost time)."""
    scenario["pageSize"] = 200
    vault = scenario["backupVaults"][0]
    template = copy.deepcopy(vault["backupInstances"][0])
    for i in range(count):
        name = f"fleet-{i:03d}"
        scenario["disks"].append({"resourceGroup": "rg-app", "name": name, "sku": "Premium_LRS",
                                  "sizeGB": 64, "properties": {}})
        vault["backupInstances"].append(dict(copy.deepcopy(template), disk=(
            f"/subscriptions/{{subscriptionId}}/resourceGroups/rg-app/providers/"
            f"Microsoft.Compute/disks/{name}")))


def drill_at_scale(disks: int, cap: int) -> dict[str, Any]:
    scenario = copy.deepcopy(azsim.load_scenario("demo"))
    many_disks(scenario, disks - 3)  # the demo scenario protects 3 disks
    clock = VirtualClock()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work, \
            azsim.start(scenario=scenario, clock=clock) as sim, Azurite(oauth=True) as azurite:
        rg = f"/subscriptions/{sim.subscription_id}/resourceGroups"
        sandbox = f"{rg}/rg-restore-target"
        protected = [bi["disk"].replace("{subscriptionId}", sim.subscription_id)
                     for bi in scenario["backupVaults"][0]["backupInstances"]]
        excluded = protected[disks:]  # fewer disks than the demo protects: leave the rest out
        plans = Path(work) / "drills.json"
        plans.write_text(json.dumps({"version": 1, "plans": [{
            "name": "scale", "schedule": "0 0 3 * * *", "maxParallel": cap,
            "timeBudgetMinutes": 1440, "sandboxResourceGroupId": sandbox,
            "selection": {"vaults": [f"{rg}/rg-backup/providers/Microsoft.DataProtection/"
                                     "backupVaults/bv-demo"], "exclude": excluded}}]}))
        container = f"scale-{uuid.uuid4().hex[:8]}"
        env = {"ARM_ENDPOINT": sim.endpoint, "ARM_CA_BUNDLE": sim.ca_bundle,
               "CALLER_AUTHORIZATION": "off",
               "ARM_CREDENTIAL": "dev-unsigned", "DEV_PRINCIPAL_ID": sim.app_principal_id,
               "DEV_TENANT_ID": sim.tenant_id,
               # storage as in production: by identity, no connection string, no key
               "AzureWebJobsStorage": "", **azurite.identity_settings(APP_IDENTITY),
               **azurite.trust_env(), "DEVHOST_MANAGED_IDENTITIES": APP_IDENTITY,
               "DRILL_PLANS_PATH": str(plans), "DRILL_REPORTS_CONTAINER": container,
               "RECOVERY_LEDGER_TABLE": f"t{uuid.uuid4().hex[:16]}",
               # coarser polls than the defaults (Azure's durations are the same): fewer
               # episodes at this scale
               "RESTORE_POLL_INTERVAL_SECONDS": "120", "ARM_OPERATION_POLL_SECONDS": "30",
               "RESTORE_PROBE_INTERVAL_SECONDS": "60"}
        with environ(env):
            # The fidelity oracle (every episode replayed twice) is off at this scale; the same
            # orchestrations run under it in tests/restore/test_drills.py.
            host = TestHost(ROOT, clock=clock, oracle=False)
            try:
                answer = requests.post(f"{host.base_url}/api/drills", json={"plan": "scale"},
                                       timeout=60)
                answer.raise_for_status()
                drill = answer.json()["id"]
                output = host.wait_for(drill, timeout=3600)["output"]
                report = _blob(azurite, container, f"scale/{drill}.json")
                stats = list(host.host.engine.stats)
            finally:
                host.stop()
        figures = _figures(report, sim.audit(write=True), cap)
        leftovers = [r["id"] for r in sim.snapshot()["resources"]
                     if r["id"].lower().startswith(f"{sandbox.lower()}/providers/microsoft."
                                                   "compute/disks/")]
    return {**figures, "disks": disks, "cap": cap, "summary": output["summary"],
            "leftoverDisks": len(leftovers), "wallSeconds": round(time.monotonic() - started, 1),
            "largestHistory": max(stat.history_events for stat in stats),
            "episodesPerDisk": round(len(stats) / disks, 1),
            "peakMemoryMiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _blob(azurite: Azurite, container: str, name: str) -> dict[str, Any]:
    """The report as the app wrote it, read with the account key (the benchmark, not the app)."""
    from azure.storage.blob import BlobServiceClient
    service = BlobServiceClient.from_connection_string(azurite.connection_string,
                                                       connection_verify=azurite.ca_bundle)
    return json.loads(service.get_blob_client(container, name).download_blob().readall())


def _figures(report: dict[str, Any], audit: list[dict[str, Any]], cap: int) -> dict[str, Any]:
    spans = [(datetime.fromisoformat(d["started"]), datetime.fromisoformat(d["finished"]))
             for d in report["disks"] if d["started"] and d["finished"]]
    work = sum((end - start).total_seconds() for start, end in spans)
    ideal = max(work / cap, max((end - start).total_seconds() for start, end in spans))
    phase = (max(end for _, end in spans) - min(start for start, _ in spans)).total_seconds()
    first: dict[str, str] = {}
    ends: list[str] = []
    for entry in audit:
        operation = entry["operation"].lower()
        if entry["status"] >= 300:
            continue
        if operation.endswith("validaterestore/action"):
            first.setdefault(entry["scope"].lower(), entry["time"])
        elif operation == "microsoft.compute/disks/delete":
            ends.append(entry["time"])
    peak, running, i = 0, 0, 0
    ends.sort()
    for start in sorted(first.values()):  # in flight at each start: started minus ended
        while i < len(ends) and ends[i] <= start:
            running, i = running - 1, i + 1
        running += 1
        peak = max(peak, running)
    return {"restorePhaseSeconds": round(phase, 1), "idealSeconds": round(ideal, 1),
            "ratio": round(phase / ideal, 3), "peakInFlight": peak, "restoresSeen": len(first),
            "deletesSeen": len(ends)}


def run() -> dict[str, Any]:
    sizes = []
    for disks in SIZES:
        done = subprocess.run([sys.executable, "-m", "bench.drill_scale", str(disks), str(CAP)],
                              capture_output=True, text=True, cwd=ROOT, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the {disks}-disk drill failed:\n{done.stderr[-3000:]}")
        sizes.append(json.loads(done.stdout.strip().splitlines()[-1]))
    largest = sizes[-1]
    met = largest["ratio"] <= TARGET_RATIO and all(s["peakInFlight"] <= CAP for s in sizes) \
        and all(s["leftoverDisks"] == 0 and s["summary"]["passed"] == s["disks"] for s in sizes)
    return {"sizes": sizes, "cap": CAP, "target": {"ratioMax": TARGET_RATIO, "met": met},
            "wallSeconds": round(sum(s["wallSeconds"] for s in sizes), 1)}


def markdown(result: dict[str, Any]) -> str:
    rows = ["| disks | passed | restore phase | ideal for the cap | ratio | peak in flight | "
            "largest history replayed | episodes per disk | peak memory | wall clock |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for s in result["sizes"]:
        rows.append(f"| {s['disks']} | {s['summary']['passed']} | {s['restorePhaseSeconds']:.0f} s"
                    f" | {s['idealSeconds']:.0f} s | {s['ratio']:.3f}x | {s['peakInFlight']} | "
                    f"{s['largestHistory']} | {s['episodesPerDisk']} | {s['peakMemoryMiB']:.0f} "
                    f"MiB | {s['wallSeconds']:.0f} s |")
    return "\n".join([
        "## Restore drills at scale", "",
        f"Each size drilled with a cap of {result['cap']} (virtual time; Azure's durations from "
        "the demo scenario's real-data profile), in a process of its own. Ideal: the disks' total "
        "time divided by the cap, or the longest disk. Peak in flight from azsim's audit log. "
        "History: the largest history any orchestration replayed (the drill, its lanes, each "
        "disk, each restore and its waits). Memory: the process's peak resident set (devhost, "
        "azsim and the app together).", "", *rows, "",
        f"Target: within {TARGET_RATIO}x the ideal at {result['sizes'][-1]['disks']} disks, the "
        f"cap never exceeded, every disk passed and none left: "
        f"**{'met' if result['target']['met'] else 'NOT met'}**. Wall clock: "
        f"{result['wallSeconds']} s.", ""])


if __name__ == "__main__":  # one size, in a process of its own: python -m bench.drill_scale N CAP
    print(json.dumps(drill_at_scale(int(sys.argv[1]), int(sys.argv[2]))))
