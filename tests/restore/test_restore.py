"""The restore, end to end: HTTP → devhost → orchestration → activities → real SDK clients →
azsim. Every case ends with no role assignment of ours left, checked in azsim's audit log."""

from __future__ import annotations

import time

import pytest
import requests

RESTORE_WRITE = "Microsoft.DataProtection/backupVaults/backupInstances/restore/action"


def _done(env, view, outcome="Succeeded"):
    assert view["outcome"] == outcome, view
    assert env.leftover_assignments() == set()
    return view["result"]


def test_restore_only_creates_the_new_disk_and_revokes_the_role(restore_env):
    env = restore_env()
    result = _done(env, env.run(env.request()))
    target = env.disk("vm-app01-data0-restored", "rg-restore-target")
    assert result["restoredDiskId"].lower() == target.lower()
    assert env.resource(target) is not None
    [grant] = result["roleAssignments"]
    assert grant["role"] == "b50d9833-a0cb-478e-945f-707fcc997c13"  # Disk Restore Operator
    assert grant["revoked"] is True and grant["preExisting"] is False
    assert len(env.writes(RESTORE_WRITE)) == 1
    assert set(result["phases"]) >= {"plan", "grant", "propagate", "restore", "track", "revoke"}


def test_restore_and_attach_puts_the_disk_on_the_lowest_free_lun(restore_env):
    env = restore_env()
    result = _done(env, env.run(env.request(attach={"vmId": env.vm()})))
    assert result["attach"]["lun"] == 2  # the demo VM uses LUNs 0 and 1
    vm = env.resource(env.vm())
    disks = {d["lun"]: d["managedDisk"]["id"].lower()
             for d in vm["properties"]["storageProfile"]["dataDisks"]}
    assert disks[2] == result["restoredDiskId"].lower()


def test_a_cmk_disk_also_gets_reader_on_its_encryption_set_and_loses_it(restore_env):
    env = restore_env()
    result = _done(env, env.run(env.request("vm-app01-data1")))
    roles = sorted(a["role"] for a in result["roleAssignments"])
    assert roles == ["acdd72a7-3385-48ef-bd42-f606fba81ae7",   # Reader on the DES
                     "b50d9833-a0cb-478e-945f-707fcc997c13"]   # Disk Restore Operator
    assert all(a["revoked"] is True for a in result["roleAssignments"])


def test_os_disk_swap_points_the_vm_at_the_restored_disk_and_starts_it(restore_env):
    env = restore_env()
    result = _done(env, env.run(env.request("vm-app01-osdisk", swapOsDisk={"vmId": env.vm()})))
    vm = env.resource(env.vm())
    os_disk = vm["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"]
    assert os_disk.lower() == result["restoredDiskId"].lower()
    assert result["swap"]["wasRunning"] is True
    statuses = [s["code"] for s in vm["properties"]["instanceView"]["statuses"]]
    assert "PowerState/running" in statuses


def test_a_failed_swap_puts_the_original_os_disk_back_and_says_so(restore_env):
    env = restore_env()
    original = env.disk("vm-app01-osdisk")
    env.sim.add_fault(kind="status", status=409, code="OperationNotAllowed",
                      message="simulated refusal",
                      operation="Microsoft.Compute/virtualMachines/write", count=2)
    view = env.run(env.request("vm-app01-osdisk", swapOsDisk={"vmId": env.vm()}))
    _done(env, view, "Failed")
    assert view["error"]["code"] == "SwapFailed"
    # refused on the stopped VM, then once more deallocated: the disk never changed
    assert view["error"]["message"].endswith(
        "simulated refusal; the original OS disk is still on the VM, which is running"), \
        view["error"]["message"]
    vm = env.resource(env.vm())
    assert vm["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"].lower() == \
        original.lower()


