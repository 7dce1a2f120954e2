"""The readiness checks: facts read from Azure (domain/readiness/readiness_run.py) in, findings
out, nothing read. Each check says what would make a restore fail (error), what puts one at risk
(warning) and what weakens the backups' protection (info, the posture findings).

Findings that break one disk's restore carry its `disk_id` (also when their cause is shared: a
snapshot resource group, a vault's identity), so a disk's status says all that stands in its
way; the posture findings about a group or a vault are reported once, not tied to a disk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from domain.model import RecoveryPoint, Snapshot
from domain.objectives import (
    MISSED,
    Objectives,
    Verdict,
    rpo_verdict,
    rto_verdict,
    strictest,
)
from domain.resource_id import InvalidResourceId, ResourceId
from domain.restore.encryption_set import AFTER_WINDOW
from domain.timestamps import maybe_utc, parse_utc

from .findings import (
    CANNOT_GRANT,
    ERROR,
    INFO,
    NO_DELETE_LOCK,
    NO_MULTI_USER_AUTHORIZATION,
    NO_RECOVERY_POINT,
    PROTECTION_NOT_HEALTHY,
    RESTORE_BUDGET_LOW,
    RESTORE_BUDGET_SPENT,
    RTO_MISSED_IN_DRILL,
    SNAPSHOT_GROUP_MISSING,
    SNAPSHOTS_DELETABLE,
    SNAPSHOTS_MISSING,
    STALE_RECOVERY_POINT,
    VAULT_IDENTITY_MISSING,
    VAULT_ROLE_MISSING,
    WARNING,
    Finding,
)
from .posture import ManagementLock, PermissionBlock, RoleDefinitionInfo, ScopeAssignment
from .readiness_run import (
    Deleter,
    GroupFacts,
    InstanceFacts,
    ObjectiveScope,
    PointRef,
    ReadinessFacts,
    TargetFacts,
    VaultFacts,
)

# A check that could not be made (a read refused or failed): not a verdict on the disk, but the
# report must not read "ready" for what nobody looked at.
CHECK_FAILED = "CheckFailed"
DAILY_RESTORE_LIMIT = 10  # Azure Backup: restores per backup instance per day
HEALTHY = "ProtectionConfigured"
SNAPSHOT_DELETE = "Microsoft.Compute/snapshots/delete"
GRANT = "Microsoft.Authorization/roleAssignments/write"
READY, AT_RISK, NOT_READY, UNKNOWN = "ready", "atRisk", "notReady", "unknown"
_RANK = {READY: 0, UNKNOWN: 1, AT_RISK: 2, NOT_READY: 3}
_SEVERITY_RANK = {ERROR: 0, WARNING: 1, INFO: 2}
MAX_NAMED = 10  # principals named in one SnapshotGroupDeletableBy line


# ---- pure helpers the activities use ----------------------------------------------------------
def allows(actions: Iterable[str], not_actions: Iterable[str], action: str) -> bool:
    """Whether a role's permission block grants `action`: one of `actions` matches it and none
    of `notActions` does. ARM's `*` matches any run of characters, `/` included; case-blind."""
    return _matches(actions, action) and not _matches(not_actions, action)


def _matches(patterns: Iterable[str], action: str) -> bool:
    return any(re.fullmatch(".*".join(re.escape(part) for part in p.split("*")), action,
                            re.IGNORECASE) for p in patterns)


def points_without_snapshot(points: list[RecoveryPoint], snapshots: list[Snapshot],
                            disk_id: str) -> list[PointRef]:
    """The recovery points (newest first, as given) whose incremental snapshot of `disk_id` is
    not among `snapshots`. A snapshot is a point's when its `creationData.sourceResourceId` is
    the disk and it was taken within `AFTER_WINDOW` of the point's time, before or after it (how
    the two times relate is not documented: encryption_set.py), each snapshot serving one point,
    the nearest. Unlike `snapshot_of_point` (any earlier snapshot of the disk carries its Disk
    Encryption Set), yesterday's snapshot does not stand in for today's lost one."""
    mine = [(t, s) for s in snapshots if (t := _taken(s)) is not None
            # ARM ids compare case-insensitively; Compute's examples even drop the leading slash
            and (s.source_resource_id or "").strip("/").lower() == disk_id.strip("/").lower()]
    used: set[str] = set()
    missing = []
    for point in points:
        when = parse_utc(point.time)
        near = sorted((abs(t - when), s.id) for t, s in mine
                      if abs(t - when) <= AFTER_WINDOW and s.id not in used)
        if near:
            used.add(near[0][1])
        else:
            missing.append(PointRef(point.id, point.time))
    return missing


