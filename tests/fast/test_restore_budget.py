"""Azure Backup's 10 restores per backup instance a day, in process on the fake Azure.

At plan time a restore (one disk, a whole VM, a recovery run) whose backup instance has none
left is refused before any grant or write, naming the disk, the count and when one frees up.
When Azure refuses anyway (the budget spent by someone else after the plan: a race), however it
refuses (at the trigger, with 400 or 429, by the trigger's operation, or by the job) the run
ends with the same non-retriable RestoreBudgetSpent, triggered once, never tried again, and
revokes what it granted. Drills leave DRILL_RESTORE_RESERVE restores a day for incidents.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from harness import estate

import settings as app_settings
from domain.access.access_policy import Caller
from domain.drills.drill_plan import DrillPlans
from domain.drills.drill_run import DrillInput
from domain.drills.selection import drill_id
from domain.recovery.policy import Policies
from domain.recovery.signals import parse_event
from orchestrations.drill import drill as drill_runbook
from triggers.services.signal_intake import Intake, admit
from triggers.services.submit import run_settings

PLAN_READS = {"find_backup_instance", "get_backup_instance", "list_recovery_points", "get_disk",
              "get_resource_group_location", "get_vm", "get_vm_size", "find_role_assignments",
              "list_snapshots", "list_restore_starts"}


def past(h, disk: str, *hours_ago: float) -> None:
    """Restores of `disk` made `hours_ago` before the harness's now (by people, other runs)."""
    bi = estate.backup_instance_of(h.gateway, disk)
    for hours in hours_ago:
        h.gateway.add_past_restore(bi, h.clock - timedelta(hours=hours))


def only_reads(h) -> list[str]:
    """The port calls that were not reads of what planning needs (grants, starts, ...)."""
    return [c.method for c in h.gateway.calls if c.method not in PLAN_READS]


def assert_nothing_left(h) -> None:
    left = [a for a in h.gateway.assignments.values() if a.created is not None
            and a.deleted is None]
    assert left == [], left


# ---- refused at plan time ------------------------------------------------------------------------
@pytest.mark.parametrize("dry_run", [False, True])
def test_a_restore_with_no_restore_left_is_refused_before_anything_changes(h, restores, dry_run):
    past(h, estate.DATA0, 20, *[1] * 9)
    out = restores.run(restores.request(dryRun=dry_run))
    assert out["outcome"] == "Failed", out
    error = out["error"]
    assert error["code"] == "RestoreBudgetSpent"
    assert f"the disk {estate.DATA0} has no restore left today" in error["message"]
    assert "10 restores of its backup instance in the last 24 h" in error["message"]
    frees = (h.clock - timedelta(hours=20) + timedelta(hours=24)).isoformat(timespec="seconds")
    assert f"the next frees up at {frees}" in error["message"]
    assert only_reads(h) == []  # no grant, no validate, no restore
    assert len(h.gateway.called("list_restore_starts")) == 1  # one jobs listing of the vault


def test_the_tenth_restore_of_the_day_goes_ahead_and_a_restore_24_h_old_no_longer_counts(
        h, restores):
    past(h, estate.DATA0, 24.01, *[1] * 9)  # the oldest left the window a little while ago
    out = restores.run(restores.request())
    assert out["outcome"] == "Succeeded", out.get("error")
    assert len(h.gateway.called("start_restore")) == 1
    assert_nothing_left(h)


def test_a_whole_vm_names_every_disk_with_no_restore_left_and_starts_none(h, restores):
    past(h, estate.OS_DISK, *[2] * 10)
    past(h, estate.DATA1, *[3] * 12)
    past(h, estate.DATA0, *[1] * 9)  # one left: fine
    run = restores.submit({"source": {"vmId": estate.VM},
                           "target": {"resourceGroupId": estate.TARGET}})
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Failed" and out["error"]["code"] == "RestoreBudgetSpent", out
    message = out["error"]["message"]
    assert message.startswith(f"2 disk(s) of {estate.VM} have no restore left today")
    assert f"the OS disk ({estate.OS_DISK}): 10 restores" in message
    assert f"LUN 1 ({estate.DATA1}): 12 restores" in message
    assert "LUN 0" not in message
    assert "source.disks" in out["error"]["hint"]
    assert only_reads(h) == []
    assert len(h.gateway.called("list_restore_starts")) == 1  # the three disks share a vault


