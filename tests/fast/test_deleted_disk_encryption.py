"""The planner's Disk Encryption Set for a source disk that is gone (issue 20 part 7): read from
the recovery point's incremental snapshot in the snapshot resource group; Reader on it for the
run as for a live CMK disk; none for a platform-key disk; and a snapshot that cannot be read or
found is a warning in the plan and the outcome, never a failed plan. In process, on the fake."""

from __future__ import annotations

from harness import estate

from domain import errors
from domain.model import Disk
from domain.restore.encryption_set import UNDETERMINED
from domain.restore.planning import DISK_RESTORE_OPERATOR, READER

GONE = estate.disk_id("vm-app01-gone")


def deleted_disk(h, *, cmk: bool) -> None:
    """An unattached data disk in rg-app (CMK through des-cmk, or a platform key), protected by
    the vault with the demo's 7 daily points, then deleted by someone."""
    h.gateway.add_disk(Disk(GONE, estate.LOCATION, 64, "Premium_LRS", state="Unattached",
                            encryption_set_id=estate.DES if cmk else None))
    points = h.gateway.protected[estate.backup_instance_of(h.gateway, estate.DATA0).lower()].points
    h.gateway.protect(estate.VAULT, GONE, principal_id=estate.VAULT_PRINCIPAL,
                      snapshot_rg_id=estate.SNAPSHOTS, points=points)
    del h.gateway.disks[GONE.lower()]


def roles(out) -> dict[str, dict]:
    return {a["role"]: a for a in out["roleAssignments"]}


def left(h) -> list:
    return [a for a in h.gateway.assignments.values()
            if a.created is not None and a.deleted is None]


def test_a_deleted_cmk_disk_gets_reader_on_its_snapshots_encryption_set_for_the_run(h, restores):
    deleted_disk(h, cmk=True)
    out = restores.run(restores.request(GONE))
    assert out["outcome"] == "Succeeded", out
    granted = roles(out)
    assert set(granted) == {DISK_RESTORE_OPERATOR, READER}
    assert granted[READER]["scope"] == estate.DES and granted[READER]["revoked"] is True
    assert "warnings" not in out
    made = h.gateway.disks[estate.disk_id("vm-app01-gone-restored", "rg-restore-target").lower()]
    assert made.encryption_set_id == estate.DES
    # the set came from a listing of the backup instance's snapshot resource group
    assert [c.args for c in h.gateway.called("list_snapshots")] == [(estate.SNAPSHOTS,)]
    assert left(h) == []


def test_a_deleted_platform_key_disk_gets_no_encryption_set_grant(h, restores):
    deleted_disk(h, cmk=False)
    out = restores.run(restores.request(GONE))
    assert out["outcome"] == "Succeeded", out
    assert set(roles(out)) == {DISK_RESTORE_OPERATOR}
    assert "warnings" not in out
    assert len(h.gateway.called("list_snapshots")) == 1


def test_a_live_disk_is_not_looked_up_in_the_snapshots(h, restores):
    out = restores.run(restores.request(estate.DATA1))
    assert out["outcome"] == "Succeeded", out
    assert roles(out)[READER]["scope"] == estate.DES
    assert h.gateway.called("list_snapshots") == []


def test_snapshots_the_app_may_not_read_are_a_warning_and_the_restore_goes_on(h, restores):
    deleted_disk(h, cmk=False)
    h.gateway.fail("list_snapshots", errors.AppNotAuthorized(
        "the app's identity may not perform 'Microsoft.Compute/snapshots/read' on "
        f"'{estate.SNAPSHOTS}'"), times=None)
    out = restores.run(restores.request(GONE))
    assert out["outcome"] == "Succeeded", out
    assert set(roles(out)) == {DISK_RESTORE_OPERATOR}
    [warning] = out["warnings"]
    assert warning.startswith(UNDETERMINED)
    assert estate.VAULT_PRINCIPAL in warning and "Microsoft.Compute/snapshots/read" in warning
    assert len(h.gateway.called("list_snapshots")) == 1  # a permanent refusal: not retried


def test_an_unreadable_cmk_disks_run_says_what_to_grant_when_the_wait_times_out(h, restores):
    """Nobody can know the set: the run waits for the vault's permission as long as it is
    allowed, then fails with Azure's code, and the outcome says to grant Reader by hand."""
    deleted_disk(h, cmk=True)
    h.gateway.fail("list_snapshots", errors.AppNotAuthorized("403 on snapshots/read"),
                   times=None)
    out = restores.run(restores.request(GONE))
    assert out["outcome"] == "Failed"
    assert out["error"]["code"] == "PropagationTimedOut"
    assert "UserErrorMSIPermissionsNotPresentOnDES" in out["error"]["message"]
    assert out["warnings"][0].startswith(UNDETERMINED)
    assert left(h) == []


def test_no_snapshot_of_the_disk_near_the_point_is_a_warning(h, restores):
    deleted_disk(h, cmk=True)
    bi = estate.backup_instance_of(h.gateway, GONE)
    for point in h.gateway.protected[bi.lower()].points:  # all deleted, or moved elsewhere
        h.gateway.delete_snapshot(bi, point.id)
    out = restores.run(restores.request(GONE, dryRun=True))
    assert out["outcome"] == "DryRun"
    [warning] = out["warnings"]
    assert warning.startswith(UNDETERMINED) and "no snapshot of" in warning
    assert out["plan"]["warnings"] == out["warnings"]
    assert [g["roleName"] for g in out["plan"]["grants"]] == ["Disk Restore Operator"]


def test_a_transient_failure_to_list_is_retried_and_the_grant_is_made(h, restores):
    deleted_disk(h, cmk=True)
    h.gateway.fail("list_snapshots", errors.AzureUnavailable("503 from ARM"), times=2)
    out = restores.run(restores.request(GONE))
    assert out["outcome"] == "Succeeded", out
    assert roles(out)[READER]["scope"] == estate.DES and "warnings" not in out
    assert [c.error is None for c in h.calls("plan_restore")] == [False, False, True]


def test_a_deleted_cmk_disk_is_not_restored_into_another_subscription(h, restores):
    deleted_disk(h, cmk=True)
    elsewhere = "/subscriptions/0a1b2c3d-0000-4000-8000-000000000abc/resourceGroups/rg-other"
    h.gateway.add_resource_group(elsewhere, estate.LOCATION)
    body = restores.request(GONE)
    body["target"]["resourceGroupId"] = elsewhere
    out = restores.run(body)
    assert out["outcome"] == "Failed"
    assert out["error"]["code"] == "CrossSubscriptionRestoreDisabled"
    assert "customer-managed key" in out["error"]["message"]
    assert h.gateway.called("grant_role") == []
