"""The readiness checks (domain/readiness/checks.py) on facts made by hand: each finding, its
severity and what the disk's status and the report's status become; the helpers the activities
use (wildcard actions, deleters, locks, snapshots matched to points)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from domain.model import RecoveryPoint, Snapshot
from domain.objectives import ObjectiveRules, Objectives, TagObjectives
from domain.readiness import checks
from domain.readiness.posture import (
    ManagementLock,
    PermissionBlock,
    RoleDefinitionInfo,
    ScopeAssignment,
)
from domain.readiness.readiness_report import error_logs, summary_log, trend_point
from domain.readiness.readiness_run import (
    Deleter,
    GroupFacts,
    InstanceFacts,
    ObjectiveScope,
    PointRef,
    ReadinessFacts,
    ReadinessInput,
    TargetFacts,
    VaultFacts,
)

SUB = "/subscriptions/6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6"
APP, SNAPS, TARGET = f"{SUB}/resourceGroups/rg-app", f"{SUB}/resourceGroups/rg-snapshots", \
    f"{SUB}/resourceGroups/rg-restore-target"
VAULT = f"{SUB}/resourceGroups/rg-backup/providers/Microsoft.DataProtection/backupVaults/bv"
DISK = f"{APP}/providers/Microsoft.Compute/disks/data0"
NOW = "2026-11-24T12:00:00+00:00"
PRINCIPAL = "b0b0b0b0-0000-4000-8000-00000000b001"


def instance(**changes: Any) -> InstanceFacts:
    base = InstanceFacts(
        backup_instance_id=f"{VAULT}/backupInstances/bi-data0", disk_id=DISK, vault_id=VAULT,
        protection_state="ProtectionConfigured", snapshot_resource_group_id=SNAPS,
        principal_id=PRINCIPAL, disk_tags={"tier": "gold"},
        newest_point=PointRef("p0", "2026-11-24T02:00:00+00:00"), point_count=7,
        points_without_snapshot=[], vault_role=True, restores_today=0)
    return replace(base, **changes)


def facts(bi: InstanceFacts | None = None, *, vault: dict[str, Any] | None = None,
          group: dict[str, Any] | None = None, targets: list[TargetFacts] | None = None,
          **request: Any) -> ReadinessFacts:
    doc = ReadinessInput("readiness-1", [VAULT], **request)
    return ReadinessFacts(
        "readiness-1", NOW, doc,
        [VaultFacts(VAULT, **{"principal_id": PRINCIPAL, "resource_guards": ["/guard"],
                              "instances": [bi or instance()], **(vault or {})})],
        [GroupFacts(SNAPS, **{"delete_locks": [f"{SNAPS}/providers/Microsoft.Authorization/"
                                               "locks/l"], **(group or {})})],
        targets if targets is not None else [TargetFacts(APP, "source", can_grant=True),
                                             TargetFacts(TARGET, "sandbox", can_grant=True)])


def codes(report: dict[str, Any]) -> dict[str, str]:
    """code -> severity, the disk's and the general findings."""
    return {f["code"]: f["severity"] for f in
            [*(f for d in report["disks"] for f in d["findings"]), *report["findings"]]}


def test_a_disk_with_nothing_wrong_is_ready_and_the_report_has_the_documented_shape() -> None:
    report = checks.assess(facts())
    assert report["status"] == "ready" and codes(report) == {}
    assert set(report) == {"checkedAt", "status", "summary", "disks", "findings"}
    assert report["summary"] == {"disks": 1, "ready": 1, "atRisk": 0, "notReady": 0,
                                 "findings": {}}
    (disk,) = report["disks"]
    assert set(disk) == {"diskId", "name", "backupInstanceId", "status", "newestRecoveryPoint",
                         "rpo", "rto", "lastDrill", "restoresLeftToday", "findings"}
    assert disk["rto"] == {"objective": "rto", "verdict": "unknown"} and disk["lastDrill"] is None
    assert disk["rpo"] == {"objective": "rpo", "verdict": "met", "target": 26.0, "actual": 10.0}
    assert disk["restoresLeftToday"] == 10 and disk["name"] == "data0"


