"""Every branch of the restore runbook (restore_managed_disk and its two waits), in process:
the real orchestrators and activities against the fake Azure, on the instant clock. Each test
checks the outcome, what Azure saw (the fake gateway's calls and state) and that nothing the
run granted is left behind."""

from __future__ import annotations

from datetime import timedelta

import harness
import pytest
from harness import estate

from domain import errors
from domain.restore.planning import DISK_RESTORE_OPERATOR, READER
from orchestrations import steps

PRINCIPAL = estate.VAULT_PRINCIPAL


def granted(h) -> list[str]:
    """Ids of the role assignments the runs made (PUTs that created one)."""
    return sorted({c.args[0].assignment_name for c in h.gateway.called("grant_role")})


def revoked(h) -> list[str]:
    return [c.args[0] for c in h.gateway.called("revoke_role")]


def assert_nothing_left(h) -> None:
    """No role assignment of any run is left: only the estate's own (from the start)."""
    left = [a for a in h.gateway.assignments.values() if a.created is not None
            and a.deleted is None]
    assert left == [], left


def disk(h, name: str):
    return h.gateway.disks.get(estate.disk_id(name, "rg-restore-target").lower())


def vm(h):
    return h.gateway.vms[estate.VM.lower()]


# ---- happy paths --------------------------------------------------------------------------------
def test_restore_only_creates_the_disk_and_revokes_the_one_grant_once(h, restores):
    out = restores.run(restores.request())
    assert out["outcome"] == "Succeeded", out
    assert out["restoredDiskId"].lower() == estate.disk_id("vm-app01-data0-restored",
                                                           "rg-restore-target").lower()
    made = disk(h, "vm-app01-data0-restored")
    assert made is not None and made.size_gb == 256 and made.managed_by is None
    [grant] = out["roleAssignments"]
    assert grant["role"] == DISK_RESTORE_OPERATOR and grant["revoked"] is True
    assert revoked(h) == [grant["id"]]  # exactly once
    assert len(h.gateway.called("start_restore")) == 1
    assert set(out["phases"]) == {"plan", "grant", "propagate", "restore", "track",
                                  "properties", "revoke"}
    # the wait for the role took the fake's propagation delay, no fixed sleep
    assert 240 <= out["phases"]["propagate"] < 240 + 60
    assert_nothing_left(h)
    # what the run lists show (GET /api/restores reads the custom status, not the input)
    status = h.custom_status(out["id"])
    assert status["phase"] == "done" and status["assignments"] == []
    assert status["subject"] == {"source": {"diskId": estate.DATA0},
                                 "target": {"resourceGroupId": estate.TARGET,
                                            "diskName": "vm-app01-data0-restored"},
                                 "dryRun": False,
                                 "requestedBy": {"kind": "key", "id": None, "name": None}}
    assert all(span["end"] for span in status["phases"].values())


def test_restore_and_attach_puts_the_disk_on_the_lowest_free_lun(h, restores):
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out
    assert out["attach"]["lun"] == 2  # the demo VM uses LUNs 0 and 1
    luns = {d.lun: d.disk_id.lower() for d in vm(h).data_disks}
    assert luns[2] == out["restoredDiskId"].lower()
    assert disk(h, "vm-app01-data0-restored").managed_by == estate.VM
    assert len(revoked(h)) == 1
    assert_nothing_left(h)


SWAP_STEPS = ("start_power_off_vm", "start_deallocate_vm", "start_set_os_disk", "start_start_vm")


