"""The catalog end to end: the app under devhost, its real gateway (azure-mgmt clients over HTTPS)
against azsim, caller authorization on. A scenario with protected and unprotected disks in two
resource groups, ARM pages of two items (so every list the app reads is paged), two callers whose
access rules differ, and pages of the catalog smaller than what each caller sees: the catalog
lists exactly the protected disks each may restore, with the newest and oldest recovery points
Backup holds and the restores left after two restores today; the recovery-points route says
which points can be restored now (not the one whose snapshot was deleted)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from domain.access.access_policy import encode_client_principal

ALICE = ("a11ce000-0000-4000-8000-0000000a11ce", "alice")
BOB = ("b0b00000-0000-4000-8000-00000000b0b0", "bob")
DB_PROTECTED = ("db-data0", "db-data1", "db-log0")
APP_DISKS = ["vm-app01-data0", "vm-app01-data1", "vm-app01-osdisk"]
SUB = "6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6"  # azsim's demo subscription
VAULT = f"/subscriptions/{SUB}/resourceGroups/rg-backup/providers/" \
        "Microsoft.DataProtection/backupVaults/bv-demo"


def estate(scenario: dict[str, Any], *, subscription_reader: bool) -> None:
    """The demo plus rg-db: db-data0 and db-data1 (protected), db-log0 (protected, newest
    snapshot deleted), db-scratch (not protected); ARM pages of 2. The app reads disks where
    infra/ grants its source reader role: on rg-app and rg-db, or on the whole subscription."""
    sub = scenario["subscriptionId"]
    scenario["pageSize"] = 2
    scenario["resourceGroups"].append({"name": "rg-db"})
    for name in (*DB_PROTECTED, "db-scratch"):
        scenario["disks"].append({"resourceGroup": "rg-db", "name": name, "sku": "Premium_LRS",
                                  "sizeGB": 64, "tags": {"tier": "db"}})
    template = scenario["backupVaults"][0]["backupInstances"][0]
    for name in DB_PROTECTED:
        points = {**template["recoveryPoints"], "count": 4,
                  "deletedSnapshots": [0] if name == "db-log0" else []}
        scenario["backupVaults"][0]["backupInstances"].append(dict(
            template, disk=f"/subscriptions/{sub}/resourceGroups/rg-db/providers/"
                           f"Microsoft.Compute/disks/{name}", recoveryPoints=points,
            policy="disk-daily-4d"))
    app = scenario["principals"][scenario.get("appPrincipal", "app")]
    scopes = [f"/subscriptions/{sub}"] if subscription_reader else \
        [f"/subscriptions/{sub}/resourceGroups/{g}" for g in ("rg-app", "rg-db")]
    app["grants"] += [{"scope": s, "actions": ["Microsoft.Compute/disks/read"]} for s in scopes]


def policy(sub: str) -> dict[str, Any]:
    vault = VAULT.replace(SUB, sub)
    return {"version": 1, "rules": [
        {"name": "app-team", "principals": {"ids": [ALICE[0]]}, "actions": ["restore", "plan"],
         "sourceDisks": [f"/subscriptions/{sub}/resourceGroups/rg-app"], "vaults": [vault],
         "targetResourceGroups": [f"/subscriptions/{sub}/resourceGroups/rg-restore-target"]},
        {"name": "db-team", "principals": {"ids": [BOB[0]]}, "actions": ["swap"],
         "sourceDisks": [f"/subscriptions/{sub}/resourceGroups/rg-db/providers/"
                         "Microsoft.Compute/disks/db-data*"],
         "vaults": ["*"], "targetResourceGroups": ["*"], "vms": ["*"]},
        {"name": "db-planners", "principals": {"ids": [BOB[0]]}, "actions": ["plan"],
         "sourceDisks": ["*"], "vaults": ["*"], "targetResourceGroups": ["*"]}]}


def headers(who: tuple[str, str]) -> dict[str, str]:
    return {"x-ms-client-principal": encode_client_principal(*who)}


def catalog(env: Any, who: tuple[str, str], query: str) -> list[dict[str, Any]]:
    """Every page of GET /api/disks?query, following nextLink."""
    pages, url = [], f"{env.host.base_url}/api/disks?{query}"
    while url:
        answer = requests.get(url, headers=headers(who), timeout=60)
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        url = answer.json()["nextLink"]
        if url:
            assert urlsplit(url).path == "/api/disks"
            assert dict(parse_qsl(urlsplit(url).query))["top"] == "2"
    return pages


def backup_points(env: Any, disk_id: str) -> list[tuple[datetime, str]]:
    """What Backup holds for the disk, as azsim keeps it: (time, recovery point id), newest
    first."""
    resources = env.sim.snapshot()["resources"]
    bi = next(r["id"] for r in resources if r["type"].endswith("/backupInstances")
              and r["properties"]["dataSourceInfo"]["resourceID"].lower() == disk_id.lower())
    points = [(datetime.fromisoformat(r["properties"]["recoveryPointTime"].replace("Z",
                                                                                    "+00:00")),
               r["properties"]["recoveryPointId"]) for r in resources
              if r["type"].endswith("/recoveryPoints") and r["id"].startswith(bi + "/")]
    return sorted(points, reverse=True)


@pytest.mark.parametrize("subscription_reader", [False, True],
                         ids=["reads-per-group", "reads-the-subscription"])
def test_the_catalog_lists_exactly_what_each_caller_may_restore(restore_env, tmp_path: Path,
                                                                 subscription_reader: bool):
    policy_file = tmp_path / "policy.json"
    env = restore_env(lambda s: estate(s, subscription_reader=subscription_reader),
                      CALLER_AUTHORIZATION="policy", WEBSITE_AUTH_ENABLED="true",
                      ACCESS_POLICY_PATH=str(policy_file),
                      BACKUP_VAULT_IDS=VAULT)
    policy_file.write_text(json.dumps(policy(env.sub)))

    # two restores of vm-app01-data0 today, by alice
    runs = []
    for n in (1, 2):
        answer = requests.post(f"{env.api}", json=env.request(
            "vm-app01-data0", target={"resourceGroupId": env.rg("rg-restore-target"),
                                      "diskName": f"data0-copy{n}"}),
            headers=headers(ALICE), timeout=60)
        assert answer.status_code == 202, answer.text
        runs.append(answer.json()["id"])
    for run in runs:
        assert env.host.wait_for(run, timeout=120)["runtimeStatus"] == "Completed"

    mine = catalog(env, ALICE, "top=2")
    assert [len(p["value"]) for p in mine] == [2, 1]
    items = [i for p in mine for i in p["value"]]
    assert [i["name"] for i in items] == APP_DISKS
    left = {i["name"]: i["restoresLeftToday"] for i in items}
    assert left == {"vm-app01-data0": 8, "vm-app01-data1": 10, "vm-app01-osdisk": 10}
    for item in items:
        held = backup_points(env, item["diskId"])
        assert item["recoveryPointCount"] == len(held) == 7
        assert (datetime.fromisoformat(item["newestRecoveryPoint"]["time"]),
                item["newestRecoveryPoint"]["id"]) == held[0]
        assert (datetime.fromisoformat(item["oldestRecoveryPoint"]["time"]),
                item["oldestRecoveryPoint"]["id"]) == held[-1]
        assert (item["policyName"], item["protectionState"]) == ("disk-daily-7d",
                                                                 "ProtectionConfigured")
    # how the app listed the disks: the subscription once, or (refused) each group
    lists = {(e["scope"].lower(), e["status"]) for e in env.sim.audit(write=False)
             if e["operation"] == "Microsoft.Compute/disks/read" and
             e["scope"].lower().endswith(("/" + env.sub, "/rg-app", "/rg-db"))}
    whole = (f"/subscriptions/{env.sub}", 200 if subscription_reader else 403)
    assert whole in lists and \
        ((env.rg("rg-app").lower(), 200) in lists) == (not subscription_reader)
    assert items[0]["vmId"].lower() == env.vm().lower()
    assert items[0]["tags"] == {"workload": "app01"}

    theirs = [i for p in catalog(env, BOB, "top=2") for i in p["value"]]
    # db-log0 is protected but no rule lets bob restore it; db-scratch is not protected;
    # planning alone (db-planners) shows nothing
    assert [i["name"] for i in theirs] == ["db-data0", "db-data1"]
    assert all(i["policyName"] == "disk-daily-4d" and i["recoveryPointCount"] == 4 and
               i["restoresLeftToday"] == 10 and i["tags"] == {"tier": "db"} for i in theirs)
    assert [i["name"] for p in catalog(env, BOB, "top=2&tag=tier%3Ddb&resourceGroup=rg-db")
            for i in p["value"]] == ["db-data0", "db-data1"]

    # the recovery points: all restorable for data0; another caller's disk is a 404
    url = f"{env.host.base_url}/api/disks/{env.sub}"
    answer = requests.get(f"{url}/rg-app/vm-app01-data0/recovery-points",
                          headers=headers(ALICE), timeout=60)
    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert view["restoresLeftToday"] == 8 and len(view["value"]) == 7
    assert [(datetime.fromisoformat(p["time"]), p["id"]) for p in view["value"]] == \
        backup_points(env, env.disk("vm-app01-data0"))
    assert {(p["tier"], p["state"], p["restorable"]) for p in view["value"]} == {
        ("operational", "Completed", True)}
    for who, path in ((BOB, "rg-app/vm-app01-data0"), (ALICE, "rg-db/db-data0"),
                      (ALICE, "rg-db/db-scratch")):
        answer = requests.get(f"{url}/{path}/recovery-points", headers=headers(who), timeout=60)
        assert answer.status_code == 404, answer.text


def test_a_point_whose_snapshot_was_deleted_is_not_restorable_now(restore_env, tmp_path: Path):
    policy_file = tmp_path / "policy.json"
    env = restore_env(lambda s: estate(s, subscription_reader=False),
                      CALLER_AUTHORIZATION="policy", WEBSITE_AUTH_ENABLED="true",
                      ACCESS_POLICY_PATH=str(policy_file), BACKUP_VAULT_IDS=VAULT)
    rules = policy(env.sub)
    rules["rules"][1]["sourceDisks"] = [env.rg("rg-db")]
    policy_file.write_text(json.dumps(rules))
    answer = requests.get(f"{env.host.base_url}/api/disks/{env.sub}/rg-db/db-log0/"
                          "recovery-points", headers=headers(BOB), timeout=60)
    assert answer.status_code == 200, answer.text
    newest, *older = answer.json()["value"]
    assert newest["restorable"] is False
    assert "snapshot" in newest["reason"] and "rg-snapshots" in newest["reason"]
    assert [p["restorable"] for p in older] == [True, True, True]