def test_a_stale_point_and_no_point_are_errors_against_the_default_rpo() -> None:
    stale = checks.assess(facts(instance(newest_point=PointRef("p0", "2026-11-23T08:00:00Z"))))
    assert codes(stale) == {"StaleRecoveryPoint": "error"}
    assert stale["disks"][0]["rpo"]["verdict"] == "missed" and stale["status"] == "notReady"
    assert "28.0 h old" in stale["disks"][0]["findings"][0]["message"]
    none = checks.assess(facts(instance(newest_point=None, point_count=0)))
    assert codes(none) == {"NoRecoveryPoint": "error"}
    assert none["disks"][0]["rpo"]["verdict"] == "missed"
    looser = checks.assess(facts(instance(newest_point=PointRef("p0", "2026-11-23T08:00:00Z")),
                                 rpo_hours=48.0))
    assert codes(looser) == {}


def test_objectives_of_the_scopes_that_cover_the_disk_decide_its_rpo() -> None:
    gold = ObjectiveRules(Objectives(rpo_hours=24.0),
                          [TagObjectives("Tier", "gold", Objectives(rpo_hours=4.0))])
    other_vault = ObjectiveScope(ObjectiveRules(Objectives(rpo_hours=1.0)), "x", [f"{VAULT}2"])
    covering = ObjectiveScope(gold, "drill plan nightly", [VAULT], [APP])
    report = checks.assess(facts(objectives=[covering, other_vault]))
    assert report["disks"][0]["rpo"]["target"] == 4.0  # the tag's override, not 1 h of another
    assert codes(report) == {"StaleRecoveryPoint": "error"}  # 10 h > 4 h
    excluded = replace(covering, exclude=[DISK.upper()])
    assert checks.assess(facts(objectives=[excluded]))["disks"][0]["rpo"]["target"] == 26.0
    included = ObjectiveScope(gold, "p", [f"{VAULT}2"], include=[DISK])
    assert checks.assess(facts(objectives=[included]))["disks"][0]["rpo"]["target"] == 4.0
    tagged = ObjectiveScope(gold, "p", tags={"tier": "silver"})
    assert checks.assess(facts(objectives=[tagged]))["disks"][0]["rpo"]["target"] == 26.0


@pytest.mark.parametrize(("bi", "code", "severity"), [
    (instance(protection_state="ProtectionStopped"), "ProtectionNotHealthy", "warning"),
    (instance(principal_id=None, vault_role=None), "VaultIdentityMissing", "error"),
    (instance(snapshot_group_exists=False), "SnapshotResourceGroupMissing", "error"),
    (instance(snapshot_resource_group_id=""), "SnapshotResourceGroupMissing", "error"),
    (instance(vault_role=False), "VaultRoleMissing", "error"),
    (instance(restores_today=10), "RestoreBudgetSpent", "error"),
    (instance(restores_today=12), "RestoreBudgetSpent", "error"),
    (instance(restores_today=8), "RestoreBudgetLow", "warning"),
    (instance(points_without_snapshot=None, snapshots_unread="403"), "CheckFailed", "warning"),
])
def test_each_disk_check(bi: InstanceFacts, code: str, severity: str) -> None:
    report = checks.assess(facts(bi))
    assert codes(report) == {code: severity}
    assert report["disks"][0]["status"] == ("notReady" if severity == "error" else "atRisk")
    assert report["disks"][0]["findings"][0]["diskId"] == DISK
    assert report["summary"]["findings"] == {code: 1}


def test_the_budget_is_low_only_within_the_reserve() -> None:
    assert codes(checks.assess(facts(instance(restores_today=7)))) == {}
    assert codes(checks.assess(facts(instance(restores_today=7), reserve=3))) == \
        {"RestoreBudgetLow": "warning"}
    assert codes(checks.assess(facts(instance(restores_today=9), reserve=0))) == {}
    assert checks.assess(facts(instance(restores_today=12)))["disks"][0]["restoresLeftToday"] == 0


