"""Undo (issue 17 part 3): POST /api/restores/{id}/undo puts back the disks a restore took off its
VM, from the run's own `vmChange`, in one VM change (orchestrations/vm_change.py), after checking
that the VM is as the restore left it; refused, naming why, when there is nothing to undo or the
VM changed since."""

from __future__ import annotations

import json

from harness import estate

from domain.model import DataDisk, Disk
from orchestrations.vm_change import REPLACED_BY_TAG


def vm(h):
    return h.gateway.vms[estate.VM.lower()]


def undo(h, run: str, expect: int = 202) -> dict:
    answer = h.http("POST", f"/api/restores/{run}/undo", {"reason": "a fast test"})
    assert answer.status_code == expect, answer.get_body()
    return json.loads(answer.get_body())


def replaced(h, restores) -> dict:
    out = restores.run(restores.request(attach={"vmId": estate.VM, "mode": "replace"}))
    assert out["outcome"] == "Succeeded", out.get("error")
    return out


def test_undo_puts_a_replaced_data_disk_back_at_its_lun(h, restores):
    out = replaced(h, restores)
    started = undo(h, out["id"])
    assert started["id"] == f"undo-{out['id']}" and started["undoes"] == out["id"]
    h.run()
    done = h.output(started["id"])
    assert done["outcome"] == "Succeeded", done.get("error")
    disks = {d.lun: d for d in vm(h).data_disks}
    assert disks[0].disk_id == estate.DATA0 and disks[0].caching == "ReadOnly"
    restored = h.gateway.disks[out["restoredDiskId"].lower()]
    assert restored.managed_by is None  # taken off again, kept
    assert restored.tags[REPLACED_BY_TAG] == started["id"]
    assert done["vmChange"]["after"]["dataDisks"]["0"] == estate.DATA0
    assert len(h.gateway.called("start_change_data_disks")) == 2  # the replace, the undo
    view = restores.view(started["id"])
    assert view["outcome"] == "Succeeded"
    # sent again: the same undo, not a second one
    assert undo(h, out["id"], 200) == {**started, "started": False}


def test_undo_swaps_the_original_os_disk_back_and_starts_the_vm(h, restores):
    h.gateway.os_disk_swap_requires = "stopped"
    out = restores.run(restores.request(estate.OS_DISK, swapOsDisk={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out.get("error")
    started = undo(h, out["id"])
    h.run()
    done = h.output(started["id"])
    assert done["outcome"] == "Succeeded", done.get("error")
    assert vm(h).os_disk_id == estate.OS_DISK and vm(h).power_state == "running"
    assert done["vmChange"]["before"]["osDiskId"].lower() == out["restoredDiskId"].lower()


def test_an_undo_after_the_vm_changed_is_refused_and_changes_nothing(h, restores):
    out = replaced(h, restores)
    other = h.gateway.add_disk(Disk(estate.disk_id("other"), estate.LOCATION, 8, "Premium_LRS"))
    at = next(i for i, d in enumerate(vm(h).data_disks) if d.lun == 0)
    vm(h).data_disks[at] = DataDisk(0, other.id, "None")  # someone put another disk there
    calls = len(h.gateway.calls)
    started = undo(h, out["id"])
    h.run()
    done = h.output(started["id"])
    assert done["outcome"] == "Failed" and done["error"]["code"] == "UndoRefused"
    assert f"LUN 0 holds {other.id}, not the restored disk" in done["error"]["message"]
    assert not [c for c in h.gateway.calls[calls:] if c.method.startswith("start_")]


def test_an_undo_whose_original_is_gone_is_refused(h, restores):
    out = replaced(h, restores)
    del h.gateway.disks[estate.DATA0.lower()]
    started = undo(h, out["id"])
    h.run()
    done = h.output(started["id"])
    assert done["error"]["code"] == "UndoRefused", done["error"]
    assert f"the original disk {estate.DATA0} is gone" in done["error"]["message"]


def test_there_is_nothing_to_undo_for_an_attach_beside_a_restore_only_or_a_failed_run(
        h, restores):
    beside = restores.run(restores.request(attach={"vmId": estate.VM}))
    answer = undo(h, beside["id"], 409)
    assert "took no disk off the VM" in answer["detail"]
    only = restores.run(restores.request(estate.DATA1))
    assert "changed no VM" in undo(h, only["id"], 409)["detail"]
    h.gateway.fail_job("UserErrorDiskCreationFailed")
    failed = restores.run(restores.request(estate.OS_DISK, swapOsDisk={"vmId": estate.VM}))
    assert "did not succeed (Failed)" in undo(h, failed["id"], 409)["detail"]
    assert h.http("POST", "/api/restores/restore-nope/undo", {}).status_code == 404


def test_undo_puts_a_whole_vm_back_in_one_change(h, restores):
    h.gateway.os_disk_swap_requires = "stopped"
    run = restores.submit({"source": {"vmId": estate.VM},
                           "target": {"resourceGroupId": estate.TARGET}})
    h.run()
    assert h.output(run)["outcome"] == "Succeeded"
    started = undo(h, run)
    h.run()
    done = h.output(started["id"])
    assert done["outcome"] == "Succeeded", done.get("error")
    assert vm(h).os_disk_id == estate.OS_DISK and vm(h).power_state == "running"
    assert {d.lun: d.disk_id for d in vm(h).data_disks} == {0: estate.DATA0, 1: estate.DATA1}
    assert len(h.gateway.called("start_change_data_disks")) == 2  # the restore's, the undo's
