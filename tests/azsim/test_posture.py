"""What readiness reads, served as Azure serves it, to the real SDK clients (or a raw GET where the
app sends one): the Permissions API computed from azsim's RBAC model, management locks (and the
ScopeLocked refusal of a delete under one), Resource Guard proxies shaped as the 2025-07-01
example, a vault whose identity was disabled, every role assignment at a scope with its role
definition, and the scenario knobs that build each readiness finding."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from azure.core.exceptions import HttpResponseError

if TYPE_CHECKING:
    from conftest import Demo

LOCKS = "providers/Microsoft.Authorization/locks"
GUARD = "/subscriptions/f9e67185-f313-4e79-aa71-6458d429369d/resourceGroups/rg-security/" \
    "providers/Microsoft.DataProtection/resourceGuards/guard"
RBAC_ADMIN = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
WRITE = "Microsoft.Authorization/roleAssignments/write"


def _allows(blocks: list[Any], action: str) -> bool:
    from domain.readiness.checks import allows
    return any(allows(b.actions or [], b.not_actions or [], action) for b in blocks)


def test_permissions_are_the_callers_own_at_the_group(demo: Demo, make_demo) -> None:
    perms = demo.c.authorization.permissions
    assert _allows(list(perms.list_for_resource_group(demo.target_rg)), WRITE)  # a grant
    app = list(perms.list_for_resource_group(demo.app_rg))
    assert app and not _allows(app, WRITE)  # VMs and disks there, no role assignments
    assert list(perms.list_for_resource_group("rg-snapshots")) == []
    # a grant on one resource inside a group (the DES) does not apply to the group
    assert not _allows(list(perms.list_for_resource_group("rg-keys")), WRITE)
    with pytest.raises(HttpResponseError) as missing:
        list(perms.list_for_resource_group("rg-nope"))
    assert missing.value.status_code == 404
    # an assignment counts once in effect (propagation), with its role's notActions
    demo.grant(demo.rg_id("rg-snapshots"), RBAC_ADMIN, demo.sim.app_principal_id,
               "00000000-0000-4000-8000-000000000a11", clients=demo.clients_as("operator"))
    assert not _allows(list(perms.list_for_resource_group("rg-snapshots")), WRITE)
    demo.clock.advance(241)
    blocks = list(perms.list_for_resource_group("rg-snapshots"))
    assert _allows(blocks, WRITE) and blocks[0].data_actions == []
    # another caller sees their own
    operator = demo.clients_as("operator").authorization.permissions
    assert _allows(list(operator.list_for_resource_group("rg-snapshots")), WRITE)


def test_locks_at_a_group_its_resources_and_the_subscription(make_demo: Callable[..., Demo]
                                                             ) -> None:
    def locked(spec: dict[str, Any]) -> None:
        sub = f"/subscriptions/{spec['subscriptionId']}"
        spec["locks"] = [
            {"scope": f"{sub}/resourceGroups/rg-snapshots", "name": "keep", "notes": "backups"},
            {"scope": f"{sub}", "name": "all", "level": "ReadOnly"},
            {"scope": f"{sub}/resourceGroups/rg-app/providers/Microsoft.Compute/disks/"
                      "vm-app01-data0", "name": "disk"}]
    demo = make_demo(locked)
    status, _, body = demo.raw("GET", f"{demo.rg_id('rg-snapshots')}/{LOCKS}"
                                      "?api-version=2020-05-01")
    assert status == 200
    assert sorted(x["name"] for x in body["value"]) == ["all", "keep"]  # not the disk's
    lock = next(x for x in body["value"] if x["name"] == "keep")
    assert lock == {"id": f"{demo.rg_id('rg-snapshots')}/{LOCKS}/keep", "name": "keep",
                    "type": "Microsoft.Authorization/locks",
                    "properties": {"level": "CanNotDelete", "notes": "backups"}}
    _, _, app = demo.raw("GET", f"{demo.rg_id('rg-app')}/{LOCKS}?api-version=2020-05-01")
    assert sorted(x["name"] for x in app["value"]) == ["all", "disk"]
    status, _, _ = demo.raw("GET", f"{demo.rg_id('rg-nope')}/{LOCKS}?api-version=2020-05-01")
    assert status == 404


def test_a_lock_made_by_put_refuses_deleting_snapshots_until_it_is_deleted(demo: Demo) -> None:
    lock = f"{demo.rg_id('rg-snapshots')}/{LOCKS}/keep?api-version=2020-05-01"
    status, _, _ = demo.raw("PUT", lock, {"properties": {"level": "CanNotDelete"}})
    assert status == 403  # the app may not write locks
    operator = demo.token("operator")
    status, _, body = demo.raw("PUT", lock, {"properties": {"level": "CanNotDelete"}},
                               token=operator)
    assert status == 201 and body["properties"] == {"level": "CanNotDelete"}
    snapshot = next(demo.c.compute.snapshots.list_by_resource_group("rg-snapshots"))
    ops = demo.clients_as("operator").compute.snapshots
    with pytest.raises(HttpResponseError) as refused:
        ops.begin_delete("rg-snapshots", snapshot.name)
    assert refused.value.status_code == 409 and refused.value.error.code == "ScopeLocked"
    assert f"'{demo.rg_id('rg-snapshots')}'" in refused.value.error.message
    assert demo.c.compute.snapshots.get("rg-snapshots", snapshot.name).id == snapshot.id
    status, _, _ = demo.raw("DELETE", lock, token=operator)
    assert status == 200
    ops.begin_delete("rg-snapshots", snapshot.name)
    demo.clock.advance(10)
    assert snapshot.name not in {s.name for s in
                                 demo.c.compute.snapshots.list_by_resource_group("rg-snapshots")}


def test_resource_guard_proxies_and_the_vault_that_has_one(make_demo) -> None:
    plain = make_demo()
    assert list(plain.c.dataprotection.dpp_resource_guard_proxy.list("rg-backup",
                                                                     "bv-demo")) == []

    def guarded(spec: dict[str, Any]) -> None:
        spec["backupVaults"][0]["resourceGuard"] = GUARD
    demo = make_demo(guarded)
    (proxy,) = demo.c.dataprotection.dpp_resource_guard_proxy.list("rg-backup", "bv-demo")
    assert proxy.name == "DppResourceGuardProxy"
    assert proxy.type == "Microsoft.DataProtection/vaults/backupResourceGuardProxies"
    assert proxy.properties.resource_guard_resource_id == GUARD
    assert {d.vault_critical_operation for d in proxy.properties.resource_guard_operation_details
            } == {"Microsoft.DataProtection/backupVaults/backupInstances/delete",
                  "Microsoft.DataProtection/backupVaults/backupResourceGuardProxies/delete"}
    got = demo.c.dataprotection.dpp_resource_guard_proxy.get("rg-backup", "bv-demo",
                                                              "DppResourceGuardProxy")
    assert got.id == proxy.id
    vault = demo.c.dataprotection.backup_vaults.get("rg-backup", "bv-demo")
    assert vault.properties.is_vault_protected_by_resource_guard is True


def test_a_vault_whose_identity_was_disabled(make_demo) -> None:
    def disabled(spec: dict[str, Any]) -> None:
        spec["backupVaults"][0]["identity"] = {"type": "None"}
    demo = make_demo(disabled)
    status, _, vault = demo.raw("GET", "/subscriptions/" + demo.sub + "/resourceGroups/rg-backup/"
                                "providers/Microsoft.DataProtection/backupVaults/bv-demo"
                                "?api-version=2026-06-01")
    assert status == 200 and vault["identity"] == {"type": "None"}


def test_every_assignment_at_a_scope_with_its_role_definition(make_demo) -> None:
    demo = make_demo(grants=(("/subscriptions/{subscriptionId}", "Contributor", "operator"),))
    found = list(demo.c.authorization.role_assignments.list_for_scope(
        demo.rg_id("rg-snapshots"), filter="atScope()"))
    holders = {(a.principal_id, a.role_definition_id.rsplit("/", 1)[-1]) for a in found}
    assert holders == {(demo.vault_principal, "7efff54f-a5b4-42b5-a1c5-5411624893ce"),
                       (demo.sim.principal_id("operator"),
                        "b24988ac-6180-42a0-ab88-20f7382dd24c")}
    role = demo.c.authorization.role_definitions.get(demo.rg_id("rg-snapshots"),
                                                     "b24988ac-6180-42a0-ab88-20f7382dd24c")
    assert role.role_name == "Contributor" and role.permissions[0].actions == ["*"]


def test_the_scenario_knobs_readiness_findings_are_built_from(make_demo) -> None:
    def knobs(spec: dict[str, Any]) -> None:
        bis = spec["backupVaults"][0]["backupInstances"]
        bis[0]["recoveryPoints"]["latestHoursAgo"] = 30
        bis[1]["protectionState"] = "ProtectionStopped"
        bis[2]["restoresToday"] = 10
    demo = make_demo(knobs)
    now = demo.clock.now()
    bis = {bi.properties.data_source_info.resource_name: bi
           for bi in demo.c.dataprotection.backup_instances.list("rg-backup", "bv-demo")}
    newest = demo.latest_point(bis["vm-app01-osdisk"].name).properties.recovery_point_time
    assert timedelta(hours=29.9) < now - newest < timedelta(hours=30.1)
    assert bis["vm-app01-data0"].properties.current_protection_state == "ProtectionStopped"
    restores = [j for j in demo.c.dataprotection.jobs.list("rg-backup", "bv-demo")
                if j.properties.operation_category == "Restore"]
    assert len(restores) == 10 and all(j.properties.status == "Completed" for j in restores)
    assert all(now - j.properties.start_time < timedelta(hours=24) for j in restores)
    assert {j.properties.backup_instance_id for j in restores} == {bis["vm-app01-data1"].id}
