"""Sweeps. `sweep_role_assignments` revokes role assignments left behind by runs that never
reached their own revoke step (terminated, or failed in a way that skipped it); idempotent:
revoking a gone assignment is fine. The next sweep skips the runs its output lists in `swept`.
`sweep_drill_disks` deletes expired drill disks.
"""

from __future__ import annotations

import azure.durable_functions as df

from activities.compute_activities import start_delete_disk
from activities.drill_activities import expired_drill_disks
from activities.role_activities import revoke_role
from domain import errors
from domain.access import audit
from domain.access.access_policy import Caller
from domain.access.role_sweep import LeftoverRevocation, RoleSweep, RoleSweepReport
from domain.drills.drill_run import DiskDeletion, DiskSweep, DiskSweepReport
from domain.model import DiskRef, Revocation

from .calls import Orchestration, orchestrator
from .steps import call_activity

_SWEEPER = Caller("sweeper", None, "diskrestore")


@orchestrator()
def sweep_role_assignments(context: df.DurableOrchestrationContext,
                           doc: RoleSweep) -> Orchestration[RoleSweepReport]:
    swept = set(doc.swept)
    report: list[LeftoverRevocation] = []
    for item in doc.leftovers:
        why = f"left behind by run {item.run}, which did not revoke it"
        for assignment_id in item.assignments:
            try:
                revoked = yield from call_activity(
                    context, revoke_role, Revocation(assignment_id),
                    audit=audit.context(context.instance_id, _SWEEPER, why))
                report.append(LeftoverRevocation(item.run, assignment_id, revoked=True,
                                                 was_present=revoked.was_present))
            except Exception as exc:  # noqa: BLE001 - report, try the others, retry next sweep
                report.append(LeftoverRevocation(item.run, assignment_id, revoked=False,
                                                 error=str(exc).split("\n")[0]))
        if all(r.revoked for r in report if r.run == item.run):
            swept.add(item.run)
    return RoleSweepReport(sorted(swept), report)


@orchestrator()
def sweep_drill_disks(context: df.DurableOrchestrationContext,
                      doc: DiskSweep) -> Orchestration[DiskSweepReport]:
    """Delete drill disks whose expiry tag has passed (kept failures, or disks of a drill that
    was stopped before its clean-up)."""
    expired = yield from call_activity(context, expired_drill_disks, doc)
    report = []
    for disk_id in expired.disk_ids:
        try:
            yield from call_activity(context, start_delete_disk, DiskRef(disk_id),
                                     audit=audit.context(context.instance_id, _SWEEPER,
                                                         "a drill disk past its expiry"))
            report.append(DiskDeletion(disk_id, deleted=True))
        except errors.RestoreError as exc:  # reported as data, e.g. attached since: leave it
            report.append(DiskDeletion(disk_id, deleted=False, error=exc.message))
        except Exception as exc:  # noqa: BLE001 - report, try the others, retry next sweep
            report.append(DiskDeletion(disk_id, deleted=False, error=str(exc).split("\n")[0]))
    return DiskSweepReport(report)
