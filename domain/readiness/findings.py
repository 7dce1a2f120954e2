"""A readiness finding: one thing that would make a restore fail (or be slower, or unsafe),
named by a stable code, the resource it concerns and one line saying what to do about it."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.model import OMITTED_WHEN_NONE, Record

# error: a restore would fail or an objective is broken; warning: at risk; info: posture
ERROR, WARNING, INFO = "error", "warning", "info"

# The codes, stable: alerts and dashboards key on them.
STALE_RECOVERY_POINT = "StaleRecoveryPoint"  # newest point older than the RPO objective
RTO_MISSED_IN_DRILL = "RtoMissedInLastDrill"  # the last drill restored it slower than its RTO
NO_RECOVERY_POINT = "NoRecoveryPoint"
PROTECTION_NOT_HEALTHY = "ProtectionNotHealthy"  # currentProtectionState not ProtectionConfigured
SNAPSHOT_GROUP_MISSING = "SnapshotResourceGroupMissing"
SNAPSHOTS_MISSING = "SnapshotsMissing"  # recovery points whose snapshots are gone
VAULT_ROLE_MISSING = "VaultRoleMissing"  # the vault's role on the snapshot resource group
VAULT_IDENTITY_MISSING = "VaultIdentityMissing"
CANNOT_GRANT = "CannotGrantInTarget"  # the app cannot assign roles in a target group
RESTORE_BUDGET_SPENT = "RestoreBudgetSpent"  # no restores left today
RESTORE_BUDGET_LOW = "RestoreBudgetLow"  # only the incident reserve left
SNAPSHOTS_DELETABLE = "SnapshotGroupDeletableBy"  # principals who can delete the snapshots
NO_DELETE_LOCK = "NoDeleteLock"  # the snapshot resource group has no CanNotDelete lock
NO_MULTI_USER_AUTHORIZATION = "NoMultiUserAuthorization"  # the vault has no Resource Guard


@dataclass(frozen=True)
class Finding(Record):
    code: str
    severity: str  # error | warning | info
    scope: str  # the resource it concerns: a disk, snapshot resource group, vault or target group
    message: str  # one line: what is wrong and what to do
    disk_id: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
