"""Contract: validateRestore as the propagation probe, restore started and polled, the job found
and tracked, a second trigger refused, synchronous refusals read like asynchronous failures."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from domain.model import Operation, OperationStatus

if TYPE_CHECKING:
    from conftest import Env


def test_validate_fails_until_the_grant_has_propagated(env: Env) -> None:
    plan = env.plan()

    before = env.plane.start_validate_restore(plan)
    assert before.kind == "validate"
    assert before.status_url is not None and "/operationStatus/" in before.status_url
    assert before.result_url is not None and "/operationResults/" in before.result_url
    assert before.retry_after is None  # Data Protection sends none
    assert env.plane.get_operation(before) == OperationStatus("running")
    denied = env.finish(before, 45)
    assert (denied.state, denied.error_code) == ("failed", "UserErrorNotEnoughPermissionOnTargetRG")
    assert denied.error_message

    env.plane.grant_role(plan.grants[0])
    early = env.finish(env.plane.start_validate_restore(plan), 45)
    assert early.error_code == "UserErrorNotEnoughPermissionOnTargetRG"

    env.advance(240)  # the scenario's rolePropagation
    assert env.finish(env.plane.start_validate_restore(plan), 45) == OperationStatus("succeeded")


def test_restore_runs_to_a_completed_job_that_find_restore_job_finds(granted: Env) -> None:
    env = granted
    plan = env.plan("restored-data0")
    assert env.plane.find_restore_job(plan) is None

    operation = env.plane.start_restore(plan)
    assert operation.kind == "restore" and operation.status_url
    assert env.plane.get_operation(operation).state == "running"
    status = env.finish(operation, 5)
    assert status.state == "succeeded"
    job_id = status.job_id
    assert job_id is not None and job_id.lower().startswith(f"{env.vault}/backupJobs/".lower())

    job = env.plane.get_restore_job(job_id)
    assert (job.id.lower(), job.status, job.finished) == (job_id.lower(), "InProgress", False)
    assert job.restored_disk_id is not None
    assert job.restored_disk_id.lower() == plan.target_disk_id.lower()
    assert job.started is not None
    assert env.plane.find_restore_job(plan) == job
    assert env.plane.get_disk(plan.target_disk_id) is None

    env.advance(361)
    done = env.plane.get_restore_job(job_id)
    assert (done.status, done.succeeded, done.error_code) == ("Completed", True, None)
    assert env.plane.find_restore_job(plan) == done
    restored = env.plane.get_disk(plan.target_disk_id)
    assert restored is not None and (restored.size_gb, restored.state) == (256, "Unattached")


def test_find_restore_job_ignores_jobs_from_before_the_plan_and_other_targets(granted: Env
                                                                              ) -> None:
    env = granted
    plan = env.plan("restored-data0")
    job_id = env.finish(env.plane.start_restore(plan), 5).job_id
    assert job_id is not None

    later = replace(plan, created=(env.clock.now() + timedelta(hours=1)).isoformat())
    assert env.plane.find_restore_job(later) is None
    other_target = replace(plan, target_disk_id=plan.target_disk_id.upper())
    assert env.plane.find_restore_job(other_target) is not None  # ids are case-insensitive
    elsewhere = replace(plan, target_disk_id=plan.target_disk_id + "-2")
    assert env.plane.find_restore_job(elsewhere) is None


def test_a_second_trigger_fails_with_same_name_disk_already_exists(granted: Env) -> None:
    """With azsim's stricter sameNameRule (a name refused while a job creates it too); the
    documented rule is in tests/gateway/test_fake_plane.py."""
    env = granted
    env.sim.state.same_name_rule = "jobRunning"
    plan = env.plan("restored-twice")
    first = env.finish(env.plane.start_restore(plan), 5)
    assert first.state == "succeeded"

    second = env.finish(env.plane.start_restore(plan), 5)

    assert (second.state, second.error_code) == ("failed", "UserErrorSameNameDiskAlreadyExists")
    assert second.job_id is None
    found = env.plane.find_restore_job(plan)
    assert found is not None and found.id == first.job_id  # what the orchestrator falls back on


def test_a_failed_restore_job_carries_its_error(granted: Env) -> None:
    env = granted
    env.sim.add_fault(kind="jobFailure", code="UserErrorDiskSnapshotNotFound",
                      message="The disk snapshot for this Restore point has been deleted.")
    job_id = env.finish(env.plane.start_restore(env.plan("restored-fails")), 5).job_id
    assert job_id is not None

    env.advance(361)
    job = env.plane.get_restore_job(job_id)

    assert (job.status, job.finished, job.succeeded) == ("Failed", True, False)
    assert job.error_code == "UserErrorDiskSnapshotNotFound"
    assert job.error_message == "The disk snapshot for this Restore point has been deleted."


def test_a_synchronous_refusal_reads_like_a_failed_operation(granted: Env) -> None:
    plan = granted.plan("restored-elsewhere", location="northeurope")  # not the snapshot region

    operation = granted.plane.start_restore(plan)

    assert operation.status_url is None and operation.result_url is not None
    assert operation.result_url.startswith("data:application/json,")
    status = granted.plane.get_operation(operation)
    assert (status.state, status.error_code) == ("failed", "BadRequest")
    assert status.error_message and "region" in status.error_message
    # ... and survives the trip through the durable history.
    assert Operation.from_dict(operation.to_dict()) == operation
    assert granted.plane.get_operation(Operation.from_dict(operation.to_dict())) == status


def test_a_succeeded_restore_status_without_a_job_id_reads_the_location_result(granted: Env
                                                                               ) -> None:
    env = granted
    plan = env.plan("restored-via-location")
    # A succeeded validation's status carries no properties.jobId.
    validate = env.plane.start_validate_restore(env.plan("validated-only"))
    restore = env.plane.start_restore(plan)
    env.advance(45)
    assert env.plane.get_operation(restore).job_id is not None

    # A restore whose status body has no jobId: the Location result names the job.
    mixed = Operation("restore", validate.status_url, restore.result_url)
    status = env.plane.get_operation(mixed)

    assert status == OperationStatus("succeeded", job_id=env.plane.get_operation(restore).job_id)


def test_operations_round_trip_through_the_durable_history(granted: Env) -> None:
    operation = granted.plane.start_restore(granted.plan())
    stored: dict[str, Any] = operation.to_dict()

    status = granted.finish(Operation.from_dict(stored), 5)

    assert status.state == "succeeded"
    assert OperationStatus.from_dict(status.to_dict()) == status


def test_a_user_assigned_vault_identity_is_used_for_the_plan_and_the_request(make_env: Any
                                                                             ) -> None:
    uami = ("/subscriptions/{subscriptionId}/resourceGroups/rg-backup/providers/"
            "Microsoft.ManagedIdentity/userAssignedIdentities/id-backup")

    def add_uami(spec: dict[str, Any]) -> None:
        spec["principals"]["uami"] = {"id": "c0c0c0c0-0000-4000-8000-00000000c001",
                                      "type": "ServicePrincipal", "displayName": "id-backup"}
        uami_id = uami.replace("{subscriptionId}", spec["subscriptionId"])
        spec["backupVaults"][0]["identity"] = {"type": "SystemAssigned,UserAssigned",
                                               "principal": "vault",
                                               "userAssignedIdentities": {
                                                   uami_id: {"principal": "uami"}}}

    env = make_env(change=add_uami, grants=(
        ("/subscriptions/{subscriptionId}/resourceGroups/rg-restore-target",
         "Disk Restore Operator", "uami"),
        ("/subscriptions/{subscriptionId}/resourceGroups/rg-snapshots",
         "Disk Snapshot Contributor", "uami")))
    uami_id = uami.replace("{subscriptionId}", env.sub)
    bi = env.plane.find_backup_instance(env.disk("vm-app01-data0"))
    with env.sim.state.lock:  # the scenario format cannot say it: set the instance's identity
        env.sim.state.get(bi.id)["properties"]["identityDetails"] = {
            "useSystemAssignedIdentity": False, "userAssignedIdentityArmUrl": uami_id}

    plan = env.plan()

    assert plan.backup_instance.vault_principal_id == env.principal("uami")
    # Only the user-assigned identity holds the roles: validation passes only if the request
    # names it.
    assert env.finish(env.plane.start_validate_restore(plan), 45) == OperationStatus("succeeded")