def test_a_dry_run_returns_the_plan_and_changes_nothing(restore_env):
    env = restore_env()
    view = env.run(env.request(attach={"vmId": env.vm()}, dryRun=True))
    assert view["outcome"] == "DryRun"
    plan = view["result"]["plan"]
    assert plan["attach"]["lun"] == 2
    assert [g["roleName"] for g in plan["grants"]] == ["Disk Restore Operator"]
    assert plan["recoveryPoint"]["id"] and plan["targetDiskId"].endswith("/vm-app01-data0-restored")
    assert env.sim.audit(write=True) == []


def test_a_same_name_disk_is_refused_before_anything_is_granted(restore_env):
    env = restore_env()
    body = env.request()
    body["target"] = {"resourceGroupId": env.rg("rg-app"), "diskName": "vm-app01-data1"}
    view = env.run(body)
    _done(env, view, "Failed")
    assert view["error"]["code"] == "TargetDiskExists"
    assert env.writes("Microsoft.Authorization/roleAssignments/write") == []


def test_missing_snapshot_roles_are_a_clear_error_not_a_wait(restore_env):
    def no_snapshot_role(scenario):
        scenario["roleAssignments"] = [r for r in scenario["roleAssignments"]
                                       if "rg-snapshots" not in r["scope"]]
    env = restore_env(no_snapshot_role)
    view = env.run(env.request())
    _done(env, view, "Failed")
    assert view["error"]["code"] == "SnapshotPermissionsMissing"
    assert "Disk Snapshot Contributor" in view["error"]["message"]


def test_a_deleted_snapshot_fails_validation_with_its_code(restore_env):
    def delete_newest_snapshot(scenario):
        for vault in scenario["backupVaults"]:
            for bi in vault["backupInstances"]:
                if bi["disk"].endswith("vm-app01-data0"):
                    bi["recoveryPoints"]["deletedSnapshots"] = [0]
    env = restore_env(delete_newest_snapshot)
    view = env.run(env.request())
    _done(env, view, "Failed")
    assert view["error"]["code"] == "SnapshotNotFound"
    assert "UserErrorDiskSnapshotNotFound" in view["error"]["message"]


def test_missing_target_resource_group_is_refused_at_plan(restore_env):
    env = restore_env()
    body = env.request()
    body["target"]["resourceGroupId"] = env.rg("rg-does-not-exist")
    view = env.run(body)
    _done(env, view, "Failed")
    assert view["error"]["code"] == "TargetResourceGroupNotFound"


def test_slow_propagation_is_probed_several_times_then_the_restore_goes_on(restore_env):
    def slow(scenario):
        scenario["durations"]["rolePropagation"] = 600  # ten minutes
    env = restore_env(slow)
    result = _done(env, env.run(env.request()))
    validations = env.writes(
        "Microsoft.DataProtection/backupVaults/backupInstances/validateRestore/action")
    assert len(validations) >= 4
    assert result["phases"]["propagate"] >= 600


def test_propagation_that_never_completes_times_out_and_revokes(restore_env):
    def never(scenario):
        scenario["durations"]["rolePropagation"] = 10 * 3600
    env = restore_env(never, RESTORE_PROPAGATION_TIMEOUT_MINUTES="5")
    view = env.run(env.request())
    _done(env, view, "Failed")
    assert view["error"]["code"] == "PropagationTimedOut"


def test_a_failed_restore_job_fails_the_run_and_revokes(restore_env):
    env = restore_env()
    env.sim.add_fault(kind="jobFailure", count=1)
    view = env.run(env.request(attach={"vmId": env.vm()}))
    _done(env, view, "Failed")
    assert view["error"]["code"] == "RestoreJobFailed"
    vm = env.resource(env.vm())
    assert len(vm["properties"]["storageProfile"]["dataDisks"]) == 2  # nothing attached


