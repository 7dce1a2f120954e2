"""A data disk replaced in place, end to end (devhost + azsim + real SDK clients; issue 17 part
1): one attachDetachDataDisks call detaches the original and attaches the restored disk at its
LUN with its caching; the original is kept, tagged with the run; the outcome lists the VM's disks
before and after."""

from __future__ import annotations

ATTACH_DETACH = "Microsoft.Compute/virtualMachines/attachDetachDataDisks/action"


def test_a_data_disk_is_replaced_in_place_in_one_call(restore_env):
    env = restore_env()
    original = env.disk("vm-app01-data0")
    view = env.run(env.request(attach={"vmId": env.vm(), "mode": "replace"}))
    assert view["outcome"] == "Succeeded", view
    result = view["result"]
    restored = result["restoredDiskId"]
    assert result["attach"]["lun"] == 0 and result["attach"]["caching"] == "ReadOnly"
    assert result["attach"]["replaces"].lower() == original.lower()
    [call] = [e for e in env.sim.audit(write=True) if e["operation"] == ATTACH_DETACH]
    assert 200 <= call["status"] < 300
    entries = env.resource(env.vm())["properties"]["storageProfile"]["dataDisks"]
    by_lun = {e["lun"]: e for e in entries}
    assert sorted(by_lun) == [0, 1]
    assert by_lun[0]["managedDisk"]["id"].lower() == restored.lower()
    assert by_lun[0]["caching"] == "ReadOnly"
    kept = env.resource(original)
    assert not kept.get("managedBy")
    assert kept["tags"]["diskrestore-replaced-by"] == result["id"]
    assert result["vmChange"]["before"]["dataDisks"]["0"].lower() == original.lower()
    assert result["vmChange"]["after"]["dataDisks"]["0"].lower() == restored.lower()
    assert env.leftover_assignments() == set()
