"""A deleted customer-managed-key disk, recovered end to end (issue 20 part 7): the source disk is
gone, so its Disk Encryption Set is read from the recovery point's incremental snapshot in the
snapshot resource group; the vault gets Reader on that set for the run, and loses it after."""

from __future__ import annotations

import json
from typing import Any

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


def protect_cmk_disk(name: str, *, cmk: bool = True):
    """An unattached data disk in rg-app (CMK through des-cmk, or a platform key), protected by
    the demo vault."""
    def patch(scenario: dict[str, Any]) -> None:
        scenario["disks"].append({"resourceGroup": "rg-app", "name": name, "sku": "Premium_LRS",
                                  "sizeGB": 128, "tags": {"workload": "app01"}, "properties": {},
                                  **({"diskEncryptionSetId": DES} if cmk else {})})
        template = scenario["backupVaults"][0]["backupInstances"][0]
        scenario["backupVaults"][0]["backupInstances"].append(dict(
            template, disk="/subscriptions/{subscriptionId}/resourceGroups/rg-app/providers/"
                           f"Microsoft.Compute/disks/{name}"))
        app = scenario["principals"][scenario.get("appPrincipal", "app")]
        app["grants"].append({"scope": "/subscriptions/{subscriptionId}/resourceGroups/rg-app",
                              "actions": ["Microsoft.Authorization/roleAssignments/*"]})
    return patch


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
    on_des = [e["operation"] for e in r.env.sim.audit(write=True)
              if e["status"] < 300 and e["scope"].lower() == des.lower()]
    assert on_des == ["Microsoft.Authorization/roleAssignments/write",
                      "Microsoft.Authorization/roleAssignments/delete"]
    back = r.env.resource(disk)
    assert back["properties"]["encryption"]["diskEncryptionSetId"].lower() == des.lower()
    assert back["managedBy"].lower() == payloads.vm_id().lower()
    assert r.env.leftover_assignments() == set()


def test_snapshots_the_app_may_not_read_leave_a_warning_and_the_recovery_goes_on(
        recovery_env, payloads):
    """ARM's answer to an identity without `snapshots/read` on the snapshot resource group (azsim
    checks no reads: the 403 is injected as ARM words it)."""
    def unreadable(scenario: dict[str, Any]) -> None:
        protect_cmk_disk("vm-app01-plain2", cmk=False)(scenario)
        scenario.setdefault("faults", []).append({
            "kind": "status", "status": 403, "code": "AuthorizationFailed",
            "operation": "Microsoft.Compute/snapshots/read",
            "message": "The client does not have authorization to perform action "
                       "'Microsoft.Compute/snapshots/read' over scope '/subscriptions/"
                       f"{scenario['subscriptionId']}/resourceGroups/rg-snapshots' or the scope "
                       "is invalid."})

    r = recovery_env(deleted_disk_policies(payloads), unreadable)
    disk = payloads.disk_id("vm-app01-plain2")
    delete_disk(r.env, disk)
    event = payloads.delete_event(disk)
    assert r.deliver([event]).status_code == 202
    record = r.event(f"eventgrid:{event['id']}")
    out = r.env.host.wait_for(record["runId"], timeout=180)["output"]
    (restore,) = out["restores"]
    assert restore["outcome"] == "Succeeded", json.dumps(out, indent=1)
    assert [a["role"] for a in restore["roleAssignments"]] == [DISK_RESTORE_OPERATOR]
    [warning] = restore["warnings"]
    assert warning.startswith("the Disk Encryption Set could not be determined: if the disk "
                              "used a customer-managed key, grant the vault Reader on it")
    assert "Microsoft.Compute/snapshots/read" in warning and "rg-snapshots" in warning
    assert r.env.leftover_assignments() == set()