@pytest.mark.parametrize("operation", [
    "Microsoft.DataProtection/backupVaults/read",
    "Microsoft.DataProtection/backupVaults/backupInstances/read",
    "Microsoft.DataProtection/backupVaults/backupInstances/recoveryPoints/read",
    "Microsoft.Compute/disks/read",
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.Authorization/roleAssignments/read",
    "Microsoft.Authorization/roleAssignments/write",
    "Microsoft.DataProtection/backupVaults/backupInstances/validateRestore/action",
    "Microsoft.DataProtection/backupVaults/backupInstances/restore/action",
    "Microsoft.DataProtection/backupVaults/operationStatus/read",
    "Microsoft.DataProtection/backupVaults/backupJobs/read",
    "Microsoft.Compute/virtualMachines/read",
    "Microsoft.Compute/virtualMachines/attachDetachDataDisks/action",
    "Microsoft.Compute/locations/operations/read",
    "Microsoft.Authorization/roleAssignments/delete",
])
def test_transient_faults_at_a_step_are_absorbed(restore_env, operation):
    env = restore_env()
    env.sim.add_fault(kind="status", status=503, operation=operation, count=2)
    env.sim.add_fault(kind="status", status=429, retryAfter=1, operation=operation, count=1)
    result = _done(env, env.run(env.request(attach={"vmId": env.vm()})))
    assert result["attach"]["lun"] == 2
    assert len(env.writes(RESTORE_WRITE)) == 1, "the restore was triggered more than once"
    assert env.sim.fired_faults(), "the fault never fired: the test proves nothing"


def test_the_same_request_twice_starts_one_run(restore_env):
    env = restore_env()
    body = env.request(requestId="ticket-1234")
    first, second = env.submit(body), env.submit(body)
    assert first.status_code == 202 and second.status_code in (200, 202)
    assert first.json()["id"] == second.json()["id"] == "restore-ticket-1234"
    env.host.wait_for("restore-ticket-1234", timeout=120)
    third = env.submit(body)
    assert third.status_code == 200 and third.json()["started"] is False
    assert len(env.writes(RESTORE_WRITE)) == 1
    assert env.leftover_assignments() == set()


def test_a_request_id_sent_again_with_another_request_gets_409_naming_what_differs(restore_env):
    env = restore_env()
    body = env.request(requestId="ticket-reused")
    assert env.submit(body).status_code == 202
    other = env.request(requestId="ticket-reused")
    other["target"]["diskName"] = "another-name"
    answer = env.submit(other)
    assert answer.status_code == 409, answer.text
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert [e["field"] for e in answer.json()["errors"]] == ["target.diskName"]
    assert "another-name" in answer.json()["errors"][0]["message"]
    assert env.host.wait_for("restore-ticket-reused", timeout=120)["output"]["outcome"] == \
        "Succeeded"
    assert env.submit(other).status_code == 409  # and after it finished
    assert len(env.writes(RESTORE_WRITE)) == 1


def test_the_same_request_sent_at_once_by_many_starts_one_run_and_answers_each(restore_env):
    """Every sender sees no run yet and starts it; the host refuses all starts but the first
    (NonRunningStates), and each loser is answered with the running run, never a 500."""
    from concurrent.futures import ThreadPoolExecutor
    env = restore_env()
    body = env.request(requestId="ticket-race")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: env.submit(body), range(8)))
    assert [a.status_code for a in answers if a.status_code not in (200, 202)] == [], \
        [a.text for a in answers]
    assert {a.json()["id"] for a in answers} == {"restore-ticket-race"}
    assert env.host.wait_for("restore-ticket-race", timeout=120)["output"]["outcome"] == \
        "Succeeded"
    assert len(env.writes(RESTORE_WRITE)) == 1


def test_a_bad_request_gets_problem_details_naming_every_field(restore_env):
    env = restore_env()
    answer = requests.post(env.api, json={"source": {"diskId": "x"}, "target": {}}, timeout=30)
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    fields = {e["field"] for e in answer.json()["errors"]}
    assert fields == {"source.diskId", "target.resourceGroupId", "target.diskName"}
    assert requests.post(env.api, data=b"{not json", timeout=30).status_code == 400
    assert env.sim.audit(write=True) == []


