"""A restore drill at scale: N protected disks in azsim, drilled with a concurrency cap.

Figures (virtual time: azsim's Azure durations, no real waiting): the restore phase's length
against the ideal for the cap (the total disk time divided by the cap, or the longest disk if
that is longer), and the peak number of disks in flight, read from azsim's audit log (a disk is
in flight from its first validateRestore to the deletion of its restored copy). Targets: within
1.2x the ideal; the cap never exceeded. `make bench` runs 200 disks with a cap of 10;
tests/restore/test_drills.py runs a smaller one.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

import azsim
from devhost.azurite import Azurite
from devhost.clock import VirtualClock
from devhost.testing import TestHost

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.2


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


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def drill_at_scale(disks: int, cap: int) -> dict[str, Any]:
    scenario = copy.deepcopy(azsim.load_scenario("demo"))
    many_disks(scenario, disks - 3)  # the demo scenario protects 3 disks
    clock = VirtualClock()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work, \
            azsim.start(scenario=scenario, clock=clock) as sim, Azurite() as azurite:
        rg = f"/subscriptions/{sim.subscription_id}/resourceGroups"
        sandbox = f"{rg}/rg-restore-target"
        plans = Path(work) / "drills.json"
        plans.write_text(json.dumps({"version": 1, "plans": [{
            "name": "scale", "schedule": "0 0 3 * * *", "maxParallel": cap,
            "timeBudgetMinutes": 1440, "sandboxResourceGroupId": sandbox,
            "selection": {"vaults": [f"{rg}/rg-backup/providers/Microsoft.DataProtection/"
                                     "backupVaults/bv-demo"]}}]}))
        container = f"scale-{uuid.uuid4().hex[:8]}"
        env = {"ARM_ENDPOINT": sim.endpoint, "ARM_CA_BUNDLE": sim.ca_bundle,
               "ARM_CREDENTIAL": "dev-unsigned", "DEV_PRINCIPAL_ID": sim.app_principal_id,
               "DEV_TENANT_ID": sim.tenant_id, "AzureWebJobsStorage": azurite.connection_string,
               "DRILL_PLANS_PATH": str(plans), "DRILL_REPORTS_CONTAINER": container,
               "RECOVERY_LEDGER_TABLE": f"t{uuid.uuid4().hex[:16]}",
               # coarser polls than the defaults (Azure's durations are the same): fewer
               # episodes at this scale
               "RESTORE_POLL_INTERVAL_SECONDS": "120", "ARM_OPERATION_POLL_SECONDS": "30",
               "RESTORE_PROBE_INTERVAL_SECONDS": "60"}
        with _environ(env):
            # The fidelity oracle (every episode replayed twice) is off at this scale; the same
            # orchestrations run under it in tests/restore/test_drills.py.
            host = TestHost(ROOT, clock=clock, oracle=False)
            try:
                answer = requests.post(f"{host.base_url}/api/drills", json={"plan": "scale"},
                                       timeout=60)
                answer.raise_for_status()
                drill = answer.json()["id"]
                output = host.wait_for(drill, timeout=3600)["output"]
                report = _blob(azurite.connection_string, container, f"scale/{drill}.json")
            finally:
                host.stop()
        figures = _figures(report, sim.audit(write=True), cap)
        leftovers = [r["id"] for r in sim.snapshot()["resources"]
                     if r["id"].lower().startswith(f"{sandbox.lower()}/providers/microsoft."
                                                   "compute/disks/")]
    return {**figures, "disks": disks, "cap": cap, "summary": output["summary"],
            "leftoverDisks": len(leftovers), "wallSeconds": round(time.monotonic() - started, 1)}


def _blob(connection: str, container: str, name: str) -> dict[str, Any]:
    from azure.storage.blob import BlobServiceClient
    service = BlobServiceClient.from_connection_string(connection)
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
    result = drill_at_scale(200, 10)
    result["target"] = {"ratioMax": TARGET_RATIO,
                        "met": result["ratio"] <= TARGET_RATIO and result["peakInFlight"] <= 10}
    return result


def markdown(result: dict[str, Any]) -> str:
    s = result["summary"]
    return "\n".join([
        "## Restore drill at scale", "",
        f"{result['disks']} disks, cap {result['cap']}: {s['passed']} passed, {s['failed']} "
        f"failed, {s['skipped']} skipped; recovery p50 {s['recoveryP50']} s, p95 "
        f"{s['recoveryP95']} s (virtual time).", "",
        f"Restore phase {result['restorePhaseSeconds']} s against an ideal of "
        f"{result['idealSeconds']} s for the cap: **{result['ratio']}x** (target <= "
        f"{TARGET_RATIO}x). Peak in flight from azsim's audit log: **{result['peakInFlight']}** "
        f"(cap {result['cap']}). Restored disks left: {result['leftoverDisks']}.", "",
        f"Target: **{'met' if result['target']['met'] else 'NOT met'}**. Wall clock: "
        f"{result['wallSeconds']} s.", ""])
