"""Sweeps. `sweep_role_assignments` releases the leases, and revokes the role assignments, left
behind by runs that never reached their own revoke step (terminated, or failed in a way that
skipped it, or replaced by a restart under the same instance id); idempotent: releasing a lease
not held and revoking a gone assignment are fine. An assignment other runs still hold is kept:
the sweep releases the ended run's lease, and the last live holder revokes. The next sweep skips
the executions its output lists in `swept`.
`sweep_drill_disks` deletes expired drill disks.
"""

from __future__ import annotations

import azure.durable_functions as df

from activities.compute_activities import start_delete_disk
from activities.drill_activities import expired_drill_disks
from activities.role_activities import release_grant, revoke_role, settle_grant
from domain import errors
from domain.access import audit
from domain.access.access_policy import Caller
from domain.access.audit import AuditContext
from domain.access.grant_lease import LeaseKey, LeaseRelease, LeaseSettle
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
        who = audit.context(context.instance_id, _SWEEPER, why)
        for key in item.leases:
            report += yield from _release(context, item.run, key, who)
        for assignment_id in item.assignments:  # runs from before leases
            try:
                revoked = yield from call_activity(
                    context, revoke_role, Revocation(assignment_id), audit=who)
                report.append(LeftoverRevocation(item.run, assignment_id, revoked=True,
                                                 was_present=revoked.was_present))
            except Exception as exc:  # noqa: BLE001 - report, try the others, retry next sweep
                report.append(LeftoverRevocation(item.run, assignment_id, revoked=False,
                                                 error=str(exc).split("\n")[0]))
        if all(r.revoked or r.held_by for r in report if r.run == item.run) and \
                not item.run.startswith("retired@"):
            swept.add(item.run)
    return RoleSweepReport(sorted(swept), report)


def _release(context: df.DurableOrchestrationContext, run: str, key: LeaseKey,
             who: AuditContext) -> Orchestration[list[LeftoverRevocation]]:
    """Release `run`'s lease on `key` and revoke what that leaves to revoke (its generation if
    `run` was the last holder; any retired one an earlier releaser did not finish)."""
    try:
        released = yield from call_activity(context, release_grant,
                                            LeaseRelease(key, run, made=True))
    except Exception as exc:  # noqa: BLE001 - report, try the others, retry next sweep
        return [LeftoverRevocation(run, f"the lease on {key.text}", revoked=False,
                                   error=str(exc).split("\n")[0])]
    report, done = [], []
    if released.holders:  # others hold it: theirs to revoke, never the sweep's
        report.append(LeftoverRevocation(run, key.assignment_id(released.generation),
                                         revoked=False, held_by=released.holders))
    for assignment_id in released.to_revoke:
        try:
            revoked = yield from call_activity(context, revoke_role, Revocation(assignment_id),
                                               audit=who)
            done.append(assignment_id)
            report.append(LeftoverRevocation(run, assignment_id, revoked=True,
                                             was_present=revoked.was_present))
        except Exception as exc:  # noqa: BLE001 - report, try the others, retry next sweep
            report.append(LeftoverRevocation(run, assignment_id, revoked=False,
                                             error=str(exc).split("\n")[0]))
    if done:
        yield from call_activity(context, settle_grant, LeaseSettle(key, done))
    return report


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