def test_missing_snapshots_are_an_error_when_the_newest_point_has_none() -> None:
    older = instance(points_without_snapshot=[PointRef("p3", "2026-11-21T02:00:00+00:00")])
    found = checks.assess(facts(older))["disks"][0]["findings"]
    assert [(f["code"], f["severity"]) for f in found] == [("SnapshotsMissing", "warning")]
    assert "1 of 7 recovery points" in found[0]["message"]
    newest = instance(points_without_snapshot=[PointRef("p0", "2026-11-24T02:00:00+00:00")])
    assert codes(checks.assess(facts(newest))) == {"SnapshotsMissing": "error"}
    every = instance(point_count=1, points_without_snapshot=[PointRef("px", "t")])
    assert codes(checks.assess(facts(every))) == {"SnapshotsMissing": "error"}


def test_posture_findings_are_general_info_and_leave_the_disk_ready() -> None:
    deleter = Deleter("0e0e0e0e-0000-4000-8000-00000000e001", "User", "Contributor", SUB)
    report = checks.assess(facts(vault={"resource_guards": []},
                                 group={"delete_locks": [], "deleters": [deleter]}))
    assert codes(report) == {"NoMultiUserAuthorization": "info", "NoDeleteLock": "info",
                             "SnapshotGroupDeletableBy": "info"}
    assert report["status"] == "ready" and report["disks"][0]["findings"] == []
    assert all("diskId" not in f for f in report["findings"])
    deletable = next(f for f in report["findings"] if f["code"] == "SnapshotGroupDeletableBy")
    assert "0e0e0e0e-0000-4000-8000-00000000e001 (User, Contributor)" in deletable["message"]


def test_many_deleters_are_named_up_to_a_limit() -> None:
    many = [Deleter(f"p{i:02}", None, "Owner", SUB) for i in range(12)]
    (finding,) = checks.assess(facts(group={"deleters": many}))["findings"]
    assert "12 principal(s)" in finding["message"] and "and 2 more" in finding["message"]
    assert "p11" not in finding["message"]


def test_targets_the_app_cannot_grant_in() -> None:
    source = checks.assess(facts(targets=[TargetFacts(APP, "source", can_grant=False)]))
    assert codes(source) == {"CannotGrantInTarget": "warning"}  # a restore elsewhere works
    assert source["disks"][0]["status"] == "atRisk"
    assert source["disks"][0]["findings"][0]["scope"] == APP  # the disk's own group
    sandbox = checks.assess(facts(targets=[TargetFacts(TARGET, "sandbox", exists=False)]))
    assert codes(sandbox) == {"CannotGrantInTarget": "warning"}
    assert sandbox["disks"][0]["status"] == "ready" and sandbox["status"] == "atRisk"
    assert "does not exist" in sandbox["findings"][0]["message"]
    unknown = checks.assess(facts(targets=[TargetFacts(TARGET, "sandbox", error="403")]))
    assert codes(unknown) == {"CheckFailed": "warning"} and unknown["status"] == "atRisk"


def test_what_could_not_be_read_is_said_not_called_ready() -> None:
    report = checks.assess(facts(vault={"error": "AppNotAuthorized", "instances": []}))
    assert codes(report) == {"CheckFailed": "error"} and report["status"] == "notReady"
    assert report["summary"]["disks"] == 0
    gone = checks.assess(facts(vault={"exists": False, "instances": []}))
    assert "does not exist" in gone["findings"][0]["message"]
    group = checks.assess(facts(group={"error": "403"}))
    assert codes(group) == {"CheckFailed": "warning"}
    missing = checks.assess(facts(group={"exists": False}))
    assert codes(missing) == {"SnapshotResourceGroupMissing": "error"}  # said per disk only
    nothing = checks.assess(ReadinessFacts("r", NOW, ReadinessInput("r", [])))
    assert nothing["status"] == "unknown" and codes(nothing) == {"CheckFailed": "warning"}


