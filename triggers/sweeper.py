"""Every 15 minutes: find runs that ended without releasing their leases on role assignments
(terminated, or failed before their revoke step, or replaced by a restart under the same instance
id) and start one sweep that releases them and revokes what no live run holds.

Two sources, both ours (nothing has to list role assignments): the runs publish their leases,
and the assignments they may create, in their custom status before they take them; and the
ledger's lease rows name their holders, each one execution of a run (domain/access/role_sweep.py).
Keyed by execution: a restarted run is swept again for what its new execution left.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions import OrchestrationRuntimeStatus

from domain.access.grant_lease import GrantLease, instance_of
from domain.access.role_sweep import Leftover, RoleSweep, ended_run_leftover, stale_holders
from gateway.ledger import ledger_for
from orchestrations.drill import drill
from orchestrations.restore_managed_disk import restore_managed_disk
from orchestrations.sweep import sweep_role_assignments
from settings import settings

from .instances import list_instances

bp = df.Blueprint()
log = logging.getLogger(__name__)
SWEEP_ID = "sweep-role-assignments"
LOOKBACK = timedelta(days=7)
RUNBOOKS = (restore_managed_disk.name, drill.name)  # the orchestrations that grant roles
_ENDED = [OrchestrationRuntimeStatus.Terminated, OrchestrationRuntimeStatus.Failed,
          OrchestrationRuntimeStatus.Completed]


async def find_leftovers(client: df.DurableOrchestrationClient) -> list[Leftover]:
    """What ended runs published as left (each execution once; the swept ones included)."""
    since = datetime.now(UTC) - LOOKBACK
    # every page: the SDK's get_status_by reads only the first 100 instances
    statuses = await list_instances(client, created_from=since, runtime_status=_ENDED)
    leftovers = [ended_run_leftover(s.instance_id, _iso(s.created_time), s.custom_status)
                 for s in statuses if s.name in RUNBOOKS]
    return [item for item in leftovers if item is not None]


async def live_holders(client: df.DurableOrchestrationClient,
                       leases: list[GrantLease]) -> set[str]:
    """The holders that are a live execution: their run is not ended (nor purged) and does not
    publish another execution as its holder (a restart under the same instance id). A run not
    publishing a holder yet is live: never revoke a grant a running run may need."""
    live = set()
    for holder in sorted({h for lease in leases for h in lease.holders}):
        status = await client.get_status(instance_of(holder), show_input=False)
        if status.runtime_status is None or status.runtime_status in _ENDED:
            continue
        custom = status.custom_status if isinstance(status.custom_status, dict) else {}
        if custom.get("holder") in (None, holder):
            live.add(holder)
    return live


async def sweep(client: df.DurableOrchestrationClient,
                leases: Callable[[], list[GrantLease]] | None = None) -> str | None:
    """Start a sweep if anything is left and none is running; the sweep's instance id, or None.
    `leases`: the ledger's lease rows (the app's ledger unless given)."""
    previous = await client.get_status(SWEEP_ID, show_input=False)
    if previous.runtime_status in (OrchestrationRuntimeStatus.Running,
                                   OrchestrationRuntimeStatus.Pending):
        return SWEEP_ID
    done = set((previous.output or {}).get("swept", [])) if isinstance(previous.output, dict) \
        else set()
    candidates = await find_leftovers(client)
    rows = await asyncio.to_thread(leases or ledger_for(settings()).leases)
    live = await live_holders(client, rows)
    leftovers = _merged([item for item in candidates if item.run not in done]
                        + stale_holders(rows, live))
    if not leftovers:
        return None
    log.warning("sweeping what %d ended run(s) left: %d lease(s), %d role assignment(s)",
                len(leftovers), sum(len(x.leases) for x in leftovers),
                sum(len(x.assignments) for x in leftovers))
    still_listed = {item.run for item in candidates}  # older runs fall out of the lookback
    return await sweep_role_assignments.start(client, SWEEP_ID, RoleSweep(
        leftovers, sorted(done & still_listed)))


def _merged(leftovers: list[Leftover]) -> list[Leftover]:
    """One leftover per execution (a run's custom status and the lease rows may both name it)."""
    by_run: dict[str, Leftover] = {}
    for item in leftovers:
        seen = by_run.get(item.run)
        by_run[item.run] = item if seen is None else Leftover(
            item.run, sorted({*seen.assignments, *item.assignments}),
            [*seen.leases, *(k for k in item.leases if k not in seen.leases)])
    return list(by_run.values())


def _iso(when: Any) -> str:
    return when.isoformat() if isinstance(when, datetime) else str(when or "")


@bp.timer_trigger(arg_name="timer", schedule="0 */15 * * * *", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def sweep_role_assignments_timer(timer: func.TimerRequest,
                                       client: df.DurableOrchestrationClient) -> None:
    await sweep(client)
