"""Readiness checks end to end (issue 18): the app under devhost, azsim behind the real SDK clients
(vault, instances, recovery points, snapshots, role assignments, role definitions, locks, the
Permissions API, Resource Guard proxies), the report in a real Azurite blob container. Each
finding is produced by a scenario built to trigger it and absent from the clean scenario."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
import requests

SUB = "6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6"
RG = f"/subscriptions/{SUB}/resourceGroups"
VAULT = f"{RG}/rg-backup/providers/Microsoft.DataProtection/backupVaults/bv-demo"
SANDBOX = f"{RG}/rg-restore-target"
GUARD = f"{RG}/rg-security/providers/Microsoft.DataProtection/resourceGuards/guard"
ALL = {"vm-app01-osdisk", "vm-app01-data0", "vm-app01-data1"}
PLANS = {"version": 1, "plans": [{
    "name": "nightly", "schedule": "0 30 2 * * *",
    "selection": {"vaults": [VAULT], "resourceGroups": [f"{RG}/rg-app"]},
    "recoveryPoint": "latest", "sandboxResourceGroupId": SANDBOX, "maxParallel": 2,
    "timeBudgetMinutes": 240, "keepFailed": False, "expiryHours": 24}]}


def ready(scenario: dict[str, Any]) -> None:
    """The demo scenario with what readiness asks for: a CanNotDelete lock on the snapshot
    group, a Resource Guard on the vault, and the app allowed to grant in the disks' group (it
    already may in the sandbox)."""
    scenario["locks"] = [{"scope": f"{RG}/rg-snapshots", "name": "keep-backup-snapshots",
                          "level": "CanNotDelete"}]
    scenario["backupVaults"][0]["resourceGuard"] = GUARD
    scenario["principals"]["app"]["grants"].append(
        {"scope": f"{RG}/rg-app", "actions": ["Microsoft.Authorization/roleAssignments/*"]})


def instance(scenario: dict[str, Any], disk: str) -> dict[str, Any]:
    return next(bi for bi in scenario["backupVaults"][0]["backupInstances"]
                if bi["disk"].endswith(f"/{disk}"))


def check(drill_env: Callable[..., Any], *patches: Callable[[dict[str, Any]], None]
          ) -> tuple[Any, dict[str, Any]]:
    def patch(scenario: dict[str, Any]) -> None:
        for p in patches:
            p(scenario)
    d = drill_env(PLANS, patch, BACKUP_VAULT_IDS=VAULT)
    base = d.env.host.base_url
    assert requests.get(f"{base}/api/readiness", timeout=30).status_code == 404
    started = requests.post(f"{base}/api/readiness", timeout=60)
    assert started.status_code == 202, started.text
    d.env.host.wait_for(started.json()["id"], timeout=120)
    answer = requests.get(f"{base}/api/readiness", timeout=30)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report == json.loads(d.blob(f"_readiness/{started.json()['id']}.json"))
    return d, report


def codes(report: dict[str, Any]) -> dict[str, set[str]]:
    """code -> the disks (names) it was found for; "" for a general finding."""
    found: dict[str, set[str]] = {}
    for disk in report["disks"]:
        for f in disk["findings"]:
            found.setdefault(f["code"], set()).add(disk["name"])
    for f in report["findings"]:
        found.setdefault(f["code"], set()).add("")
    return found


def test_the_clean_scenario_is_ready_and_the_report_reads_as_json_and_html(drill_env, caplog):
    caplog.set_level(logging.INFO, logger="diskrestore.readiness")
    d, report = check(drill_env, ready)
    assert codes(report) == {} and report["status"] == "ready", report
    assert report["summary"] == {"disks": 3, "ready": 3, "atRisk": 0, "notReady": 0,
                                 "findings": {}}
    for disk in report["disks"]:
        assert disk["rpo"]["verdict"] == "met" and disk["restoresLeftToday"] == 10
        assert disk["rpo"]["actual"] < 26 and disk["newestRecoveryPoint"]["time"]
    page = requests.get(f"{d.env.host.base_url}/api/readiness", params={"format": "html"},
                        timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert page.text.startswith("<!DOCTYPE html>") and page.text.count("<svg") == 3
    assert "src=" not in page.text and "https://" not in page.text  # self-contained
    runs = [r.getMessage() for r in caplog.records
            if r.getMessage().startswith("readiness checked: ")]
    assert len(runs) == 1 and json.loads(runs[0].split(": ", 1)[1])["status"] == "ready"
    assert not [r for r in caplog.records if r.getMessage().startswith("readiness finding: ")]
    # nothing was changed in Azure: the run only read
    assert [e for e in d.env.sim.audit(write=True)
            if not e["operation"].startswith("Microsoft.Authorization/roleAssignments")] == []


def test_a_stale_point_a_deleted_snapshot_a_spent_budget_and_stopped_protection(drill_env,
                                                                                 caplog):
    def broken(scenario: dict[str, Any]) -> None:
        instance(scenario, "vm-app01-osdisk")["recoveryPoints"]["latestHoursAgo"] = 30
        instance(scenario, "vm-app01-osdisk")["protectionState"] = "ProtectionStopped"
        instance(scenario, "vm-app01-data0")["recoveryPoints"]["deletedSnapshots"] = [0]
        instance(scenario, "vm-app01-data1")["restoresToday"] = 10
    caplog.set_level(logging.INFO, logger="diskrestore.readiness")
    _, report = check(drill_env, ready, broken)
    assert codes(report) == {"StaleRecoveryPoint": {"vm-app01-osdisk"},
                             "ProtectionNotHealthy": {"vm-app01-osdisk"},
                             "SnapshotsMissing": {"vm-app01-data0"},
                             "RestoreBudgetSpent": {"vm-app01-data1"}}, report
    by_name = {d["name"]: d for d in report["disks"]}
    assert by_name["vm-app01-osdisk"]["rpo"] == {"objective": "rpo", "verdict": "missed",
                                                  "target": 26.0, "actual": 30.0}
    assert by_name["vm-app01-data1"]["restoresLeftToday"] == 0
    assert report["status"] == "notReady" and report["summary"]["notReady"] == 3
    logged = sorted(json.loads(r.getMessage().split(": ", 1)[1])["code"] for r in caplog.records
                    if r.getMessage().startswith("readiness finding: "))
    assert logged == ["RestoreBudgetSpent", "SnapshotsMissing", "StaleRecoveryPoint"]


def test_a_removed_vault_role(drill_env):
    def unassigned(scenario: dict[str, Any]) -> None:
        scenario["roleAssignments"] = [a for a in scenario["roleAssignments"]
                                       if a["role"] != "Disk Snapshot Contributor"]
    _, report = check(drill_env, ready, unassigned)
    assert codes(report) == {"VaultRoleMissing": ALL}


def test_posture_no_lock_no_resource_guard_and_who_can_delete_snapshots(drill_env):
    def exposed(scenario: dict[str, Any]) -> None:
        scenario["locks"] = []
        scenario["backupVaults"][0].pop("resourceGuard")
        scenario["roleAssignments"].append({"scope": f"/subscriptions/{SUB}",
                                            "role": "Contributor", "principal": "operator"})
    _, report = check(drill_env, ready, exposed)
    assert codes(report) == {"NoDeleteLock": {""}, "NoMultiUserAuthorization": {""},
                             "SnapshotGroupDeletableBy": {""}}
    assert report["status"] == "ready"  # posture: info
    deleters = next(f for f in report["findings"] if f["code"] == "SnapshotGroupDeletableBy")
    assert "0e0e0e0e-0000-4000-8000-00000000e001 (User, Contributor)" in deleters["message"]


def test_a_vault_without_its_identity(drill_env):
    def no_identity(scenario: dict[str, Any]) -> None:
        scenario["backupVaults"][0]["identity"] = {"type": "None"}
        scenario["roleAssignments"] = [a for a in scenario["roleAssignments"]
                                       if a["principal"] != "vault"]
    _, report = check(drill_env, ready, no_identity)
    assert codes(report) == {"VaultIdentityMissing": ALL}


def test_groups_the_app_cannot_grant_in(drill_env):
    def no_grant(scenario: dict[str, Any]) -> None:
        scenario["principals"]["app"]["grants"] = [
            g for g in scenario["principals"]["app"]["grants"]
            if not g["scope"].endswith("/rg-app") or "Microsoft.Authorization" not in
            " ".join(g["actions"])]
    _, report = check(drill_env, ready, no_grant)
    assert codes(report) == {"CannotGrantInTarget": ALL}
    assert {f["scope"] for d in report["disks"] for f in d["findings"]} == {f"{RG}/rg-app"}


@pytest.mark.parametrize("listing", ["withInherited", "ownOnly"])
def test_a_subscription_lock_counts_where_the_group_listing_shows_it(drill_env, listing):
    """Whether a group's lock listing shows the subscription's locks is not documented: with
    it, a subscription lock protects the group; without it, readiness says NoDeleteLock (the
    safe side)."""
    def subscription_lock(scenario: dict[str, Any]) -> None:
        scenario["locks"] = [{"scope": f"/subscriptions/{SUB}", "name": "keep-all"}]
        scenario["lockListing"] = listing
    _, report = check(drill_env, ready, subscription_lock)
    assert codes(report) == ({} if listing == "withInherited" else {"NoDeleteLock": {""}})
