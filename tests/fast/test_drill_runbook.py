"""Restore drills (orchestrations/drill.py: drill, drill_lane, drill_disk) and the two sweeps, in
process. Plans are parsed by the app (domain/drills/drill_plan.py) and the drill's input is
made as triggers/drill_routes.py `start_drill` makes it; reports land in an in-memory container
through the app's ReportStore, drilled points in the real Ledger over an in-memory table."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from harness import estate
from harness.engine import START

import settings as app_settings
from domain import errors
from domain.access.access_policy import Caller
from domain.drills.drill_plan import DrillPlans
from domain.drills.drill_run import DiskSweep, DrillInput
from domain.drills.selection import DRILL_TAG, EXPIRY_TAG, drill_id
from domain.model import Disk
from domain.restore.planning import DISK_RESTORE_OPERATOR, READER
from orchestrations.drill import drill as drill_runbook
from orchestrations.sweep import sweep_drill_disks, sweep_role_assignments
from triggers.services.submit import run_settings
from triggers.sweeper import RUNBOOKS

ENDED = ("Completed", "Failed", "Terminated")


def plan(**overrides: Any):
    doc = {"name": "nightly", "schedule": "0 30 2 * * *",
           "selection": {"vaults": [estate.VAULT], "resourceGroups": [estate.rg()]},
           "recoveryPoint": "latest", "sandboxResourceGroupId": estate.TARGET,
           "maxParallel": 2, "timeBudgetMinutes": 240, "keepFailed": False, "expiryHours": 24,
           **overrides}
    return DrillPlans.parse({"version": 1, "plans": [doc]}).plans[0]


def start_drill(h, drill_plan) -> str:
    """What triggers/drill_routes.py `start_drill` starts (it checks the report store first)."""
    instance = drill_id(drill_plan.name, h.clock)
    return h.start(drill_runbook.name, DrillInput(
        instance, drill_plan, run_settings(app_settings.settings()),
        Caller("timer", None, drill_plan.name)).to_dict(), instance)


def drill(h, drill_plan) -> dict[str, Any]:
    run = start_drill(h, drill_plan)
    h.run()
    return h.output(run)


ONLY_DATA0 = {"vaults": [estate.VAULT], "resourceGroups": [estate.rg("rg-elsewhere")],
              "include": [estate.DATA0]}


def sandbox_disks(h) -> list[Disk]:
    """The sandbox's disks as Azure lists them now (changes due by now have happened)."""
    return h.gateway.list_disks(estate.TARGET)


def test_a_drill_restores_verifies_reports_and_leaves_nothing_behind(h):
    out = drill(h, plan())
    summary = out["summary"]
    assert (summary["disks"], summary["passed"], summary["failed"]) == (3, 3, 0), out
    report = h.reports.report("nightly", out["id"])
    assert report["observedParallel"] == 2 and report["maxParallel"] == 2
    assert {d["verdict"] for d in report["disks"]} == {"passed"}
    assert set(out["reports"]) == {"json", "html"}
    assert f"nightly/{out['id']}.html" in h.reports.blobs
    assert h.reports.notices == []
    # two lanes for three disks: lane 0 drills two, lane 1 one
    assert [i for i in h.instances if "-lane-" in i] == [f"{out['id']}-lane-0",
                                                         f"{out['id']}-lane-1"]
    # the drill granted the restores' roles once; each restore found them in place
    roles = sorted(c.args[0].role_definition_guid for c in h.gateway.called("grant_role")
                   if "|" not in c.args[0].assignment_name)
    drill_grants = [a for a in h.gateway.assignments.values() if a.created is not None]
    assert sorted(a.record.role_definition_guid for a in drill_grants) == \
        sorted([DISK_RESTORE_OPERATOR, READER])
    assert all(a.deleted is not None for a in drill_grants)  # revoked at the end
    restored = [h.output(i.id) for i in h.instances.values() if i.name == "restore_managed_disk"]
    assert len(restored) == 3 and roles  # every restore asked, and was given the drill's
    # each restore held the drill's assignment (one lease, the same name) and left it to the
    # drill, the last holder, to revoke
    drill_ids = {a.record.id.lower() for a in drill_grants}
    assert all(a["id"].lower() in drill_ids and not a["preExisting"]
               and a["revoked"].startswith("kept: ")
               for r in restored for a in r["roleAssignments"])
    assert sandbox_disks(h) == []  # every restored disk deleted after its checks
    drilled = h.ledger.drilled([estate.backup_instance_of(h.gateway, d)
                                for d in (estate.OS_DISK, estate.DATA0, estate.DATA1)])
    assert sum(len(points) for points in drilled.values()) == 3


