"""The catalog (GET /api/disks, GET /api/disks/{sub}/{rg}/{disk}/recovery-points) in process,
through the app's own HTTP functions, against the in-memory Azure (dev/harness): which disks it
lists (protected ones only, only those the caller may restore), the join of backup instances,
disks, recovery points and restore counts, the filters, stable paging with an opaque token, the
recovery-point view, and the ARM calls a page costs."""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
import harness
import pytest
from harness import START, estate

from domain.access.access_policy import encode_client_principal
from domain.model import DataDisk, Disk, RecoveryPoint

DB_VM = f"{estate.rg('rg-db')}/providers/Microsoft.Compute/virtualMachines/vm-db01"
DB_DISKS = ("db-data0", "db-data1", "db-data2")
APP_DISKS = ("vm-app01-data0", "vm-app01-data1", "vm-app01-osdisk")


def points(disk: str, count: int = 3) -> list[RecoveryPoint]:
    newest = START.replace(hour=2, minute=0, second=0, microsecond=0)
    return [RecoveryPoint(f"{disk.rsplit('/', 1)[-1]}-p{n}",
                          (newest - timedelta(days=n)).isoformat()) for n in range(count)]


@pytest.fixture
def estate_plus(h: harness.Harness, monkeypatch: pytest.MonkeyPatch) -> harness.Harness:
    """The demo estate plus rg-db (three protected disks, two on VM vm-db01, and an unprotected
    one), rg-web (one protected disk in a group the app may not read) and BACKUP_VAULT_IDS."""
    plane = h.gateway
    for group in ("rg-db", "rg-web"):
        plane.add_resource_group(estate.rg(group), estate.LOCATION)
    for name in (*DB_DISKS, "db-scratch"):
        plane.add_disk(Disk(estate.disk_id(name, "rg-db"), estate.LOCATION, 64, "Premium_LRS",
                            tags={"tier": "db", "Env": "prod" if name != "db-data2" else "test"}))
    plane.add_disk(Disk(estate.disk_id("web-data0", "rg-web"), estate.LOCATION, 32,
                        "Standard_LRS", tags={"tier": "web"}))
    plane.add_vm(DB_VM, estate.LOCATION, os_type="Linux", os_disk_id=None,
                 data_disks=[DataDisk(0, estate.disk_id("db-data0", "rg-db")),
                             DataDisk(1, estate.disk_id("db-data1", "rg-db"))])
    for name, group in (*((d, "rg-db") for d in DB_DISKS), ("web-data0", "rg-web")):
        disk = estate.disk_id(name, group)
        plane.protect(estate.VAULT, disk, principal_id=estate.VAULT_PRINCIPAL,
                      snapshot_rg_id=estate.SNAPSHOTS, points=points(disk),
                      policy="disk-hourly" if name == "db-data2" else "disk-daily-7d")
    plane.disk_read_scopes = [estate.rg("rg-app"), estate.rg("rg-db"), estate.TARGET]
    monkeypatch.setenv("BACKUP_VAULT_IDS", estate.VAULT)
    # The catalog's clock (the restore window, expiry) is the harness's, as Azure's is azsim's.
    for route in h.registry.routes:
        module = inspect.unwrap(route.function).__globals__
        if module["__name__"] == "triggers.catalog_routes":
            monkeypatch.setitem(module, "now", lambda: h.clock)
    return h


def get(h: harness.Harness, path: str, headers: dict[str, str] | None = None
        ) -> tuple[int, Any]:
    answer = h.http("GET", path.split("?")[0], headers=headers, params=dict(
        parse_qsl(urlsplit(path).query)))
    return answer.status_code, json.loads(answer.get_body())


def ok(h: harness.Harness, path: str, headers: dict[str, str] | None = None) -> Any:
    status, body = get(h, path, headers)
    assert status == 200, body
    return body


def get_url(h: harness.Harness, url: str, headers: dict[str, str] | None = None
            ) -> tuple[int, Any]:
    """As the host calls a route: the full URL (repeated parameters kept) and its params."""
    split = urlsplit(url)
    for route in h.registry.routes:
        match = route.pattern.match(split.path)
        if match and "GET" in route.methods:
            request = func.HttpRequest("GET", url, headers=headers or {},
                                       params=dict(parse_qsl(split.query)),
                                       route_params=match.groupdict(), body=b"")
            answer = asyncio.run(route.function(**{route.request: request}))
            return answer.status_code, json.loads(answer.get_body())
    raise AssertionError(f"no route for {url}")


