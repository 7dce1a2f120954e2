"""The restored disk's tags and network settings (restore_managed_disk `_copy_properties`), in
process against the fake Azure.

The Backup restore sets neither, and what a restored disk gets is not documented: the fake, like
azsim, gives it no tags and public export (AllowAll, publicNetworkAccess Enabled, no disk access).
Each test runs the real runbook and checks the disk the VM got, the outcome's `properties` and
`warnings`, and that the update came before the disk went onto the VM."""

from __future__ import annotations

import dataclasses

from harness import estate

from domain import errors

ACCESS = f"{estate.rg('rg-app')}/providers/Microsoft.Compute/diskAccesses/da-app"
PROVENANCE = ["restoredFrom", "recoveryPoint", "restoredBy"]
NETWORK = ["networkAccessPolicy", "diskAccessId", "publicNetworkAccess"]


def restored(h, name: str = "vm-app01-data0-restored"):
    return h.gateway.disks[estate.disk_id(name, "rg-restore-target").lower()]


def private_source(h, policy: str = "AllowPrivate") -> None:
    """The demo's data0 behind a private endpoint (or with export denied), with a second tag."""
    h.gateway.add_disk_access(ACCESS, estate.LOCATION)
    key = estate.DATA0.lower()
    h.gateway.disks[key] = dataclasses.replace(
        h.gateway.disks[key], network_access_policy=policy, public_network_access="Disabled",
        disk_access_id=ACCESS if policy == "AllowPrivate" else None,
        tags={"workload": "app01", "costCenter": "cc-42"})


def writes(h) -> list[str]:
    return [c.method for c in h.gateway.calls if c.method in (
        "start_update_disk_properties", "start_attach_data_disk", "start_copy_disk_to_zone")]


def test_a_private_link_source_comes_back_private_with_its_tags_before_the_attach(h, restores):
    private_source(h)
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out.get("error")
    disk = restored(h)
    assert (disk.network_access_policy, disk.disk_access_id, disk.public_network_access) == \
        ("AllowPrivate", ACCESS, "Disabled")
    assert disk.tags == {"workload": "app01", "costCenter": "cc-42",
                         "restoredFrom": estate.DATA0, "restoredBy": out["id"],
                         "recoveryPoint": f"{out['recoveryPoint']['id'].rsplit('/', 1)[-1]} "
                                          f"{out['recoveryPoint']['time']}"}
    assert out["properties"]["diskId"].lower() == disk.id.lower()
    assert out["properties"]["copied"] == ["tags", *PROVENANCE, *NETWORK]
    assert out["properties"]["notCopied"] == []
    assert "warnings" not in out
    # one update, and before the VM got the disk
    assert writes(h) == ["start_update_disk_properties", "start_attach_data_disk"]
    assert "properties" in out["phases"]


def test_a_restored_disk_of_a_public_source_gets_its_tags_and_keeps_public_export(h, restores):
    out = restores.run(restores.request())
    assert out["outcome"] == "Succeeded", out.get("error")
    disk = restored(h)
    assert disk.tags["workload"] == "app01" and disk.tags["restoredBy"] == out["id"]
    assert (disk.network_access_policy, disk.public_network_access) == ("AllowAll", "Enabled")
    assert "warnings" not in out and out["properties"]["notCopied"] == []


def test_a_source_that_is_gone_gives_the_provenance_tags_and_says_what_it_could_not(h, restores):
    del h.gateway.disks[estate.DATA0.lower()]  # a recovery of a deleted disk
    out = restores.run(restores.request())
    assert out["outcome"] == "Succeeded", out.get("error")
    disk = restored(h)
    assert sorted(disk.tags) == sorted(PROVENANCE)
    assert disk.tags["restoredFrom"].lower() == estate.DATA0.lower()
    assert (disk.network_access_policy, disk.public_network_access) == ("AllowAll", "Enabled")
    assert out["properties"]["copied"] == PROVENANCE
    missing = {m["property"]: m["reason"] for m in out["properties"]["notCopied"]}
    assert sorted(missing) == sorted(["tags", *NETWORK])
    assert all("source disk is gone" in reason for reason in missing.values())


