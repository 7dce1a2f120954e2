"""The fast tier's in-memory Azure (dev/harness/control_plane.py) answers as the real gateway over
azsim does, for what the runbooks rely on: each script runs against both and must give the same
trace. This keeps the fake honest; the fast tier's branch tests stand on it."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from azsim.compute import new_disk_access
from harness import START, FakeControlPlane, estate

from domain import errors
from domain.model import DiskProperties, Operation, OperationStatus, RestorePlan, RoleGrant

DISK_RESTORE_OPERATOR = "b50d9833-a0cb-478e-945f-707fcc997c13"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


@dataclass
class Side:
    """One control plane, its clock, and the demo's ids on it."""

    plane: Any
    advance: Callable[[float], None]
    vault_principal: str
    now: Callable[[], str]
    rules: Any  # what holds `same_name_rule`: azsim's state, or the fake itself

    def finish(self, operation: Operation, seconds: float = 60) -> OperationStatus:
        self.advance(seconds)
        return self.plane.get_operation(operation)

    def grant(self, name: str | None = None) -> RoleGrant:
        return RoleGrant(scope=estate.TARGET, role_definition_guid=DISK_RESTORE_OPERATOR,
                         role_name="Disk Restore Operator", principal_id=self.vault_principal,
                         assignment_name=name or str(uuid.uuid4()))

    def plan(self, target: str = "restored-data0") -> RestorePlan:
        bi = self.plane.find_backup_instance(estate.DATA0)
        return RestorePlan(
            instance_id="contract", created=self.now(), backup_instance=bi,
            recovery_point=self.plane.list_recovery_points(bi.id)[0],
            source_disk=self.plane.get_disk(bi.datasource_id),
            target_disk_id=estate.disk_id(target, "rg-restore-target"),
            target_location=estate.LOCATION, grants=[self.grant()])


@pytest.fixture(params=["azsim", "fake"])
def side(request: pytest.FixtureRequest) -> Iterator[Side]:
    if request.param == "fake":
        clock = {"now": START}
        plane = FakeControlPlane(clock=lambda: clock["now"])
        estate.build(plane, START)

        def advance(seconds: float) -> None:
            clock["now"] += timedelta(seconds=seconds)
        yield Side(plane, advance, estate.VAULT_PRINCIPAL, lambda: clock["now"].isoformat(),
                   plane)
        return
    env = request.getfixturevalue("env")
    assert env.sub == estate.SUBSCRIPTION  # the fake's estate is azsim's demo scenario
    yield Side(env.plane, env.advance, env.principal("vault"),
               lambda: env.clock.now().isoformat(), env.sim.state)


def outcome(status: OperationStatus) -> str:
    return status.state if status.state != "failed" else f"failed:{status.error_code}"


def test_validate_fails_until_the_grant_has_propagated_then_passes(side: Side) -> None:
    plan = side.plan()
    trace = [outcome(side.finish(side.plane.start_validate_restore(plan)))]
    side.plane.grant_role(plan.grants[0])
    trace.append(outcome(side.finish(side.plane.start_validate_restore(plan))))
    side.advance(240)  # the demo's role propagation
    trace.append(outcome(side.finish(side.plane.start_validate_restore(plan))))
    assert trace == ["failed:UserErrorNotEnoughPermissionOnTargetRG",
                     "failed:UserErrorNotEnoughPermissionOnTargetRG", "succeeded"]


def test_grants_are_idempotent_by_name_and_an_equivalent_one_is_pre_existing(side: Side
                                                                           ) -> None:
    mine = side.plane.grant_role(side.grant("5b3f7c55-0a6e-4a0e-9d1c-7f2b9e0c1a01"))
    again = side.plane.grant_role(side.grant("5b3f7c55-0a6e-4a0e-9d1c-7f2b9e0c1a01"))
    other = side.plane.grant_role(side.grant("0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e"))
    assert (again.id.lower(), again.pre_existing) == (mine.id.lower(), False)
    assert (other.id.lower(), other.pre_existing) == (mine.id.lower(), True)
    assert [side.plane.revoke_role(mine.id), side.plane.revoke_role(mine.id)] == [True, False]