def names(page: dict[str, Any]) -> list[str]:
    return [item["name"] for item in page["value"]]


def every_page(h: harness.Harness, url: str, headers: dict[str, str] | None = None
               ) -> list[dict[str, Any]]:
    pages = []
    while url:
        status, page = get_url(h, url, headers)
        assert status == 200, page
        pages.append(page)
        url = page["nextLink"]
    return pages


# ---- what is listed, and the join ----------------------------------------------------------------
def test_every_protected_disk_is_listed_once_sorted_and_paged_and_no_other(estate_plus):
    h = estate_plus
    pages = every_page(h, "https://fake.local/api/disks?top=3")
    assert [len(p["value"]) for p in pages] == [3, 3, 1]
    listed = [n for p in pages for n in names(p)]
    # sorted by subscription, resource group, name; db-scratch is not protected
    assert listed == [*APP_DISKS, *DB_DISKS, "web-data0"]
    assert pages[-1]["nextLink"] is None
    link = urlsplit(pages[0]["nextLink"])
    assert link.path == "/api/disks"
    assert {k for k, _ in parse_qsl(link.query)} == {"top", "skipToken"}


def test_a_page_reads_recovery_points_only_for_its_own_disks_and_jobs_once_per_vault(
        estate_plus):
    h = estate_plus
    h.gateway.calls.clear()
    status, page = get(h, "/api/disks?top=2")
    assert status == 200 and len(page["value"]) == 2
    counts = {m: len(h.gateway.called(m)) for m in (
        "list_backup_instances", "list_disks_in_subscription", "list_disks",
        "list_recovery_points", "count_restores")}
    # the app may not list the subscription's disks: one list per group it may read, and
    # rg-web's refused too (its disk shows what Backup knows of it)
    assert counts == {"list_backup_instances": 1, "list_disks_in_subscription": 1,
                      "list_disks": 3, "list_recovery_points": 2, "count_restores": 1}


def test_an_item_joins_the_instance_the_disk_its_points_and_the_restores_left(estate_plus):
    h = estate_plus
    bi = estate.backup_instance_of(h.gateway, estate.DATA0)
    h.gateway.add_restores_today(bi, 3)
    page = ok(h, "/api/disks?resourceGroup=rg-app")
    item = next(i for i in page["value"] if i["name"] == "vm-app01-data0")
    want = h.gateway.list_recovery_points(bi)
    assert item == {
        "diskId": estate.DATA0, "name": "vm-app01-data0", "resourceGroup": "rg-app",
        "subscriptionId": estate.SUBSCRIPTION, "location": estate.LOCATION, "vmId": estate.VM,
        "tags": {"workload": "app01"}, "vaultId": estate.VAULT, "backupInstanceId": bi,
        "policyName": "disk-daily-7d", "protectionState": "ProtectionConfigured",
        "newestRecoveryPoint": {"id": want[0].id, "time": want[0].time},
        "oldestRecoveryPoint": {"id": want[-1].id, "time": want[-1].time},
        "recoveryPointCount": 7, "restoresLeftToday": 7, "lastDrill": None, "readiness": None}
    assert want[0].time > want[-1].time


def test_a_restore_run_today_counts_against_the_disk_and_ten_leave_none(estate_plus, restores):
    h = estate_plus
    restores.run(restores.request())
    page = ok(h, "/api/disks?resourceGroup=rg-app")
    left = {i["name"]: i["restoresLeftToday"] for i in page["value"]}
    assert left == {"vm-app01-data0": 9, "vm-app01-data1": 10, "vm-app01-osdisk": 10}
    bi = estate.backup_instance_of(h.gateway, estate.DATA1)
    h.gateway.add_restores_today(bi, 10)
    page = ok(h, "/api/disks?resourceGroup=rg-app&vm=vm-app01")
    assert {i["name"]: i["restoresLeftToday"] for i in page["value"]}["vm-app01-data1"] == 0