def test_cancel_stops_the_run_and_revokes(restore_env):
    def slow(scenario):
        scenario["durations"]["rolePropagation"] = 3600
    env = restore_env(slow, real_time_scale=100)  # real time: act while the run waits
    answer = env.submit(env.request(requestId="to-cancel"))
    instance_id = answer.json()["id"]
    env.host.wait_for(instance_id, statuses=("Running",))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = requests.get(answer.json()["statusQueryGetUri"], timeout=30).json()
        if status["phase"] == "propagate":
            break
        time.sleep(0.05)
    cancel = requests.post(answer.json()["cancelPostUri"], timeout=30)
    assert cancel.status_code == 202
    env.host.wait_for(instance_id, timeout=120)
    view = requests.get(answer.json()["statusQueryGetUri"], timeout=30).json()
    _done(env, view, "Cancelled")
    assert requests.post(answer.json()["cancelPostUri"], timeout=30).status_code == 409
    assert requests.get(f"{env.api}/nope", timeout=30).status_code == 404


@pytest.mark.parametrize("rule", ["diskExists", "jobRunning"])
def test_a_lost_trigger_answer_retried_by_the_sdk_still_makes_one_restore(restore_env, rule):
    """azure-core re-sends a POST after a 500: the restore already started. As Azure documents
    it (`diskExists`: the name is refused once the disk exists), the retry starts a second job,
    which fails "same name" once the first made the disk, and the run reports its first job's
    restore; with the stricter `jobRunning` the retry is refused and the run finds the job."""
    def scenario(spec):
        spec["sameNameRule"] = rule
        spec["durations"]["restoreJob"] = 120  # fixed: the first job ends first
    env = restore_env(scenario)
    env.sim.add_fault(kind="lostAnswer", status=500, operation=RESTORE_WRITE, count=1)
    result = _done(env, env.run(env.request()))
    assert env.sim.fired_faults(), "the fault never fired: the test proves nothing"
    jobs = [r for r in env.sim.snapshot()["resources"]
            if r.get("type", "").endswith("/backupJobs")
            and r["properties"].get("operation") == "Restore"
            and r["properties"].get("extendedInfo", {}).get("recoveryDestination", "").lower()
            == env.disk("vm-app01-data0-restored", "rg-restore-target").lower()]
    made = [j for j in jobs if j["properties"]["status"] == "Completed"]
    assert len(made) == 1 and made[0]["id"].lower() == result["jobId"].lower()
    assert len(jobs) == (2 if rule == "diskExists" else 1)
    first = min(jobs, key=lambda j: j["properties"]["startTime"])
    assert first["id"].lower() == result["jobId"].lower()  # the run's own first trigger
    assert env.leftover_assignments() == set()


def test_long_waits_continue_as_new_so_no_history_grows_with_the_wait(restore_env):
    """15 minutes of propagation and a 6-minute job: the waits are orchestrations of their own
    that continue as new, so the restore's history and every history replayed stay small; a
    cancel sent to the restore still reaches the wait (it is listed as a child)."""
    def slow(scenario):
        scenario["durations"]["rolePropagation"] = 900
        scenario["durations"]["restoreJob"] = 360
    env = restore_env(slow)
    view = env.run(env.request(requestId="long-wait"), timeout=300)
    _done(env, view)
    assert view["result"]["phases"]["propagate"] >= 900
    probes = [e for e in env.writes("Microsoft.DataProtection/backupVaults/backupInstances/"
                                    "validateRestore/action")]
    assert len(probes) > 3 * 3  # more probes than three generations of the wait hold
    history = env.host.status("restore-long-wait", show_history=True)["historyEvents"]
    assert len(history) < 60, len(history)
    waits = [e for e in history if e["EventType"] == "SubOrchestrationInstanceCompleted"]
    assert len(waits) == 2  # propagation and the job
    assert max(s.history_events for s in env.host.host.engine.stats) < 300
    wait = env.host.status("restore-long-wait:propagate", show_history=True)
    assert wait["runtimeStatus"] == "Completed" and len(wait["historyEvents"]) < 200
