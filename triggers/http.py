"""HTTP entry points: POST /api/restores, GET /api/restores (the runs), GET /api/restores/{id},
and POST /api/restores/{id}/cancel, /approve, /reject and /undo.

Errors are RFC 9457 problem details naming the problem (and every bad field).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from domain.access.access_policy import Caller, RunAccess
from domain.model import json_object
from domain.resource_id import ResourceId
from domain.restore.restore_run import ApprovalRequest, VmChange
from domain.restore.undo import UNDO_PREFIX, UndoInput, taken_off
from domain.restore.vm_request import parse_restore_body
from orchestrations.recover import recover
from orchestrations.restore_managed_disk import restore_managed_disk
from orchestrations.restore_vm import restore_vm
from orchestrations.steps import APPROVAL_EVENT, CANCEL_EVENT
from orchestrations.undo_restore import undo_restore
from settings import settings

from .api_route import api, body_json
from .callers import authorize, reader, record_action
from .http_inputs import query, read, read_query, since_1970, statuses
from .instances import list_instances
from .problems import problem
from .services.authorization import request_scope, run_scope
from .services.submit import restartable, run_settings, submit
from .views import restore_view, run_summary

bp = df.Blueprint()
log = logging.getLogger(__name__)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json",
                             headers=headers)


def _status_url(req: func.HttpRequest, instance_id: str) -> str:
    base = req.url.split("/api/", 1)[0]
    return f"{base}/api/restores/{instance_id}"


@bp.route(route="restores", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
@api()
async def post_restore(req: func.HttpRequest,
                       client: df.DurableOrchestrationClient) -> func.HttpResponse:
    request = parse_restore_body(body_json(req))
    action, resources = request_scope(request)
    allowed = authorize(req, action, resources, run_id=request.instance_id(),
                        why=request.reason)
    submitted = await submit(client, request, settings(), requested_by=allowed.caller.to_dict(),
                             access=allowed.audit(), approval_minutes=allowed.approval_minutes)
    if submitted.started:
        record_action("request", allowed, {"action": action, **{
            k: v for k, v in resources.items() if v}}, run_id=submitted.instance_id,
            why=request.reason)
    url = _status_url(req, submitted.instance_id)
    return _json(202 if submitted.started else 200,
                 {"id": submitted.instance_id, "started": submitted.started,
                  "statusQueryGetUri": url, "cancelPostUri": f"{url}/cancel"},
                 {"Location": url, "Retry-After": "10"})


# GET /api/restores: restores, whole-VM restores, recoveries, undos
LISTED = (restore_managed_disk.name, restore_vm.name, recover.name, undo_restore.name)


@bp.route(route="restores", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
@api(reads=True)
async def list_restores(req: func.HttpRequest,
                        client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The restore and recovery runs created since `since` (default: 7 days ago), newest first,
    at most `top` (default 50), optionally only those in the runtime statuses `status` names."""
    params = query(req.params)
    read_query("RestoreListQuery", params)
    since = since_1970(params.get("since")) or \
        datetime.now(UTC) - timedelta(days=7)
    top = int(params.get("top", "50"))
    # Pages come in instance id order, not by age: "newest first" needs every page of the
    # window read, then sorted and cut (the SDK's get_status_by would read only the first).
    found = await list_instances(client, created_from=since,
                                 runtime_status=statuses(params.get("status")))
    runs = sorted((run_summary(s) for s in found if s.name in LISTED),
                  key=lambda r: (r["createdTime"] or "", r["id"]), reverse=True)
    return _json(200, {"restores": runs[:top], "count": min(len(runs), top),
                       "truncated": len(runs) > top, "since": since.isoformat()})


def is_restore(status: Any) -> bool:
    """A restore or recovery run: the API's other orchestrations (drills, sweeps) are not
    restores, and answer 404 here."""
    return status.runtime_status is not None and status.name in LISTED


async def _restore(client: df.DurableOrchestrationClient, instance_id: str) -> Any:
    """The run's status, or None (and the route answers 404) when it is no restore."""
    status = await client.get_status(instance_id, show_input=False)
    return status if is_restore(status) else None


def _no_restore(instance_id: str) -> func.HttpResponse:
    return problem(404, "Not found", f"no restore with id {instance_id!r}")