def test_a_disk_the_app_may_not_read_is_listed_with_what_its_backup_instance_knows(estate_plus):
    page = ok(estate_plus, "/api/disks?resourceGroup=rg-web")
    [item] = page["value"]
    assert (item["diskId"], item["vmId"], item["tags"], item["location"]) == (
        estate.disk_id("web-data0", "rg-web"), None, {}, estate.LOCATION)
    assert item["recoveryPointCount"] == 3


def test_with_list_authorization_filter_the_subscription_list_gives_what_it_can(estate_plus):
    h = estate_plus
    h.gateway.list_authorization = "filter"
    h.gateway.calls.clear()
    page = ok(h, "/api/disks")
    assert names(page) == [*APP_DISKS, *DB_DISKS, "web-data0"]
    assert len(h.gateway.called("list_disks")) == 0  # one subscription list served it all
    assert page["value"][-1]["tags"] == {}


# ---- filters -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("query", "expected"), [
    ("resourceGroup=rg-db", DB_DISKS),
    ("resourceGroup=RG-DB", DB_DISKS),
    (f"resourceGroup={estate.rg('rg-db')}", DB_DISKS),
    ("vm=vm-db01", DB_DISKS[:2]),
    (f"vm={DB_VM.upper()}", DB_DISKS[:2]),
    ("tag=tier=db", DB_DISKS),
    ("tag=tier=db&tag=env=prod", DB_DISKS[:2]),  # tag names match in any case, values exactly
    ("tag=tier=DB", ()),
    ("tag=tier=web", ()),  # rg-web's disk could not be read: its tags are unknown
    ("resourceGroup=rg-app&vm=vm-db01", ()),
])
def test_filters_narrow_the_list(estate_plus, query, expected):
    pages = every_page(estate_plus, f"https://fake.local/api/disks?{query}&top=2")
    assert [n for p in pages for n in names(p)] == list(expected)


def test_a_next_link_keeps_the_filters_and_follows_to_the_end(estate_plus):
    pages = every_page(estate_plus, "https://fake.local/api/disks?tag=tier%3Ddb&top=1")
    assert [n for p in pages for n in names(p)] == list(DB_DISKS)
    link = dict(parse_qsl(urlsplit(pages[0]["nextLink"]).query))
    assert (link["tag"], link["top"]) == ("tier=db", "1")


def test_a_disk_protected_between_two_pages_neither_repeats_nor_drops_another(estate_plus):
    h = estate_plus
    first = ok(h, "/api/disks?top=4")
    disk = estate.disk_id("aaa-new", "rg-app")  # sorts before the page's end: not on page 2
    h.gateway.add_disk(Disk(disk, estate.LOCATION, 32, "Premium_LRS"))
    h.gateway.protect(estate.VAULT, disk, principal_id=estate.VAULT_PRINCIPAL,
                      snapshot_rg_id=estate.SNAPSHOTS, points=points(disk))
    rest = every_page(h, first["nextLink"])
    assert names(first) + [n for p in rest for n in names(p)] == [
        *APP_DISKS, *DB_DISKS, "web-data0"]


# ---- bad queries ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("query", "field", "words"), [
    ("top=0", "top", "from 1 to 100"),
    ("top=101", "top", "from 1 to 100"),
    ("top=ten", "top", "'ten'"),
    ("tag=tier", "tag", "name=value"),
    ("tag=a%3Fb=c", "tag", "without"),
    ("resourceGroup=/subscriptions/x/resourceGroups/rg", "resourceGroup", "GUID"),
    (f"resourceGroup={estate.DATA0}", "resourceGroup", "not a resource group id"),
    ("resourceGroup=bad.", "resourceGroup", "neither"),
    (f"vm={estate.DATA0}", "vm", "not a virtual machine id"),
    ("vm=-x y", "vm", "neither"),
    ("skipToken=garbage", "skipToken", "nextLink"),
    ("color=red", "color", "unknown query parameter"),
    ("top=1&top=2", "top", "once"),
])
def test_every_bad_parameter_is_a_400_naming_it(estate_plus, query, field, words):
    status, body = get_url(estate_plus, f"https://fake.local/api/disks?{query}")
    assert status == 400, body
    assert [e["field"] for e in body["errors"]] == [field]
    assert words in body["detail"] and field in body["detail"]