def test_a_disk_whose_copy_differs_fails_is_kept_tagged_and_noticed(h):
    h.gateway.disks[estate.DATA0.lower()] = Disk(estate.DATA0, estate.LOCATION, 300,
                                                 "Premium_LRS", managed_by=estate.VM,
                                                 state="Attached")  # grown since the backup
    out = drill(h, plan(keepFailed=True, notify={"queue": "drill-failures"}))
    assert out["summary"]["failed"] == 1 and out["summary"]["passed"] == 2
    report = h.reports.report("nightly", out["id"])
    [failed] = [d for d in report["disks"] if d["verdict"] == "failed"]
    assert failed["diskId"] == estate.DATA0
    assert failed["reason"] == "sizeGB is 256, the source's is 300"
    assert failed["kept"] is True
    [kept] = sandbox_disks(h)
    assert kept.tags[DRILL_TAG] == out["id"]
    assert kept.tags[EXPIRY_TAG] > h.clock.isoformat()
    [(queue, notice)] = h.reports.notices
    assert queue == "drill-failures" and notice["event"] == "RestoreDrillFailed"
    assert notice["failed"] == [{"diskId": estate.DATA0, "reason": failed["reason"]}]
    assert out["notified"] == ["queue:drill-failures"]


def test_a_disk_whose_restore_fails_is_a_failed_verdict_and_the_drill_goes_on(h):
    h.gateway.fail_job("UserErrorDiskCreationFailed", "no capacity")
    out = drill(h, plan(maxParallel=1))
    assert (out["summary"]["passed"], out["summary"]["failed"]) == (2, 1)
    [failed] = [d for d in h.reports.report("nightly", out["id"])["disks"]
                if d["verdict"] == "failed"]
    assert failed["reason"].startswith("RestoreJobFailed: ")
    assert "UserErrorDiskCreationFailed" in failed["reason"]
    assert sandbox_disks(h) == []


@pytest.mark.xfail(strict=True, reason="BUG (reported): a drill restore that times out leaves "
                   "its job running; the disk it creates later is neither deleted nor tagged "
                   "with an expiry, so the drill-disk sweep never finds it")
def test_a_drill_restore_that_times_out_leaves_no_disk_the_sweep_cannot_find(h, monkeypatch):
    monkeypatch.setenv("RESTORE_JOB_TIMEOUT_MINUTES", "2")  # the fake's job takes 4.5 minutes
    out = drill(h, plan(maxParallel=1, selection=ONLY_DATA0))
    assert out["summary"]["failed"] == 1
    h.clock += timedelta(hours=1)  # the job, still running when the drill gave up, completes
    later = sandbox_disks(h)
    assert all(DRILL_TAG in d.tags and EXPIRY_TAG in d.tags for d in later), later


def test_a_lane_past_its_time_budget_skips_the_disks_left(h):
    h.gateway.durations["restoreJob"] = 15 * 60.0  # one disk takes longer than the budget
    out = drill(h, plan(maxParallel=1, timeBudgetMinutes=10))
    report = h.reports.report("nightly", out["id"])
    verdicts = [d["verdict"] for d in report["disks"]]
    assert sorted(verdicts) == ["passed", "skipped", "skipped"]
    assert all("time budget of 10 min was spent" in d["reason"]
               for d in report["disks"] if d["verdict"] == "skipped")


def test_a_long_lane_continues_as_new_and_keeps_every_result(h):
    points = h.gateway.protected[estate.backup_instance_of(h.gateway, estate.DATA0).lower()].points
    for n in range(2, 9):  # ten disks in all, in one lane: more than one lane generation (8)
        extra = estate.disk_id(f"vm-app01-data{n}")
        h.gateway.add_disk(Disk(extra, estate.LOCATION, 32, "Premium_LRS", state="Unattached"))
        h.gateway.protect(estate.VAULT, extra, principal_id=estate.VAULT_PRINCIPAL,
                          snapshot_rg_id=estate.SNAPSHOTS, points=points)
    out = drill(h, plan(maxParallel=1))
    assert out["summary"]["passed"] == 10, out["summary"]
    assert h.instances[f"{out['id']}-lane-0"].generations == 2
    assert sandbox_disks(h) == []