@pytest.mark.parametrize("rule", ["diskExists", "jobRunning"])
def test_a_restore_makes_one_disk_and_a_second_trigger_meets_the_same_name_rule(
        side: Side, rule: str) -> None:
    """`diskExists` (as Azure documents): a second trigger while the first job runs starts a
    second job, and whichever ends second fails "same name"; `jobRunning`: it is refused at
    once. Once the disk exists, both refuse; find_restore_job names the job that made it."""
    side.rules.same_name_rule = rule
    plan = side.plan()
    side.plane.grant_role(plan.grants[0])
    side.advance(300)
    status = side.finish(side.plane.start_restore(plan), 10)
    assert status.state == "succeeded" and status.job_id
    job = side.plane.get_restore_job(status.job_id)
    assert (job.status, side.plane.get_disk(plan.target_disk_id)) == ("InProgress", None)
    assert side.plane.find_restore_job(plan) == job
    second = side.finish(side.plane.start_restore(plan), 10)
    if rule == "jobRunning":
        assert outcome(second) == "failed:UserErrorSameNameDiskAlreadyExists"
    else:
        assert second.state == "succeeded" and second.job_id not in (None, status.job_id)
    side.advance(400)
    ended = [side.plane.get_restore_job(j) for j in (status.job_id, second.job_id) if j]
    assert sorted(j.status for j in ended) == \
        (["Completed", "Failed"] if rule == "diskExists" else ["Completed"])
    assert all(j.error_code == "UserErrorSameNameDiskAlreadyExists"
               for j in ended if j.status == "Failed")
    [made_by] = [j for j in ended if j.status == "Completed"]
    assert side.plane.find_restore_job(plan) == made_by
    third = side.finish(side.plane.start_restore(plan), 10)
    assert outcome(third) == "failed:UserErrorSameNameDiskAlreadyExists"
    made = side.plane.get_disk(plan.target_disk_id)
    source = side.plane.get_disk(estate.DATA0)
    assert (made.size_gb, made.sku, made.managed_by) == (source.size_gb, source.sku, None)


def test_a_vm_with_an_operation_in_flight_refuses_another_with_conflict(side: Side) -> None:
    first = side.plane.start_deallocate_vm(estate.VM)
    refused = side.plane.get_operation(side.plane.start_start_vm(estate.VM))
    assert outcome(refused) == "failed:Conflict"
    assert side.finish(first, 200).state == "succeeded"
    assert side.plane.get_vm(estate.VM).power_state == "deallocated"
    assert side.finish(side.plane.start_start_vm(estate.VM), 200).state == "succeeded"
    assert side.plane.get_vm(estate.VM).power_state == "running"


def test_an_attached_disk_is_not_deleted_and_an_attach_is_done_once(side: Side) -> None:
    with pytest.raises(errors.DiskInUse):
        side.plane.start_delete_disk(estate.DATA0)
    plan = side.plan("attach-me")
    side.plane.grant_role(plan.grants[0])
    side.advance(300)
    job = side.finish(side.plane.start_restore(plan), 10).job_id
    side.advance(400)
    assert side.plane.get_restore_job(job).status == "Completed"
    attach = side.plane.start_attach_data_disk(estate.VM, plan.target_disk_id, 4, "None")
    assert side.finish(attach, 60).state == "succeeded"
    again = side.plane.start_attach_data_disk(estate.VM, plan.target_disk_id, 4, "None")
    assert (again.status_url, side.plane.get_operation(again).state) == (None, "succeeded")
    luns = {d.lun: d.disk_id.lower() for d in side.plane.get_vm(estate.VM).data_disks}
    assert luns[4] == plan.target_disk_id.lower()


def test_a_restored_disk_comes_back_untagged_and_public_and_one_update_sets_it(side: Side
                                                                             ) -> None:
    """What a restored disk gets is not documented: both give the least kind answer (no tags,
    export allowed from anywhere). The update refuses AllowPrivate without a disk access, or with
    one that does not exist; a second identical update writes nothing."""
    plan = side.plan("props")
    side.plane.grant_role(plan.grants[0])
    side.advance(300)
    job = side.finish(side.plane.start_restore(plan), 10).job_id
    side.advance(400)
    assert side.plane.get_restore_job(job).status == "Completed"
    made = side.plane.get_disk(plan.target_disk_id)
    assert (made.tags, made.network_access_policy, made.public_network_access,
            made.disk_access_id) == ({}, "AllowAll", "Enabled", None)
    access = f"{estate.rg('rg-app')}/providers/Microsoft.Compute/diskAccesses/da-app"
    private = DiskProperties(plan.target_disk_id, {"restoredBy": "contract"}, "AllowPrivate",
                             None, "Disabled")
    refused = side.finish(side.plane.start_update_disk_properties(private), 10)
    assert outcome(refused) == "failed:InvalidParameter"
    linked = dataclasses.replace(private, disk_access_id=access)
    assert outcome(side.finish(side.plane.start_update_disk_properties(linked), 10)) == \
        "failed:ResourceNotFound"
    if isinstance(side.plane, FakeControlPlane):
        side.plane.add_disk_access(access, estate.LOCATION)
    else:
        state = side.rules
        state.put(new_disk_access(state, estate.SUBSCRIPTION, "rg-app", "da-app"))
    status = side.finish(side.plane.start_update_disk_properties(linked), 10)
    assert status.state == "succeeded"
    made = side.plane.get_disk(plan.target_disk_id)
    assert (made.tags, made.network_access_policy, made.public_network_access,
            made.disk_access_id.lower()) == ({"restoredBy": "contract"}, "AllowPrivate",
                                             "Disabled", access.lower())
    again = side.plane.start_update_disk_properties(linked)
    assert (again.status_url, side.plane.get_operation(again).state) == (None, "succeeded")