@pytest.mark.parametrize(("requires", "steps", "stopped_with"), [
    # Compute wants the VM deallocated (the 2018 documents): the power off is not enough, the
    # refused OS-disk change is answered by deallocating and trying again
    ("deallocated", ["start_power_off_vm", "start_set_os_disk", "start_deallocate_vm",
                     "start_set_os_disk", "start_start_vm"], "powerOff, deallocate"),
    # a stopped VM is enough, or no stop at all (the newer documents): it keeps its hardware
    ("stopped", ["start_power_off_vm", "start_set_os_disk", "start_start_vm"], "powerOff"),
    ("none", ["start_power_off_vm", "start_set_os_disk", "start_start_vm"], "powerOff"),
])
def test_os_disk_swap_powers_the_vm_off_points_it_at_the_restored_disk_and_starts_it(
        h, restores, requires, steps, stopped_with):
    h.gateway.os_disk_swap_requires = requires
    out = restores.run(restores.request(estate.OS_DISK, swapOsDisk={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out.get("error")
    assert vm(h).os_disk_id.lower() == out["restoredDiskId"].lower()
    assert vm(h).power_state == "running" and out["swap"]["wasRunning"] is True
    assert out["swap"]["stoppedWith"] == stopped_with
    assert h.gateway.disks[estate.OS_DISK.lower()].managed_by is None  # the original is kept
    assert [c.method for c in h.gateway.calls if c.method in SWAP_STEPS] == steps
    assert_nothing_left(h)


@pytest.mark.parametrize("power", ["deallocated", "stopped"])
def test_a_vm_that_is_not_running_at_swap_time_is_swapped_and_left_as_it_was(
        h, restores, power):
    # running at plan time; someone stopped it while the restore ran: the swap reads it again
    h.gateway.os_disk_swap_requires = "stopped"
    run = restores.start(restores.request(estate.OS_DISK, swapOsDisk={"vmId": estate.VM}))
    h.run(until=lambda: h.gateway.called("start_restore"))
    vm(h).power_state = power
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Succeeded", out.get("error")
    assert vm(h).os_disk_id.lower() == out["restoredDiskId"].lower()
    assert vm(h).power_state == power and out["swap"]["wasRunning"] is False
    assert "stoppedWith" not in out["swap"]
    assert [c.method for c in h.gateway.calls if c.method in SWAP_STEPS] == \
        ["start_set_os_disk"]


def test_a_cmk_disk_also_gets_reader_on_its_encryption_set_and_loses_it(h, restores):
    out = restores.run(restores.request(estate.DATA1))
    assert out["outcome"] == "Succeeded", out
    roles = {a["role"]: a for a in out["roleAssignments"]}
    assert set(roles) == {DISK_RESTORE_OPERATOR, READER}
    assert roles[READER]["scope"] == estate.DES
    assert sorted(revoked(h)) == sorted(a["id"] for a in out["roleAssignments"])
    assert disk(h, "vm-app01-data1-restored").encryption_set_id == estate.DES
    assert_nothing_left(h)


def test_a_dry_run_returns_the_plan_and_changes_nothing(h, restores):
    out = restores.run(restores.request(attach={"vmId": estate.VM}, dryRun=True))
    assert out["outcome"] == "DryRun"
    assert out["plan"]["attach"]["lun"] == 2
    assert [g["roleName"] for g in out["plan"]["grants"]] == ["Disk Restore Operator"]
    writes = [c.method for c in h.gateway.calls
              if c.method.startswith("start_") or c.method in ("grant_role", "revoke_role")]
    assert writes == []


def test_an_existing_equivalent_assignment_is_used_and_never_revoked(h, restores):
    theirs = h.gateway.assign(estate.TARGET, DISK_RESTORE_OPERATOR, PRINCIPAL)
    out = restores.run(restores.request())
    assert out["outcome"] == "Succeeded", out
    [grant] = out["roleAssignments"]
    assert grant["id"] == theirs.id and grant["preExisting"] is True
    assert grant["revoked"] is False and revoked(h) == []
    assert h.gateway.assignments[theirs.id.lower()].deleted is None
    assert out["phases"]["propagate"] < 60  # in effect already: the first probe passes


# ---- grant ----------------------------------------------------------------------------------
def test_a_grant_the_app_may_not_make_fails_the_run_before_anything_else(h, restores):
    h.gateway.fail("grant_role", errors.AppNotAuthorized(
        "the app's identity may not perform 'Microsoft.Authorization/roleAssignments/write' "
        f"on '{estate.TARGET}'"))
    out = restores.run(restores.request())
    assert out["outcome"] == "Failed"
    assert out["error"]["code"] == "AppNotAuthorized"
    assert "roleAssignments/write" in out["error"]["message"]
    assert out["roleAssignments"] == [] and revoked(h) == []
    assert h.gateway.called("start_validate_restore") == []
    assert h.gateway.called("start_restore") == []


def test_a_failed_second_grant_revokes_the_first_exactly_once(h, restores):
    h.gateway.fail("grant_role", errors.AppNotAuthorized("no write on the DES"),
                   when=lambda grant: grant.role_definition_guid == READER)
    out = restores.run(restores.request(estate.DATA1))
    assert out["outcome"] == "Failed" and out["error"]["code"] == "AppNotAuthorized"
    [first] = out["roleAssignments"]
    assert first["role"] == DISK_RESTORE_OPERATOR and first["revoked"] is True
    assert revoked(h) == [first["id"]]
    assert_nothing_left(h)


def test_a_throttled_grant_is_retried_by_the_host_and_the_restore_goes_on(h, restores):
    h.gateway.fail("grant_role", errors.AzureThrottled("429 from ARM"), times=2)
    out = restores.run(restores.request())
    assert out["outcome"] == "Succeeded", out
    attempts = h.calls("grant_role")
    assert [c.error is None for c in attempts] == [False, False, True]
    # two retry intervals (5 s, steps.RETRY) between the attempts, on the instant clock
    assert attempts[2].at - attempts[0].at == timedelta(seconds=10)
    assert_nothing_left(h)


def test_a_grant_throttled_past_every_attempt_fails_with_the_transient_code(h, restores):
    h.gateway.fail("grant_role", errors.AzureThrottled("429 from ARM"), times=None)
    out = restores.run(restores.request())
    assert out["outcome"] == "Failed"
    assert out["error"]["code"] == "AzureThrottled", out["error"]
    # steps.RETRY's four attempts, then ridden out on durable timers until the step's budget
    calls = h.calls("grant_role")
    assert len(calls) > 4
    assert calls[-1].at - calls[0].at >= timedelta(seconds=steps.STEP_BUDGET_S - 60)


# ---- propagation ---------------------------------------------------------------------------------
def test_slow_propagation_is_probed_and_the_progress_shows_the_wait(h, restores):
    h.gateway.propagation = timedelta(minutes=3)
    run = restores.start(restores.request())
    child = f"{run}:propagate"
    restores.until_waiting(child, "timer")
    h.run(until=lambda: (h.custom_status(child) or {}).get("detail", {}).get("lastError"))
    view = restores.view(run)
    assert view["phase"] == "propagate" and view["done"] is False
    assert view["progress"]["wait"] == child
    assert view["progress"]["lastError"] == "UserErrorNotEnoughPermissionOnTargetRG"
    assert h.custom_status(run)["assignments"] != []  # published for the sweeper at once
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Succeeded", out
    probes = h.gateway.called("start_validate_restore")
    assert len(probes) > 2
    assert h.gateway.has_role(PRINCIPAL, DISK_RESTORE_OPERATOR, estate.TARGET,
                              probes[-1].at + timedelta(seconds=30))


def test_propagation_that_never_completes_times_out_revokes_and_restores_nothing(h, restores):
    h.gateway.propagation = timedelta(hours=2)  # longer than the 30-minute timeout
    out = restores.run(restores.request())
    assert out["outcome"] == "Failed"
    assert out["error"]["code"] == "PropagationTimedOut", out["error"]
    assert "still lacks permissions" in out["error"]["message"]
    assert h.gateway.called("start_restore") == []
    assert len(revoked(h)) == 1
    assert 30 * 60 <= out["phases"]["propagate"] < 31 * 60
    # the wait continued as new every few probes: no history grows with the wait
    assert h.instances[f"{out['id']}:propagate"].generations > 5
    assert_nothing_left(h)


@pytest.mark.parametrize(("code", "expected"), [
    ("UserErrorDiskSnapshotNotFound", "SnapshotNotFound"),
    ("UserErrorDESKeyVaultKeyDisabled", "EncryptionKeyUnavailable"),
    ("UserErrorSomethingNew", "ValidationFailed")])
def test_a_validation_failure_other_than_permissions_ends_the_run_with_its_code(
        h, restores, code, expected):
    h.gateway.fail_operation("start_validate_restore", code, "the service says no")
    out = restores.run(restores.request())
    assert out["outcome"] == "Failed"
    assert out["error"]["code"] == expected and code in out["error"]["message"]
    assert len(h.gateway.called("start_validate_restore")) == 1  # no probing on
    assert h.gateway.called("start_restore") == []
    assert_nothing_left(h)


# ---- restore and track --------------------------------------------------------------------------
def test_a_lost_trigger_answer_retried_by_the_host_still_makes_one_restore_job(h, restores):
    """Azure's stricter reading (the name refused while a job creates the disk): the re-sent
    trigger is refused "same name" and the run finds the first job."""
    h.gateway.same_name_rule = "jobRunning"
    h.gateway.lose_answer("start_restore", errors.AzureUnavailable("502 from ARM"))
    out = restores.run(restores.request())
    assert out["outcome"] == "Succeeded", out
    assert len(h.gateway.called("start_restore")) == 2
    assert len(h.gateway.jobs) == 1 and len(h.gateway.called("find_restore_job")) == 1
    assert out["jobId"] == next(iter(h.gateway.jobs.values())).id
    assert_nothing_left(h)


def test_a_lost_trigger_answer_under_the_documented_rule_adopts_the_job_that_made_the_disk(
        h, restores):
    """As Azure documents it (the name refused once the disk exists): the re-sent trigger starts
    a second job, which fails "same name" when the first made the disk. The run's own first
    trigger restored it: Succeeded, with that job."""
    h.gateway.same_name_rule = "diskExists"
    h.gateway.lose_answer("start_restore", errors.AzureUnavailable("502 from ARM"))
    out = restores.run(restores.request())
    assert out["outcome"] == "Succeeded", out
    first, second = sorted(h.gateway.jobs.values(), key=lambda j: j.started)
    assert (first.status, second.status) == ("Completed", "Failed")
    assert second.error is not None and second.error[0] == "UserErrorSameNameDiskAlreadyExists"
    assert out["jobId"] == first.id and out["restoredDiskId"] == first.target_disk_id
    assert_nothing_left(h)


def test_a_job_of_another_recovery_point_to_the_same_name_is_not_taken_for_this_runs(h, restores):
    """Only a job of this plan's backup instance, recovery point and target, started since the
    run began, is this run's: a same-name failure with no such job stays a failure."""
    h.gateway.same_name_rule = "diskExists"
    h.gateway.fail_job("UserErrorSameNameDiskAlreadyExists", "Could not restore as a Disk with "
                       "same name already exists in the selected target resource group")
    out = restores.run(restores.request())
    assert out["outcome"] == "Failed"
    assert "UserErrorSameNameDiskAlreadyExists" in out["error"]["message"]
    assert len(h.gateway.called("find_restore_job")) == 1


def test_a_failed_restore_job_fails_the_run_revokes_and_attaches_nothing(h, restores):
    h.gateway.fail_job("UserErrorDiskCreationFailed", "the disk could not be created")
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Failed"
    assert out["error"]["code"] == "RestoreJobFailed"
    assert "UserErrorDiskCreationFailed" in out["error"]["message"]
    assert out["restoredDiskId"] is None and out["jobId"] is None
    assert h.gateway.called("start_attach_data_disk") == []
    assert len(revoked(h)) == 1


def test_a_job_that_outlasts_its_timeout_fails_the_run(h, restores, monkeypatch):
    monkeypatch.setenv("RESTORE_JOB_TIMEOUT_MINUTES", "2")  # the fake's job takes 4.5 minutes
    out = restores.run(restores.request())
    assert out["outcome"] == "Failed"
    assert out["error"]["code"] == "RestoreTimedOut", out["error"]
    assert len(revoked(h)) == 1


def test_the_job_progress_is_shown_while_it_runs(h, restores):
    run = restores.start(restores.request())
    child = f"{run}:track"
    h.run(until=lambda: "timer" in h.awaiting(child))
    view = restores.view(run)
    assert view["phase"] == "track" and view["progress"]["wait"] == child
    assert view["progress"]["jobStatus"] == "InProgress"
    [job] = h.gateway.jobs.values()
    assert view["progress"]["jobId"] == job.id


# ---- attach ---------------------------------------------------------------------------------
def test_a_refused_attach_fails_naming_the_restored_disk_to_attach_by_hand(h, restores):
    h.gateway.refuse("start_attach_data_disk", "OperationNotAllowed", "too many data disks")
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Failed"
    assert out["error"]["code"] == "AttachFailed"
    assert "too many data disks" in out["error"]["message"]
    assert "attach it by hand" in out["error"]["hint"]
    assert disk(h, "vm-app01-data0-restored") is not None
    assert len(vm(h).data_disks) == 2
    assert len(revoked(h)) == 1


def test_a_vm_busy_with_another_operation_is_waited_for_then_attached(h, restores):
    h.gateway.refuse("start_attach_data_disk", "Conflict", "a concurrent request", times=2)
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out
    assert len(h.gateway.called("start_attach_data_disk")) == 3
    assert {d.lun for d in vm(h).data_disks} == {0, 1, 2}


# ---- swap and its rollback --------------------------------------------------------------------
def test_a_failed_os_disk_update_leaves_the_original_and_starts_the_vm_again(h, restores):
    h.gateway.fail_operation("start_set_os_disk", "OperationNotAllowed", "simulated refusal",
                             times=None, when=lambda vm_id, disk_id: disk_id != estate.OS_DISK)
    out = restores.run(restores.request(estate.OS_DISK, swapOsDisk={"vmId": estate.VM}))
    assert out["outcome"] == "Failed"
    assert out["error"]["code"] == "SwapFailed"
    assert out["error"]["message"] == (
        "start_set_os_disk: OperationNotAllowed: simulated refusal; the original OS disk is "
        "still on the VM, which is running")
    assert vm(h).os_disk_id == estate.OS_DISK and vm(h).power_state == "running"
    assert h.gateway.disks[estate.OS_DISK.lower()].managed_by == estate.VM
    assert len(revoked(h)) == 1
    assert_nothing_left(h)


def test_a_restored_disk_that_does_not_start_is_swapped_back_out(h, restores):
    h.gateway.fail_operation("start_start_vm", "VMAgentStatusCommunicationError", "no boot",
                             times=1)
    out = restores.run(restores.request(estate.OS_DISK, swapOsDisk={"vmId": estate.VM}))
    assert out["outcome"] == "Failed" and out["error"]["code"] == "SwapFailed"
    assert "the original OS disk is back on the VM" in out["error"]["message"]
    assert vm(h).os_disk_id == estate.OS_DISK and vm(h).power_state == "running"
    restored = disk(h, "vm-app01-osdisk-restored")
    assert restored is not None and restored.managed_by is None


def test_a_rollback_that_cannot_start_the_vm_says_the_original_disk_is_back_but_stopped(
        h, restores):
    # only the start fails, in the swap and in the rollback: the rollback itself did its part
    h.gateway.fail_operation("start_start_vm", "AllocationFailed", "no capacity", times=2)
    out = restores.run(restores.request(estate.OS_DISK, swapOsDisk={"vmId": estate.VM}))
    assert out["outcome"] == "Failed" and out["error"]["code"] == "SwapFailed"
    assert vm(h).os_disk_id == estate.OS_DISK and vm(h).power_state == "deallocated"
    assert out["error"]["message"] == (
        "start_start_vm: AllocationFailed: no capacity; the original OS disk is back on the VM, "
        "but the VM did not start again (start_start_vm: AllocationFailed: no capacity): it is "
        "deallocated: start it by hand")
    assert "ROLLBACK FAILED" not in out["error"]["message"]


def test_a_rollback_that_cannot_put_the_original_back_names_the_disk_in_place(h, restores):
    h.gateway.fail_operation("start_start_vm", "VMAgentStatusCommunicationError", "no boot")
    h.gateway.fail_operation("start_set_os_disk", "OperationNotAllowed", "locked",
                             when=lambda vm_id, disk_id: disk_id == estate.OS_DISK)
    out = restores.run(restores.request(estate.OS_DISK, swapOsDisk={"vmId": estate.VM}))
    restored = estate.disk_id("vm-app01-osdisk-restored", "rg-restore-target")
    assert vm(h).os_disk_id.lower() == restored.lower()
    assert out["error"]["message"].endswith(
        f"the OS disk of {estate.VM} is {vm(h).os_disk_id} and the VM is deallocated: set its "
        f"OS disk back to {estate.OS_DISK} and start it by hand"), out["error"]["message"]


def test_a_cancel_during_the_swap_does_not_stop_it_half_way(h, restores):
    run = restores.start(restores.request(estate.OS_DISK, swapOsDisk={"vmId": estate.VM}))
    h.run(until=lambda: h.gateway.called("start_deallocate_vm") and
          "timer" in h.awaiting(run))
    restores.cancel(run)
    h.run()
    out = h.output(run)
    # no wait after the swap notices the cancel: the swap completes and the run with it
    assert out["outcome"] == "Succeeded", out
    assert vm(h).os_disk_id.lower() == out["restoredDiskId"].lower()
    assert vm(h).power_state == "running"
    assert_nothing_left(h)


def test_a_cancel_during_the_attach_does_not_stop_it(h, restores):
    run = restores.start(restores.request(attach={"vmId": estate.VM}))
    h.run(until=lambda: h.gateway.called("start_attach_data_disk") and
          "timer" in h.awaiting(run))
    restores.cancel(run)
    h.run()
    assert h.output(run)["outcome"] == "Succeeded"
    assert {d.lun for d in vm(h).data_disks} == {0, 1, 2}
    assert_nothing_left(h)


# ---- cancel -----------------------------------------------------------------------------------
def test_a_cancel_during_propagation_stops_the_probes_revokes_and_restores_nothing(h, restores):
    run = restores.start(restores.request())
    restores.until_waiting(f"{run}:propagate", "timer")
    answer = restores.cancel(run)
    assert answer["appliedTo"] == [run, f"{run}:propagate"]
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Cancelled", out
    assert out["error"]["code"] == "Cancelled"
    assert h.gateway.called("start_restore") == []
    assert len(revoked(h)) == 1
    assert restores.view(run)["done"] is True
    assert_nothing_left(h)


def test_a_cancel_during_job_tracking_ends_the_run_and_revokes(h, restores):
    run = restores.start(restores.request(attach={"vmId": estate.VM}))
    restores.until_waiting(f"{run}:track", "timer")
    restores.cancel(run)
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Cancelled", out
    assert h.gateway.called("start_attach_data_disk") == []
    assert len(revoked(h)) == 1
    # Azure Backup cannot cancel a disk restore: the job finishes and its disk stays
    assert len(h.gateway.jobs) == 1
    assert_nothing_left(h)


def test_a_cancel_while_an_operation_is_polled_stops_the_wait_at_once(h, restores):
    run = restores.start(restores.request())
    child = f"{run}:propagate"
    h.run(until=lambda: h.gateway.called("start_validate_restore") and
          "timer" in h.awaiting(child))
    polled = len(h.gateway.called("get_operation"))
    restores.cancel(run)
    h.run()
    assert h.output(run)["outcome"] == "Cancelled"
    assert h.output(child)["error"]["code"] == "Cancelled"
    # the timer lost to the cancel: not one more poll of the operation
    assert len(h.gateway.called("get_operation")) == polled
    assert len(h.gateway.called("start_validate_restore")) == 1


# ---- approval -----------------------------------------------------------------------------------
def test_an_approved_attach_goes_ahead_after_the_roles_are_gone(h, restores):
    run = restores.submit(restores.request(attach={"vmId": estate.VM}), approval_minutes=30)
    restores.until_waiting(run, "event:approval")
    view = restores.view(run)
    assert view["phase"] == "approval"
    assert view["progress"]["action"] == "attach" and view["progress"]["vmId"] == estate.VM
    assert view["progress"]["restoredDiskId"].endswith("/vm-app01-data0-restored")
    assert view["progress"]["expires"] == (h.clock + timedelta(minutes=30)).isoformat()
    assert h.custom_status(run)["assignments"] == []  # revoked before a person's wait
    assert_nothing_left(h)
    answer = restores.decide(run, approve=True, by="bob", comment="ticket 42")
    assert answer["appliedTo"] == [run]
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Succeeded", out
    assert out["approval"]["approved"] is True and out["approval"]["by"] == "bob"
    assert {d.lun for d in vm(h).data_disks} == {0, 1, 2}
    assert len(revoked(h)) == 1  # revoked once, before the wait, not again after


def test_a_rejected_swap_deletes_the_restored_disk_and_leaves_the_vm(h, restores):
    run = restores.submit(restores.request(estate.OS_DISK, swapOsDisk={"vmId": estate.VM}),
                          approval_minutes=30)
    restores.until_waiting(run, "event:approval")
    restores.decide(run, approve=False, by="bob", comment="wrong point")
    h.run()
    out = h.output(run)
    assert out["outcome"] == "NotApproved"
    assert out["error"]["code"] == "ApprovalRejected"
    assert "bob rejected the swap" in out["error"]["message"]
    assert "wrong point" in out["error"]["message"]
    assert disk(h, "vm-app01-osdisk-restored") is None
    assert vm(h).os_disk_id == estate.OS_DISK and vm(h).power_state == "running"
    assert h.gateway.called("start_deallocate_vm") == []
    assert_nothing_left(h)


def test_an_approval_nobody_gives_in_time_deletes_the_restored_disk(h, restores):
    run = restores.submit(restores.request(attach={"vmId": estate.VM}), approval_minutes=30)
    restores.until_waiting(run, "event:approval")
    waiting_since = h.clock
    h.run()
    out = h.output(run)
    assert out["outcome"] == "NotApproved"
    assert out["error"]["code"] == "ApprovalTimedOut"
    assert "30 minutes" in out["error"]["message"]
    assert h.clock - waiting_since >= timedelta(minutes=30)
    assert disk(h, "vm-app01-data0-restored") is None
    assert len(vm(h).data_disks) == 2
    assert_nothing_left(h)


def test_a_rejection_whose_disk_cannot_be_deleted_says_to_delete_it_by_hand(h, restores):
    h.gateway.fail_operation("start_delete_disk", "OperationNotAllowed", "locked")
    run = restores.submit(restores.request(attach={"vmId": estate.VM}), approval_minutes=30)
    restores.until_waiting(run, "event:approval")
    restores.decide(run, approve=False)
    h.run()
    out = h.output(run)
    assert out["outcome"] == "NotApproved" and out["error"]["code"] == "ApprovalRejected"
    assert "could not be deleted (OperationNotAllowed): delete it by hand" in \
        out["error"]["message"]
    assert disk(h, "vm-app01-data0-restored") is not None


def test_a_cancel_during_the_approval_wait_ends_the_run(h, restores):
    run = restores.submit(restores.request(attach={"vmId": estate.VM}), approval_minutes=30)
    restores.until_waiting(run, "event:approval")
    restores.cancel(run)
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Cancelled", out
    assert h.gateway.called("start_attach_data_disk") == []
    assert len(vm(h).data_disks) == 2
    # restored only for the decision, and no VM uses it: deleted, as on a rejection
    assert disk(h, "vm-app01-data0-restored") is None
    assert h.gateway.called("start_delete_disk")


# ---- revoke --------------------------------------------------------------------------------
def test_a_revoke_that_fails_is_reported_and_left_for_the_sweeper(h, restores):
    h.gateway.fail("revoke_role", errors.AppNotAuthorized("no delete"), times=None)
    out = restores.run(restores.request())
    assert out["outcome"] == "Succeeded"
    [grant] = out["roleAssignments"]
    assert grant["revoked"].startswith("not revoked:"), grant
    # still published in the custom status: what the role sweeper revokes
    assert h.custom_status(out["id"])["assignments"] == [grant["id"]]


def test_the_same_request_twice_makes_one_run(h, restores):
    body = restores.request()
    first = restores.start(body)
    again = h.http("POST", "/api/restores", body)
    assert again.status_code == 200 and first in again.get_body().decode()
    h.run()
    assert len(h.gateway.called("start_restore")) == 1


def test_a_missing_target_resource_group_is_refused_at_plan(h, restores):
    body = restores.request()
    body["target"]["resourceGroupId"] = estate.rg("rg-nowhere")
    out = restores.run(body)
    assert out["outcome"] == "Failed" and out["error"]["code"] == "TargetResourceGroupNotFound"
    assert h.gateway.called("grant_role") == []


def test_the_same_restore_twice_asks_azure_for_the_same_things_in_the_same_order(h, restores):
    """The harness does not replay; a cheap determinism check instead: a second run of the same
    script in a fresh harness makes the same calls with the same inputs and ends the same."""
    body = restores.request(estate.OS_DISK, swapOsDisk={"vmId": estate.VM})
    first = restores.run(body)
    h.__exit__()
    with harness.demo() as again:
        second = type(restores)(again).run(body)
        assert [(c.name, c.input) for c in again.activity_calls] == \
            [(c.name, c.input) for c in h.activity_calls]
    assert second == first
    h.__enter__()  # the fixture takes it out again
