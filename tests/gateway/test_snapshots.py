"""Contract: the snapshots of a resource group, as the real gateway reads them from azsim (the
real SDK's pager over ARM paging), and the planner's choice of a recovery point's snapshot under
each plausible relation between a snapshot's time and its point's (Azure documents none)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from domain import errors
from domain.restore.encryption_set import snapshot_of_point

if TYPE_CHECKING:
    from conftest import Env

SNAPSHOT_READ = "Microsoft.Compute/snapshots/read"


def _point_snapshot_ids(env: Env, bi_id: str) -> dict[str, str]:
    """azsim's own record of which snapshot each recovery point was taken as (never on the wire:
    the product must find it by listing)."""
    state = env.sim.state
    return {rp["name"]: rp["_snapshotId"].lower()
            for rp in state.children(bi_id, "Microsoft.DataProtection/backupVaults/"
                                            "backupInstances/recoveryPoints")}


@pytest.mark.parametrize("offset", [-3000, -30, 0, 30, 1200])
def test_every_points_snapshot_is_found_by_listing_whatever_the_time_relation(
        make_env: Callable[..., Env], offset: int) -> None:
    """Daily points; a snapshot taken 50 min before its point, at it, or 20 min after it: the
    planner's choice is the point's own snapshot every time, over pages of 4."""
    def change(spec: dict[str, Any]) -> None:
        spec.update(snapshotTimeOffsetSeconds=offset, pageSize=4)

    env = make_env(change=change)
    bi = env.plane.find_backup_instance(env.disk("vm-app01-data1"))
    snapshots = env.plane.list_snapshots(bi.snapshot_resource_group_id)
    assert len(snapshots) == 21  # every page: 3 disks x 7 points
    expected = _point_snapshot_ids(env, bi.id)
    for point in env.plane.list_recovery_points(bi.id):
        chosen = snapshot_of_point(snapshots, bi.datasource_id, point.time)
        assert chosen is not None and chosen.id.lower() == expected[point.id]
        assert chosen.incremental and chosen.encryption_set_id is not None
        assert chosen.encryption_set_id.lower() == env.rg("rg-keys").lower() + \
            "/providers/microsoft.compute/diskencryptionsets/des-cmk"


def test_a_group_without_snapshots_or_that_does_not_exist_lists_none(env: Env) -> None:
    assert env.plane.list_snapshots(env.target_rg) == []
    assert env.plane.list_snapshots(env.rg("rg-nowhere")) == []


def test_a_snapshot_the_app_may_not_read_is_app_not_authorized_naming_the_action(
        env: Env) -> None:
    env.sim.add_fault(kind="status", status=403, code="AuthorizationFailed",
                      operation=SNAPSHOT_READ,
                      message=f"The client '{env.sim.app_principal_id}' does not have "
                              f"authorization to perform action '{SNAPSHOT_READ}' over scope "
                              f"'{env.rg('rg-snapshots')}' or the scope is invalid.")
    with pytest.raises(errors.AppNotAuthorized) as raised:
        env.plane.list_snapshots(env.rg("rg-snapshots"))
    assert SNAPSHOT_READ in str(raised.value) and "rg-snapshots" in str(raised.value)


def test_an_outage_while_listing_is_transient(env: Env) -> None:
    env.sim.add_fault(kind="status", status=503, operation=SNAPSHOT_READ)
    with pytest.raises(errors.AzureUnavailable):
        env.plane.list_snapshots(env.rg("rg-snapshots"))
