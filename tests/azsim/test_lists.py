"""The list operations a catalog depends on: disks and VMs by subscription and by resource group,
paged with `nextLink` as ARM pages them (the real SDK's ItemPaged follows them), and authorized
as reads: the caller needs `<type>/read` at the scope, and a caller who may read only some of it
meets the scenario's `listAuthorization` (`deny`: 403, `filter`: only what it may read), since
Azure does not document which ARM does."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.core.exceptions import HttpResponseError

if TYPE_CHECKING:
    from conftest import Demo

DISKS, VM = "2026-03-02", "2026-04-01"
APP_RG = "/subscriptions/{subscriptionId}/resourceGroups/rg-app"


def more_disks(count: int, rg: str = "rg-app") -> Callable[[dict[str, Any]], None]:
    def change(spec: dict[str, Any]) -> None:
        spec["pageSize"] = 2
        spec["resourceGroups"].append({"name": "rg-other"})
        spec["disks"] += [{"resourceGroup": rg, "name": f"extra-{n:02d}", "sku": "Standard_LRS",
                           "sizeGB": 32} for n in range(count)]
    return change


def reader_of(scope: str, actions: tuple[str, ...] = ("Microsoft.Compute/*/read",)
              ) -> Callable[[dict[str, Any]], None]:
    def change(spec: dict[str, Any]) -> None:
        spec["principals"]["app"]["grants"].append({"scope": scope, "actions": list(actions)})
    return change


def both(*changes: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def change(spec: dict[str, Any]) -> None:
        for one in changes:
            one(spec)
    return change


def test_disks_by_subscription_are_paged_and_the_sdk_follows_every_next_link(
        make_demo: Callable[..., Demo]) -> None:
    demo = make_demo(more_disks(5, "rg-other"))
    ops = demo.clients_as("operator").compute
    names = [d.name for d in ops.disks.list()]
    # 3 demo disks + 5 in rg-other, each exactly once, in id order
    assert sorted(names) == sorted(["vm-app01-osdisk", "vm-app01-data0", "vm-app01-data1",
                                    *(f"extra-{n:02d}" for n in range(5))])
    assert len(names) == len(set(names)) == 8
    status, _, first = demo.raw("GET", f"/subscriptions/{demo.sub}/providers/Microsoft.Compute/"
                                f"disks?api-version={DISKS}", token=demo.token("operator"))
    assert status == 200 and len(first["value"]) == 2
    link = urlsplit(first["nextLink"])
    assert link.path == f"/subscriptions/{demo.sub}/providers/Microsoft.Compute/disks"
    assert parse_qs(link.query)["api-version"] == [DISKS] and "$skipToken" in parse_qs(link.query)
    # the attached disks say which VM holds them
    held = {d.name: d.managed_by for d in ops.disks.list()}
    assert held["vm-app01-data0"].lower().endswith("/virtualmachines/vm-app01")
    assert held["extra-00"] is None


def test_vms_are_listed_by_subscription_and_by_resource_group_without_instance_view(
        make_demo: Callable[..., Demo]) -> None:
    def vms(spec: dict[str, Any]) -> None:
        more_disks(3)(spec)
        for n in range(3):
            spec["virtualMachines"].append({
                "resourceGroup": "rg-app", "name": f"vm-extra{n}", "size": "Standard_D2s_v3",
                "power": "running", "osDisk": f"extra-{n:02d}", "dataDisks": []})
    demo = make_demo(vms)
    ops = demo.clients_as("operator").compute
    everywhere = [vm.name for vm in ops.virtual_machines.list_all()]
    in_group = [vm.name for vm in ops.virtual_machines.list("rg-app")]
    assert sorted(everywhere) == sorted(in_group) == ["vm-app01", "vm-extra0", "vm-extra1",
                                                      "vm-extra2"]
    assert list(ops.virtual_machines.list("rg-restore-target")) == []
    listed = next(vm for vm in ops.virtual_machines.list_all() if vm.name == "vm-app01")
    assert listed.instance_view is None
    assert listed.storage_profile.os_disk.managed_disk.id.endswith("/vm-app01-osdisk")


def test_a_list_of_a_missing_group_is_404_resource_group_not_found(demo: Demo) -> None:
    status, _, body = demo.raw("GET", f"{demo.rg_id('rg-nowhere')}/providers/Microsoft.Compute/"
                               f"virtualMachines?api-version={VM}", token=demo.token("operator"))
    assert (status, body["error"]["code"]) == (404, "ResourceGroupNotFound")


@pytest.mark.parametrize("path", ["providers/Microsoft.Compute/disks",
                                  "providers/Microsoft.Compute/virtualMachines"])
def test_a_caller_without_read_at_the_scope_is_refused_authorization_failed(
        make_demo: Callable[..., Demo], path: str) -> None:
    """The demo's app may write in some groups but holds no read at the subscription."""
    demo = make_demo()
    version = DISKS if path.endswith("disks") else VM
    status, _, body = demo.raw("GET", f"/subscriptions/{demo.sub}/{path}?api-version={version}")
    assert status == 403 and body["error"]["code"] == "AuthorizationFailed"
    assert f"/subscriptions/{demo.sub}'" in body["error"]["message"]
    # the vault's identity holds Disk Backup Reader on three disks only: no group list either
    status, _, body = demo.raw("GET", f"{demo.rg_id('rg-backup')}/{path}?api-version={version}",
                               token=demo.token("vault"))
    assert status == 403 and body["error"]["code"] == "AuthorizationFailed"


def test_a_reader_at_the_subscription_sees_every_disk(make_demo: Callable[..., Demo]) -> None:
    demo = make_demo(both(more_disks(3, "rg-other"), reader_of("/subscriptions/{subscriptionId}")))
    assert len(list(demo.c.compute.disks.list())) == 6


@pytest.mark.parametrize("mode", ["deny", "filter"])
def test_a_reader_of_one_group_listing_the_subscription_meets_the_list_authorization_setting(
        make_demo: Callable[..., Demo], mode: str) -> None:
    def change(spec: dict[str, Any]) -> None:
        spec["listAuthorization"] = mode
    demo = make_demo(both(more_disks(3, "rg-other"), reader_of(APP_RG), change))
    if mode == "deny":
        with pytest.raises(HttpResponseError) as refused:
            list(demo.c.compute.disks.list())
        assert refused.value.status_code == 403
    else:
        assert sorted(d.name for d in demo.c.compute.disks.list()) == [
            "vm-app01-data0", "vm-app01-data1", "vm-app01-osdisk"]
    # the group it may read is listed whole either way, every page
    assert len(list(demo.c.compute.disks.list_by_resource_group("rg-app"))) == 3
    assert [vm.name for vm in demo.c.compute.virtual_machines.list("rg-app")] == ["vm-app01"]


def test_a_scenario_with_an_unknown_list_authorization_is_refused(
        make_demo: Callable[..., Demo]) -> None:
    def change(spec: dict[str, Any]) -> None:
        spec["listAuthorization"] = "allow"
    with pytest.raises(ValueError, match="listAuthorization"):
        make_demo(change)