def unavailable_vm(h) -> Any:
    """A VM health event admitted under a policy restoring its data disks in place (as
    tests/fast/test_recovery_runbook.py admits one): the admission's decision."""
    when = h.clock.isoformat().replace("+00:00", "Z")
    status = f"{estate.VM}/providers/Microsoft.ResourceHealth/availabilityStatuses/current"
    event = {"id": str(uuid.uuid4()), "topic": f"/subscriptions/{estate.SUBSCRIPTION}",
             "subject": status, "eventTime": when, "dataVersion": "1", "metadataVersion": "1",
             "eventType": "Microsoft.ResourceNotifications.HealthResources."
                          "AvailabilityStatusChanged",
             "data": {"resourceInfo": {
                 "id": status, "name": "current",
                 "type": "Microsoft.ResourceHealth/availabilityStatuses",
                 "properties": {"targetResourceId": estate.VM,
                                "targetResourceType": "Microsoft.Compute/virtualMachines",
                                "occurredTime": when, "previousAvailabilityState": "Available",
                                "availabilityState": "Unavailable"}}}}
    policies = Policies.parse({"version": 1, "maxConcurrentRecoveries": 3, "policies": [{
        "name": "unhealthy-vm",
        "match": {"eventTypes": [event["eventType"]],
                  "resourceTypes": ["Microsoft.Compute/virtualMachines"],
                  "availabilityStates": ["Unavailable"]},
        "action": {"type": "restoreDataDisksAndAttach"}}]})
    intake = Intake(ledger=lambda: h.ledger, policies=lambda: policies,
                    run_settings=lambda: run_settings(app_settings.settings()),
                    vm_tags=lambda vm_id: {}, now=lambda: h.clock)
    return asyncio.run(admit(h.client, parse_event(event), intake.admission()))


def test_a_recovery_run_is_refused_at_its_plan_too(h):
    past(h, estate.DATA1, *[1] * 10)
    decision = unavailable_vm(h)
    h.run()
    out = h.output(decision.run_id)
    assert out["outcome"] == "Failed", out
    error = out["vmRestore"]["error"]  # the recovery's whole-VM restore refused at its plan
    assert error["code"] == "RestoreBudgetSpent", error
    assert f"LUN 1 ({estate.DATA1}): 10 restores" in error["message"]
    assert out["restores"] == [] and only_reads(h) == []


# ---- refused by Azure after the plan (a race), however it refuses --------------------------------
RACES = [("trigger", 400), ("trigger", 429), ("operation", 400), ("job", 400)]


@pytest.mark.parametrize(("refusal", "status"), RACES)
def test_a_restore_azure_refuses_for_the_day_ends_at_once_and_is_never_retried(
        h, restores, refusal, status):
    h.gateway.restore_limit_refusal, h.gateway.restore_limit_status = refusal, status
    past(h, estate.DATA0, *[1] * 9)  # one left at plan time
    run = restores.start(restores.request())
    h.run(until=lambda: h.gateway.called("grant_role"))
    past(h, estate.DATA0, 0)  # someone else's restore takes the last one meanwhile
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Failed", out
    error = out["error"]
    assert error["code"] == "RestoreBudgetSpent", error
    assert "no restore left today" in error["message"]
    assert "CloudDosAbsoluteLimitReached" in error["message"]
    assert "10 restores of a backup instance a day" in error["hint"]
    assert len(h.gateway.called("start_restore")) == 1  # never tried again
    assert disk_made(h) is None
    assert_nothing_left(h)


@pytest.mark.parametrize("code", ["CloudDosAbsoluteLimitReached",
                                  "CloudDosAbsoluteLimitReachedWithRetry",
                                  "CloudDosTimeboudLimitReached"])
@pytest.mark.parametrize("where", ["refuse", "fail_operation", "fail_job"])
def test_the_limit_is_not_transient_even_marked_retryable(h, restores, code, where):
    """Data Protection may mark any error `isRetryable`; the day's limit is still the day's."""
    if where == "fail_job":
        h.gateway.fail_job(code, "blocked", retryable=True)
    else:
        getattr(h.gateway, where)("start_restore", code, "blocked", retryable=True)
    out = restores.run(restores.request())
    assert out["error"]["code"] == "RestoreBudgetSpent", out["error"]
    assert code in out["error"]["message"]
    assert len(h.gateway.called("start_restore")) == 1
    assert_nothing_left(h)


def disk_made(h) -> Any:
    return h.gateway.disks.get(estate.disk_id("vm-app01-data0-restored",
                                              "rg-restore-target").lower())


# ---- drills keep a reserve for incidents ---------------------------------------------------------
ONLY_DATA0 = {"vaults": [estate.VAULT], "resourceGroups": [estate.rg("rg-elsewhere")],
              "include": [estate.DATA0]}