@bp.route(route="restores/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
@api(reads=True, run="restore")
async def get_restore(req: func.HttpRequest,
                      client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = req.route_params["id"]
    status = await _restore(client, instance_id)
    if status is None:
        return _no_restore(instance_id)
    view = restore_view(status)
    if view["phase"] in ("propagate", "track") and not view["done"]:
        # the wait runs as an orchestration of its own (orchestrations/polls.py): its progress
        for child, child_view, _ in await _children(client, status):
            view["progress"] = {**child_view["progress"], **view["progress"], "wait": child}
    return _json(200 if view["done"] else 202, view,
                 None if view["done"] else {"Retry-After": "10"})


@bp.route(route="restores/{id}/cancel", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
@api(run="restore")
async def cancel_restore(req: func.HttpRequest,
                         client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Cancel a run: its requester may, and so may whoever the policy lets cancel it."""
    instance_id = req.route_params["id"]
    who = reader(req)
    status = await _restore(client, instance_id)
    if status is None:
        return _no_restore(instance_id)
    if restore_view(status)["done"]:
        return problem(409, "Already finished", f"restore {instance_id!r} has already finished")
    subject = _subject(status)
    allowed = authorize(req, "cancel", run_scope(subject, vm=False), run_id=instance_id,
                        own=Caller.from_dict(subject.get("requestedBy")))
    targets = [instance_id, *await _unfinished_below(client, status)]
    for target in targets:
        await client.raise_event(target, CANCEL_EVENT, {"requestedBy": who.to_dict()})
    record_action("cancel", allowed, {"appliedTo": targets, **{
        k: v for k, v in run_scope(subject, vm=False).items() if v}}, run_id=instance_id,
        why=None)
    return _json(202, {"id": instance_id, "cancelRequested": True, "appliedTo": targets},
                 {"Location": _status_url(req, instance_id)})


@bp.route(route="restores/{id}/undo", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
@api(run="restore")
async def undo_restore_route(req: func.HttpRequest,
                             client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Put back the disks a restore took off its VM (replaced in place, swapped out): under the
    same access rule and approval as a swap. Refused, naming why, for a run that is not a
    finished, successful restore that took a disk off a VM; the undo run itself refuses a VM that
    changed since. One undo per run (`undo-<id>`); sent again, it names that undo."""
    instance_id = req.route_params["id"]
    body = body_json(req, b"{}")
    read("UndoRequest", body)
    status = await client.get_status(instance_id, show_input=False)
    if not is_restore(status):
        return _no_restore(instance_id)
    view = restore_view(status)
    output = view["result"] or {}
    refusal = "" if status.name in (restore_managed_disk.name, restore_vm.name) else (
        "a recovery run is undone restore by restore: undo each of "
        + ", ".join((view["progress"] or {}).get("children") or []) or "its restores")
    refusal = refusal or ("it has not finished" if not view["done"] else
                          f"it did not succeed ({view['outcome']})"
                          if view["outcome"] != "Succeeded" else
                          "it changed no VM" if not output.get("vmChange") else "")
    change = VmChange.from_dict(output["vmChange"]) if not refusal else None
    if change is not None and not taken_off(change):
        refusal = ("it took no disk off the VM (a disk attached beside the others is detached "
                   "by hand)")
    if refusal or change is None:
        return problem(409, "Nothing to undo", f"restore {instance_id!r} cannot be undone: "
                       f"{refusal}")
    reason = body.get("reason")
    undo_id = f"{UNDO_PREFIX}{instance_id}"
    resources: dict[str, str | None] = {
        "vms": change.vm_id,
        "targetResourceGroups": ResourceId.parse(change.vm_id).resource_group_id}
    allowed = authorize(req, "swap", resources, run_id=undo_id, why=reason)
    existing = await client.get_status(undo_id, show_input=False)
    started = restartable(existing)
    if started:
        await undo_restore.start(client, undo_id, UndoInput(
            instance_id, change, run_settings(settings()), allowed.caller,
            RunAccess.from_dict(allowed.audit()),
            why=reason or f"undo of restore {instance_id}",
            approval=ApprovalRequest(allowed.approval_minutes)
            if allowed.approval_minutes else None))
        record_action("request", allowed, {"action": "undo", **resources}, run_id=undo_id,
                      why=reason)
    url = _status_url(req, undo_id)
    return _json(202 if started else 200,
                 {"id": undo_id, "started": started, "undoes": instance_id,
                  "statusQueryGetUri": url, "cancelPostUri": f"{url}/cancel"},
                 {"Location": url, "Retry-After": "10"})


@bp.route(route="restores/{id}/approve", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
@api(run="restore")
async def approve_restore(req: func.HttpRequest,
                          client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await _decide(req, client, approved=True)


@bp.route(route="restores/{id}/reject", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
@api(run="restore")
async def reject_restore(req: func.HttpRequest,
                         client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await _decide(req, client, approved=False)


async def _decide(req: func.HttpRequest, client: df.DurableOrchestrationClient, *,
                  approved: bool) -> func.HttpResponse:
    """Send a person's decision to the restore waiting for it: the run itself, or the restores
    of a recovery run. The approver is the signed-in caller, whom the policy must let approve
    each waiting restore and who must not be the principal that requested it (separation of
    duties). With caller authorization off and nobody signed in, the body names the approver,
    recorded as unauthenticated."""
    instance_id = req.route_params["id"]
    body = body_json(req, b"{}")
    read("DecisionRequest", body)
    who = reader(req)
    signed_in = who.kind == "user"
    approver = who.name if signed_in else body.get("approver")
    if not isinstance(approver, str) or not approver.strip() or len(approver) > 200:
        return problem(400, "Invalid request", "name the approver: sign in (App Service "
                       'authentication) or send {"approver": "<who>"}')
    status = await _restore(client, instance_id)
    if status is None:
        return _no_restore(instance_id)
    waiting = [(instance_id, _subject(status))] if \
        restore_view(status)["phase"] == "approval" else []
    waiting += [(c, subject) for c, v, subject in await _children(client, status)
                if v["phase"] == "approval"]
    if not waiting:
        return problem(409, "Not waiting for approval",
                       f"restore {instance_id!r} is not waiting for approval (phase "
                       f"{restore_view(status)['phase']!r})")
    action = "approve" if approved else "reject"
    granted = [authorize(req, "approve", run_scope(subject), run_id=target,  # every one
                         not_by=Caller.from_dict(subject.get("requestedBy")), attempted=action)
               for target, subject in waiting]
    comment = body.get("comment")
    decision = {"approved": approved, "by": approver.strip(),
                "principalId": who.id if signed_in else None,
                "authenticated": signed_in, "comment": comment}
    for (target, subject), allowed in zip(waiting, granted, strict=True):
        await client.raise_event(target, APPROVAL_EVENT, decision)
        record_action(action, allowed, {"decision": action, **{
            k: v for k, v in run_scope(subject).items() if v}}, run_id=target, why=comment)
    return _json(202, {"id": instance_id, "decision": "approved" if approved else "rejected",
                       "by": decision["by"], "authenticated": decision["authenticated"],
                       "appliedTo": [t for t, _ in waiting]},
                 {"Location": _status_url(req, instance_id)})


def _subject(status: Any) -> dict[str, Any]:
    return json_object(json_object(status.custom_status).get("subject"))


async def _unfinished_below(client: df.DurableOrchestrationClient, status: Any,
                            depth: int = 3) -> list[str]:
    """Every unfinished run below this one (a recovery's restores, and their waits): a cancel
    goes to each, so none goes on to its next step while its parent stops."""
    found: list[str] = []
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    for child in (custom.get("detail") or {}).get("children") or []:
        child_status = await client.get_status(child, show_input=False)
        if child_status.runtime_status is None or restore_view(child_status)["done"]:
            continue
        found.append(child)
        if depth > 1:
            found += await _unfinished_below(client, child_status, depth - 1)
    return found


async def _children(client: df.DurableOrchestrationClient,
                    status: Any) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """A run's children (a recovery run's restores, a restore's wait: listed in its progress)
    with their views and subjects."""
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    children = (custom.get("detail") or {}).get("children") or []
    views = []
    for child in children:
        child_status = await client.get_status(child, show_input=False)
        if child_status.runtime_status is not None:
            views.append((child, restore_view(child_status), _subject(child_status)))
    return views