# ---- the sweeps -----------------------------------------------------------------------------
def test_the_drill_disk_sweep_deletes_expired_drill_disks_only(h):
    out = drill(h, plan(keepFailed=True, selection=ONLY_DATA0))
    assert out["summary"]["passed"] == 1
    stray = estate.disk_id("not-a-drill-disk", "rg-restore-target")
    h.gateway.add_disk(Disk(stray, estate.LOCATION, 8, "Standard_LRS", state="Unattached"))
    kept = estate.disk_id("kept", "rg-restore-target")
    h.gateway.add_disk(Disk(kept, estate.LOCATION, 8, "Standard_LRS", state="Unattached",
                            tags={DRILL_TAG: out["id"],
                                  EXPIRY_TAG: (h.clock + timedelta(hours=24)).isoformat()}))
    soon = h.start(sweep_drill_disks.name, DiskSweep(
        [estate.TARGET], (h.clock + timedelta(hours=1)).isoformat()).to_dict())
    h.run()
    assert h.output(soon) == {"report": []}
    later = h.start(sweep_drill_disks.name, DiskSweep(
        [estate.TARGET], (h.clock + timedelta(hours=25)).isoformat()).to_dict())
    h.run()
    assert h.output(later) == {"report": [{"disk": kept, "deleted": True}]}
    h.clock += timedelta(minutes=1)  # the sweep starts the delete; Compute finishes it
    assert [d.id for d in sandbox_disks(h)] == [stray]


def test_the_role_sweep_revokes_what_a_terminated_restore_left(h, restores):
    run = restores.start(restores.request())
    restores.until_waiting(f"{run}:propagate", "timer")
    [left] = h.custom_status(run)["assignments"]
    h.terminate(run, "stopped by an operator")
    # what triggers/sweeper.py `find_leftovers` reads from the ended runs
    leftovers = [{"run": i.id, "assignments": i.custom_status["assignments"]}
                 for i in h.instances.values() if i.name in RUNBOOKS
                 and i.status in ENDED and (i.custom_status or {}).get("assignments")]
    assert leftovers == [{"run": run, "assignments": [left]}]
    sweep = h.start(sweep_role_assignments.name, {"leftovers": leftovers, "swept": []})
    h.run()
    assert h.output(sweep) == {"swept": [run], "report": [
        {"run": run, "assignment": left, "revoked": True, "wasPresent": True}]}
    assert h.gateway.assignments[left.lower()].deleted is not None
    audit = h.calls("revoke_role")[-1].input["audit"]
    assert audit["who"]["kind"] == "sweeper" and run in audit["why"]


def test_a_role_sweep_that_cannot_revoke_reports_it_and_tries_again_next_time(h, restores):
    run = restores.start(restores.request())
    restores.until_waiting(f"{run}:propagate", "timer")
    [left] = h.custom_status(run)["assignments"]
    h.terminate(run, "stopped by an operator")
    h.gateway.fail("revoke_role", errors.AzureUnavailable("503 from ARM"), times=None)
    sweep = h.start(sweep_role_assignments.name, {"leftovers": [
        {"run": run, "assignments": [left]}], "swept": []})
    h.run()
    out = h.output(sweep)
    assert out["swept"] == []  # not done: the next sweep takes this run again
    [item] = out["report"]
    assert item["revoked"] is False and "AzureUnavailable" in item["error"]
    assert h.gateway.assignments[left.lower()].deleted is None


# ---- objectives -----------------------------------------------------------------------------
OBJECTIVES = {"rtoMinutes": 60, "rpoHours": 26, "byTag": [
    {"tag": "role", "value": "db", "rtoMinutes": 1},  # no restore here takes under a minute
    {"tag": "tier", "value": "gold", "rpoHours": 0.25}]}  # the 02:00 point is 30 min old


def tag(h, disk: str, **tags: str) -> None:
    source = h.gateway.disks[disk.lower()]
    h.gateway.disks[disk.lower()] = replace(source, tags={**source.tags, **tags})


