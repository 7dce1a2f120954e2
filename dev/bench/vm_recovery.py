"""Whole-VM recovery against the slowest of its disks (issue 17 part 5).

vm-app01 with its OS disk and three data disks (the demo scenario plus `vm-app01-data2` at LUN
2), azsim's real-data latency profile at the middle of each range (restore jobs 4.5 min, attach
30 s, power off 45 s, deallocate and start 90 s each...), a role propagation of 4 minutes, on a
virtual clock, under host.json's queue-polling dispatch (dev/bench/restore_time.py describes the
models; the seed draws the dispatch's randomisation). For each seed:
- the whole VM: one `POST /api/restores` with `source.vmId` (every disk restored at once under
  shared grants, then one VM change: the data disks replaced in one call, the OS disk swapped);
  its end-to-end time (the run's created time to its last update, on the simulated clock);
- each disk alone, each in a fresh azsim with the same seed: the data disks restored and replaced
  in place, the OS disk restored and swapped, and the critical path azsim reports for that run
  (the union of every duration the simulated services imposed: the time Azure itself was busy).
The target: the whole VM within 1.1x of the slowest single disk's critical path. The sum of the
single runs' end-to-end times is what the former disk-after-disk recovery took.
"""

from __future__ import annotations

import copy
import random
import time
import uuid
from typing import Any

import azsim
from demo import APP_IDENTITY
from devhost.azurite import Azurite
from devhost.clock import VirtualClock

from bench.environ import environ
from bench.restore_time import IDLE_BEFORE, _automated, _model, configs

SEEDS = (20240601, 1, 2)
PROPAGATION = 240
TARGETS = {"ratioToSlowestDiskMax": 1.1}
DISKS = ("vm-app01-osdisk", "vm-app01-data0", "vm-app01-data1", "vm-app01-data2")


def scenario(seed: int) -> dict[str, Any]:
    """The demo scenario with a third data disk on vm-app01 (LUN 2), protected like the others."""
    spec = copy.deepcopy(azsim.load_scenario("demo"))
    spec["seed"] = seed
    # Each range at its midpoint: every disk's Azure time is then the same in every run, and
    # the whole VM is set against the slowest disk's own chain, not against the luck of four
    # draws (a whole VM waits for the slowest of its restore jobs; no orchestration avoids it:
    # the whole-VM run's own overhead over Azure's critical path is reported beside).
    spec["durations"] = {k: (v[0] + v[1]) / 2 if isinstance(v, list) else v
                         for k, v in spec["durations"].items()}
    spec["durations"]["rolePropagation"] = PROPAGATION
    spec["disks"].append({"resourceGroup": "rg-app", "name": "vm-app01-data2",
                          "sku": "Premium_LRS", "sizeGB": 128, "tags": {"workload": "app01"},
                          "properties": {"tier": "P10"}})
    spec["virtualMachines"][0]["dataDisks"].append({"disk": "vm-app01-data2", "lun": 2,
                                                    "caching": "ReadOnly"})
    instances = spec["backupVaults"][0]["backupInstances"]
    instances.append(dict(instances[-1], disk="/subscriptions/{subscriptionId}/resourceGroups/"
                                              "rg-app/providers/Microsoft.Compute/disks/"
                                              "vm-app01-data2"))
    return spec


def _one(seed: int, request_for: Any) -> dict[str, Any]:
    """One run in a fresh azsim and host: `request_for(resource group prefix)` is its body."""
    clock = VirtualClock()
    config = configs()["configured"]
    with azsim.start(scenario=scenario(seed), clock=clock) as sim, \
            Azurite(oauth=True) as azurite:
        env = {"ARM_ENDPOINT": sim.endpoint, "ARM_CA_BUNDLE": sim.ca_bundle,
               "CALLER_AUTHORIZATION": "off", "ARM_CREDENTIAL": "dev-unsigned",
               "DEV_PRINCIPAL_ID": sim.app_principal_id, "DEV_TENANT_ID": sim.tenant_id,
               "AzureWebJobsStorage": "", **azurite.identity_settings(APP_IDENTITY),
               **azurite.trust_env(), "DEVHOST_MANAGED_IDENTITIES": APP_IDENTITY,
               "RECOVERY_LEDGER_TABLE": f"t{uuid.uuid4().hex[:16]}"}
        groups = f"/subscriptions/{sim.subscription_id}/resourceGroups"
        with environ(env):
            return _automated(sim, clock, request_for(groups), _model(config, seed),
                              idle=random.Random(seed).uniform(*IDLE_BEFORE))