def _taken(snapshot: Snapshot) -> datetime | None:
    return maybe_utc(snapshot.time_created)


def deleters(assignments: list[ScopeAssignment],
             definitions: dict[str, RoleDefinitionInfo | None],
             exclude: Iterable[str]) -> list[Deleter]:
    """Who may delete snapshots in the group: the holders of an assignment whose role allows
    `Microsoft.Compute/snapshots/delete` (exactly or by a wildcard), but for `exclude` (the
    vaults' identities, which must). A role that could not be read is counted as able to:
    unknown is not safe."""
    skip = {e.lower() for e in exclude}
    found: dict[tuple[str, str, str], Deleter] = {}
    for a in assignments:
        if a.principal_id.lower() in skip:
            continue
        role = definitions.get(a.role_definition_guid.lower())
        if role is not None and not any(allows(p.actions, p.not_actions, SNAPSHOT_DELETE)
                                        for p in role.permissions):
            continue
        name = role.name if role is not None else a.role_definition_guid
        key = (a.principal_id.lower(), name.lower(), a.scope.lower())
        found.setdefault(key, Deleter(a.principal_id, a.principal_type, name, a.scope))
    return sorted(found.values(), key=lambda d: (d.principal_id.lower(), d.role.lower()))


def can_grant(permissions: list[PermissionBlock]) -> bool:
    """From the Permissions API (the caller's own permission blocks at a group): whether one
    allows roleAssignments/write. The API does not say whether an ABAC condition narrows it
    (infra's does, to Disk Restore Operator and Reader for service principals: what restores
    grant)."""
    return any(allows(p.actions, p.not_actions, GRANT) for p in permissions)


def delete_locks(locks: list[ManagementLock], group_id: str) -> list[str]:
    """The locks that keep the group's resources from being deleted: CanNotDelete or ReadOnly, at
    the group or above it (a lock on one resource in it protects only that one)."""
    group = _key(group_id)
    return sorted(lock.id for lock in locks if lock.prevents_delete and lock.scope
                  and (group == _key(lock.scope) or group.startswith(_key(lock.scope) + "/")))


