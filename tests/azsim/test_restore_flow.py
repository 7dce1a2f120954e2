"""The issue's "done when" script: a whole disk restore through the four real SDK clients."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from azsim.roles import DISK_RESTORE_OPERATOR, READER
from azure.core.exceptions import HttpResponseError
from azure.mgmt.dataprotection import models as dp

if TYPE_CHECKING:
    from conftest import Demo


def test_restore_a_disk_end_to_end(demo: Demo) -> None:
    c = demo.c
    vault = c.dataprotection.backup_vaults.get(demo.vault_rg, demo.vault)
    vault_principal = vault.identity.principal_id

    # Find the backup instance of the disk and its recovery points (newest first, 7 daily).
    bi = demo.backup_instance("vm-app01-data0")
    points = list(c.dataprotection.recovery_points.list(demo.vault_rg, demo.vault, bi.name))
    assert len(points) == 7
    times = [p.properties.recovery_point_time for p in points]
    assert times == sorted(times, reverse=True)
    request = demo.restore_request(points[0].name, "vm-app01-data0-restored")

    # Without Disk Restore Operator on the target resource group, validation fails.
    with pytest.raises(HttpResponseError) as denied:
        demo.finish(demo.validate(bi.name, request), 45)
    assert denied.value.error.code == "UserErrorNotEnoughPermissionOnTargetRG"

    # Grant it; it only takes effect once the propagation delay has passed.
    assignment = demo.grant(demo.rg_id(demo.target_rg), DISK_RESTORE_OPERATOR, vault_principal,
                            str(uuid.uuid4()))
    with pytest.raises(HttpResponseError) as early:
        demo.finish(demo.validate(bi.name, request), 45)
    assert early.value.error.code == "UserErrorNotEnoughPermissionOnTargetRG"
    demo.clock.advance(240)
    validated = demo.finish(demo.validate(bi.name, request), 45)
    assert validated.job_id is None  # validate's result carries no job

    # Trigger: the LRO's result is the job's full ARM id.
    job_id = demo.finish(demo.trigger(bi.name, request), 10).job_id
    vault_id = vault.id
    assert job_id.lower().startswith(f"{vault_id}/backupJobs/".lower())
    job_name = job_id.rsplit("/", 1)[-1]
    job = c.dataprotection.jobs.get(demo.vault_rg, demo.vault, job_name)
    assert (job.properties.status, job.properties.operation) == ("InProgress", "Restore")
    assert job.properties.end_time is None

    # The job completes within the scenario's 3-6 minutes; then the disk exists.
    with pytest.raises(HttpResponseError):
        c.compute.disks.get(demo.target_rg, "vm-app01-data0-restored")
    demo.clock.advance(361)
    job = c.dataprotection.jobs.get(demo.vault_rg, demo.vault, job_name)
    assert job.properties.status == "Completed"
    assert job.properties.extended_info.recovery_destination.lower() == demo.disk_id(
        demo.target_rg, "vm-app01-data0-restored").lower()
    disks = {d.name: d for d in c.compute.disks.list_by_resource_group(demo.target_rg)}
    restored = disks["vm-app01-data0-restored"]
    assert (restored.disk_state, restored.disk_size_gb, restored.sku.name) == (
        "Unattached", 256, "Premium_LRS")

    # Attach it to the VM (lowest free LUN), then revoke the temporary grant.
    poller = c.compute.virtual_machines.begin_attach_detach_data_disks(
        demo.app_rg, "vm-app01", {"dataDisksToAttach": [{"diskId": restored.id}]})
    profile = demo.finish(poller, 40)
    assert [(d.lun, d.name) for d in profile.data_disks][-1] == (2, "vm-app01-data0-restored")
    restored = c.compute.disks.get(demo.target_rg, "vm-app01-data0-restored")
    assert restored.disk_state == "Attached"
    assert restored.managed_by.lower().endswith("/virtualmachines/vm-app01")

    scope = demo.rg_id(demo.target_rg)
    deleted = c.authorization.role_assignments.delete(scope, assignment.name)
    assert deleted.name == assignment.name
    assert c.authorization.role_assignments.delete(scope, assignment.name) is None  # 204
    remaining = c.authorization.role_assignments.list_for_scope(
        scope, filter=f"principalId eq '{vault_principal}'")
    assert list(remaining) == []

    writes = [e["operation"] for e in demo.sim.audit(write=True)]
    assert writes == [
        "Microsoft.DataProtection/backupVaults/backupInstances/validateRestore/action",
        "Microsoft.Authorization/roleAssignments/write",
        "Microsoft.DataProtection/backupVaults/backupInstances/validateRestore/action",
        "Microsoft.DataProtection/backupVaults/backupInstances/validateRestore/action",
        "Microsoft.DataProtection/backupVaults/backupInstances/restore/action",
        "Microsoft.Compute/virtualMachines/attachDetachDataDisks/action",
        "Microsoft.Authorization/roleAssignments/delete",
        "Microsoft.Authorization/roleAssignments/delete",
    ]
    assert all(e["caller"] == demo.sim.app_principal_id for e in demo.sim.audit(write=True))


def test_cmk_disk_needs_reader_on_the_disk_encryption_set(demo: Demo) -> None:
    bi = demo.backup_instance("vm-app01-data1")
    request = demo.restore_request(demo.latest_point(bi.name).name, "data1-restored")
    demo.grant(demo.rg_id(demo.target_rg), DISK_RESTORE_OPERATOR, demo.vault_principal,
               str(uuid.uuid4()))
    demo.clock.advance(241)
    with pytest.raises(HttpResponseError) as denied:
        demo.finish(demo.validate(bi.name, request), 45)
    assert denied.value.error.code == "UserErrorMSIPermissionsNotPresentOnDES"

    des = demo.c.compute.disk_encryption_sets.get("rg-keys", "des-cmk")
    demo.grant(des.id, READER, demo.vault_principal, str(uuid.uuid4()))
    demo.clock.advance(241)
    demo.finish(demo.validate(bi.name, request), 45)
    job_id = demo.finish(demo.trigger(bi.name, request), 10).job_id
    demo.clock.advance(361)
    job = demo.c.dataprotection.jobs.get(demo.vault_rg, demo.vault, job_id.rsplit("/", 1)[-1])
    assert job.properties.status == "Completed"
    restored = demo.c.compute.disks.get(demo.target_rg, "data1-restored")
    assert restored.encryption.disk_encryption_set_id.lower() == des.id.lower()


def test_critical_path_sums_the_imposed_durations(demo: Demo) -> None:
    bi = demo.backup_instance("vm-app01-osdisk")
    request = demo.restore_request(demo.latest_point(bi.name).name, "os-restored")
    demo.grant(demo.rg_id(demo.target_rg), DISK_RESTORE_OPERATOR, demo.vault_principal,
               str(uuid.uuid4()))
    demo.clock.advance(240)
    demo.finish(demo.validate(bi.name, request), 45)
    demo.finish(demo.trigger(bi.name, request), 10)
    report = demo.sim.critical_path()
    kinds = [(i["kind"], i["seconds"]) for i in report["items"]]
    assert [k for k, _ in kinds] == ["propagation", "operation", "operation", "job"]
    propagation, validate, trigger, job = (s for _, s in kinds)
    assert propagation == 240 and 20 <= validate <= 40 and 2 <= trigger <= 4
    assert 180 <= job <= 360
    assert report["totalSeconds"] == pytest.approx(propagation + validate + trigger + job)


def test_recovery_points_date_filter_and_paging(make_demo: Callable[..., Demo]) -> None:
    demo = make_demo(lambda spec: spec.update(pageSize=2))
    bi = demo.backup_instance("vm-app01-osdisk")
    points = demo.c.dataprotection.recovery_points
    everything = list(points.list(demo.vault_rg, demo.vault, bi.name))
    assert len(everything) == 7
    reads = [e for e in demo.sim.audit() if e["operation"].endswith("/recoveryPoints/read")]
    assert len(reads) == 4  # pages of 2 followed through nextLink
    newest = everything[0].properties.recovery_point_time
    start, end = newest - timedelta(days=2, hours=1), newest - timedelta(days=1)
    fmt = "%Y-%m-%dT%H:%M:%S.%f0Z"  # as the CLI formats them
    chosen = list(points.list(demo.vault_rg, demo.vault, bi.name, filter=(
        f"startDate eq '{start.strftime(fmt)}' and endDate eq '{end.strftime(fmt)}'")))
    assert [p.properties.recovery_point_time for p in chosen] == [
        newest - timedelta(days=1), newest - timedelta(days=2)]
    with pytest.raises(HttpResponseError) as bad:
        list(points.list(demo.vault_rg, demo.vault, bi.name, filter="startDate gt 'x'"))
    assert bad.value.status_code == 400


def test_restore_with_the_vaults_user_assigned_identity(make_demo: Callable[..., Demo]) -> None:
    uami_id = ("/subscriptions/{subscriptionId}/resourceGroups/rg-backup/providers/"
               "Microsoft.ManagedIdentity/userAssignedIdentities/bv-demo-uami")

    def add_uami(spec: dict[str, Any]) -> None:
        spec["principals"]["uami"] = {"id": "c0c0c0c0-0000-4000-8000-00000000c001",
                                      "type": "ServicePrincipal"}
        spec["backupVaults"][0]["identity"] = {
            "type": "SystemAssigned,UserAssigned", "principal": "vault",
            "userAssignedIdentities": {
                uami_id.replace("{subscriptionId}", spec["subscriptionId"]): {"principal": "uami"}}}

    rg = "/subscriptions/{subscriptionId}/resourceGroups/"
    demo = make_demo(add_uami, grants=(
        (rg + "rg-restore-target", "Disk Restore Operator", "uami"),
        (rg + "rg-snapshots", "Disk Snapshot Contributor", "uami")))
    vault = demo.c.dataprotection.backup_vaults.get(demo.vault_rg, demo.vault)
    assert vault.identity.type == "SystemAssigned,UserAssigned"
    (arm_id, uami), = vault.identity.user_assigned_identities.items()
    assert uami.principal_id == "c0c0c0c0-0000-4000-8000-00000000c001"
    bi = demo.backup_instance("vm-app01-data0")
    request = demo.restore_request(demo.latest_point(bi.name).name, "by-uami")
    with pytest.raises(HttpResponseError) as system:
        demo.finish(demo.validate(bi.name, request), 45)  # the system identity has no role
    assert system.value.error.code == "UserErrorNotEnoughPermissionOnTargetRG"
    request.identity_details = dp.IdentityDetails(use_system_assigned_identity=False,
                                                  user_assigned_identity_arm_url=arm_id)
    demo.finish(demo.validate(bi.name, request), 45)


def test_trigger_resumes_from_a_continuation_token_and_status_reads_by_id(granted: Demo) -> None:
    """The two ways an activity can poll later: a continuation token, or the operation id."""
    bi = granted.backup_instance("vm-app01-data0")
    request = granted.restore_request(granted.latest_point(bi.name).name, "resumed")
    token = granted.trigger(bi.name, request).continuation_token()
    op_id = next(iter(granted.sim.state.operations))
    status = granted.c.dataprotection.operation_status_backup_vault_context.get(
        granted.vault_rg, granted.vault, op_id)
    assert status.status == "Inprogress"
    resumed = granted.c.dataprotection.backup_instances.begin_trigger_restore(
        granted.vault_rg, granted.vault, bi.name, None, continuation_token=token)
    job_id = granted.finish(resumed, 10).job_id
    status = granted.c.dataprotection.operation_status.get("westeurope", op_id)
    assert (status.status, status.properties.job_id) == ("Succeeded", job_id)
    assert granted.c.dataprotection.operation_result.get(op_id, "westeurope").job_id == job_id