def test_log_records_one_per_run_and_one_per_error() -> None:
    report = checks.assess(facts(instance(vault_role=False, restores_today=9),
                                 vault={"resource_guards": []}))
    run = summary_log(report, "readiness-1")
    assert run["event"] == "ReadinessChecked" and run["status"] == "notReady"
    assert (run["errors"], run["warnings"], run["codes"]) == \
        (1, 1, "NoMultiUserAuthorization,RestoreBudgetLow,VaultRoleMissing")
    (error,) = error_logs(report, "readiness-1")
    assert error["code"] == "VaultRoleMissing" and error["diskId"] == DISK
    assert trend_point(report, "readiness-1")["notReady"] == 1


# ---- the helpers the activities use -----------------------------------------------------------
@pytest.mark.parametrize(("actions", "not_actions", "allowed"), [
    (["*"], [], True),
    (["Microsoft.Compute/*"], [], True),
    (["microsoft.compute/snapshots/DELETE"], [], True),
    (["Microsoft.Compute/*/delete"], [], True),
    (["Microsoft.Compute/snapshots/read"], [], False),
    (["*"], ["Microsoft.Compute/snapshots/*"], False),
    (["*/read"], [], False),
    (["Microsoft.Compute/disks/*"], [], False),
])
def test_actions_match_as_arm_wildcards(actions: list[str], not_actions: list[str],
                                        allowed: bool) -> None:
    assert checks.allows(actions, not_actions, "Microsoft.Compute/snapshots/delete") is allowed


def test_deleters_are_who_may_delete_snapshots_but_the_vault() -> None:
    def assignment(principal: str, role: str, scope: str = SNAPS) -> ScopeAssignment:
        return ScopeAssignment(f"{scope}/ra/{principal}{role}", scope, role, principal, "User")
    definitions: dict[str, RoleDefinitionInfo | None] = {
        "dsc": RoleDefinitionInfo("dsc", "Disk Snapshot Contributor",
                                  [PermissionBlock(["Microsoft.Compute/snapshots/delete"])]),
        "reader": RoleDefinitionInfo("reader", "Reader", [PermissionBlock(["*/read"])]),
        "contrib": RoleDefinitionInfo("contrib", "Contributor", [PermissionBlock(
            ["*"], ["Microsoft.Authorization/*/Write"])]),
        "gone": None}
    found = checks.deleters(
        [assignment(PRINCIPAL, "dsc"), assignment("alice", "reader"),
         assignment("bob", "contrib", SUB), assignment("bob", "contrib", SUB),
         assignment("carol", "gone")], definitions, [PRINCIPAL.upper()])
    assert [(d.principal_id, d.role, d.scope) for d in found] == \
        [("bob", "Contributor", SUB), ("carol", "gone", SNAPS)]


def test_only_delete_locks_at_or_above_the_group_count() -> None:
    def lock(scope: str, level: str = "CanNotDelete", name: str = "l") -> ManagementLock:
        return ManagementLock(f"{scope}/providers/Microsoft.Authorization/locks/{name}", level)
    snapshot = f"{SNAPS}/providers/Microsoft.Compute/snapshots/s1"
    locks = [lock(SNAPS), lock(SUB, "ReadOnly", "sub"), lock(snapshot, name="one"),
             lock(SNAPS, "NotSpecified", "n"), lock(APP, name="other"),
             ManagementLock("not-a-lock-id", "CanNotDelete")]
    assert checks.delete_locks(locks, SNAPS) == sorted([locks[0].id, locks[1].id])
    assert lock(SNAPS).scope == SNAPS and lock(SNAPS).prevents_delete


def test_points_whose_snapshot_is_gone() -> None:
    points = [RecoveryPoint("p0", "2026-11-24T02:00:00+00:00"),
              RecoveryPoint("p1", "2026-11-23T02:00:00+00:00")]
    snapshots = [Snapshot(f"{SNAPS}/s0", DISK.upper(), "2026-11-24T01:59:30+00:00"),
                 Snapshot(f"{SNAPS}/x1", f"{APP}/providers/Microsoft.Compute/disks/other",
                          "2026-11-23T01:59:30+00:00")]
    assert checks.points_without_snapshot(points, snapshots, DISK) == \
        [PointRef("p1", "2026-11-23T02:00:00+00:00")]


