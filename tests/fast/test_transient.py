"""Transient failures (issue 20, parts 4 and 5): Azure Backup's transient answers
(CloudServiceRetryableError, the concurrency limit, anything it marks `isRetryable`, 429s) and
steps that fail with AzureUnavailable after the SDK's and the host's retries are ridden out with
durable backoff within a budget, and the progress shows it; permanent answers still end the run
with their fix. In process, on the instant clock (dev/harness)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from harness import estate

from domain import errors
from orchestrations import steps

TRANSIENT_VALIDATIONS = [
    ("CloudServiceRetryableError", None),
    ("UserErrorMaxConcurrentOperationLimitReached", None),
    ("CloudInternalError", True),  # any code the service marks isRetryable
]


def vm(h):
    return h.gateway.vms[estate.VM.lower()]


def assert_nothing_left(h) -> None:
    left = [a for a in h.gateway.assignments.values() if a.created is not None
            and a.deleted is None]
    assert left == [], left


def run_watching_retries(h, run: str, instance: str | None = None) -> list[dict]:
    """Run `run` to its end, recording each `detail.retry` that `instance` (default: the run)
    publishes on the way."""
    seen: list[dict] = []

    def watch() -> bool:
        watched = h.instances.get(instance or run)
        status = watched.custom_status if watched is not None else None
        retry = ((status or {}).get("detail") or {}).get("retry")
        if retry and retry not in seen:
            seen.append(retry)
        return not h.instances[run].running
    h.run(until=watch)
    return seen


# ---- part 4: Azure Backup's transient answers ---------------------------------------------------
@pytest.mark.parametrize(("code", "retryable"), TRANSIENT_VALIDATIONS)
def test_a_transient_validation_answer_is_retried_and_the_restore_succeeds(
        h, restores, code, retryable):
    h.gateway.fail_operation("start_validate_restore", code, "please retry later", times=2,
                             retryable=retryable)
    run = restores.start(restores.request())
    child = f"{run}:propagate"
    seen = run_watching_retries(h, run, child)
    out = h.output(run)
    assert out["outcome"] == "Succeeded", out
    probes = h.gateway.called("start_validate_restore")
    # then probes until the new role has propagated, as ever
    assert len(probes) >= 3
    # durable backoff between the probes (30 s, then 60 s), never a busy loop
    assert probes[1].at - probes[0].at >= timedelta(seconds=30)
    assert probes[2].at - probes[1].at >= timedelta(seconds=60)
    assert [r["attempt"] for r in seen] == [1, 2]
    assert seen[0]["lastError"].startswith(f"{code}: please retry later")
    assert seen[0]["step"] == "start_validate_restore" and seen[0]["nextAt"]
    assert len(h.gateway.jobs) == 1
    assert_nothing_left(h)


@pytest.mark.parametrize(("code", "retryable", "expected", "fix"), [
    ("CloudInvalidInputError", False, "ValidationFailed", None),
    ("UserErrorSubscriptionDiskQuotaLimitReached", None, "ValidationFailed", "disk quota"),
    ("UserErrorDiskSnapshotNotFound", False, "SnapshotNotFound", "another recovery point"),
])
def test_a_permanent_validation_answer_still_ends_the_run_with_its_fix(
        h, restores, code, retryable, expected, fix):
    h.gateway.fail_operation("start_validate_restore", code, "the service says no", times=None,
                             retryable=retryable)
    out = restores.run(restores.request())
    assert out["outcome"] == "Failed"
    assert out["error"]["code"] == expected and code in out["error"]["message"]
    if fix:
        assert fix in out["error"]["hint"]
    assert len(h.gateway.called("start_validate_restore")) == 1
    assert h.gateway.called("start_restore") == []
    assert_nothing_left(h)


def test_a_backup_service_busy_past_the_propagation_budget_fails_with_a_transient_code(
        h, restores):
    h.gateway.fail_operation("start_validate_restore", "CloudServiceRetryableError",
                             "A transient error occurred.", times=None)
    out = restores.run(restores.request())
    assert out["outcome"] == "Failed"
    assert out["error"]["code"] == "BackupServiceBusy", out["error"]
    assert "CloudServiceRetryableError" in out["error"]["message"]
    assert "retry the restore later" in out["error"]["hint"]
    assert 30 * 60 <= out["phases"]["propagate"] < 31 * 60  # the propagation timeout
    probes = h.gateway.called("start_validate_restore")
    assert 5 < len(probes) < 20  # backed off (to 4 minutes), not probed every 20 s
    assert h.gateway.called("start_restore") == []
    assert_nothing_left(h)


def test_a_throttled_validation_start_is_ridden_out_past_the_hosts_attempts(h, restores):
    h.gateway.fail("start_validate_restore", errors.AzureThrottled(
        "ARM throttled 'validateRestore' (SubscriptionRequestsThrottled)"), times=6)
    out = restores.run(restores.request())
    assert out["outcome"] == "Succeeded", out
    calls = h.calls("start_validate_restore")
    assert [c.error is None for c in calls][:7] == [False] * 6 + [True]
    # the host's four attempts 5 s apart, then a durable 30 s wait: ridden out, not spent
    assert calls[4].at - calls[3].at >= timedelta(seconds=steps.BACKOFF_FIRST_S)


def test_a_transient_restore_trigger_is_triggered_again_and_makes_one_job(h, restores):
    h.gateway.fail_operation("start_restore", "UserErrorMaxConcurrentOperationLimitReached",
                             "maximum number of allowed concurrent operations", times=1)
    run = restores.start(restores.request())
    seen = run_watching_retries(h, run)
    out = h.output(run)
    assert out["outcome"] == "Succeeded", out
    assert len(h.gateway.called("start_restore")) == 2
    assert len(h.gateway.jobs) == 1 and out["jobId"] == next(iter(h.gateway.jobs.values())).id
    assert seen and seen[0]["step"] == "start_restore"
    assert seen[0]["lastError"].startswith("UserErrorMaxConcurrentOperationLimitReached")
    assert_nothing_left(h)


def test_a_restore_job_failed_with_a_transient_error_is_triggered_again(h, restores):
    h.gateway.fail_job("CloudServiceRetryableError", "A transient error occurred.")
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out
    jobs = list(h.gateway.jobs.values())
    assert [j.status for j in jobs] == ["Failed", "Completed"]
    assert out["jobId"] == jobs[1].id
    assert {d.lun for d in vm(h).data_disks} == {0, 1, 2}
    assert_nothing_left(h)


def test_a_restore_job_failed_for_good_is_not_triggered_again(h, restores):
    h.gateway.fail_job("UserErrorDiskSnapshotNotFound", "gone", retryable=False)
    out = restores.run(restores.request())
    assert out["outcome"] == "Failed" and out["error"]["code"] == "RestoreJobFailed"
    assert len(h.gateway.jobs) == 1


def test_job_tracking_rides_out_an_unreachable_arm(h, restores):
    h.gateway.fail("get_restore_job", errors.AzureUnavailable(
        "could not reach ARM: ServiceResponseError: Connection aborted."), times=6)
    out = restores.run(restores.request())
    assert out["outcome"] == "Succeeded", out
    assert len(h.gateway.jobs) == 1


# ---- part 5: riding out AzureUnavailable ---------------------------------------------------------
def test_an_attach_that_cannot_reach_arm_is_ridden_out_and_the_progress_shows_it(h, restores):
    h.gateway.fail("start_attach_data_disk", errors.AzureUnavailable(
        "could not reach ARM for attach: ServiceResponseError: ('Connection aborted.')"),
        times=6)
    run = restores.start(restores.request(attach={"vmId": estate.VM}))
    seen = run_watching_retries(h, run)
    out = h.output(run)
    assert out["outcome"] == "Succeeded", out
    assert {d.lun for d in vm(h).data_disks} == {0, 1, 2}
    assert seen[0]["step"] == "start_attach_data_disk" and seen[0]["attempt"] == 1
    assert seen[0]["lastError"].startswith("AzureUnavailable: could not reach ARM")
    assert "retry" not in (h.custom_status(run) or {}).get("detail", {})
    assert_nothing_left(h)


def test_an_attach_whose_answer_was_lost_is_attached_once(h, restores):
    h.gateway.lose_answer("start_attach_data_disk", errors.AzureUnavailable("502 from ARM"),
                          times=6)
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out
    restored = out["restoredDiskId"].lower()
    assert [d.disk_id.lower() for d in vm(h).data_disks].count(restored) == 1


@pytest.mark.parametrize("step", ["start_deallocate_vm", "start_set_os_disk", "start_start_vm",
                                  "get_operation"])
def test_a_swap_step_that_cannot_reach_arm_is_ridden_out(h, restores, step):
    when = None
    if step == "get_operation":
        def when(operation):  # the swap's own operations only
            return operation.kind in ("deallocate", "swap", "start")
    h.gateway.lose_answer(step, errors.AzureUnavailable(
        "could not reach ARM: ServiceResponseError: Connection aborted."), times=6, when=when)
    out = restores.run(restores.request(estate.OS_DISK, swapOsDisk={"vmId": estate.VM}))
    assert out["outcome"] == "Succeeded", out
    assert vm(h).os_disk_id.lower() == out["restoredDiskId"].lower()
    assert vm(h).power_state == "running"
    assert_nothing_left(h)


def test_an_outage_longer_than_the_step_budget_fails_the_step(h, restores):
    h.gateway.fail("start_attach_data_disk", errors.AzureUnavailable(
        "could not reach ARM: ServiceResponseError: Connection aborted."), times=None)
    out = restores.run(restores.request(attach={"vmId": estate.VM}))
    assert out["outcome"] == "Failed"
    assert out["error"]["code"] == "AzureUnavailable", out["error"]
    assert "durable retries over" in out["error"]["message"]
    assert "retry the restore later" in out["error"]["hint"]
    calls = h.calls("start_attach_data_disk")
    assert calls[-1].at - calls[0].at <= timedelta(seconds=steps.STEP_BUDGET_S + 60)
    assert calls[-1].at - calls[0].at >= timedelta(seconds=steps.STEP_BUDGET_S - 60)
    assert len(vm(h).data_disks) == 2
    assert_nothing_left(h)


def test_a_grant_throttled_past_the_budget_fails_with_the_transient_code(h, restores):
    h.gateway.fail("grant_role", errors.AzureThrottled("429 from ARM"), times=None)
    out = restores.run(restores.request())
    assert out["outcome"] == "Failed" and out["error"]["code"] == "AzureThrottled"
    assert h.gateway.called("start_validate_restore") == []


def test_a_cancel_during_a_backoff_wait_ends_the_run_at_once(h, restores):
    h.gateway.fail_operation("start_validate_restore", "CloudServiceRetryableError",
                             "A transient error occurred.", times=None)
    run = restores.start(restores.request())
    child = f"{run}:propagate"
    h.run(until=lambda: child in h.instances and (
        (h.custom_status(child) or {}).get("detail") or {}).get("retry")
        and "timer" in h.awaiting(child))
    probed = len(h.gateway.called("start_validate_restore"))
    restores.cancel(run)
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Cancelled", out
    assert len(h.gateway.called("start_validate_restore")) == probed
    assert h.gateway.called("start_restore") == []
    assert_nothing_left(h)


def test_a_cancel_during_a_ride_out_wait_of_the_attach_does_not_stop_it(h, restores):
    h.gateway.fail("start_attach_data_disk", errors.AzureUnavailable("connection aborted"),
                   times=5)
    run = restores.start(restores.request(attach={"vmId": estate.VM}))
    h.run(until=lambda: ((h.custom_status(run) or {}).get("detail") or {}).get("retry"))
    restores.cancel(run)
    h.run()
    assert h.output(run)["outcome"] == "Succeeded"
    assert {d.lun for d in vm(h).data_disks} == {0, 1, 2}


def test_backoff_doubles_to_its_ceiling():
    assert [steps.backoff_s(n) for n in range(1, 7)] == [30, 60, 120, 240, 240, 240]
