"""A private-link disk restored end to end (devhost + azsim + real SDK clients): the Backup restore
gives the new disk no tags and public export (azsim's least kind answer to what Azure does not
document); the run must give it the source's tags and network settings before the VM gets it."""

from __future__ import annotations

from typing import Any

ACCESS = "/subscriptions/{subscriptionId}/resourceGroups/rg-app/providers/" \
         "Microsoft.Compute/diskAccesses/da-app"
DISK_WRITE = "Microsoft.Compute/disks/write"
ATTACH = "Microsoft.Compute/virtualMachines/attachDetachDataDisks/action"


def private_link(scenario: dict[str, Any]) -> None:
    scenario.setdefault("diskAccesses", []).append({"resourceGroup": "rg-app",
                                                    "name": "da-app"})
    for disk in scenario["disks"]:
        if disk["name"] == "vm-app01-data0":
            disk["tags"] = {"workload": "app01", "costCenter": "cc-42"}
            disk["properties"].update(networkAccessPolicy="AllowPrivate", diskAccessId=ACCESS,
                                      publicNetworkAccess="Disabled")


def test_a_private_link_disk_comes_back_private_with_its_tags(restore_env):
    env = restore_env(private_link)
    access = ACCESS.replace("{subscriptionId}", env.sub)
    view = env.run(env.request(attach={"vmId": env.vm()}))
    assert view["outcome"] == "Succeeded", view
    result = view["result"]
    assert env.leftover_assignments() == set()
    disk_id = env.disk("vm-app01-data0-restored", "rg-restore-target")
    disk = env.resource(disk_id)
    assert disk is not None
    props = disk["properties"]
    assert (props["networkAccessPolicy"], props["diskAccessId"].lower(),
            props["publicNetworkAccess"]) == ("AllowPrivate", access.lower(), "Disabled")
    assert disk["tags"]["workload"] == "app01" and disk["tags"]["costCenter"] == "cc-42"
    assert disk["tags"]["restoredFrom"].lower() == env.disk("vm-app01-data0").lower()
    assert disk["tags"]["restoredBy"] == view["id"]
    assert result["recoveryPoint"]["id"].rsplit("/", 1)[-1] in disk["tags"]["recoveryPoint"]
    assert result["properties"]["notCopied"] == [] and "warnings" not in result
    assert set(result["properties"]["copied"]) == {
        "tags", "restoredFrom", "recoveryPoint", "restoredBy", "networkAccessPolicy",
        "diskAccessId", "publicNetworkAccess"}
    # the disk was private before it went onto the VM: the update came first, once
    updates = [e for e in env.writes(DISK_WRITE) if e["scope"].lower() == disk_id.lower()]
    attaches = env.writes(ATTACH)
    assert len(updates) == 1 and len(attaches) == 1
    assert env.sim.audit(write=True).index(updates[0]) < \
        env.sim.audit(write=True).index(attaches[0])
