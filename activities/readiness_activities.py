"""The readiness run's activities: read one vault's protected disks, one snapshot resource group's
posture, one restore target group's grant permission (each a handful of reads, every answer a
fact, a refused read a fact too), and write the report (blob storage, the log records an alert
queries). The checks themselves are domain/readiness/checks.py."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from domain import errors
from domain.model import Snapshot
from domain.readiness import checks
from domain.readiness.posture import ProtectedInstance
from domain.readiness.readiness_report import (
    FINDING_PREFIX,
    RUN_PREFIX,
    error_logs,
    summary_log,
    trend_point,
)
from domain.readiness.readiness_run import (
    GroupFacts,
    GroupRequest,
    InstanceFacts,
    PointRef,
    ReadinessFacts,
    ReadinessWritten,
    TargetFacts,
    TargetRequest,
    VaultFacts,
    VaultRequest,
)
from domain.restore.planning import DISK_SNAPSHOT_CONTRIBUTOR
from gateway.port import ControlPlane

from .activity import activity, ledger, report_store
from .readiness_page import render_readiness_html

log = logging.getLogger("diskrestore.readiness")
# A read the app may not make is a finding ("could not be checked"), not a failed run; Azure
# being unreachable or throttling is retried (the activity raises it).
_REFUSED = (errors.AppNotAuthorized, errors.ValidationFailed, errors.BackupInstanceNotFound)


@activity()
def inspect_vault(request: VaultRequest, azure: ControlPlane) -> VaultFacts:
    """The vault's identity and Resource Guards, and for each protected disk: its recovery
    points, the snapshots they need, the vault's role on the snapshot group, restores today."""
    try:
        vault = azure.read_vault(request.vault_id)
    except errors.BackupInstanceNotFound as exc:
        return VaultFacts(request.vault_id, exists=False, error=exc.message)
    except _REFUSED as exc:
        return VaultFacts(request.vault_id, error=exc.message)
    since = (datetime.fromisoformat(request.now) - timedelta(hours=24)).isoformat()
    try:
        restores = azure.count_restores(vault.id, since)
    except _REFUSED as exc:
        return VaultFacts(vault.id, principal_id=vault.principal_id,
                          identity_type=vault.identity_type,
                          resource_guards=vault.resource_guards,
                          error=f"its restore jobs could not be read: {exc.message}")
    groups = _Groups(azure)
    return VaultFacts(vault.id, principal_id=vault.principal_id,
                      identity_type=vault.identity_type, resource_guards=vault.resource_guards,
                      instances=[_instance(azure, vault.id, bi, groups,
                                           restores.get(bi.id.lower(), 0))
                                 for bi in vault.instances if bi.datasource_id])


class _Groups:
    """Each snapshot group read once per vault: whether it exists, its snapshots, and whether an
    identity holds Disk Snapshot Contributor there."""

    def __init__(self, azure: ControlPlane) -> None:
        self._azure = azure
        self._exists: dict[str, bool] = {}
        self._snapshots: dict[str, list[Snapshot] | str] = {}
        self._roles: dict[tuple[str, str], bool] = {}

    def exists(self, group: str) -> bool:
        if group.lower() not in self._exists:
            self._exists[group.lower()] = \
                self._azure.get_resource_group_location(group) is not None
        return self._exists[group.lower()]

    def snapshots(self, group: str) -> list[Snapshot] | str:
        """The group's snapshots, or why they could not be read."""
        if group.lower() not in self._snapshots:
            try:
                self._snapshots[group.lower()] = self._azure.list_snapshots(group)
            except _REFUSED as exc:
                self._snapshots[group.lower()] = exc.message
        return self._snapshots[group.lower()]

    def has_role(self, group: str, principal: str) -> bool:
        key = (group.lower(), principal.lower())
        if key not in self._roles:
            self._roles[key] = any(
                a.role_definition_guid.lower() == DISK_SNAPSHOT_CONTRIBUTOR
                for a in self._azure.find_role_assignments(group, principal))
        return self._roles[key]


