"""With more runs than one page of the Durable HTTP API holds (100), the sweeper still finds
every leftover role assignment and GET /api/restores still lists every run, newest first.

260 ended restore runs are written into devhost's task hub the way its engine records an ended
run (running 260 real restores would take minutes and prove nothing more here). Every tenth
run left a real role assignment in azsim behind, named in its custom status as a run publishes
it; the newest runs have the highest ids, so they are on the last page."""

from __future__ import annotations

import json
import uuid
from typing import Any

import requests
from azure.functions import meta

from domain.access.grant_lease import instance_of
from orchestrations.restore_managed_disk import restore_managed_disk

TIMER = json.dumps({"Schedule": {"AdjustForDST": True}, "ScheduleStatus": None, "IsPastDue": False})
RUNS = 260
ENDED = ("Failed", "Terminated", "Completed")


def _leftover(i: int) -> bool:
    return i % 10 == 9


def _assignment_name(i: int) -> str:
    return str(uuid.UUID(int=0xA55E_0000_0000_4000_8000_0000_0000_0000 + i))


def _disk_scope(sub: str, i: int) -> str:
    return (f"/subscriptions/{sub}/resourceGroups/rg-restore-target/providers/"
            f"Microsoft.Compute/disks/paged-{i:03d}-restored")


def _seed_assignments(scenario: dict[str, Any]) -> None:
    """The assignments the leftover runs granted (Disk Restore Operator to the vault, each on
    its restored disk) and never revoked."""
    for i in range(RUNS):
        if _leftover(i):
            scenario["roleAssignments"].append({
                "name": _assignment_name(i), "role": "Disk Restore Operator",
                "principal": "vault", "scope": _disk_scope("{subscriptionId}", i)})
    for assignment in scenario["roleAssignments"]:
        assignment["scope"] = assignment["scope"].replace("{subscriptionId}",
                                                          scenario["subscriptionId"])


def _write_ended_runs(env) -> dict[str, str]:
    """run id -> the assignment id it left behind (for the leftover runs)."""
    store, now = env.host.host.store, env.host.clock.time()
    left: dict[str, str] = {}
    rows = []
    for i in range(RUNS):
        run = f"restore-paged-{i:03d}"
        assignments = []
        if _leftover(i):
            assignments = [f"{_disk_scope(env.sub, i)}/providers/Microsoft.Authorization/"
                           f"roleAssignments/{_assignment_name(i)}"]
            left[run] = assignments[0]
        custom = {"phase": "propagate" if assignments else "done", "assignments": assignments,
                  "subject": {"source": {"diskId": env.disk("vm-app01-data0")}}}
        created = now - 3600 + 10 * i  # a run every 10 s: the newest has the highest id
        rows.append((run, restore_managed_disk.name, uuid.uuid4().hex, ENDED[i % 3], None, None,
                     json.dumps(custom), None, None, None, created, created + 5))
    with store.tx() as db:
        db.executemany("INSERT INTO instances VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    return left


def _present(env, assignment_id: str) -> bool:
    return any(ra["id"].lower() == assignment_id.lower() and not ra["deleted"]
               for ra in env.sim.snapshot()["roleAssignments"])


def test_the_sweeper_and_the_list_see_runs_beyond_the_first_page(restore_env):
    env = restore_env(_seed_assignments)
    left = _write_ended_runs(env)
    assert len(left) == 26 and all(_present(env, a) for a in left.values())

    # GET /api/restores: every run, newest first, and the newest ten are the last ten written
    listing = requests.get(env.api, params={"top": "500"}, timeout=60)
    assert listing.status_code == 200, listing.text
    body = listing.json()
    assert body["count"] == RUNS and body["truncated"] is False
    assert [r["id"] for r in body["restores"]] == \
        [f"restore-paged-{i:03d}" for i in reversed(range(RUNS))]
    newest = requests.get(env.api, params={"top": "10"}, timeout=60).json()
    assert [r["id"] for r in newest["restores"]] == \
        [f"restore-paged-{i:03d}" for i in range(RUNS - 1, RUNS - 11, -1)]
    assert newest["count"] == 10 and newest["truncated"] is True

    # the sweeper: one sweep over all 26 leftovers, and each assignment is gone from azsim
    host = env.host.host
    host.invoker.invoke(host.registry.functions["sweep_role_assignments_timer"],
                        meta.Datum(TIMER, "json"))
    report = env.host.wait_for("sweep-role-assignments", timeout=120)
    assert report["runtimeStatus"] == "Completed", report
    # keyed by execution (instance@created, for runs from before leases that publish no holder)
    assert sorted(instance_of(s) for s in report["output"]["swept"]) == sorted(left)
    assert all("@" in s for s in report["output"]["swept"])
    assert {(instance_of(item["run"]), item["assignment"]) for item in report["output"]["report"]
            if item["revoked"] and item["wasPresent"]} == set(left.items())
    assert not any(_present(env, a) for a in left.values())
