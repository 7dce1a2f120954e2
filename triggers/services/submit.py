"""Starting a restore, shared by every entry point: validate, derive the instance id, start once.

`start_new` silently replaces an instance with the same id, so the status is checked first: the
same request sent twice (an HTTP retry, a queue redelivery) names one run and starts it once. A
run that ended without success (failed, cancelled, not approved, terminated) is started again by
sending the request again; a run in progress or one that succeeded is returned as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from azure.durable_functions import DurableOrchestrationClient, OrchestrationRuntimeStatus

from domain.access.access_policy import Caller, RunAccess
from domain.errors import RequestIdReused
from domain.restore.request import RestoreRequest
from domain.restore.restore_run import ApprovalRequest, RestoreInput, RunSettings
from domain.restore.vm_request import VmRestoreRequest, parse_restore_body
from domain.restore.vm_run import VmRestoreInput
from orchestrations.restore_managed_disk import restore_managed_disk
from orchestrations.restore_vm import restore_vm
from settings import Settings

_RESTARTABLE = {OrchestrationRuntimeStatus.Failed, OrchestrationRuntimeStatus.Terminated,
                OrchestrationRuntimeStatus.Canceled, None}
_UNSUCCESSFUL = {"Failed", "Cancelled", "NotApproved", "DryRun"}  # DryRun: plan afresh


@dataclass(frozen=True)
class Submitted:
    instance_id: str
    started: bool  # False: the same request already has a run


def restartable(status: Any) -> bool:
    """No run yet, one that ended without success, or a finished dry run (it changes nothing,
    and an old plan would show yesterday's recovery points). The orchestration completes
    normally when a restore fails (its output says Failed), so the outcome decides, not the
    runtime status alone."""
    if status.runtime_status in _RESTARTABLE:
        return True
    output = status.output if isinstance(status.output, dict) else {}
    return status.runtime_status == OrchestrationRuntimeStatus.Completed and \
        output.get("outcome") in _UNSUCCESSFUL


def same_request(status: Any, request: RestoreRequest | VmRestoreRequest,
                 instance_id: str) -> None:
    """Raise RequestIdReused when the run `status` shows was started by the same requestId for a
    different request (an id derived from the request's hash needs no check: same hash, same
    request). Whatever that run's state: a requestId names one request for good."""
    if status.runtime_status is None or not request.request_id:
        return
    doc = status.input_
    try:
        if isinstance(doc, str):
            doc = json.loads(doc)
        earlier = type(request).from_dict(doc["request"])
    except Exception:  # noqa: BLE001 - an input this version cannot read is not judged
        return
    differences = earlier.differences(request)  # type: ignore[arg-type]
    if differences:
        raise RequestIdReused(errors=differences, run_id=instance_id)


def run_settings(settings: Settings) -> RunSettings:
    """What the orchestration needs from settings, fixed into its input at start."""
    return RunSettings(propagation_timeout_s=settings.propagation_timeout_s,
                       job_timeout_s=settings.job_timeout_s,
                       probe_interval_s=settings.probe_interval_s,
                       poll_interval_s=settings.poll_interval_s,
                       operation_poll_s=settings.operation_poll_s)


async def submit(client: DurableOrchestrationClient, body: Any, settings: Settings, *,
                 requested_by: dict[str, Any], access: dict[str, Any] | None = None,
                 why: str | None = None, approval_minutes: int | None = None) -> Submitted:
    """Start the restore `body` asks for (a RestoreRequest, or its JSON: raises
    domain.errors.InvalidRequest naming every bad field) for `requested_by` (who, kept for the
    audit trail and the approval check), with `access` (the rules that allowed it, checked again
    once the vault is known). A requestId whose run was started for a different request raises
    domain.errors.RequestIdReused naming what differs."""
    request = body if isinstance(body, RestoreRequest | VmRestoreRequest) else \
        parse_restore_body(body)
    instance_id = request.instance_id()
    status = await client.get_status(instance_id, show_input=True)
    same_request(status, request, instance_id)
    if not restartable(status):
        return Submitted(instance_id, started=False)
    caller = Caller.from_dict(requested_by)
    rules = RunAccess.from_dict(access) if access else None
    why = request.reason or why or f"restore request {instance_id}"
    # the access rule asks a second person before a VM is touched
    approval = ApprovalRequest(approval_minutes) if approval_minutes else None
    try:
        if isinstance(request, VmRestoreRequest):
            await restore_vm.start(client, instance_id, VmRestoreInput(
                request, run_settings(settings), caller, rules, why=why, approval=approval))
        else:
            await restore_managed_disk.start(client, instance_id, RestoreInput(
                request, run_settings(settings), caller, rules, why=why, approval=approval))
    except Exception:
        # The same request sent twice at once: both saw no run, and the host (host.json
        # overridableExistingInstanceStates=NonRunningStates) refused the second start over the
        # first, which is running now. That run is the answer; anything else is a real failure.
        status = await client.get_status(instance_id, show_input=True)
        if restartable(status):
            raise
        same_request(status, request, instance_id)
        return Submitted(instance_id, started=False)
    return Submitted(instance_id, started=True)
