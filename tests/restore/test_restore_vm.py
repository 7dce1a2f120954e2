"""Whole-VM restore and undo, end to end (devhost + azsim + real SDK clients; issue 17 parts 2
and 3): the VM's OS disk and two data disks restored from one point in time, one approval by a
second person, and ONE VM change in azsim's audit log (one attachDetachDataDisks call, the VM
stopped once and started once); then the undo puts the originals back in one change."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from .test_access import CAROL, RG, VM, signed_in

ALICE = ("a1a1a1a1-0000-4000-8000-000000000001", "alice@contoso.com", ("Restore.VmOwner",), ())
POLICY = {"version": 1, "rules": [
    {"name": "vm-owner", "principals": {"roles": ["Restore.VmOwner"]},
     "actions": ["plan", "restore", "swap", "cancel"], "sourceDisks": [f"{RG}/rg-app"],
     "vaults": ["*"], "targetResourceGroups": [f"{RG}/rg-restore-target", f"{RG}/rg-app"],
     "vms": [VM], "approval": {"required": True, "timeoutMinutes": 60}},
    {"name": "approvers", "principals": {"roles": ["Restore.Approver"]}, "actions": ["approve"],
     "targetResourceGroups": ["*"], "vms": ["*"]},
]}
ATTACH_DETACH = "Microsoft.Compute/virtualMachines/attachDetachDataDisks/action"
STOPS = ("Microsoft.Compute/virtualMachines/powerOff/action",
         "Microsoft.Compute/virtualMachines/deallocate/action")
START = "Microsoft.Compute/virtualMachines/start/action"


def _wait_phase(env, instance_id: str, phase: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = env.host.status(instance_id) or {}
        if (status.get("customStatus") or {}).get("phase") == phase:
            return
        assert status.get("runtimeStatus") not in ("Completed", "Failed"), status
        time.sleep(0.1)
    raise AssertionError(f"{instance_id} never reached {phase}")


def _approve(env, run: str) -> None:
    _wait_phase(env, run, "approval")
    answer = requests.post(f"{env.api}/{run}/approve", headers=signed_in(CAROL), timeout=30,
                           json={"comment": "the whole VM, checked"})
    assert answer.status_code == 202, answer.text


def _ops(env, *operations: str) -> list[str]:
    return [e["operation"] for e in env.sim.audit(write=True) if e["operation"] in operations]


@pytest.mark.parametrize(("requires", "stops"), [
    ("stopped", [STOPS[0]]),
    ("deallocated", list(STOPS)),  # Compute wants it deallocated: powered off, then deallocated
])
def test_a_whole_vm_is_restored_with_one_approval_and_one_vm_change_then_undone(
        restore_env, tmp_path, requires, stops):
    path = tmp_path / "access-policy.json"
    path.write_text(json.dumps(POLICY), encoding="utf-8")
    env = restore_env(lambda s: s.update(osDiskSwapRequires=requires), real_time_scale=60,
                      WEBSITE_AUTH_ENABLED="true", CALLER_AUTHORIZATION="policy",
                      ACCESS_POLICY_PATH=str(path))
    body: dict[str, Any] = {"requestId": f"vm-{requires}", "source": {"vmId": VM},
                            "target": {"resourceGroupId": f"{RG}/rg-restore-target"},
                            "reason": "INC-4711: the VM is corrupted"}
    answer = requests.post(env.api, json=body, headers=signed_in(ALICE), timeout=30)
    assert answer.status_code == 202, answer.text
    run = answer.json()["id"]
    assert run == f"restorevm-vm-{requires}"
    _approve(env, run)
    out = env.host.wait_for(run, timeout=180)["output"]
    assert out["outcome"] == "Succeeded", json.dumps(out, indent=1)
    assert [d["outcome"] for d in out["disks"]] == ["Succeeded"] * 3
    assert out["approval"]["principalId"] == CAROL[0]
    # ONE VM change: one data-disk call, the VM stopped once and started once
    assert _ops(env, ATTACH_DETACH) == [ATTACH_DETACH]
    assert _ops(env, *STOPS) == stops and _ops(env, START) == [START]
    vm = env.resource(VM)["properties"]
    restored = {d["restoredDiskId"].lower() for d in out["disks"]}
    assert {vm["storageProfile"]["osDisk"]["managedDisk"]["id"].lower(),
            *(d["managedDisk"]["id"].lower() for d in vm["storageProfile"]["dataDisks"])} == \
        restored
    assert "PowerState/running" in [s["code"] for s in vm["instanceView"]["statuses"]]
    assert env.leftover_assignments() == set()

    # undo: the originals back, in one change again, after a second person's approval
    answer = requests.post(f"{env.api}/{run}/undo", headers=signed_in(ALICE), timeout=30,
                           json={"reason": "INC-4711: the restored data is too old"})
    assert answer.status_code == 202, answer.text
    undo = answer.json()["id"]
    _approve(env, undo)
    done = env.host.wait_for(undo, timeout=180)["output"]
    assert done["outcome"] == "Succeeded", json.dumps(done, indent=1)
    vm = env.resource(VM)["properties"]
    assert vm["storageProfile"]["osDisk"]["managedDisk"]["id"].lower() == \
        env.disk("vm-app01-osdisk").lower()
    assert {d["lun"]: d["managedDisk"]["id"].lower() for d in vm["storageProfile"]["dataDisks"]} \
        == {0: env.disk("vm-app01-data0").lower(), 1: env.disk("vm-app01-data1").lower()}
    assert _ops(env, ATTACH_DETACH) == [ATTACH_DETACH] * 2