def test_backup_keeps_one_snapshot_per_point_and_restore_reads_a_deleted_ones_absence(
        side: Side) -> None:
    """Each recovery point's incremental snapshot is listed in the snapshot resource group, a copy
    of the disk with the disk's Disk Encryption Set, taken 30 s before the point (the demo's
    `snapshotTimeOffsetSeconds`); once deleted it is no longer listed and validateRestore fails
    `UserErrorDiskSnapshotNotFound`, on both."""
    bi = side.plane.find_backup_instance(estate.DATA1)
    points = side.plane.list_recovery_points(bi.id)

    def of_data1() -> list[Any]:
        return [s for s in side.plane.list_snapshots(estate.SNAPSHOTS)
                if s.source_resource_id.lower() == estate.DATA1.lower()]

    listed = of_data1()
    assert len(side.plane.list_snapshots(estate.SNAPSHOTS)) == 21  # 3 disks x 7 points
    assert len(listed) == len(points) == 7
    assert all(s.incremental and s.encryption_set_id.lower() == estate.DES.lower()
               and s.id.lower().startswith(estate.SNAPSHOTS.lower() + "/providers/"
                                           "microsoft.compute/snapshots/") for s in listed)
    offsets = {datetime.fromisoformat(p.time) - datetime.fromisoformat(s.time_created)
               for p, s in zip(points, sorted(listed, key=lambda s: s.time_created, reverse=True),
                               strict=True)}
    assert offsets == {timedelta(seconds=30)}
    assert side.plane.list_snapshots(estate.TARGET) == []
    assert side.plane.list_snapshots(estate.rg("rg-nowhere")) == []

    newest = max(listed, key=lambda s: s.time_created)
    if isinstance(side.plane, FakeControlPlane):
        side.plane.delete_snapshot(bi.id, points[0].id)
    else:
        side.rules.remove(newest.id)  # as an operator's DELETE leaves it
    assert [s.id for s in of_data1()] == [s.id for s in listed if s.id != newest.id]
    plan = dataclasses.replace(side.plan(), backup_instance=bi, recovery_point=points[0],
                               source_disk=side.plane.get_disk(estate.DATA1))
    side.plane.grant_role(plan.grants[0])
    side.plane.grant_role(dataclasses.replace(
        side.grant(), scope=estate.DES, role_definition_guid=READER, role_name="Reader"))
    side.advance(300)
    assert outcome(side.finish(side.plane.start_validate_restore(plan))) == \
        "failed:UserErrorDiskSnapshotNotFound"
    older = dataclasses.replace(plan, recovery_point=points[1])
    assert outcome(side.finish(side.plane.start_validate_restore(older))) == "succeeded"


# ---- the catalog's reads (issue 18) ------------------------------------------------------------
def test_the_catalog_reads_agree_policy_points_and_where_disks_can_be_listed(side: Side) -> None:
    """Backup instances name their policy; points carry state, expiry and data store; disks
    are listed only where the app may read them (the demo app: rg-app and the target group,
    not the subscription), and a list of a scope read only in part is refused or filtered as
    `listAuthorization` says."""
    instances = side.plane.list_backup_instances(estate.VAULT)
    assert [bi.policy_name for bi in instances] == ["disk-daily-7d"] * 3
    points = side.plane.list_recovery_points(estate_bi(side, estate.DATA0))
    assert len(points) == 7
    newest = points[0]
    assert (newest.state, newest.data_store, newest.data_store_visible) == \
        ("Completed", "OperationalStore", True)
    kept = datetime.fromisoformat(newest.expiry_time) - datetime.fromisoformat(newest.time)
    assert kept == timedelta(days=7)
    in_app = [d.id.lower() for d in side.plane.list_disks(estate.rg())]
    assert in_app == sorted(d.lower() for d in (estate.OS_DISK, estate.DATA0, estate.DATA1))
    for refused in (lambda: side.plane.list_disks_in_subscription(estate.SUBSCRIPTION),
                    lambda: side.plane.list_disks(estate.rg("rg-keys"))):
        with pytest.raises(errors.AppNotAuthorized):
            refused()
    side.rules.list_authorization = "filter"
    assert [d.id.lower() for d in side.plane.list_disks_in_subscription(estate.SUBSCRIPTION)] \
        == in_app
    assert side.plane.list_disks(estate.rg("rg-keys")) == []