def test_several_bad_parameters_are_named_together(estate_plus):
    status, body = get_url(estate_plus, "https://fake.local/api/disks?top=0&tag=x&vm=%2Fbad")
    assert status == 400
    assert sorted(e["field"] for e in body["errors"]) == ["tag", "top", "vm"]


def test_a_skip_token_from_another_query_is_refused(estate_plus):
    status, first = get(estate_plus, "/api/disks?top=1&resourceGroup=rg-db")
    token = dict(parse_qsl(urlsplit(first["nextLink"]).query))["skipToken"]
    status, body = get(estate_plus, f"/api/disks?top=1&skipToken={token}")
    assert status == 400 and body["errors"][0]["field"] == "skipToken"
    assert "other filters" in body["detail"]
    forged = base64.urlsafe_b64encode(b'{"v":1,"after":[1,2,3,4],"q":"x"}').decode()
    status, body = get(estate_plus, f"/api/disks?skipToken={forged}")
    assert status == 400 and "nextLink" in body["detail"]


def test_without_backup_vault_ids_the_catalog_says_what_to_set(estate_plus, monkeypatch):
    monkeypatch.delenv("BACKUP_VAULT_IDS")
    status, body = get(estate_plus, "/api/disks")
    assert status == 503 and "BACKUP_VAULT_IDS" in body["detail"]


def test_a_throttled_read_is_a_503_with_retry_after(estate_plus):
    from domain import errors
    estate_plus.gateway.fail("list_recovery_points",
                             errors.AzureThrottled("Azure throttled the recovery points list"))
    answer = estate_plus.http("GET", "/api/disks")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"
    assert "throttled" in json.loads(answer.get_body())["detail"]


# ---- the caller's access policy ------------------------------------------------------------------
POLICY = {"version": 1, "rules": [
    {"name": "app-team", "principals": {"ids": ["a11ce000-0000-4000-8000-0000000a11ce"]},
     "actions": ["restore"], "sourceDisks": [estate.rg("rg-app")], "vaults": [estate.VAULT],
     "targetResourceGroups": ["*"]},
    {"name": "db-team", "principals": {"ids": ["b0b00000-0000-4000-8000-00000000b0b0"]},
     "actions": ["swap"], "sourceDisks": [f"{estate.rg('rg-db')}/providers/Microsoft.Compute/"
                                          "disks/db-data*"],
     "vaults": ["*"], "targetResourceGroups": ["*"], "vms": ["*"]},
    {"name": "db-planner", "principals": {"ids": ["b0b00000-0000-4000-8000-00000000b0b0"]},
     "actions": ["plan"], "sourceDisks": ["*"], "vaults": ["*"],
     "targetResourceGroups": ["*"]},
    {"name": "wrong-vault", "principals": {"ids": ["c0c00000-0000-4000-8000-00000000c0c0"]},
     "actions": ["restore"], "sourceDisks": ["*"],
     "vaults": [f"{estate.rg('rg-backup')}/providers/Microsoft.DataProtection/backupVaults/x"],
     "targetResourceGroups": ["*"]},
]}
ALICE = ("a11ce000-0000-4000-8000-0000000a11ce", "alice")
BOB = ("b0b00000-0000-4000-8000-00000000b0b0", "bob")
CAROL = ("c0c00000-0000-4000-8000-00000000c0c0", "carol")


@pytest.fixture
def with_policy(estate_plus, monkeypatch, tmp_path: Path) -> harness.Harness:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(POLICY))
    monkeypatch.setenv("CALLER_AUTHORIZATION", "policy")
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "true")
    monkeypatch.setenv("ACCESS_POLICY_PATH", str(path))
    return estate_plus


def signed_in(who: tuple[str, str]) -> dict[str, str]:
    return {"x-ms-client-principal": encode_client_principal(*who),
            "x-ms-client-principal-name": who[1]}


@pytest.mark.parametrize(("who", "expected"), [
    (ALICE, APP_DISKS),  # restore in rg-app from the demo vault
    (BOB, DB_DISKS),  # swap of db-data*; planning everything shows nothing more
    (CAROL, ()),  # a rule for another vault: nothing
])
def test_each_caller_sees_only_the_disks_a_rule_lets_them_restore(with_policy, who, expected):
    pages = every_page(with_policy, "https://fake.local/api/disks?top=2", signed_in(who))
    assert [n for p in pages for n in names(p)] == list(expected)