def test_the_permissions_api_answer_allows_a_grant_or_not() -> None:
    assert checks.can_grant([PermissionBlock(["*/read"]), PermissionBlock(
        ["Microsoft.Authorization/roleAssignments/write"])])
    assert not checks.can_grant([PermissionBlock(["*"], ["Microsoft.Authorization/*/Write"])])
    assert not checks.can_grant([])


def test_yesterdays_snapshot_does_not_stand_in_for_todays_and_each_serves_one_point() -> None:
    points = [RecoveryPoint("p0", "2026-11-24T02:00:00Z"),
              RecoveryPoint("p1", "2026-11-23T02:00:00Z")]
    yesterday = Snapshot(f"{SNAPS}/s1", DISK, "2026-11-23T01:59:30Z")
    assert checks.points_without_snapshot(points, [yesterday], DISK) == \
        [PointRef("p0", "2026-11-24T02:00:00Z")]
    after = Snapshot(f"{SNAPS}/s0", DISK.lstrip("/"), "2026-11-24T02:20:00")  # no zone: UTC
    assert checks.points_without_snapshot(points, [after, yesterday], DISK) == []
    too_late = Snapshot(f"{SNAPS}/s0", DISK, "2026-11-24T02:31:00Z")
    assert [p.id for p in checks.points_without_snapshot(points, [too_late], DISK)] == \
        ["p0", "p1"]
    close = [RecoveryPoint("a", "2026-11-24T02:00:00Z"), RecoveryPoint("b", "2026-11-24T02:10:00Z")]
    one = Snapshot(f"{SNAPS}/s", DISK, "2026-11-24T02:05:00Z")
    assert len(checks.points_without_snapshot(close, [one], DISK)) == 1
    unknown_time = Snapshot(f"{SNAPS}/s", DISK, None)
    assert len(checks.points_without_snapshot(points, [unknown_time], DISK)) == 2


# ---- the RTO: the last drill against the objective readiness holds the disk to ----------------
def _drill(verdict: str, minutes: float | None) -> dict[str, dict[str, Any]]:
    rto: dict[str, Any] = {"objective": "rto", "verdict": "met"}
    if minutes is not None:
        rto["actual"] = minutes
    return {DISK.lower(): {"drillId": "drill-nightly-1", "at": "2026-11-23T02:30:00+00:00",
                           "verdict": verdict, "rto": rto, "rpo": {"objective": "rpo"}}}


GOLD = [ObjectiveScope(ObjectiveRules(Objectives(120, 26.0),
                                      [TagObjectives("tier", "gold", Objectives(30))]),
                       "drill plan nightly")]


@pytest.mark.parametrize(("verdict", "minutes", "expected", "finding"), [
    ("passed", 25.0, "met", False),
    ("passed", 45.0, "missed", True),  # met the plan's 120 min when drilled; gold says 30
    ("failed", 3.0, "missed", True),  # a failed drill made no usable disk, however fast
])
def test_a_disks_rto_is_its_last_drill_against_the_objective_held_now(verdict, minutes, expected,
                                                                       finding) -> None:
    report = checks.assess(facts(objectives=GOLD), _drill(verdict, minutes))
    (disk,) = report["disks"]
    assert disk["rto"]["verdict"] == expected and disk["rto"]["target"] == 30
    assert disk["lastDrill"] == {"drillId": "drill-nightly-1", "at": "2026-11-23T02:30:00+00:00",
                                 "verdict": verdict}
    assert ("RtoMissedInLastDrill" in codes(report)) is finding
    if finding:
        assert report["status"] == "atRisk" and "drill-nightly-1" in \
            disk["findings"][0]["message"]


def test_without_an_rto_or_a_drill_the_rto_is_unknown_and_no_finding() -> None:
    never = checks.assess(facts(objectives=GOLD), {})
    assert never["disks"][0]["rto"] == {"objective": "rto", "verdict": "unknown", "target": 30}
    no_target = checks.assess(facts(), _drill("failed", 3.0))
    assert no_target["disks"][0]["rto"]["verdict"] == "unknown" and codes(no_target) == {}