def test_a_drill_report_carries_verdicts_against_the_plans_objectives_and_totals(h):
    tag(h, estate.DATA1, role="db")
    tag(h, estate.DATA0, tier="gold")
    out = drill(h, plan(objectives=OBJECTIVES))
    assert out["summary"]["passed"] == 3
    report = h.reports.report("nightly", out["id"])
    disks = {d["diskId"]: d for d in report["disks"]}
    os_disk, data0, data1 = disks[estate.OS_DISK], disks[estate.DATA0], disks[estate.DATA1]
    for disk in (os_disk, data0, data1):  # the newest point when the drill started: 02:00
        assert disk["newestPointAgeHours"] == 0.5 == disk["rpo"]["actual"]
        assert disk["rto"]["actual"] == round(disk["recoverySeconds"] / 60, 1) > 1
    assert [os_disk["rto"]["verdict"], os_disk["rpo"]["verdict"]] == ["met", "met"]
    assert data0["objectives"] == {"rtoMinutes": 60, "rpoHours": 0.25}
    assert [data0["rto"]["verdict"], data0["rpo"]["verdict"]] == ["met", "missed"]
    assert data1["objectives"] == {"rtoMinutes": 1, "rpoHours": 26.0}
    assert [data1["rto"]["verdict"], data1["rpo"]["verdict"]] == ["missed", "met"]
    totals = {"met": 1, "missed": 2, "unknown": 0, "rto": {"met": 2, "missed": 1, "unknown": 0},
              "rpo": {"met": 2, "missed": 1, "unknown": 0}}
    assert report["summary"]["objectives"] == out["summary"]["objectives"] == totals
    assert "diskResults" not in out["summary"]  # the outcome stays small; the blob keeps them
    html = h.reports.blobs[f"nightly/{out['id']}.html"].decode()
    assert "<dd>1 / 2 / 0</dd>" in html and html.count('<td class="v-missed">missed</td>') == 2
    # read for the verdicts when the report was written: each disk's points, and its tags
    assert report_reads(h, report) == ["get_disk"] * 3 + ["list_recovery_points"] * 3
    # the catalog's last drill of each disk, in the ledger
    last = h.ledger.last_drills()
    assert set(last) == {d.lower() for d in (estate.OS_DISK, estate.DATA0, estate.DATA1)}
    assert last[estate.DATA1.lower()] == {
        "drillId": out["id"], "at": report["started"], "verdict": "passed",
        "rto": data1["rto"], "rpo": data1["rpo"]}


def test_the_trend_across_two_drills_of_one_plan_shows_each_disks_verdicts(h):
    first = drill(h, plan(objectives=OBJECTIVES, selection=ONLY_DATA0))
    h.clock += timedelta(days=1)  # tomorrow's drill; no backup since: the point is a day older
    h.gateway.durations["restoreJob"] = 3 * h.gateway.durations["restoreJob"]
    second = drill(h, plan(objectives=OBJECTIVES, selection=ONLY_DATA0))
    report = h.reports.report("nightly", second["id"])
    [disk] = [d for d in report["disks"] if d["diskId"] == estate.DATA0]
    assert [(e["drillId"], e["rpo"]) for e in disk["history"]] == \
        [(first["id"], "met"), (second["id"], "met")]
    newest = START.replace(hour=2, minute=0)  # no backup since the first drill
    age = (datetime.fromisoformat(report["started"]) - newest).total_seconds() / 3600
    assert 24.5 < age < 26 and disk["rpo"]["actual"] == round(age, 2)  # 26 h allowed
    assert disk["recoveryTrend"]["direction"] == "rising"
    assert report["recoveryP95Trend"]["direction"] == "rising"
    assert [t["objectives"] for t in report["trend"]] == [
        {"met": 1, "missed": 0, "unknown": 0}] * 2
    assert h.ledger.last_drills()[estate.DATA0.lower()]["drillId"] == second["id"]
    html = h.reports.blobs[f"nightly/{second['id']}.html"].decode()
    assert html.count('<rect class="verdict" data-verdict="met"') == 2


def report_reads(h, report: dict[str, Any]) -> list[str]:
    """The reads of points and disks made when the report was written (the drill's last step,
    at the same instant as the revocations before it, which read neither)."""
    end = datetime.fromisoformat(report["finished"])
    return sorted(c.method for c in h.gateway.calls
                  if c.at >= end and c.method in ("get_disk", "list_recovery_points"))


def test_a_plan_without_objectives_reads_nothing_more_and_judges_nothing(h):
    out = drill(h, plan())
    report = h.reports.report("nightly", out["id"])
    assert report_reads(h, report) == []
    assert {(d["rto"]["verdict"], d["rpo"]["verdict"]) for d in report["disks"]} == \
        {("unknown", "unknown")}
    assert report["summary"]["objectives"]["unknown"] == 3


def test_a_disk_whose_points_cannot_be_read_for_its_rpo_is_unknown_and_the_report_written(h):
    reads = iter([None] * 6)  # the selection's three and the restores' three pass; the rest fail
    real = h.gateway.list_recovery_points

    def flaky(backup_instance_id: str):
        if next(reads, "fail") == "fail":
            raise errors.RestoreError("throttled")
        return real(backup_instance_id)
    h.gateway.list_recovery_points = flaky
    out = drill(h, plan(objectives=OBJECTIVES))
    report = h.reports.report("nightly", out["id"])
    assert {d["rpo"]["verdict"] for d in report["disks"]} == {"unknown"}
    assert all(d["objectivesProblem"] == "its recovery points could not be read: throttled"
               for d in report["disks"])
    assert {d["rto"]["verdict"] for d in report["disks"]} == {"met"}  # still judged