def drill(h, *, run: bool = True) -> Any:
    """A drill of data0 alone, started as triggers/drill_routes.py `start_drill` starts one: its
    output (its instance id when not `run`)."""
    doc = {"name": "nightly", "schedule": "0 30 2 * * *", "selection": ONLY_DATA0,
           "recoveryPoint": "latest", "sandboxResourceGroupId": estate.TARGET,
           "maxParallel": 2, "timeBudgetMinutes": 240, "keepFailed": False, "expiryHours": 24}
    drill_plan = DrillPlans.parse({"version": 1, "plans": [doc]}).plans[0]
    instance = drill_id(drill_plan.name, h.clock)
    h.start(drill_runbook.name, DrillInput(
        instance, drill_plan, run_settings(app_settings.settings()),
        Caller("timer", None, drill_plan.name)).to_dict(), instance)
    if not run:
        return instance
    h.run()
    return h.output(instance)


def verdicts(h, out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    report = h.reports.report("nightly", out["id"])
    return {d["diskId"].lower(): d for d in report["disks"]}


@pytest.mark.parametrize(("reserve", "restores_today", "drilled"), [
    (None, 7, True), (None, 8, False), ("0", 9, True), ("0", 10, False), ("5", 5, False),
    ("5", 4, True)])
def test_a_drill_skips_a_disk_whose_restores_left_would_drop_into_the_reserve(
        h, monkeypatch, reserve, restores_today, drilled):
    if reserve is not None:
        monkeypatch.setenv("DRILL_RESTORE_RESERVE", reserve)
    past(h, estate.DATA0, *[1] * restores_today)
    out = drill(h)
    verdict = verdicts(h, out)[estate.DATA0.lower()]
    if drilled:
        assert verdict["verdict"] == "passed", verdict
        return
    assert verdict["verdict"] == "skipped" and h.gateway.called("start_restore") == []
    kept = 2 if reserve is None else int(reserve)
    if restores_today < 10:
        assert verdict["reason"] == (
            f"{restores_today} restores of this backup instance in the last 24 h: Azure "
            f"allows 10 a day and the {10 - restores_today} left "
            f"{'is' if 10 - restores_today == 1 else 'are'} kept for incidents "
            f"(DRILL_RESTORE_RESERVE={kept})")
    else:
        assert verdict["reason"].endswith("Azure allows 10 a day")


def test_an_incident_may_use_the_reserve_a_drill_left(h, restores):
    past(h, estate.DATA0, *[1] * 8)  # a drill would skip it (2 left, the default reserve)
    out = restores.run(restores.request())
    assert out["outcome"] == "Succeeded", out.get("error")
    second = restores.run(restores.request(name="second-restored"))
    assert second["outcome"] == "Succeeded", second.get("error")  # the 10th
    third = restores.run(restores.request(name="third-restored"))
    assert third["error"]["code"] == "RestoreBudgetSpent"


# ---- one jobs listing per run --------------------------------------------------------------------
def test_a_whole_vm_lists_the_vaults_jobs_once_not_once_per_disk(h, restores):
    """Listing a vault's jobs costs O(jobs): the whole VM's plan checks every disk, and its
    disks' own runs, started a moment later, do not list them again."""
    run = restores.submit({"source": {"vmId": estate.VM},
                           "target": {"resourceGroupId": estate.TARGET}, "apply": "none"})
    h.run()
    assert h.output(run)["outcome"] == "Succeeded", h.output(run).get("error")
    assert len(h.gateway.called("list_restore_starts")) == 1
    assert len(h.gateway.called("start_restore")) == 3


def test_a_drill_checks_at_its_selection_and_azure_still_refuses_a_spent_disk(h):
    """A drill's restores are not checked again at their plans (its selection counted a moment
    before: a drill of 500 disks would list the vault's jobs 500 times); a disk whose day is
    spent meanwhile is refused by Azure: a failed verdict saying why."""
    h.gateway.restore_limit_refusal = "operation"
    instance = drill(h, run=False)
    h.run(until=lambda: h.gateway.called("grant_role"))  # selected (0 restores), granting
    past(h, estate.DATA0, *[0] * 10)  # incidents spend the day meanwhile
    h.run()
    out = h.output(instance)
    verdict = verdicts(h, out)[estate.DATA0.lower()]
    assert verdict["verdict"] == "failed", verdict
    assert verdict["reason"].startswith("RestoreBudgetSpent: Azure Backup refused the restore")
    assert h.gateway.called("list_restore_starts") == []
    assert len(h.gateway.called("count_restores")) == 1
    assert len(h.gateway.called("start_restore")) == 1
    assert_nothing_left(h)