def test_a_caller_no_rule_names_is_refused_and_nobody_signed_in_is_a_401(with_policy):
    status, body = get(with_policy, "/api/disks",
                       signed_in(("d0d00000-0000-4000-8000-00000000d0d0", "dave")))
    assert status == 403 and "no access rule names" in body["detail"]
    status, body = get(with_policy, "/api/disks")
    assert status == 401


def test_another_callers_disk_is_a_404_like_an_unprotected_or_missing_one(with_policy):
    sub = estate.SUBSCRIPTION
    answers = [get(with_policy, f"/api/disks/{sub}/{path}/recovery-points", signed_in(ALICE))
               for path in ("rg-db/db-data0", "rg-db/db-scratch", "rg-app/nowhere")]
    assert [s for s, _ in answers] == [404, 404, 404]
    assert len({b["detail"].split(" ", 4)[-1] for _, b in answers}) == 1  # same words after id
    status, body = get(with_policy, f"/api/disks/{sub}/rg-db/db-data0/recovery-points",
                       signed_in(BOB))
    assert status == 200 and len(body["value"]) == 3


# ---- recovery points -----------------------------------------------------------------------------
def test_recovery_points_newest_first_each_restorable_with_tier_and_state(estate_plus):
    h = estate_plus
    status, body = get(h, f"/api/disks/{estate.SUBSCRIPTION}/rg-app/vm-app01-data0/"
                          "recovery-points")
    assert status == 200
    bi = estate.backup_instance_of(h.gateway, estate.DATA0)
    assert (body["diskId"], body["backupInstanceId"], body["restoresLeftToday"]) == (
        estate.DATA0, bi, 10)
    times = [p["time"] for p in body["value"]]
    assert times == sorted(times, reverse=True) and len(times) == 7
    assert {(p["tier"], p["state"], p["restorable"], p["reason"]) for p in body["value"]} == {
        ("operational", "Completed", True, None)}


def test_a_deleted_snapshot_makes_its_point_unrestorable_and_says_so(estate_plus):
    h = estate_plus
    bi = estate.backup_instance_of(h.gateway, estate.DATA0)
    newest = h.gateway.list_recovery_points(bi)[0]
    h.gateway.delete_snapshot(bi, newest.id)
    body = ok(h, f"/api/disks/{estate.SUBSCRIPTION}/rg-app/vm-app01-data0/"
                         "recovery-points")
    first, second = body["value"][:2]
    assert (first["id"], first["restorable"]) == (newest.id, False)
    assert "snapshot is not in" in first["reason"] and "rg-snapshots" in first["reason"]
    assert second["restorable"] is True  # the day before's snapshot does not stand in


def test_spent_restores_expired_and_hidden_points_are_not_restorable(estate_plus):
    h = estate_plus
    disk = estate.disk_id("db-data2", "rg-db")
    bi = estate.backup_instance_of(h.gateway, disk)
    protected = h.gateway.protected[bi.lower()]
    old, hidden = protected.points[2], protected.points[1]
    protected.points[2] = type(old)(old.id, old.time, "Completed",
                                    (START - timedelta(minutes=1)).isoformat(),
                                    "OperationalStore", True)
    protected.points[1] = type(hidden)(hidden.id, hidden.time, "Completed", None,
                                       "OperationalStore", False)
    body = ok(h, f"/api/disks/{estate.SUBSCRIPTION}/rg-db/db-data2/recovery-points")
    reasons = [p["reason"] for p in body["value"]]
    assert reasons[0] is None
    assert "not visible" in reasons[1] and "expired at" in reasons[2]
    h.gateway.add_restores_today(bi, 10)
    body = ok(h, f"/api/disks/{estate.SUBSCRIPTION}/rg-db/db-data2/recovery-points")
    assert body["restoresLeftToday"] == 0
    assert "10 restores" in body["value"][0]["reason"]
    assert not any(p["restorable"] for p in body["value"])