# ---- the assessment ---------------------------------------------------------------------------
def assess(facts: ReadinessFacts,
           last_drills: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The report (the shape docs/readiness.md gives): each disk's status, RPO verdict, RTO
    verdict (from its last drill, `last_drills` by lower-cased disk id as the ledger keeps them),
    restores left and findings; the findings not tied to one disk; the summary."""
    now = parse_utc(facts.checked_at)
    request = facts.request
    groups = {_key(g.group_id): g for g in facts.groups}
    targets = {(_key(t.group_id), t.kind): t for t in facts.targets}
    disks: list[dict[str, Any]] = []
    general: list[Finding] = []
    for vault in facts.vaults:
        general += _vault_findings(vault)
        for bi in vault.instances:
            found = _disk_findings(bi, request.reserve, groups, targets)
            objectives = objectives_for(bi, request.objectives, request.rpo_hours)
            when = parse_utc(bi.newest_point.time) if bi.newest_point else None
            verdict = rpo_verdict(when, now, objectives)
            drill = (last_drills or {}).get(bi.disk_id.lower().rstrip("/"))
            rto = drill_rto(drill, objectives)
            found += _rpo_findings(bi, verdict) + _rto_findings(bi, rto, drill)
            found.sort(key=lambda f: (_SEVERITY_RANK.get(f.severity, 3), f.code, f.scope))
            disks.append({
                "diskId": bi.disk_id, "name": _name(bi.disk_id),
                "backupInstanceId": bi.backup_instance_id, "status": status_of(found),
                "newestRecoveryPoint": bi.newest_point.to_dict() if bi.newest_point else None,
                "rpo": verdict.to_dict(), "rto": rto.to_dict(),
                "lastDrill": None if drill is None else {
                    k: drill.get(k) for k in ("drillId", "at", "verdict")},
                "restoresLeftToday": max(0, DAILY_RESTORE_LIMIT - bi.restores_today),
                "findings": [f.to_dict() for f in found]})
    if not request.vault_ids:
        general.append(Finding(CHECK_FAILED, WARNING, "BACKUP_VAULT_IDS",
                               "no Backup vault is configured (BACKUP_VAULT_IDS), so no disk was "
                               "checked: list the vaults the app restores from"))
    for group in facts.groups:
        general += _group_findings(group)
    for target in facts.targets:
        if target.kind != "source":
            general += _target_findings(target, None)
    general.sort(key=lambda f: (_SEVERITY_RANK.get(f.severity, 3), f.code, f.scope))
    disks.sort(key=lambda d: str(d["diskId"]).lower())
    counts: dict[str, int] = {}
    for finding in [*(f for d in disks for f in _listed(d)), *(f.to_dict() for f in general)]:
        counts[finding["code"]] = counts.get(finding["code"], 0) + 1
    statuses = [str(d["status"]) for d in disks]
    overall = worst([*statuses, status_of(general)]) if disks else (
        NOT_READY if any(f.severity == ERROR for f in general) else UNKNOWN)
    return {
        "checkedAt": facts.checked_at, "status": overall,
        "summary": {"disks": len(disks), "ready": statuses.count(READY),
                    "atRisk": statuses.count(AT_RISK), "notReady": statuses.count(NOT_READY),
                    "findings": dict(sorted(counts.items()))},
        "disks": disks, "findings": [f.to_dict() for f in general]}


def _listed(disk: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = disk["findings"]
    return found


def status_of(findings: Iterable[Finding]) -> str:
    severities = {f.severity for f in findings}
    return NOT_READY if ERROR in severities else AT_RISK if WARNING in severities else READY


def worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=lambda s: _RANK.get(s, 0), default=UNKNOWN)


def objectives_for(bi: InstanceFacts, scopes: list[ObjectiveScope],
                   default_rpo_hours: float) -> Objectives:
    """The strictest objectives of the scopes that cover the disk (each by its tags); the RPO
    falls back to `default_rpo_hours` where none sets one."""
    found = [s.rules.for_tags(bi.disk_tags) for s in scopes
             if s.covers(bi.disk_id, bi.vault_id, bi.disk_tags)]
    chosen = strictest(found)
    return chosen if chosen.rpo_hours is not None else Objectives(chosen.rto_minutes,
                                                                  default_rpo_hours)


def _rpo_findings(bi: InstanceFacts, verdict: Verdict) -> list[Finding]:
    if bi.newest_point is None:
        return [Finding(NO_RECOVERY_POINT, ERROR, bi.backup_instance_id,
                        f"{_name(bi.disk_id)} has no recovery point: nothing to restore; check "
                        "the backup policy and the vault's backup jobs", bi.disk_id)]
    if verdict.verdict == "missed":
        return [Finding(STALE_RECOVERY_POINT, ERROR, bi.backup_instance_id,
                        f"the newest recovery point of {_name(bi.disk_id)} is {verdict.actual} h "
                        f"old ({bi.newest_point.time}), beyond its RPO of {verdict.target:g} h: "
                        "check the vault's backup jobs and the disk's backup policy", bi.disk_id)]
    return []


def drill_rto(drill: dict[str, Any] | None, objectives: Objectives) -> Verdict:
    """A disk's RTO verdict: its last drill's time to a usable restored disk (minutes) against
    the RTO readiness holds it to now (the strictest covering objective, which may differ from
    the drill plan's own); a failed last drill missed it however fast it failed; a disk never
    drilled, or no RTO, is unknown."""
    target = objectives.rto_minutes
    if drill is None:
        return Verdict("rto", UNKNOWN, target)
    actual = (drill.get("rto") or {}).get("actual")
    if drill.get("verdict") == "failed":
        return Verdict("rto", UNKNOWN if target is None else MISSED, target, actual)
    return rto_verdict(actual if isinstance(actual, int | float) else None, objectives)


def _rto_findings(bi: InstanceFacts, rto: Verdict, drill: dict[str, Any] | None) -> list[Finding]:
    if drill is None or rto.verdict != MISSED:
        return []
    how = ("did not restore it" if drill.get("verdict") == "failed"
           else f"restored it in {rto.actual:g} min")
    return [Finding(RTO_MISSED_IN_DRILL, WARNING, bi.backup_instance_id,
                    f"the last drill of {_name(bi.disk_id)} ({drill.get('drillId')}) {how}, "
                    f"against an RTO of {rto.target:g} min: read its drill report; a restore "
                    "in an incident would likely take as long", bi.disk_id)]


def _disk_findings(bi: InstanceFacts, reserve: int, groups: dict[str, GroupFacts],
                   targets: dict[tuple[str, str], TargetFacts]) -> list[Finding]:
    name, found = _name(bi.disk_id), []
    if bi.protection_state != HEALTHY:
        found.append(Finding(PROTECTION_NOT_HEALTHY, WARNING, bi.backup_instance_id,
                             f"the protection of {name} is {bi.protection_state}, not {HEALTHY}: "
                             "no new recovery points are taken; fix or resume it in the vault",
                             bi.disk_id))
    if bi.principal_id is None:
        found.append(Finding(VAULT_IDENTITY_MISSING, ERROR, bi.vault_id,
                             f"the vault {_name(bi.vault_id)} has no managed identity to restore "
                             f"{name} with: enable its system-assigned identity and give it Disk "
                             "Snapshot Contributor on the snapshot resource group again",
                             bi.disk_id))
    found += _snapshot_findings(bi, groups.get(_key(bi.snapshot_resource_group_id)))
    left = max(0, DAILY_RESTORE_LIMIT - bi.restores_today)
    if left == 0:
        found.append(Finding(RESTORE_BUDGET_SPENT, ERROR, bi.backup_instance_id,
                             f"{name} was restored {bi.restores_today} times in the last 24 h: "
                             f"Azure allows {DAILY_RESTORE_LIMIT} a day, so no restore is "
                             "possible until the oldest is a day old; pause drills of it",
                             bi.disk_id))
    elif left <= reserve:
        found.append(Finding(RESTORE_BUDGET_LOW, WARNING, bi.backup_instance_id,
                             f"{name} has {left} restore(s) left today, only the incident reserve "
                             f"({reserve}): drills skip it; an incident may need them all",
                             bi.disk_id))
    source = _group(bi.disk_id)
    target = targets.get((_key(source), "source")) if source else None
    if target is not None:
        found += _target_findings(target, bi.disk_id)
    return found


def _snapshot_findings(bi: InstanceFacts, group: GroupFacts | None) -> list[Finding]:
    name, rg = _name(bi.disk_id), bi.snapshot_resource_group_id
    exists = bi.snapshot_group_exists and (group is None or group.exists)
    if not rg or not exists:
        return [Finding(SNAPSHOT_GROUP_MISSING, ERROR, rg or bi.backup_instance_id,
                        f"the snapshot resource group {_name(rg) or '(none)'} of {name} does not "
                        "exist: every recovery point's snapshot is gone with it; recreate the "
                        "group and reconfigure the disk's backup", bi.disk_id)]
    found = []
    if bi.points_without_snapshot is None:
        found.append(Finding(CHECK_FAILED, WARNING, rg,
                             f"the snapshots of {name} in {_name(rg)} could not be read "
                             f"({bi.snapshots_unread}): give the app Reader on the group",
                             bi.disk_id))
    elif bi.points_without_snapshot:
        gone = bi.points_without_snapshot
        newest = bi.newest_point is not None and any(p.id == bi.newest_point.id for p in gone)
        found.append(Finding(
            SNAPSHOTS_MISSING, ERROR if newest or len(gone) >= bi.point_count else WARNING, rg,
            f"{len(gone)} of {bi.point_count} recovery points of {name} have no snapshot in "
            f"{_name(rg)}" + (" (the newest among them)" if newest else
                              f" (newest of them {gone[0].time})")
            + ": restores from them fail; find who deleted them (activity log) and lock the "
              "group", bi.disk_id))
    if bi.vault_role is False:
        found.append(Finding(VAULT_ROLE_MISSING, ERROR, rg,
                             f"the vault's identity {bi.principal_id} has no Disk Snapshot "
                             f"Contributor on {_name(rg)}: every restore of {name} fails; assign "
                             "it again (as when backup was configured)", bi.disk_id))
    return found


def _vault_findings(vault: VaultFacts) -> list[Finding]:
    if vault.error is not None or not vault.exists:
        why = vault.error or "it does not exist"
        return [Finding(CHECK_FAILED, ERROR, vault.vault_id,
                        f"the vault {_name(vault.vault_id)} could not be checked ({why}): fix "
                        "BACKUP_VAULT_IDS or the app's Backup Reader role on it")]
    if not vault.resource_guards:
        return [Finding(NO_MULTI_USER_AUTHORIZATION, INFO, vault.vault_id,
                        f"the vault {_name(vault.vault_id)} has no Resource Guard: one person "
                        "with rights on it can stop protection and delete backup data; enable "
                        "Multi-User Authorization")]
    return []


def _group_findings(group: GroupFacts) -> list[Finding]:
    rg = group.group_id
    if group.error is not None:
        return [Finding(CHECK_FAILED, WARNING, rg, f"the posture of {_name(rg)} could not be "
                        f"checked ({group.error}): give the app the source reader role there")]
    if not group.exists:
        return []  # said per disk: SnapshotResourceGroupMissing
    found = []
    if not group.delete_locks:
        found.append(Finding(NO_DELETE_LOCK, INFO, rg,
                             f"the snapshot resource group {_name(rg)} has no CanNotDelete lock: "
                             "its snapshots (the disks' operational backups, not covered by soft "
                             "delete) can be deleted by anyone allowed to; add one"))
    if group.deleters:
        named = ", ".join(f"{d.principal_id} ({d.principal_type or 'principal'}, {d.role})"
                          for d in group.deleters[:MAX_NAMED])
        more = len(group.deleters) - MAX_NAMED
        found.append(Finding(SNAPSHOTS_DELETABLE, INFO, rg,
                             f"{len(group.deleters)} principal(s) besides the vault can delete "
                             f"the snapshots in {_name(rg)}: {named}"
                             + (f" and {more} more" if more > 0 else "")
                             + "; remove what they do not need"))
    return found


def _target_findings(target: TargetFacts, disk_id: str | None) -> list[Finding]:
    """A warning, not an error: a restore into another group still works, and a team without
    alert-driven recovery (which restores into the disk's own group) or drills would otherwise be
    alerted every hour about groups it never restores into."""
    rg, what = target.group_id, ("the drill sandbox" if target.kind == "sandbox"
                                 else "the disk's own group (where recovery restores it)")
    if not target.exists:
        return [Finding(CANNOT_GRANT, WARNING, rg, f"{what} {_name(rg)} does not exist: restores "
                        "into it fail; create it or fix the plan", disk_id)]
    if target.can_grant is None:
        return [Finding(CHECK_FAILED, WARNING, rg, f"whether the app can grant roles in {what} "
                        f"{_name(rg)} is not known ({target.error})", disk_id)]
    if not target.can_grant:
        return [Finding(CANNOT_GRANT, WARNING, rg,
                        f"the app cannot assign roles in {what} {_name(rg)} (no "
                        f"{GRANT}): a restore there fails at its grant; add the group to "
                        "infra's targetResourceGroupIds (or recoveryResourceGroupIds)", disk_id)]
    return []


# ---- small things -----------------------------------------------------------------------------
def _key(resource_id: str) -> str:
    return resource_id.lower().rstrip("/")


def _group(resource_id: str) -> str | None:
    try:
        return ResourceId.parse(resource_id).resource_group_id
    except InvalidResourceId:
        return None


def _name(resource_id: str | None) -> str:
    return (resource_id or "").rstrip("/").rsplit("/", 1)[-1]


