"""Alert-driven recovery end to end (issue 5): events of both schemas through devhost's Event
Grid webhook, common-schema alerts through POST /api/alerts, a real Azurite table as the ledger,
azsim behind the real SDK clients."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from azsim.sdk import mgmt_clients

from domain.access.access_policy import encode_client_principal

DELETE_TYPES = ["Microsoft.Resources.ResourceDeleteSuccess",
                "Microsoft.ResourceNotifications.Resources.Deleted"]


def deleted_disk_policies(p: Any, **extra: Any) -> dict[str, Any]:
    return {"version": 1, "maxConcurrentRecoveries": 3, "policies": [{
        "name": "deleted-disks", "description": "disks deleted in rg-app come back",
        "match": {"eventTypes": DELETE_TYPES, "resourceTypes": ["Microsoft.Compute/disks"],
                  "resourceGroups": [p.rg("rg-app")]},
        "action": {"type": "restoreDeletedDisk",
                   "attachTo": {"vmId": p.vm_id(), "lun": 5, "caching": "ReadOnly"}},
        **extra}]}


def delete_disk(env: Any, disk: str) -> None:
    """Delete a disk through ARM, as someone did by mistake."""
    rg, name = disk.split("/")[4], disk.rsplit("/", 1)[-1]
    with mgmt_clients(env.sim) as sdk:
        sdk.compute.disks.begin_delete(rg, name, polling=False)
    env.sim.advance(10)
    assert env.resource(disk) is None


def test_both_subscription_handshakes_are_answered(recovery_env, payloads):
    r = recovery_env(deleted_disk_policies(payloads))
    code = str(uuid.uuid4())
    validation = [{"id": str(uuid.uuid4()), "topic": "/subscriptions/x", "subject": "",
                   "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                   "eventTime": "2026-11-24T10:00:00Z", "dataVersion": "1",
                   "data": {"validationCode": code,
                            "validationUrl": "https://rp-westeurope.eventgrid.azure.net:553/x"}}]
    answer = requests.post(r.base + payloads.webhook, json=validation, timeout=30,
                           headers={"aeg-event-type": "SubscriptionValidation"})
    assert answer.status_code == 200 and answer.json() == {"validationResponse": code}
    options = requests.options(r.base + payloads.webhook, timeout=30,
                               headers={"WebHook-Request-Origin": "eventgrid.azure.net"})
    assert options.status_code == 200
    assert options.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"
    assert r.events() == []  # handshakes are not recovery signals


def test_a_deleted_protected_disk_comes_back_under_its_name_and_is_reattached(recovery_env,
                                                                            payloads):
    r = recovery_env(deleted_disk_policies(payloads, objectives={"rtoMinutes": 600,
                                                                 "rpoHours": 26}),
                     payloads.protect_extra_disk)
    disk = payloads.disk_id("vm-app01-data2")
    delete_disk(r.env, disk)
    event = payloads.delete_event(disk)

    assert r.deliver([event]).status_code == 202
    record = r.event(f"eventgrid:{event['id']}")
    assert record["disposition"] == "started", record
    run = record["runId"]
    doc = r.env.host.wait_for(run, timeout=180)
    out = doc["output"]
    assert out["outcome"] == "Succeeded", json.dumps(out, indent=1)
    assert out["policy"] == "deleted-disks" and out["action"] == "restoreDeletedDisk"
    (restore,) = out["restores"]
    assert restore["outcome"] == "Succeeded"
    assert restore["restoredDiskId"].lower() == disk.lower()  # the same name, the same group
    back = r.env.resource(disk)
    assert back is not None and back["managedBy"].lower() == payloads.vm_id().lower()
    vm = r.env.resource(payloads.vm_id())
    attached = {d["lun"]: d for d in vm["properties"]["storageProfile"]["dataDisks"]}
    assert attached[5]["managedDisk"]["id"].lower() == disk.lower()
    assert attached[5]["caching"] == "ReadOnly"
    assert r.env.leftover_assignments() == set()
    # judged against the policy's objectives: the signal to the run's end, the restored point's
    # age at the signal (daily points at 02:00: under a day old)
    judged = out["objectives"]
    assert judged["objectives"] == {"rtoMinutes": 600, "rpoHours": 26.0}
    assert judged["rto"]["verdict"] == "met" and 0 <= judged["rto"]["actual"] < 600
    assert judged["rpo"]["verdict"] == "met" and 0 <= judged["rpo"]["actual"] < 24

    # Event Grid delivers at least once: the same event again starts nothing new.
    assert r.deliver([event]).status_code == 202
    records = [e for e in r.events() if e["key"] == f"eventgrid:{event['id']}"]
    assert [(e["disposition"], e["runId"]) for e in records] == [("started", run)]
    restores = [e for e in r.env.sim.audit(write=True) if e["operation"].lower().endswith(
        "backupinstances/restore/action") and e["status"] < 300]
    assert len(restores) == 1


def test_an_unprotected_disks_deletion_is_ignored_with_a_reason(recovery_env, payloads):
    def unprotected(scenario: dict[str, Any]) -> None:
        scenario["disks"].append({"resourceGroup": "rg-app", "name": "scratch", "sku":
                                  "Standard_LRS", "sizeGB": 32, "properties": {}})
    r = recovery_env(deleted_disk_policies(payloads), unprotected)
    disk = payloads.disk_id("scratch")
    delete_disk(r.env, disk)
    event = payloads.as_cloud_event(payloads.delete_event(disk))

    assert r.deliver(event, cloud=True).status_code == 202  # one CloudEvent, not an array
    record = r.event(f"eventgrid:{event['id']}")
    assert record["disposition"] == "started" and record["signal"]["source"] == "cloudevents"
    out = r.env.host.wait_for(record["runId"], timeout=60)["output"]
    assert out["outcome"] == "Ignored"
    assert out["ignored"] == f"disk {disk} is not protected by a Backup vault"
    assert out["restores"] == []
    assert r.env.writes("Microsoft.Authorization/roleAssignments/write") == []
    assert r.env.resource(disk) is None


def test_events_no_policy_matches_and_malformed_events_are_accounted_for(recovery_env, payloads):
    r = recovery_env(deleted_disk_policies(payloads))
    other_rg = payloads.delete_event(payloads.disk_id("d9", "rg-restore-target"))
    broken = {"id": "broken-1", "topic": "/subscriptions/x", "subject": "/not/an/arm/id",
              "eventType": "Microsoft.Resources.ResourceDeleteSuccess",
              "eventTime": "2026-11-24T10:00:00Z", "data": {}, "dataVersion": "2"}
    assert r.deliver([other_rg, broken]).status_code == 202  # malformed: answered, not retried

    rejected = r.event(f"eventgrid:{other_rg['id']}")
    assert rejected["disposition"] == "rejected"
    assert "deleted-disks: resource group" in rejected["reason"] and "rg-restore-target" in \
        rejected["reason"]
    malformed = r.event("eventgrid:broken-1")
    assert malformed["disposition"] == "malformed"
    assert "subject" in malformed["reason"] and "/not/an/arm/id" in malformed["reason"]

    not_json = requests.post(f"{r.base}/api/alerts", data="{nope", timeout=30)
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["detail"]
    wrong_schema = r.alert({"schemaId": "Microsoft.Insights/activityLogs", "data": {}})
    assert wrong_schema.status_code == 400 and "schemaId" in wrong_schema.json()["detail"]
    assert sorted(e["disposition"] for e in r.events()) == ["malformed"] * 3 + ["rejected"]


def storm_policies(p: Any) -> dict[str, Any]:
    return {"version": 1, "maxConcurrentRecoveries": 2, "policies": [{
        "name": "data-corruption",
        "match": {"eventTypes": ["azureMonitorCommonAlertSchema"],
                  "resourceTypes": ["Microsoft.Compute/virtualMachines"],
                  "alertRules": ["vm-data-corruption"], "severities": ["Sev0", "Sev1"],
                  "tags": {"workload": "app01"}},
        "action": {"type": "restoreDataDisksAndAttach"},
        "limits": {"runsPerResourcePerHour": 2, "cooldownMinutes": 30}}]}


def test_a_storm_of_50_identical_alerts_starts_one_run(recovery_env, payloads):
    r = recovery_env(storm_policies(payloads), payloads.restore_into_rg_app)
    vm = payloads.vm_id()
    alerts = [payloads.common_alert(vm, rule="vm-data-corruption") for _ in range(50)]
    with ThreadPoolExecutor(max_workers=10) as pool:  # deliveries race, as they do in Azure
        answers = list(pool.map(r.alert, alerts))
    assert {a.status_code for a in answers} == {200}
    decisions = [a.json()["signals"][0] for a in answers]
    started = [d for d in decisions if d["disposition"] == "started"]
    assert len(started) == 1, decisions
    run = started[0]["runId"]
    others = [d for d in decisions if d["disposition"] != "started"]
    assert {d["disposition"] for d in others} == {"deduplicated"}, \
        [d["reason"] for d in others if d["disposition"] != "deduplicated"]
    assert all(d["runId"] == run for d in others)  # each names the run that covers it
    ledger = r.events()
    assert len(ledger) == 50 and sum(e["disposition"] == "started" for e in ledger) == 1

    out = r.env.host.wait_for(run, timeout=300)["output"]
    assert out["outcome"] == "Succeeded", json.dumps(out, indent=1)
    assert len(out["restores"]) == 2  # both data disks, each restored into its original's place
    vm_now = r.env.resource(vm)["properties"]["storageProfile"]["dataDisks"]
    restored = {o["restoredDiskId"].lower() for o in out["restores"]}
    assert restored == {d["managedDisk"]["id"].lower() for d in vm_now}  # no slot more
    for restore in out["restores"]:
        original = r.env.resource(restore["attach"]["replaces"])
        assert not original.get("managedBy")  # detached, kept
        # one VM change for both, by the whole-VM run
        assert original["tags"]["diskrestore-replaced-by"] == out["vmRestore"]["id"]
    assert r.env.leftover_assignments() == set()
    # the slot was given back: a later alert (after the cooldown) is judged afresh
    assert json.loads(requests.get(f"{r.base}/api/recovery/events?limit=1", timeout=30).text)[
        "events"][0]["key"].startswith("alert:")


def test_an_alert_for_an_untagged_resource_or_another_rule_is_rejected_naming_why(recovery_env,
                                                                                payloads):
    def untag(scenario: dict[str, Any]) -> None:
        scenario["virtualMachines"][0]["tags"] = {"workload": "other"}
    r = recovery_env(storm_policies(payloads), untag)
    tagged = r.alert(payloads.common_alert(payloads.vm_id(), rule="vm-data-corruption"))
    other_rule = r.alert(payloads.common_alert(payloads.vm_id(), rule="cpu-high"))
    (first,), (second,) = tagged.json()["signals"], other_rule.json()["signals"]
    assert first["disposition"] == "rejected" and "tag" in first["reason"], first
    assert second["disposition"] == "rejected" and "cpu-high" in second["reason"], second
    assert r.env.writes("Microsoft.Authorization/roleAssignments/write") == []


def os_disk(r: Any, vm: str) -> str:
    return r.env.resource(vm)["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"]


def _started_swap(r: Any, p: Any) -> tuple[str, str]:
    event = p.health_event(p.vm_id())
    assert r.deliver([event]).status_code == 202
    run = r.event(f"eventgrid:{event['id']}")["runId"]
    child = f"restore-{run}-0"
    return run, child


def _wait_phase(r: Any, instance_id: str, phase: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = r.env.host.status(instance_id)
        if status and (status.get("customStatus") or {}).get("phase") == phase:
            return status
        time.sleep(0.1)
    raise AssertionError(f"{instance_id} never reached {phase}: {r.env.host.status(instance_id)}")


def test_an_approval_gated_os_swap_waits_then_proceeds_on_approve(recovery_env, payloads):
    r = recovery_env(payloads.swap_policies(), payloads.restore_into_rg_app,
                     real_time_scale=60, WEBSITE_AUTH_ENABLED="true")  # sign-in headers trusted
    vm = payloads.vm_id()
    original = os_disk(r, vm)
    run, child = _started_swap(r, payloads)
    waiting = _wait_phase(r, child, "approval")["customStatus"]["detail"]
    assert waiting["action"] == "swap" and waiting["vmId"] == vm
    assert r.env.resource(waiting["restoredDiskId"]) is not None  # restored before asking
    assert r.env.leftover_assignments() == set()  # the vault's roles are gone while waiting
    assert os_disk(r, vm) == original  # and the VM is untouched

    no_name = requests.post(f"{r.base}/api/restores/{run}/approve", timeout=30)
    assert no_name.status_code == 400 and "approver" in no_name.json()["detail"]
    answer = requests.post(f"{r.base}/api/restores/{run}/approve", timeout=30, headers={
        "X-MS-CLIENT-PRINCIPAL": encode_client_principal("11111111-2222", "oncall@contoso.com"),
        "X-MS-CLIENT-PRINCIPAL-NAME": "oncall@contoso.com",
        "X-MS-CLIENT-PRINCIPAL-ID": "11111111-2222"})
    assert answer.status_code == 202, answer.text
    assert answer.json()["appliedTo"] == [child] and answer.json()["authenticated"] is True

    out = r.env.host.wait_for(run, timeout=120)["output"]
    assert out["outcome"] == "Succeeded", json.dumps(out, indent=1)
    (restore,) = out["restores"]
    assert restore["approval"]["by"] == "oncall@contoso.com"
    assert restore["approval"]["approved"] is True and restore["approval"]["authenticated"]
    current = os_disk(r, vm)
    assert current.lower() == restore["restoredDiskId"].lower() != original.lower()
    late = requests.post(f"{r.base}/api/restores/{run}/approve", timeout=30,
                         json={"approver": "someone"})
    assert late.status_code == 409


def test_a_rejected_os_swap_deletes_the_restored_disk_and_leaves_the_vm(recovery_env, payloads):
    r = recovery_env(payloads.swap_policies(), payloads.restore_into_rg_app,
                     real_time_scale=60)
    vm = payloads.vm_id()
    original = os_disk(r, vm)
    run, child = _started_swap(r, payloads)
    restored = _wait_phase(r, child, "approval")["customStatus"]["detail"]["restoredDiskId"]
    # App Service authentication is off: a sign-in header is the caller's own claim, ignored
    answer = requests.post(f"{r.base}/api/restores/{run}/reject", timeout=30,
                           json={"approver": "bob", "comment": "the VM came back by itself"},
                           headers={"X-MS-CLIENT-PRINCIPAL-NAME": "ceo@contoso.com",
                                    "X-MS-CLIENT-PRINCIPAL-ID": "spoofed"})
    assert answer.status_code == 202, answer.text
    assert answer.json()["by"] == "bob" and answer.json()["authenticated"] is False

    out = r.env.host.wait_for(run, timeout=120)["output"]
    assert out["outcome"] == "NotApproved"
    (restore,) = out["restores"]
    assert restore["error"]["code"] == "ApprovalRejected"
    assert "bob rejected" in restore["error"]["message"] and "came back" in \
        restore["error"]["message"]
    assert r.env.resource(restored) is None  # cleaned up
    assert os_disk(r, vm) == original
    assert r.env.leftover_assignments() == set()
    assert r.env.writes("Microsoft.Compute/virtualMachines/deallocate/action") == []


def test_the_apps_own_deletion_of_a_rejected_restore_starts_no_second_recovery(recovery_env,
                                                                                 payloads):
    """A rejected approval deletes the restored disk; ARM then reports that deletion like any
    other, naming the app's identity as the caller. It is recorded as ignored, or each cycle
    would start the next (and spend one of the disk's 10 restores a day)."""
    policies = deleted_disk_policies(payloads)
    policies["policies"][0]["approval"] = {"required": True, "timeoutMinutes": 30}
    r = recovery_env(policies, payloads.protect_extra_disk, real_time_scale=60)
    disk = payloads.disk_id("vm-app01-data2")
    with mgmt_clients(r.env.sim) as sdk:  # on the simulator's real-time clock: wait for it
        sdk.compute.disks.begin_delete("rg-app", "vm-app01-data2").result()
    assert r.env.resource(disk) is None
    event = payloads.delete_event(disk)
    assert r.deliver([event]).status_code == 202
    run = r.event(f"eventgrid:{event['id']}")["runId"]
    _wait_phase(r, f"restore-{run}-0", "approval")
    answer = requests.post(f"{r.base}/api/restores/{run}/reject", timeout=30,
                           json={"approver": "bob", "comment": "not this one"})
    assert answer.status_code == 202, answer.text
    assert r.env.host.wait_for(run, timeout=120)["output"]["outcome"] == "NotApproved"
    assert r.env.resource(disk) is None
    # who deleted it, as azsim saw the token: the app's own identity
    [deleted] = [e for e in r.env.sim.audit(write=True) if e["method"] == "DELETE"
                 and e["scope"].lower() == disk.lower() and e["status"] < 300][-1:]
    assert deleted["caller"] == r.env.sim.app_principal_id

    again = payloads.delete_event(disk, caller=deleted["caller"])
    assert r.deliver([again]).status_code == 202
    record = r.event(f"eventgrid:{again['id']}")
    assert record["disposition"] == "ignored", record
    assert deleted["caller"] in record["reason"] and record.get("runId") is None
    restores = [e for e in r.env.sim.audit(write=True) if e["operation"].lower().endswith(
        "backupinstances/restore/action") and e["status"] < 300]
    assert len(restores) == 1


def test_an_os_swap_nobody_approves_in_time_is_cleaned_up(recovery_env, payloads):
    # virtual time: the 30 minutes pass at once
    r = recovery_env(payloads.swap_policies(), payloads.restore_into_rg_app)
    vm = payloads.vm_id()
    original = os_disk(r, vm)
    run, _ = _started_swap(r, payloads)
    out = r.env.host.wait_for(run, timeout=120)["output"]
    assert out["outcome"] == "NotApproved"
    (restore,) = out["restores"]
    assert restore["error"]["code"] == "ApprovalTimedOut"
    assert os_disk(r, restore["swap"]["vmId"]) == original
    deleted = r.env.writes("Microsoft.Compute/disks/delete")
    assert len(deleted) == 1 and "-r" in deleted[0]["scope"].rsplit("/", 1)[-1]
    assert r.env.resource(deleted[0]["scope"]) is None
    assert r.env.leftover_assignments() == set()
    assert restore["phases"]["approval"] >= 30 * 60


def test_an_invalid_policy_file_refuses_events_for_redelivery_and_names_the_problem(
        recovery_env, payloads):
    bad = deleted_disk_policies(payloads)
    bad["policies"][0]["match"]["tags"] = {"env": "prod"}  # deletion events carry no tags
    bad["policies"][0]["limits"] = {"cooldownMinutes": -1}
    r = recovery_env(bad)
    shown = requests.get(f"{r.base}/api/recovery/policies", timeout=30)
    assert shown.status_code == 503
    detail = shown.json()["detail"]
    assert "policies[0] (deleted-disks).match.tags" in detail
    assert "policies[0] (deleted-disks).limits.cooldownMinutes" in detail

    event = payloads.delete_event(payloads.disk_id("vm-app01-data0"))
    assert r.deliver([event]).status_code == 500  # Event Grid will deliver it again
    alert = r.alert(payloads.common_alert(payloads.vm_id()))
    assert alert.status_code == 503 and alert.headers["Retry-After"] == "300"
    assert "match.tags" in alert.json()["detail"]
    assert r.events() == []  # not judged, so not recorded: the redelivery will be


def test_an_unreachable_ledger_refuses_alerts_retryably(recovery_env, payloads, monkeypatch):
    """The ledger's table cannot be reached: an alert is answered 503 with Retry-After (Azure
    Monitor retries it), an Event Grid event 500 (Event Grid retries), nothing crashes."""
    r = recovery_env(deleted_disk_policies(payloads))
    down = "https://127.0.0.1:9/devstoreaccount1"  # nothing listens on port 9
    monkeypatch.setenv("AzureWebJobsStorage__tableServiceUri", down)
    monkeypatch.setenv("RECOVERY_LEDGER_TABLE", "unreachable")
    alert = r.alert(payloads.common_alert(payloads.vm_id()))
    assert alert.status_code == 503, alert.text
    assert alert.headers["Retry-After"] == "60"
    detail = alert.json()["detail"]  # one line: what, where, what to check
    assert detail.startswith("the recovery ledger (table unreachable) cannot be used now: "
                             f"storage at {down} could not be reached"), detail
    assert "Connection refused" in detail and "\n" not in detail
    events = requests.get(f"{r.base}/api/recovery/events", timeout=30)
    assert events.status_code == 503 and events.json()["title"] == "Recovery ledger unavailable"
    assert events.json()["detail"] == detail
    event = payloads.delete_event(payloads.disk_id("vm-app01-data0"))
    assert r.deliver([event]).status_code == 500