def test_unreadable_snapshots_leave_the_snapshot_check_out(estate_plus):
    from domain import errors
    h = estate_plus
    h.gateway.fail("list_snapshots", errors.AppNotAuthorized("no snapshots/read"), times=None)
    bi = estate.backup_instance_of(h.gateway, estate.DATA0)
    h.gateway.delete_snapshot(bi, h.gateway.list_recovery_points(bi)[0].id)
    status, body = get(h, f"/api/disks/{estate.SUBSCRIPTION}/rg-app/vm-app01-data0/"
                          "recovery-points")
    assert status == 200 and body["value"][0]["restorable"] is True


@pytest.mark.parametrize(("path", "field"), [
    ("not-a-guid/rg-app/vm-app01-data0", "subscriptionId"),
    (f"{estate.SUBSCRIPTION}/rg-app./vm-app01-data0", "resourceGroup"),
    (f"{estate.SUBSCRIPTION}/rg-app/-disk", "diskName"),
])
def test_a_bad_path_parameter_is_a_400_naming_it(estate_plus, path, field):
    status, body = get(estate_plus, f"/api/disks/{path}/recovery-points")
    assert status == 400 and [e["field"] for e in body["errors"]] == [field]


def test_the_recovery_points_route_takes_no_query_parameters(estate_plus):
    status, body = get_url(estate_plus, f"https://fake.local/api/disks/{estate.SUBSCRIPTION}/"
                                        "rg-app/vm-app01-data0/recovery-points?top=3")
    assert status == 400 and body["errors"][0]["field"] == "top"


# ---- the state drills keep -----------------------------------------------------------------------
def test_a_disks_last_drill_comes_from_the_ledger_the_drills_write(estate_plus):
    h = estate_plus
    drill = {"drillId": "drill-nightly-20261201T023000", "at": "2026-12-01T02:30:00+00:00",
             "verdict": "failed", "rto": {"objective": "rto", "verdict": "missed", "target": 30},
             "rpo": {"objective": "rpo", "verdict": "met", "target": 26, "actual": 3.5}}
    h.ledger.record_last_drill(estate.DATA0.upper(), drill)  # the ledger keys ignore case
    items = {i["name"]: i for i in ok(h, "/api/disks?resourceGroup=rg-app")["value"]}
    assert items["vm-app01-data0"]["lastDrill"] == drill
    assert items["vm-app01-data1"]["lastDrill"] is None


def test_an_unreachable_ledger_leaves_last_drills_out_and_the_catalog_answers(estate_plus,
                                                                               monkeypatch,
                                                                               caplog):
    from domain import errors

    def unreachable() -> Any:
        raise errors.AzureUnavailable("the recovery ledger (table x) cannot be used now")
    monkeypatch.setattr(estate_plus.ledger, "last_drills", unreachable)
    page = ok(estate_plus, "/api/disks?resourceGroup=rg-app")
    assert page["value"] and all(i["lastDrill"] is None for i in page["value"])
    assert "last drill verdicts unavailable" in caplog.text


# ---- the state readiness keeps -------------------------------------------------------------------
def test_each_disks_readiness_is_its_state_in_the_latest_readiness_report(estate_plus):
    from domain.readiness.readiness_run import ReadinessInput
    from orchestrations.readiness import check_readiness
    h = estate_plus
    assert all(i["readiness"] is None for i in ok(h, "/api/disks")["value"])  # before any run
    h.gateway.add_restores_today(estate.backup_instance_of(h.gateway, estate.DATA0), 10)
    run_id = f"readiness-{h.clock:%Y%m%dT%H%M%S}"
    h.start(check_readiness.name, ReadinessInput(run_id, [estate.VAULT]).to_dict(), run_id)
    h.run()
    report = json.loads(h.reports.blobs["_readiness/latest.json"])
    by_disk = {d["diskId"].lower(): d for d in report["disks"]}
    items = ok(h, "/api/disks")["value"]
    assert items
    for item in items:
        disk = by_disk[item["diskId"].lower()]
        assert item["readiness"] == {
            "status": disk["status"], "checkedAt": report["checkedAt"],
            "findings": list(dict.fromkeys(f["code"] for f in disk["findings"]))}
    data0 = next(i for i in items if i["diskId"] == estate.DATA0)
    assert "RestoreBudgetSpent" in data0["readiness"]["findings"]
    assert data0["readiness"]["status"] == "notReady"
