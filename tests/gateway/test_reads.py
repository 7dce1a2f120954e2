"""Contract: the read side of ControlPlane against azsim through the real SDK clients."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest

from domain import errors

if TYPE_CHECKING:
    from conftest import Env


def test_finds_the_backup_instance_of_a_disk_case_insensitively(env: Env) -> None:
    disk = env.disk("vm-app01-data1")
    shouted = disk.replace("resourceGroups/rg-app", "RESOURCEGROUPS/RG-APP").replace(
        "vm-app01-data1", "VM-APP01-DATA1")

    bi = env.plane.find_backup_instance(shouted)

    assert bi.id.lower().startswith(f"{env.vault}/backupInstances/".lower())
    assert bi.vault_id.lower() == env.vault.lower()
    assert bi.vault_location == "westeurope"
    assert bi.datasource_id.lower() == disk.lower()
    assert bi.snapshot_resource_group_id.lower() == env.rg("rg-snapshots").lower()
    assert bi.vault_principal_id == env.principal("vault")
    assert bi.cross_subscription_restore == "Enabled"
    assert bi.protection_state == "ProtectionConfigured"
    assert env.plane.get_backup_instance(bi.id) == bi


def test_a_disk_without_backup_is_backup_instance_not_found(env: Env) -> None:
    with pytest.raises(errors.BackupInstanceNotFound) as raised:
        env.plane.find_backup_instance(env.disk("not-protected"))
    assert str(raised.value).startswith("BackupInstanceNotFound: ")
    with pytest.raises(errors.BackupInstanceNotFound):
        env.plane.get_backup_instance(f"{env.vault}/backupInstances/nope")
    with pytest.raises(errors.BackupInstanceNotFound):
        env.plane.list_recovery_points(f"{env.vault}/backupInstances/nope")


def test_recovery_points_come_newest_first_with_their_ids(env: Env) -> None:
    bi = env.plane.find_backup_instance(env.disk("vm-app01-data0"))

    points = env.plane.list_recovery_points(bi.id)

    assert len(points) == 7
    times = [datetime.fromisoformat(p.time) for p in points]
    assert times == sorted(times, reverse=True)
    assert all(t.utcoffset() is not None and t.utcoffset().total_seconds() == 0 for t in times)
    assert all(re.fullmatch(r"[0-9a-f]{32}", p.id) for p in points)


def test_get_disk_reads_size_sku_encryption_and_owner(env: Env) -> None:
    disk = env.plane.get_disk(env.disk("vm-app01-data1"))

    assert disk is not None
    assert (disk.location, disk.size_gb, disk.sku, disk.state) == (
        "westeurope", 512, "Premium_LRS", "Attached")
    assert disk.encryption_set_id is not None and disk.encryption_set_id.lower().endswith(
        "/diskencryptionsets/des-cmk")
    assert disk.managed_by is not None and disk.managed_by.lower() == env.vm.lower()
    assert disk.os_type is None
    os_disk = env.plane.get_disk(env.disk("vm-app01-osdisk"))
    assert os_disk is not None and os_disk.os_type == "Linux"


@pytest.mark.parametrize("missing", ["disk", "resource group"])
def test_a_missing_disk_is_none(env: Env, missing: str) -> None:
    disk_id = env.disk("nope") if missing == "disk" else env.disk("nope", "rg-missing")
    assert env.plane.get_disk(disk_id) is None


def test_get_vm_reads_disks_and_power_state(env: Env) -> None:
    vm = env.plane.get_vm(env.vm)

    assert vm is not None
    assert (vm.location, vm.os_type, vm.power_state, vm.zones) == (
        "westeurope", "Linux", "running", [])
    assert vm.os_disk_id is not None and vm.os_disk_id.lower() == env.disk(
        "vm-app01-osdisk").lower()
    assert [(d.lun, d.disk_id.rsplit("/", 1)[-1]) for d in vm.data_disks] == [
        (0, "vm-app01-data0"), (1, "vm-app01-data1")]
    assert env.plane.get_vm(env.vm.replace("vm-app01", "vm-nope")) is None


def test_resource_group_location_or_none(env: Env) -> None:
    assert env.plane.get_resource_group_location(env.rg("rg-restore-target")) == "westeurope"
    assert env.plane.get_resource_group_location(env.rg("rg-missing")) is None


def test_resources_in_another_subscription_use_that_subscriptions_clients(make_env: Any) -> None:
    other = "11111111-2222-4333-8444-555555555555"

    def add(spec: dict[str, Any]) -> None:
        spec["resourceGroups"].append({"name": "rg-elsewhere", "location": "northeurope",
                                       "subscriptionId": other})

    env = make_env(change=add)
    rg = f"/subscriptions/{other}/resourceGroups/rg-elsewhere"
    assert env.plane.get_resource_group_location(rg) == "northeurope"
    assert env.plane.get_resource_group_location(
        f"/subscriptions/{other}/resourceGroups/rg-app") is None


def test_a_configured_vault_that_is_gone_is_skipped_and_named(env: Env) -> None:
    from dataclasses import replace

    from gateway.factory import control_plane

    gone = env.vault.replace("bv-demo", "bv-gone")
    both = control_plane(replace(env.settings, backup_vault_ids=(gone, env.vault)))
    assert both.find_backup_instance(env.disk("vm-app01-data0")).vault_id.lower() == \
        env.vault.lower()

    only_gone = control_plane(replace(env.settings, backup_vault_ids=(gone,)))
    with pytest.raises(errors.BackupInstanceNotFound, match="these vaults do not exist"):
        only_gone.find_backup_instance(env.disk("vm-app01-data0"))


def test_a_vaults_backup_instances_and_its_restores_of_the_last_day(env: Env) -> None:
    instances = env.plane.list_backup_instances(env.vault)
    sources = sorted(bi.datasource_id.rsplit("/", 1)[-1] for bi in instances)
    assert sources == ["vm-app01-data0", "vm-app01-data1", "vm-app01-osdisk"]
    assert all(bi.vault_principal_id == env.principal("vault") for bi in instances)
    assert env.plane.count_restores(env.vault, "2000-01-01T00:00:00+00:00") == {}  # backups only


def test_a_resource_groups_disks_with_their_tags_and_tagging_one(env: Env) -> None:
    disks = {d.id.rsplit("/", 1)[-1]: d for d in env.plane.list_disks(env.rg("rg-app"))}
    assert {"vm-app01-osdisk", "vm-app01-data0", "vm-app01-data1"} <= set(disks)
    assert disks["vm-app01-data0"].tags == {"workload": "app01"}
    assert env.plane.list_disks(env.rg("rg-missing")) == []

    operation = env.plane.start_tag_disk(env.disk("vm-app01-data0"), {"drill": "d1"})
    env.finish(operation, 10)
    tagged = env.plane.get_disk(env.disk("vm-app01-data0"))
    assert tagged is not None and tagged.tags == {"workload": "app01", "drill": "d1"}  # merged
    again = env.plane.start_tag_disk(env.disk("vm-app01-data0"), {"drill": "d1"})
    assert again.status_url is None  # already tagged: nothing written