def test_a_failed_update_is_reported_and_the_attach_goes_ahead(h, restores):
    h.gateway.fail_operation("start_update_disk_properties", "InternalExecutionError",
                             "the disk update failed in the fake")
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out.get("error")
    # a public source: the restored disk has its network settings already (Azure's defaults)
    assert out["properties"]["copied"] == ["networkAccessPolicy", "publicNetworkAccess"]
    missing = {m["property"]: m["reason"] for m in out["properties"]["notCopied"]}
    assert sorted(missing) == sorted(["tags", *PROVENANCE])
    assert all("InternalExecutionError" in reason for reason in missing.values())
    assert restored(h).tags == {} and restored(h).managed_by == estate.VM
    assert "warnings" not in out


def test_an_update_that_raises_is_reported_not_fatal(h, restores):
    h.gateway.fail("start_update_disk_properties",
                   errors.AppNotAuthorized("the app may not write disks"), times=None)
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out.get("error")
    assert out["properties"]["copied"] == ["networkAccessPolicy", "publicNetworkAccess"]
    assert [m["property"] for m in out["properties"]["notCopied"]] == ["tags", *PROVENANCE]
    assert all("may not write disks" in m["reason"] for m in out["properties"]["notCopied"])
    assert restored(h).managed_by == estate.VM


def test_a_private_source_left_public_is_a_loud_warning(h, restores):
    private_source(h, "DenyAll")
    h.gateway.refuse("start_update_disk_properties", "RequestDisallowedByPolicy",
                     "a policy refused the disk update")
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out.get("error")
    assert (restored(h).network_access_policy, restored(h).public_network_access) == \
        ("AllowAll", "Enabled")
    [warning] = out["warnings"]
    assert warning.startswith("PUBLIC EXPORT") and "DenyAll" in warning
    assert restored(h).id.lower() in warning.lower()
    missing = {m["property"] for m in out["properties"]["notCopied"]}
    assert {"networkAccessPolicy", "publicNetworkAccess"} <= missing


def test_a_missing_disk_access_is_refused_and_reported_with_a_warning(h, restores):
    private_source(h)
    h.gateway.disk_accesses.clear()  # deleted since the source was linked to it
    out = restores.run(restores.request())
    assert out["outcome"] == "Succeeded", out.get("error")
    assert out["properties"]["copied"] == []
    assert any("ResourceNotFound" in m["reason"] for m in out["properties"]["notCopied"])
    assert len(out["warnings"]) == 1 and "AllowPrivate" in out["warnings"][0]


def test_a_lost_answer_is_retried_and_finds_the_update_done(h, restores):
    private_source(h)
    h.gateway.lose_answer("start_update_disk_properties", errors.AzureUnavailable("502 from ARM"))
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out.get("error")
    assert out["properties"]["copied"] == ["tags", *PROVENANCE, *NETWORK]
    assert restored(h).network_access_policy == "AllowPrivate"
    # the retry read the disk and wrote nothing: two calls, one operation
    assert len(h.gateway.called("start_update_disk_properties")) == 2
    assert [op.kind for op in h.gateway._operations.values()].count("update") == 1
    assert "warnings" not in out


def test_a_rerun_of_the_update_on_a_disk_that_has_it_writes_nothing(h, restores):
    private_source(h)
    out = restores.run(restores.request())
    assert out["outcome"] == "Succeeded", out.get("error")
    update = h.gateway.called("start_update_disk_properties")[0].args[0]
    before = restored(h)
    again = h.gateway.start_update_disk_properties(update)
    assert again.status_url is None  # finished at once: nothing to change
    assert restored(h) == before


def test_a_zonal_vm_gets_the_properties_on_the_copy_in_its_zone(h, restores):
    private_source(h)
    plane = h.gateway
    plane.vms[estate.VM.lower()].zones = ["1"]
    for key, disk in list(plane.disks.items()):
        plane.disks[key] = dataclasses.replace(disk, zones=["1"])
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out.get("error")
    copy = restored(h, "vm-app01-data0-restored-zone1")
    assert out["properties"]["diskId"].lower() == copy.id.lower()
    assert (copy.network_access_policy, copy.disk_access_id) == ("AllowPrivate", ACCESS)
    assert copy.tags["costCenter"] == "cc-42"
    assert writes(h) == ["start_copy_disk_to_zone", "start_update_disk_properties",
                         "start_attach_data_disk"]
