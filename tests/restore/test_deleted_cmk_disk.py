"""A deleted customer-managed-key disk, recovered end to end (issue 20 part 7): the source disk is
gone, so its Disk Encryption Set is read from the recovery point's incremental snapshot in the
snapshot resource group; the vault gets Reader on that set for the run, and loses it after."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azsim.sdk import mgmt_clients

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
DISK_RESTORE_OPERATOR = "b50d9833-a0cb-478e-945f-707fcc997c13"
DES = ("/subscriptions/{subscriptionId}/resourceGroups/rg-keys/providers/"
       "Microsoft.Compute/diskEncryptionSets/des-cmk")


def deleted_disk_policies(p: Any) -> dict[str, Any]:
    return {"version": 1, "maxConcurrentRecoveries": 3, "policies": [{
        "name": "deleted-disks", "description": "disks deleted in rg-app come back",
        "match": {"eventTypes": ["Microsoft.Resources.ResourceDeleteSuccess"],
                  "resourceTypes": ["Microsoft.Compute/disks"],
                  "resourceGroups": [p.rg("rg-app")]},
        "action": {"type": "restoreDeletedDisk",
                   "attachTo": {"vmId": p.vm_id(), "lun": 5, "caching": "ReadOnly"}}}]}


def delete_disk(env: Any, disk: str) -> None:
    """Delete a disk through ARM, as someone did by mistake."""
    rg, name = disk.split("/")[4], disk.rsplit("/", 1)[-1]
    with mgmt_clients(env.sim) as sdk:
        sdk.compute.disks.begin_delete(rg, name, polling=False)
    env.sim.advance(10)
    assert env.resource(disk) is None


def protect_cmk_disk(name: str):
    """An unattached CMK data disk in rg-app (des-cmk), protected by the demo vault."""
    def patch(scenario: dict[str, Any]) -> None:
        scenario["disks"].append({"resourceGroup": "rg-app", "name": name, "sku": "Premium_LRS",
                                  "sizeGB": 128, "diskEncryptionSetId": DES,
                                  "tags": {"workload": "app01"}, "properties": {}})
        template = scenario["backupVaults"][0]["backupInstances"][0]
        scenario["backupVaults"][0]["backupInstances"].append(dict(
            template, disk="/subscriptions/{subscriptionId}/resourceGroups/rg-app/providers/"
                           f"Microsoft.Compute/disks/{name}"))
        app = scenario["principals"][scenario.get("appPrincipal", "app")]
        app["grants"].append({"scope": "/subscriptions/{subscriptionId}/resourceGroups/rg-app",
                              "actions": ["Microsoft.Authorization/roleAssignments/*"]})
    return patch


@pytest.mark.xfail(strict=True, reason="issue 20 part 7: the DES is read from the deleted disk, "
                   "so no Reader is granted and the run ends PropagationTimedOut")
def test_a_deleted_cmk_disk_comes_back_with_reader_on_its_encryption_set_for_the_run(
        recovery_env, payloads):
    r = recovery_env(deleted_disk_policies(payloads), protect_cmk_disk("vm-app01-cmk2"))
    disk = payloads.disk_id("vm-app01-cmk2")
    des = DES.replace("{subscriptionId}", r.env.sub)
    delete_disk(r.env, disk)
    event = payloads.delete_event(disk)

    assert r.deliver([event]).status_code == 202
    record = r.event(f"eventgrid:{event['id']}")
    assert record["disposition"] == "started", record
    out = r.env.host.wait_for(record["runId"], timeout=180)["output"]
    (restore,) = out["restores"]
    assert restore["outcome"] == "Succeeded", json.dumps(out, indent=1)
    roles = {(a["role"], a["scope"].lower()): a for a in restore["roleAssignments"]}
    assert set(roles) == {(READER, des.lower()),
                          (DISK_RESTORE_OPERATOR, payloads.rg("rg-app").lower())}
    assert all(a["revoked"] is True and a["preExisting"] is False for a in roles.values())
    assert not restore.get("warnings"), restore
    # azsim's audit: the app wrote the Reader assignment on the set, and deleted it again
    on_des = [e for e in r.env.sim.audit(write=True) if e["status"] < 300
              and e["scope"].lower().startswith(des.lower() + "/providers/microsoft.authorization")]
    assert [e["method"] for e in on_des] == ["PUT", "DELETE"]
    back = r.env.resource(disk)
    assert back["properties"]["encryption"]["diskEncryptionSetId"].lower() == des.lower()
    assert back["managedBy"].lower() == payloads.vm_id().lower()
    assert r.env.leftover_assignments() == set()
