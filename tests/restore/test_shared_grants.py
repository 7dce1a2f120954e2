"""Two restores that need one role assignment, through devhost and azsim: into one target
resource group (Disk Restore Operator), and of disks encrypted with one Disk Encryption Set
(Reader on it). azsim refuses the second identical assignment (409 RoleAssignmentExists) and a
deleted one stops working after the propagation delay, as Azure does; the first run to finish
must not take the second run's permission away (docs/security.md, leases)."""

from __future__ import annotations

import time

import pytest
import requests

VALIDATE = "*validateRestore*"
NOT_YET = "UserErrorNotEnoughPermissionOnTargetRG"
SCALE = 100  # real time / 100: the test acts while the runs wait


def _phase(env, answer) -> str | None:
    return requests.get(answer["statusQueryGetUri"], timeout=30).json().get("phase")


def _until(condition, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("disk", ["vm-app01-data0", "vm-app01-data1"])  # data1: CMK, a DES
def test_the_first_restore_to_finish_leaves_the_shared_grant_to_the_second(restore_env, disk):
    def long_job(scenario):
        scenario["durations"]["restoreJob"] = 600  # 6 s of real time: room to start the second
    # Today's code fails the second run with PropagationTimedOut once its permission is gone: a
    # 2-minute timeout (real time) makes that red quick; holding the second run takes ~15 s.
    env = restore_env(long_job, real_time_scale=SCALE, RESTORE_PROPAGATION_TIMEOUT_MINUTES="2")
    first = env.submit(env.request(disk, target={"resourceGroupId": env.rg("rg-restore-target"),
                                                 "diskName": "first-restored"})).json()
    _until(lambda: _phase(env, first) == "track", "the first run tracks its job")
    # The second run's probes answer "not yet" until the test lets them through: it is held in
    # its propagation wait, its grant made, while the first run ends and revokes.
    env.sim.add_fault(kind="lroFailure", operation=VALIDATE, code=NOT_YET,
                      message="held by the test")
    second = env.submit(env.request(disk, target={"resourceGroupId": env.rg("rg-restore-target"),
                                                  "diskName": "second-restored"})).json()
    _until(lambda: env.sim.fired_faults(), "the second run probes")
    env.host.wait_for(first["id"], timeout=120)
    # Whatever the first run revoked takes effect after the propagation delay (240 s / SCALE).
    time.sleep(240 / SCALE + 1)
    env.sim.clear_faults()
    env.host.wait_for(second["id"], timeout=300)
    one = requests.get(f"{env.api}/{first['id']}", timeout=30).json()
    two = requests.get(f"{env.api}/{second['id']}", timeout=30).json()
    assert one["result"]["outcome"] == "Succeeded", one
    assert two["result"]["outcome"] == "Succeeded", two["result"].get("error")
    assert {a["id"] for a in one["result"]["roleAssignments"]} == \
        {a["id"] for a in two["result"]["roleAssignments"]}  # one shared assignment per scope
    assert all(a["revoked"] is True for a in two["result"]["roleAssignments"])
    assert all(a["revoked"].startswith("kept: ") for a in one["result"]["roleAssignments"])
    assert env.leftover_assignments() == set()