def measure(seed: int) -> dict[str, Any]:
    def vm_id(groups: str) -> str:
        return f"{groups}/rg-app/providers/Microsoft.Compute/virtualMachines/vm-app01"

    whole = _one(seed, lambda g: {"source": {"vmId": vm_id(g)},
                                  "target": {"resourceGroupId": f"{g}/rg-restore-target"}})
    single = {}
    for disk in DISKS:
        def body(g: str, disk: str = disk) -> dict[str, Any]:
            change = {"swapOsDisk": {"vmId": vm_id(g)}} if disk.endswith("osdisk") else \
                {"attach": {"vmId": vm_id(g), "mode": "replace"}}
            return {"source": {"diskId": f"{g}/rg-app/providers/Microsoft.Compute/disks/{disk}"},
                    "target": {"resourceGroupId": f"{g}/rg-restore-target",
                               "diskName": f"{disk}-restored"}, **change}
        single[disk] = _one(seed, body)
    slowest = max(single, key=lambda d: single[d]["criticalPathSeconds"])
    return {
        "seed": seed, "propagationSeconds": PROPAGATION,
        "wholeVm": {k: whole[k] for k in ("endToEndSeconds", "criticalPathSeconds", "overhead",
                                          "phases", "armWrites", "writesByOperation")},
        "singleDisks": {d: {k: r[k] for k in ("endToEndSeconds", "criticalPathSeconds")}
                        for d, r in single.items()},
        "slowestDisk": slowest,
        "ratioToSlowestDisk": round(whole["endToEndSeconds"]
                                    / single[slowest]["criticalPathSeconds"], 3),
        "oneAfterAnotherSeconds": round(sum(r["endToEndSeconds"] for r in single.values()), 1),
    }


def run() -> dict[str, Any]:
    started = time.monotonic()
    runs = [measure(seed) for seed in SEEDS]
    worst = max(r["ratioToSlowestDisk"] for r in runs)
    return {"runs": runs, "targets": TARGETS,
            "met": {"ratioToSlowestDisk": worst <= TARGETS["ratioToSlowestDiskMax"]},
            "dispatch": configs()["configured"]["label"],
            "wallSeconds": round(time.monotonic() - started, 1)}


def markdown(result: dict[str, Any]) -> str:
    rows = ["| seed | whole VM, end to end | slowest disk alone: Azure's critical path (disk) | "
            "ratio | whole VM over its own critical path | disk after disk (sum of single "
            "runs) | whole VM's ARM writes |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in result["runs"]:
        slowest = r["singleDisks"][r["slowestDisk"]]
        rows.append(f"| {r['seed']} | {r['wholeVm']['endToEndSeconds']:.0f} s | "
                    f"{slowest['criticalPathSeconds']:.0f} s ({r['slowestDisk']}) | "
                    f"{r['ratioToSlowestDisk']:.3f}x | {r['wholeVm']['overhead']:.1%} | "
                    f"{r['oneAfterAnotherSeconds']:.0f} s | "
                    f"{r['wholeVm']['armWrites']} |")
    verdict = "\n".join(f"- {name}: **{'met' if ok else 'NOT met'}**"
                        for name, ok in result["met"].items())
    return ("## Whole-VM recovery against its slowest disk\n\n"
            "vm-app01 with an OS disk and three data disks, azsim's real-data latency profile "
            "(each range at its midpoint, so every disk's Azure time is the same), "
            f"{PROPAGATION // 60} minutes of role propagation, virtual time, dispatch: "
            f"{result['dispatch']}. The whole VM in one run (every disk at once, then one VM "
            "change) against the critical path of the slowest disk restored alone (restore and "
            "replace, or restore and swap, each in a fresh azsim with the same seed), and the "
            "sum of the single runs (the former disk-after-disk recovery).\n\n"
            + "\n".join(rows) + "\n\n"
            f"Target: the whole VM within {TARGETS['ratioToSlowestDiskMax']}x of the slowest "
            f"disk's critical path (every seed).\n\n{verdict}\n\n"
            "The whole VM pays what the slowest disk pays (its restore job and, for the OS disk, "
            "the stop and start) plus the data disks' one attachDetachDataDisks call and the "
            "polls' and dispatch's latency; the disks' restores overlap, their propagation "
            "waits too (one role assignment per scope, shared).\n\n"
            f"Wall clock: {result['wallSeconds']} s.\n")