def estate_bi(side: Side, disk: str) -> str:
    return side.plane.find_backup_instance(disk).id
# ---- readiness's posture reads (domain/readiness/posture.py) ------------------------------------
def test_the_posture_reads_answer_alike(side: Side) -> None:
    from domain.readiness.checks import GRANT, SNAPSHOT_DELETE, allows, can_grant
    vault = side.plane.read_vault(estate.VAULT)
    assert (vault.principal_id, vault.resource_guards) == (side.vault_principal, [])
    assert sorted((_name(i.datasource_id), i.protection_state, i.principal_id,
                   i.snapshot_resource_group_id.lower()) for i in vault.instances) == sorted(
        (name, "ProtectionConfigured", side.vault_principal, estate.SNAPSHOTS.lower())
        for name in ("vm-app01-osdisk", "vm-app01-data0", "vm-app01-data1"))
    assert side.plane.list_locks(estate.SNAPSHOTS) == []
    assert side.plane.list_locks(estate.rg("rg-nope")) == []
    held = side.plane.list_scope_assignments(estate.SNAPSHOTS)
    assert [(a.principal_id, a.role_definition_guid) for a in held] == \
        [(side.vault_principal, "7efff54f-a5b4-42b5-a1c5-5411624893ce")]
    role = side.plane.get_role_definition(estate.SNAPSHOTS, held[0].role_definition_guid)
    assert role.name == "Disk Snapshot Contributor"
    assert any(allows(p.actions, p.not_actions, SNAPSHOT_DELETE) for p in role.permissions)
    assert side.plane.get_role_definition(estate.SNAPSHOTS,
                                          "00000000-0000-4000-8000-000000000000") is None
    assert can_grant(side.plane.list_own_permissions(estate.TARGET))
    assert not can_grant(side.plane.list_own_permissions(estate.rg()))
    assert side.plane.list_own_permissions(estate.SNAPSHOTS) == []
    assert side.plane.list_own_permissions(estate.rg("rg-nope")) is None
    assert GRANT.endswith("/write")
    with pytest.raises(errors.BackupInstanceNotFound):
        side.plane.read_vault(estate.VAULT + "-nope")


def _name(resource_id: str) -> str:
    return resource_id.rsplit("/", 1)[-1]

@pytest.mark.parametrize(("refusal", "status"), [("trigger", 400), ("trigger", 429),
                                                 ("operation", 400), ("job", 400)])
def test_the_restore_past_the_days_limit_is_refused_where_the_setting_says(
        side: Side, refusal: str, status: int) -> None:
    """Azure's 10 a day (here 2, `dailyRestoreLimit`), refused as `restoreLimitRefusal` and
    `restoreLimitStatus` say; refused at the POST, 400 or 429 (never read as throttling), the
    gateway raises RestoreBudgetSpent. Every restore job counts, the refused job too (`job`);
    the starts are listed."""
    side.rules.daily_restore_limit = 2
    side.rules.restore_limit_refusal, side.rules.restore_limit_status = refusal, status
    plan = side.plan()
    side.plane.grant_role(plan.grants[0])
    side.advance(300)
    for target in ("first", "second"):
        status_ = side.finish(side.plane.start_restore(side.plan(target)), 10)
        assert status_.state == "succeeded", status_
    third = side.plan("third")
    trace: list[str] = []
    try:
        started = side.plane.start_restore(third)
    except errors.RestoreBudgetSpent as exc:
        trace.append(f"raised:{exc.code}")
        assert "CloudDosAbsoluteLimitReached" in exc.message and "restore/action" in exc.message
    else:
        trace.append(outcome(side.plane.get_operation(started)))
        ended = side.finish(started, 10)
        trace.append(outcome(ended))
        if ended.job_id:
            side.advance(400)
            job = side.plane.get_restore_job(ended.job_id)
            trace.append(f"{job.status}:{job.error_code}")
    assert trace == {
        ("trigger", 400): ["raised:RestoreBudgetSpent"],
        ("trigger", 429): ["raised:RestoreBudgetSpent"],
        ("operation", 400): ["running", "failed:CloudDosAbsoluteLimitReached"],
        ("job", 400): ["running", "succeeded", "Failed:CloudDosAbsoluteLimitReached"],
    }[(refusal, status)]
    assert side.plane.get_disk(third.target_disk_id) is None
    bi = plan.backup_instance.id.lower()
    starts = side.plane.list_restore_starts(estate.VAULT, (datetime.fromisoformat(side.now())
                                                           - timedelta(days=1)).isoformat())
    assert len(starts[bi]) == (3 if refusal == "job" else 2)
    assert side.plane.count_restores(estate.VAULT, "2000-01-01T00:00:00+00:00") == \
        {bi: len(starts[bi])}
