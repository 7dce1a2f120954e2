"""The role sweeper (triggers/sweeper.py, orchestrations/sweep.py) over the harness: what a run
left when it was terminated, restarted, or ended while others still held its grant.

The sweeper lists ended runs through the Durable HTTP API (triggers/instances.py), which the
harness's client does not serve; `listed` stands in for that one call, filtering the harness's
instances as the API filters them (created since, runtime status)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from harness import estate

from triggers import sweeper

NOT_YET = "UserErrorNotEnoughPermissionOnTargetRG"


@pytest.fixture(autouse=True)
def listed(h, monkeypatch):
    async def list_instances(client, *, created_from=None, runtime_status=None):
        wanted = {s.value for s in runtime_status or []}
        found = []
        for inst in h.instances.values():
            status = h.status(inst.id)
            if (not wanted or inst.status in wanted) and \
                    (created_from is None or inst.created >= created_from):
                status._custom_status = inst.custom_status
                found.append(status)
        return found
    monkeypatch.setattr(sweeper, "list_instances", list_instances)
    monkeypatch.setattr(sweeper, "datetime", _Now(h))


class _Now:
    """The sweeper's clock is the harness's (its lookback counts from now)."""

    def __init__(self, h) -> None:
        self.h = h

    def now(self, tz=None):
        return self.h.clock

    def __getattr__(self, name):
        return getattr(datetime, name)


def sweep(h) -> dict | None:
    """One timer tick: the sweep it started, run to its end (the runs go on only as far as
    that takes), or None if none started."""
    started = asyncio.run(sweeper.sweep(h.client, h.ledger.leases))
    if started is None:
        return None
    h.run(until=lambda: h.status(started).runtime_status.value not in ("Running", "Pending"))
    return h.output(started)


def live(h) -> list[str]:
    return sorted(a.record.id for a in h.gateway.assignments.values()
                  if a.deleted is None and a.created is not None)


def lease(h):
    [row] = h.ledger.leases()
    return row


def later(h) -> None:
    """Let time pass before a restart: the harness's clock stands still between timers, and a
    new execution on Azure always starts after the one it replaces."""
    h.clock += timedelta(minutes=5)


def terminated_after_its_grant(h, restores, body) -> str:
    """Start `body` and terminate it right after its PUT went out, before its answer came back."""
    before = len(h.gateway.called("grant_role"))
    run = restores.start(body)
    h.run(until=lambda: len(h.gateway.called("grant_role")) > before)
    h.terminate(run, "operator gave up")
    return run


def test_a_grant_in_flight_when_the_run_is_terminated_is_recorded_and_swept(h, restores):
    run = terminated_after_its_grant(h, restores, restores.request())
    [made] = live(h)
    status = h.custom_status(run)
    assert status["assignments"] == [made]  # published before the PUT
    assert [k["scope"] for k in status["leases"]] == [estate.TARGET]
    out = sweep(h)
    [item] = out["report"]
    assert item["assignment"] == made and item["revoked"] is True and item["wasPresent"]
    assert item["run"] == status["holder"] and out["swept"] == [status["holder"]]
    assert live(h) == [] and lease(h).holders == {} and lease(h).retired == []
    assert sweep(h) is None  # swept once: the next tick has nothing to do


def test_a_restarted_run_is_swept_again_for_what_its_new_execution_left(h, restores):
    body = restores.request()
    first = terminated_after_its_grant(h, restores, body)
    holder = h.custom_status(first)["holder"]
    assert sweep(h)["swept"] == [holder] and live(h) == []
    later(h)
    again = terminated_after_its_grant(h, restores, body)
    assert again == first and h.custom_status(again)["holder"] != holder
    [made] = live(h)
    out = sweep(h)
    assert [r["assignment"] for r in out["report"] if r["revoked"]] == [made]
    assert live(h) == []


def test_the_sweeper_never_revokes_a_grant_a_live_run_holds(h, restores):
    first = restores.start(restores.request(estate.DATA0, "first-restored"))
    h.run(until=lambda: live(h) != [])
    h.gateway.fail_operation(  # the second run is held in its propagation wait
        "start_validate_restore", NOT_YET, "held by the test", times=None,
        when=lambda plan: plan.target_disk_id.endswith("second-restored")
        and h.status(first).runtime_status.value == "Running")
    second = restores.start(restores.request(estate.DATA0, "second-restored"))
    h.run(until=lambda: len(lease(h).holders) == 2)
    [shared] = live(h)
    h.terminate(first, "operator gave up")
    out = sweep(h)
    [item] = out["report"]
    assert item["heldBy"] == 1 and item["revoked"] is False and item["assignment"] == shared
    assert live(h) == [shared]  # the second run still needs it
    assert list(lease(h).holders) == [h.custom_status(second)["holder"]]
    h.run()
    assert h.output(second)["outcome"] == "Succeeded", h.output(second)["error"]
    assert live(h) == []  # its last holder revoked it


def test_an_execution_a_restart_replaced_is_released_from_the_ledger(h, restores):
    """The restart overwrites the custom status: only the lease row still names the first
    execution, and the sweeper releases it there."""
    body = restores.request()
    first = terminated_after_its_grant(h, restores, body)
    old = h.custom_status(first)["holder"]
    later(h)
    restores.start(body)
    h.run()
    out = h.output(first)
    assert out["outcome"] == "Succeeded", out["error"]
    [grant] = out["roleAssignments"]
    assert grant["revoked"] == "kept: 1 other run(s) still use it"  # the old execution's hold
    assert live(h) == [grant["id"]] and list(lease(h).holders) == [old]
    report = sweep(h)["report"]
    assert [(r["run"], r["revoked"]) for r in report] == [(old, True)]
    assert live(h) == [] and lease(h).holders == {}


def test_a_late_revoke_never_removes_a_newer_grant(h, restores):
    """The first run's revoke fails and leaves its generation's assignment; the second run's
    grant meets it (409 RoleAssignmentExists), revokes it and makes its own generation; the
    sweep of the first run's leftover then revokes only the old generation."""
    h.gateway.fail("revoke_role", RuntimeError("ARM unreachable"), times=4)  # every retry
    first = restores.run(restores.request(estate.DATA0, "first-restored"))
    [old] = first["roleAssignments"]
    assert old["revoked"].startswith("not revoked:") and live(h) == [old["id"]]
    second = restores.start(restores.request(estate.DATA0, "second-restored"))
    h.run(until=lambda: len(live(h)) == 1 and live(h) != [old["id"]])
    [new] = live(h)
    assert h.gateway.assignments[old["id"].lower()].deleted is not None  # by the second run
    out = sweep(h)  # the first run's leftover, while the second holds the new generation
    assert live(h) == [new], out
    h.run()
    assert h.output(second)["outcome"] == "Succeeded"
    assert h.output(second)["roleAssignments"][0]["id"] == new
    assert live(h) == []
    assert lease(h).retired == []  # every retired generation revoked and settled
