"""Readiness runs (orchestrations/readiness.py `check_readiness`) in process, over the demo
estate in FakeControlPlane: each finding made by the state built to trigger it, absent from the
clean estate; the report and its log records as the app writes them (an in-memory container
through the app's ReportStore)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from harness import estate
from harness.control_plane import APP_PRINCIPAL

from domain import errors
from domain.objectives import ObjectiveRules, Objectives
from domain.readiness.readiness_run import ObjectiveScope, ReadinessInput
from domain.restore.planning import DISK_SNAPSHOT_CONTRIBUTOR
from orchestrations.readiness import check_readiness

RBAC_ADMIN = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
GUARD = f"{estate.rg('rg-security')}/providers/Microsoft.DataProtection/resourceGuards/guard"
OPERATOR = "0e0e0e0e-0000-4000-8000-00000000e001"
SUBSCRIPTION = f"/subscriptions/{estate.SUBSCRIPTION}"


def clean(h) -> None:
    """The demo estate with what readiness asks for: a delete lock on the snapshot group, a
    Resource Guard on the vault, and the app allowed to grant in the target and source groups."""
    h.gateway.add_lock(estate.SNAPSHOTS, "keep-backup-snapshots")
    h.gateway.add_resource_guard(estate.VAULT, GUARD)
    for group in (estate.TARGET, estate.rg()):
        h.gateway.assign(group, RBAC_ADMIN, APP_PRINCIPAL)


def check(h, **overrides: Any) -> dict[str, Any]:
    """One run as triggers/readiness_routes.py starts it; the report it wrote as the latest."""
    run_id = f"readiness-{h.clock:%Y%m%dT%H%M%S}"
    doc = ReadinessInput(run_id, [estate.VAULT], **{"sandbox_group_ids": [estate.TARGET],
                                                    **overrides})
    h.start(check_readiness.name, doc.to_dict(), run_id)
    h.run()
    out = h.output(run_id)
    report = json.loads(h.reports.blobs["_readiness/latest.json"])
    assert report == json.loads(h.reports.blobs[f"_readiness/{run_id}.json"])
    assert out["status"] == report["status"] and out["summary"] == report["summary"]
    return report


def codes(report: dict[str, Any]) -> dict[str, set[str]]:
    """code -> the disks (names) it was found for; "" for a general finding."""
    found: dict[str, set[str]] = {}
    for disk in report["disks"]:
        for f in disk["findings"]:
            found.setdefault(f["code"], set()).add(disk["name"])
    for f in report["findings"]:
        found.setdefault(f["code"], set()).add("")
    return found


ALL = {"vm-app01-osdisk", "vm-app01-data0", "vm-app01-data1"}


def test_the_clean_estate_is_ready_with_no_finding_and_one_log_record(h, caplog):
    clean(h)
    with caplog.at_level(logging.INFO, logger="diskrestore.readiness"):
        report = check(h)
    assert report["status"] == "ready" and codes(report) == {}, report
    assert report["summary"] == {"disks": 3, "ready": 3, "atRisk": 0, "notReady": 0,
                                 "findings": {}}
    for disk in report["disks"]:
        assert disk["rpo"]["verdict"] == "met" and disk["rpo"]["actual"] == 0.5
        assert disk["restoresLeftToday"] == 10 and disk["newestRecoveryPoint"]["id"]
    lines = [r.getMessage() for r in caplog.records if r.name == "diskrestore.readiness"]
    assert len(lines) == 1 and lines[0].startswith("readiness checked: ")
    record = json.loads(lines[0].removeprefix("readiness checked: "))
    assert record["event"] == "ReadinessChecked" and record["status"] == "ready"
    html = h.reports.blobs["_readiness/latest.html"].decode()
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 3  # no findings' chart
    assert "<p>No findings.</p>" in html
    assert "src=" not in html and "https://" not in html


def test_a_stale_point_and_a_spent_budget(h, caplog):
    clean(h)
    h.clock += timedelta(days=2)  # no backup since: the newest point is 48.5 h old
    h.gateway.add_restores_today(estate.backup_instance_of(h.gateway, estate.DATA0), 10)
    h.gateway.add_restores_today(estate.backup_instance_of(h.gateway, estate.DATA1), 8)
    with caplog.at_level(logging.INFO, logger="diskrestore.readiness"):
        report = check(h)
    assert codes(report) == {"StaleRecoveryPoint": ALL, "RestoreBudgetSpent": {"vm-app01-data0"},
                             "RestoreBudgetLow": {"vm-app01-data1"}}
    assert report["status"] == "notReady" and report["summary"]["notReady"] == 3
    errors_logged = [json.loads(r.getMessage().removeprefix("readiness finding: "))
                     for r in caplog.records if r.getMessage().startswith("readiness finding: ")]
    assert sorted(e["code"] for e in errors_logged) == ["RestoreBudgetSpent"] + \
        ["StaleRecoveryPoint"] * 3
    assert all(r.levelname == "WARNING" for r in caplog.records
               if r.getMessage().startswith("readiness finding: "))


def test_an_objective_narrower_than_the_default_rpo(h):
    clean(h)
    other_vault = f"{estate.VAULT}-elsewhere"
    gold = ObjectiveScope(ObjectiveRules(Objectives(rpo_hours=0.25)), "drill plan gold",
                          vaults=[other_vault], include=[estate.DATA0])
    report = check(h, objectives=[gold])
    assert codes(report) == {"StaleRecoveryPoint": {"vm-app01-data0"}}


def test_a_deleted_snapshot_and_a_removed_vault_role(h):
    clean(h)
    bi = estate.backup_instance_of(h.gateway, estate.DATA0)
    newest = h.gateway.list_recovery_points(bi)[0]
    h.gateway.delete_snapshot(bi, newest.id)
    report = check(h)
    assert codes(report) == {"SnapshotsMissing": {"vm-app01-data0"}}
    (finding,) = next(d for d in report["disks"] if d["name"] == "vm-app01-data0")["findings"]
    assert finding["severity"] == "error" and "(the newest among them)" in finding["message"]

    role = next(a.record for a in h.gateway.assignments.values()
                if a.record.role_definition_guid == DISK_SNAPSHOT_CONTRIBUTOR)
    h.gateway.revoke_role(role.id)
    h.clock += timedelta(minutes=1)
    report = check(h)
    assert codes(report) == {"SnapshotsMissing": {"vm-app01-data0"}, "VaultRoleMissing": ALL}


def test_posture_no_lock_no_guard_and_who_can_delete_snapshots(h):
    h.gateway.principal_types[OPERATOR] = "User"
    h.gateway.assign(SUBSCRIPTION, CONTRIBUTOR, OPERATOR)
    for group in (estate.TARGET, estate.rg()):
        h.gateway.assign(group, RBAC_ADMIN, APP_PRINCIPAL)
    report = check(h)
    assert codes(report) == {"NoDeleteLock": {""}, "NoMultiUserAuthorization": {""},
                             "SnapshotGroupDeletableBy": {""}}
    assert report["status"] == "ready"  # posture: info, not a broken restore
    deleters = next(f for f in report["findings"] if f["code"] == "SnapshotGroupDeletableBy")
    assert f"{OPERATOR} (User, Contributor)" in deleters["message"]
    assert estate.VAULT_PRINCIPAL not in deleters["message"]  # the vault must delete its own


def test_a_vault_without_its_identity_and_protection_stopped(h):
    clean(h)
    h.gateway.set_protection_state(estate.backup_instance_of(h.gateway, estate.OS_DISK),
                                   "ProtectionStopped")
    h.gateway.remove_vault_identity(estate.VAULT)
    report = check(h)
    # The vault's old identity still holds its Disk Snapshot Contributor assignment (Azure keeps
    # an orphaned assignment): no identity of a vault is known to exclude, so it is listed.
    assert codes(report) == {"VaultIdentityMissing": ALL,
                             "ProtectionNotHealthy": {"vm-app01-osdisk"},
                             "SnapshotGroupDeletableBy": {""}}


def test_groups_the_app_cannot_grant_in(h):
    h.gateway.add_lock(estate.SNAPSHOTS, "keep")
    h.gateway.add_resource_guard(estate.VAULT, GUARD)
    h.gateway.assign(estate.TARGET, RBAC_ADMIN, APP_PRINCIPAL)
    gone = estate.rg("rg-no-such-sandbox")
    report = check(h, sandbox_group_ids=[estate.TARGET, gone])
    assert codes(report) == {"CannotGrantInTarget": {*ALL, ""}}
    (general,) = report["findings"]
    assert general["scope"] == gone and "does not exist" in general["message"]


def test_a_refused_read_is_said_and_an_outage_is_ridden_out(h):
    clean(h)
    h.gateway.fail("list_locks", errors.AppNotAuthorized("no locks/read on rg-snapshots"))
    h.gateway.fail("list_recovery_points", errors.AzureUnavailable("503"), times=2)
    report = check(h)
    assert codes(report) == {"CheckFailed": {""}}
    assert "no locks/read" in report["findings"][0]["message"]
    assert report["summary"]["disks"] == 3 and report["status"] == "atRisk"


def test_the_trend_carries_the_earlier_runs(h):
    clean(h)
    check(h)
    h.clock += timedelta(hours=1)
    report = check(h)
    assert report["status"] == "ready"
    points = [k for k in h.reports.blobs if k.endswith(".summary.json")]
    assert len(points) == 2 and all(k.startswith("_readiness/") for k in points)
    html = h.reports.blobs["_readiness/latest.html"].decode()
    assert html.count('class="point"') == 6  # three series, two runs


@pytest.mark.parametrize("method", ["start_delete_snapshot", "start_delete_disk"])
def test_a_delete_lock_refuses_deletes_in_the_fake_as_azsim_does(h, method):
    h.gateway.add_lock(estate.TARGET, "keep")
    disk = h.gateway.add_disk(estate.Disk(f"{estate.TARGET}/providers/Microsoft.Compute/disks/d",
                                          estate.LOCATION, 8, "Premium_LRS"))
    snapshot = f"{estate.TARGET}/providers/Microsoft.Compute/snapshots/s"
    h.gateway.start_snapshot_disk(disk.id, snapshot)
    target = snapshot if method == "start_delete_snapshot" else disk.id
    status = h.gateway.get_operation(getattr(h.gateway, method)(target))
    assert (status.state, status.error_code) == ("failed", "ScopeLocked")
    assert f"'{estate.TARGET}'" in (status.error_message or "")


def test_the_last_drills_time_against_the_rto_comes_from_the_ledger(h):
    clean(h)
    h.ledger.record_last_drill(estate.DATA0, {
        "drillId": "drill-nightly-1", "at": "2026-11-23T02:30:00+00:00", "verdict": "passed",
        "rto": {"objective": "rto", "verdict": "met", "target": 120, "actual": 45.0},
        "rpo": {"objective": "rpo", "verdict": "met"}})
    report = check(h, objectives=[ObjectiveScope(ObjectiveRules(Objectives(30)), "plan x")])
    assert codes(report) == {"RtoMissedInLastDrill": {"vm-app01-data0"}}
    rto = {d["name"]: d["rto"] for d in report["disks"]}
    assert rto["vm-app01-data0"] == {"objective": "rto", "verdict": "missed", "target": 30,
                                     "actual": 45.0}
    assert rto["vm-app01-data1"] == {"objective": "rto", "verdict": "unknown", "target": 30}
    html = h.reports.blobs["_readiness/latest.html"].decode()
    assert "45.0 min / 30 min (missed)" in html and "never drilled" in html
