"""A run terminated mid-way leaves its role assignment; the sweeper's timer finds and revokes it."""

from __future__ import annotations

import json
import time

import requests
from azure.functions import meta

TIMER = json.dumps({"Schedule": {"AdjustForDST": True}, "ScheduleStatus": None, "IsPastDue": False})


def test_the_sweeper_revokes_what_a_terminated_run_left_behind(restore_env):
    def slow(scenario):
        scenario["durations"]["rolePropagation"] = 3600
    env = restore_env(slow, real_time_scale=100)
    answer = env.submit(env.request(requestId="to-terminate")).json()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if requests.get(answer["statusQueryGetUri"], timeout=30).json()["phase"] == "propagate":
            break
        time.sleep(0.05)
    env.host.client.terminate(answer["id"], "operator gave up")
    env.host.wait_for(answer["id"], timeout=60)
    left = env.leftover_assignments()
    assert len(left) == 1, "the terminated run should have left its grant behind"

    host = env.host.host
    timer = host.registry.functions["sweep_role_assignments_timer"]
    host.invoker.invoke(timer, meta.Datum(TIMER, "json"))
    report = env.host.wait_for("sweep-role-assignments", timeout=60)
    assert report["runtimeStatus"] == "Completed"
    [item] = report["output"]["report"]
    # keyed by the execution (instance@start): a restart under the same id is swept again
    holder = env.host.status(answer["id"])["customStatus"]["holder"]
    assert holder.startswith(answer["id"] + "@")
    assert item["run"] == holder and item["revoked"] is True and item["wasPresent"]
    assert report["output"]["swept"] == [holder]
    assert env.leftover_assignments() == set()

    # The next sweep has nothing to do: the swept run is remembered, no new sweep starts.
    before = env.host.status("sweep-role-assignments")["lastUpdatedTime"]
    host.invoker.invoke(timer, meta.Datum(TIMER, "json"))
    time.sleep(0.5)
    assert env.host.status("sweep-role-assignments")["lastUpdatedTime"] == before
    assert len(env.writes("Microsoft.Authorization/roleAssignments/delete")) == 1
