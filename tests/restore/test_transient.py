"""Transient failures over azsim (issue 20, parts 4 and 5): the real SDK clients meet azsim's
injected faults, and the run rides them out on durable timers instead of failing.

* Azure Backup answers a validation with `CloudServiceRetryableError` ("A transient error
  occurred", azure-cli-extensions #3795): the validation is probed again after a backoff.
* A restore job fails with an error the service marks `isRetryable`: nothing was restored, the
  restore is triggered again.
* ARM keeps answering 503 to an attach (AzureUnavailable once the SDK's and the host's retries are
  spent): the attach is tried again after a durable wait, and attaches once.
"""

from __future__ import annotations

VM = "Microsoft.Compute/virtualMachines"
BI = "Microsoft.DataProtection/backupVaults/backupInstances"
VALIDATE = f"{BI}/validateRestore/action"
RESTORE = f"{BI}/restore/action"


def _succeeded(env, view):
    assert view["outcome"] == "Succeeded", view
    assert env.sim.fired_faults(), "the fault never fired: the test proves nothing"
    assert env.leftover_assignments() == set()
    return view["result"]


def _restore_jobs(env):
    return [r for r in env.sim.snapshot()["resources"] if r.get("type", "").endswith("/backupJobs")
            and r["properties"].get("operation") == "Restore"]


def test_a_cloud_service_retryable_validation_is_retried_and_the_run_succeeds(restore_env):
    env = restore_env()
    env.sim.add_fault(kind="lroFailure", operation=VALIDATE, count=1,
                      code="CloudServiceRetryableError",
                      message="A transient error occurred. Please retry the operation after "
                              "some time.")
    result = _succeeded(env, env.run(env.request(), timeout=300))
    assert len(env.writes(VALIDATE)) >= 2
    assert [j["id"].lower() for j in _restore_jobs(env)] == [result["jobId"].lower()]


def test_a_restore_job_failed_with_is_retryable_is_triggered_again(restore_env):
    env = restore_env()
    env.sim.add_fault(kind="jobFailure", count=1, code="CloudInternalError",
                      message="The service encountered an internal error.", isRetryable=True)
    result = _succeeded(env, env.run(env.request(), timeout=300))
    jobs = _restore_jobs(env)
    assert sorted(j["properties"]["status"] for j in jobs) == ["Completed", "Failed"]
    failed = next(j for j in jobs if j["properties"]["status"] == "Failed")
    assert failed["properties"]["errorDetails"][0]["isRetryable"] is True
    assert result["jobId"].lower() != failed["id"].lower()
    assert env.resource(result["restoredDiskId"]) is not None


def test_an_attach_arm_keeps_refusing_with_503_is_ridden_out_and_attaches_once(restore_env):
    env = restore_env()
    # A Retry-After longer than the SDK sleeps through inside an activity (gateway/factory.py):
    # each activity attempt fails at once with AzureUnavailable; six outlast the host's four.
    env.sim.add_fault(kind="status", status=503, retryAfter=60, count=6,
                      operation=f"{VM}/attachDetachDataDisks/action")
    result = _succeeded(env, env.run(env.request(attach={"vmId": env.vm()}), timeout=300))
    vm = env.resource(env.vm())
    attached = [d["managedDisk"]["id"].lower()
                for d in vm["properties"]["storageProfile"]["dataDisks"]]
    assert attached.count(result["restoredDiskId"].lower()) == 1
    assert len(env.sim.fired_faults()) == 6
