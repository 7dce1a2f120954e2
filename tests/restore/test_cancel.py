"""A cancel reaches every wait on the real Durable stack's terms (issue 20 part 9), end to end:
devhost under each external-event order (docs/devhost.md, "External events"), azsim, Azurite.

The fast tier (tests/fast/test_cancel.py) covers each wait on the harness, which runs no host
side; here the host's own replay decides when the run gets past its wait. Virtual time throughout:
the clock is held below the approval's timer while the test cancels (VirtualClock.limit), and
every "when" is read from the run's own history and progress, never from wall time.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest
import requests
from azsim.sdk import mgmt_clients
from devhost.durable.shim import EXTERNAL_EVENT_ORDERS

POLL_S = 30  # RESTORE_POLL_INTERVAL_SECONDS in restore_env: the longest interval between looks


def _policies(p: Any, approval_minutes: int) -> dict[str, Any]:
    """Deleted disks in rg-app come back and are attached, once a person approves."""
    return {"version": 1, "policies": [{
        "name": "deleted-disks",
        "match": {"eventTypes": ["Microsoft.Resources.ResourceDeleteSuccess"],
                  "resourceTypes": ["Microsoft.Compute/disks"], "resourceGroups": [p.rg("rg-app")]},
        "action": {"type": "restoreDeletedDisk", "attachTo": {"vmId": p.vm_id(), "lun": 5}},
        "approval": {"required": True, "timeoutMinutes": approval_minutes}}]}


def _delete(env: Any, disk: str) -> None:
    """Someone deletes the disk through ARM."""
    with mgmt_clients(env.sim) as sdk:
        sdk.compute.disks.begin_delete(disk.split("/")[4], disk.rsplit("/", 1)[-1],
                                       polling=False)
    env.sim.advance(10)
    assert env.resource(disk) is None


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _until(check: Any, what: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"never: {what}")


@pytest.mark.parametrize("order", EXTERNAL_EVENT_ORDERS)
def test_a_cancel_during_a_week_long_approval_ends_the_wait_at_once_and_deletes_the_disk(
        recovery_env, payloads, order):
    """A deleted disk comes back for a person to approve within 7 days (past the host's 6-day
    short-timer limit). A cancel during that wait ends it in the episode that received it: the
    disk restored only for the decision is deleted, the roles are gone, the run is Cancelled."""
    r = recovery_env(_policies(payloads, 7 * 24 * 60), payloads.protect_extra_disk,
                     external_event_order=order)
    clock = r.env.host.clock
    disk = payloads.disk_id("vm-app01-data2")
    _delete(r.env, disk)
    clock.limit(clock.time() + 12 * 3600)  # the restore and its waits fit; the approval does not
    event = payloads.delete_event(disk)
    assert r.deliver([event]).status_code == 202
    run = r.event(f"eventgrid:{event['id']}")["runId"]
    child = f"restore-{run}-0"
    waiting = _until(lambda: ((r.env.host.status(child) or {}).get("customStatus") or {})
                     .get("phase") == "approval" and r.env.host.status(child), "approval")
    assert r.env.resource(disk) is not None  # restored, waiting for the decision

    answer = requests.post(f"{r.base}/api/restores/{run}/cancel", timeout=30)
    assert answer.status_code == 202, answer.text
    assert child in answer.json()["appliedTo"]

    def raised() -> Any:
        history = r.env.host.status(child, show_history=True)["historyEvents"]
        return [e for e in history if e["EventType"] == "EventRaised" and e["Name"] == "cancel"]
    (cancel,) = _until(raised, "the cancel reached the restore")
    clock.limit(None)
    out = r.env.host.wait_for(run, timeout=180)["output"]
    assert out["outcome"] == "Cancelled", out
    (restore,) = out["restores"]
    assert restore["outcome"] == "Cancelled" and restore["error"]["code"] == "Cancelled"
    assert r.env.resource(disk) is None  # restored only for the decision: deleted
    assert r.env.leftover_assignments() == set()
    assert r.env.writes("Microsoft.Compute/virtualMachines/write") == []  # never attached

    # When the host acted on it, from the restore's history: the first work it scheduled after
    # the cancel (the restored disk's delete) came within one poll interval, and the run ended
    # within the hour, not when a day-long timer fired.
    cancelled_at = _ts(cancel["Timestamp"])
    assert _ts(waiting["customStatus"]["phases"]["approval"]["start"]) < cancelled_at
    history = r.env.host.status(child, show_history=True)["historyEvents"]
    after = history[history.index(cancel):]
    first = next(e for e in after if e["EventType"] in ("TaskCompleted", "TaskFailed"))
    assert _ts(first["ScheduledTime"]) - cancelled_at <= POLL_S, first
    ended = _ts(r.env.host.status(run)["lastUpdatedTime"])
    assert ended - cancelled_at < 3600, f"ended {(ended - cancelled_at) / 3600:.1f} h after"
