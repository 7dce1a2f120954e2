"""Every 15 minutes: find restore runs that ended without revoking their role assignments
(terminated, or failed before their revoke step) and start one sweep that revokes them.

The runs publish the ids of assignments they created and have not revoked yet in their custom
status, so the durable state alone says what is left; nothing has to list role assignments.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions import OrchestrationRuntimeStatus

from domain.access.role_sweep import Leftover, RoleSweep
from orchestrations.drill import drill
from orchestrations.restore_managed_disk import restore_managed_disk
from orchestrations.sweep import sweep_role_assignments

from .instances import list_instances

bp = df.Blueprint()
log = logging.getLogger(__name__)
SWEEP_ID = "sweep-role-assignments"
LOOKBACK = timedelta(days=7)
RUNBOOKS = (restore_managed_disk.name, drill.name)  # the orchestrations that grant roles
_ENDED = [OrchestrationRuntimeStatus.Terminated, OrchestrationRuntimeStatus.Failed,
          OrchestrationRuntimeStatus.Completed]


async def find_leftovers(client: df.DurableOrchestrationClient) -> list[dict[str, Any]]:
    since = datetime.now(UTC) - LOOKBACK
    # every page: the SDK's get_status_by reads only the first 100 instances
    statuses = await list_instances(client, created_from=since, runtime_status=_ENDED)
    leftovers = []
    for status in statuses:
        custom = status.custom_status if isinstance(status.custom_status, dict) else {}
        if status.name in RUNBOOKS and custom.get("assignments"):
            leftovers.append({"run": status.instance_id, "assignments": custom["assignments"]})
    return leftovers


async def sweep(client: df.DurableOrchestrationClient) -> str | None:
    """Start a sweep if anything is left and none is running; the sweep's instance id, or None."""
    previous = await client.get_status(SWEEP_ID, show_input=False)
    if previous.runtime_status in (OrchestrationRuntimeStatus.Running,
                                   OrchestrationRuntimeStatus.Pending):
        return SWEEP_ID
    done = set((previous.output or {}).get("swept", [])) if isinstance(previous.output, dict) \
        else set()
    candidates = await find_leftovers(client)
    leftovers = [item for item in candidates if item["run"] not in done]
    if not leftovers:
        return None
    log.warning("sweeping %d role assignment(s) left by %d ended restore run(s)",
                sum(len(x["assignments"]) for x in leftovers), len(leftovers))
    still_listed = {item["run"] for item in candidates}  # older runs fall out of the lookback
    return await sweep_role_assignments.start(client, SWEEP_ID, RoleSweep(
        [Leftover(x["run"], x["assignments"]) for x in leftovers], sorted(done & still_listed)))


@bp.timer_trigger(arg_name="timer", schedule="0 */15 * * * *", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def sweep_role_assignments_timer(timer: func.TimerRequest,
                                       client: df.DurableOrchestrationClient) -> None:
    await sweep(client)
