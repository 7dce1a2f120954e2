"""A data disk replaced in place (issue 17 part 1) and what a run changed on a VM (part 4): the
restored disk takes the source disk's LUN, caching and write accelerator in ONE
attachDetachDataDisks call that detaches the original, which is kept and tagged with the run;
the outcome lists the VM's disks before and after, with a note for infrastructure-as-code."""

from __future__ import annotations

import dataclasses
import json

from harness import estate

from domain.model import DataDisk, DataDisksChange, Disk, DiskAttachment, VmSize
from orchestrations.vm_change import REPLACED_BY_TAG

VM2 = estate.vm_id("vm-app02")


def vm(h):
    return h.gateway.vms[estate.VM.lower()]


def writes(h) -> list[str]:
    return [c.method for c in h.gateway.calls
            if c.method.startswith("start_") or c.method in ("grant_role", "revoke_role")]


def replace(restores, disk: str = estate.DATA0, vm_id: str = estate.VM):
    return restores.request(disk, attach={"vmId": vm_id, "mode": "replace"})


def test_a_data_disk_is_replaced_at_its_lun_with_its_caching_in_one_call(h, restores):
    vm(h).data_disks[0] = dataclasses.replace(vm(h).data_disks[0], write_accelerator=True)
    out = restores.run(replace(restores))
    assert out["outcome"] == "Succeeded", out.get("error")
    restored = out["restoredDiskId"]
    assert out["attach"] == {"vmId": estate.VM, "lun": 0, "caching": "ReadOnly",
                             "replaces": estate.DATA0, "writeAccelerator": True}
    [call] = h.gateway.called("start_change_data_disks")  # one call: detach and attach
    assert call.args == (DataDisksChange(
        estate.VM, [DiskAttachment(estate.VM, restored, 0, "ReadOnly", True)], [estate.DATA0]),)
    assert h.gateway.called("start_attach_data_disk") == []
    disks = {d.lun: d for d in vm(h).data_disks}
    assert disks[0].disk_id.lower() == restored.lower() and disks[0].caching == "ReadOnly"
    assert disks[0].write_accelerator is True and sorted(disks) == [0, 1]
    original = h.gateway.disks[estate.DATA0.lower()]
    assert original.managed_by is None  # detached, kept
    assert original.tags[REPLACED_BY_TAG] == out["id"]
    change = out["vmChange"]
    assert change["vmId"] == estate.VM
    assert change["before"] == {"osDiskId": estate.OS_DISK,
                                "dataDisks": {"0": estate.DATA0, "1": estate.DATA1}}
    assert change["after"]["dataDisks"] == {"0": restored, "1": estate.DATA1}
    assert "infrastructure code" in change["note"]


def test_replace_needs_no_free_slot(h, restores):
    vm(h).size = "Standard_B1s"  # 2 data disks, both taken
    h.gateway.vm_sizes["standard_b1s"] = VmSize("Standard_B1s", "", 2, True, ["V1", "V2"])
    out = restores.run(replace(restores))
    assert out["outcome"] == "Succeeded", out.get("error")


def test_a_source_disk_that_is_not_on_the_vm_cannot_be_replaced(h, restores):
    h.gateway.add_disk(Disk(estate.disk_id("vm-app02-osdisk"), estate.LOCATION, 64,
                            "Premium_LRS", "Linux"))
    h.gateway.add_vm(VM2, estate.LOCATION, os_type="Linux",
                     os_disk_id=estate.disk_id("vm-app02-osdisk"), data_disks=[])
    out = restores.run(replace(restores, vm_id=VM2))
    assert out["outcome"] == "Failed" and out["error"]["code"] == "VmNotSuitable"
    assert f"the source disk {estate.DATA0} is not a data disk of {VM2}" in \
        out["error"]["message"]
    assert writes(h) == []


def test_a_replace_names_no_lun_and_no_caching(h):
    body = {"source": {"diskId": estate.DATA0},
            "target": {"resourceGroupId": estate.TARGET, "diskName": "x"},
            "attach": {"vmId": estate.VM, "mode": "replace", "lun": 3, "caching": "None"}}
    answer = h.http("POST", "/api/restores", body)
    assert answer.status_code == 400
    problems = {e["field"]: e["message"] for e in json.loads(answer.get_body())["errors"]}
    assert problems == {
        "attach.lun": "not with mode replace: the restored disk takes the replaced disk's LUN",
        "attach.caching": "not with mode replace: the restored disk takes the replaced disk's "
                          "caching"}


def test_a_vm_changed_since_the_plan_is_refused_before_the_replace(h, restores):
    run = restores.start(replace(restores))
    h.run(until=lambda: h.gateway.called("start_restore"))
    other = h.gateway.add_disk(Disk(estate.disk_id("other"), estate.LOCATION, 8, "Premium_LRS"))
    at = next(i for i, d in enumerate(vm(h).data_disks) if d.lun == 0)
    vm(h).data_disks[at] = DataDisk(0, other.id, "None")  # someone replaced it by hand
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Failed" and out["error"]["code"] == "VmNotSuitable"
    assert f"LUN 0 holds {other.id}, not {estate.DATA0}" in out["error"]["message"]
    assert h.gateway.called("start_attach_data_disk") == []


def test_an_original_that_cannot_be_tagged_is_a_warning(h, restores):
    h.gateway.fail_operation("start_tag_disk", "OperationNotAllowed", "locked")
    out = restores.run(replace(restores))
    assert out["outcome"] == "Succeeded", out.get("error")
    assert any(f"the original disk {estate.DATA0} was kept but could not be tagged" in w
               for w in out["warnings"]), out.get("warnings")


def test_a_swap_tags_the_original_os_disk_and_lists_the_change(h, restores):
    h.gateway.os_disk_swap_requires = "stopped"
    out = restores.run(restores.request(estate.OS_DISK, swapOsDisk={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out.get("error")
    assert h.gateway.disks[estate.OS_DISK.lower()].tags[REPLACED_BY_TAG] == out["id"]
    change = out["vmChange"]
    assert change["before"]["osDiskId"] == estate.OS_DISK
    assert change["after"]["osDiskId"].lower() == out["restoredDiskId"].lower()
    assert change["before"]["dataDisks"] == change["after"]["dataDisks"]


def test_an_attach_beside_lists_the_new_lun(h, restores):
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out.get("error")
    assert "replaces" not in out["attach"]
    assert out["vmChange"]["after"]["dataDisks"]["2"].lower() == out["restoredDiskId"].lower()
    assert h.gateway.called("start_tag_disk") == []  # nothing was taken off the VM


def test_a_restore_without_a_vm_change_has_no_vm_change(h, restores):
    out = restores.run(restores.request())
    assert out["outcome"] == "Succeeded" and "vmChange" not in out