def _instance(azure: ControlPlane, vault_id: str, bi: ProtectedInstance, groups: _Groups,
              restores: int) -> InstanceFacts:
    disk = azure.get_disk(bi.datasource_id)
    points = azure.list_recovery_points(bi.id)
    group = bi.snapshot_resource_group_id
    exists = bool(group) and groups.exists(group)
    missing: list[PointRef] | None = []
    unread = None
    vault_role = None
    if exists:
        snapshots = groups.snapshots(group)
        if isinstance(snapshots, str):
            missing, unread = None, snapshots
        else:
            missing = checks.points_without_snapshot(points, snapshots, bi.datasource_id)
        if bi.principal_id:
            try:
                vault_role = groups.has_role(group, bi.principal_id)
            except _REFUSED:
                vault_role = None  # not known: the report says only what was seen
    return InstanceFacts(
        backup_instance_id=bi.id, disk_id=bi.datasource_id, vault_id=vault_id,
        protection_state=bi.protection_state, snapshot_resource_group_id=group,
        principal_id=bi.principal_id, disk_tags=dict(disk.tags) if disk else {},
        disk_exists=disk is not None,
        newest_point=PointRef(points[0].id, points[0].time) if points else None,
        point_count=len(points), points_without_snapshot=missing, snapshots_unread=unread,
        snapshot_group_exists=exists, vault_role=vault_role, restores_today=restores)


@activity()
def inspect_snapshot_group(request: GroupRequest, azure: ControlPlane) -> GroupFacts:
    """Whether the group exists, the locks that keep its snapshots from deletion, and who besides
    the vaults may delete them."""
    group = request.group_id
    try:
        if azure.get_resource_group_location(group) is None:
            return GroupFacts(group, exists=False)
        locks = checks.delete_locks(azure.list_locks(group), group)
        assignments = azure.list_scope_assignments(group)
        roles = {a.role_definition_guid.lower() for a in assignments}
        definitions = {guid: azure.get_role_definition(group, guid) for guid in sorted(roles)}
    except _REFUSED as exc:
        return GroupFacts(group, error=exc.message)
    return GroupFacts(group, delete_locks=locks,
                      deleters=checks.deleters(assignments, definitions,
                                               request.vault_principal_ids))


@activity()
def inspect_target(request: TargetRequest, azure: ControlPlane) -> TargetFacts:
    """Whether the app may assign roles in a restore target group (the Permissions API)."""
    try:
        permissions = azure.list_own_permissions(request.group_id)
    except _REFUSED as exc:
        return TargetFacts(request.group_id, request.kind, error=exc.message)
    if permissions is None:
        return TargetFacts(request.group_id, request.kind, exists=False)
    return TargetFacts(request.group_id, request.kind, can_grant=checks.can_grant(permissions))


def _last_drills() -> dict[str, dict[str, Any]]:
    """Each disk's last drill from the ledger (the RTO verdicts); when the ledger cannot be read
    the report is still written, every RTO unknown, and the log says why."""
    try:
        return ledger().last_drills()
    except errors.RestoreError as exc:
        log.warning("readiness without the last drills (RTO verdicts unknown): %s", exc.message)
        return {}


@activity(errors_as_data=False)
def write_readiness_report(facts: ReadinessFacts, _: ControlPlane) -> ReadinessWritten:
    """The report (JSON and HTML) to blob storage as the run's and as the latest, one log record
    for the run and one per error finding. Idempotent: a re-run overwrites the same blobs."""
    report = checks.assess(facts, _last_drills())
    store = report_store()
    trend = [*store.readiness_trend(exclude=facts.run_id), trend_point(report, facts.run_id)]
    urls = store.write_readiness(facts.run_id, report, render_readiness_html(report, trend),
                                 trend_point(report, facts.run_id))
    log.info("%s%s", RUN_PREFIX, json.dumps(summary_log(report, facts.run_id)))
    for record in error_logs(report, facts.run_id):
        log.warning("%s%s", FINDING_PREFIX, json.dumps(record))
    return ReadinessWritten(report["status"], report["summary"], urls)
