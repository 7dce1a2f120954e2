"""The simulator's own endpoints under `/_sim/` (no authentication; not audited):

    GET    /_sim/info            endpoint, caBundle, subscriptionId, tenantId, appPrincipalId
    GET    /_sim/state           every resource, role assignment, operation and principal
    GET    /_sim/audit           ?write=true|false -> {"entries": [...], "counts": {...}}
    GET    /_sim/faults          {"rules": [...], "fired": [...]}
    POST   /_sim/faults          a fault object or a list of them -> 201 {"rules": [...]}
    DELETE /_sim/faults          remove every rule -> 204
    GET    /_sim/clock           {"time", "now", "virtual"}
    POST   /_sim/clock           {"advance": seconds} or {"advanceTo": epoch seconds}
    GET    /_sim/critical-path   {"totalSeconds", "spanSeconds", "items"}
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .clock import advance, iso
from .compute import DISK_TYPE, render_disk
from .dataprotection import JOB_TYPE, render_job
from .dispatch import Outcome, json_outcome
from .errors import ArmError, bad_request
from .state import SimState, public
from .vms import VM_TYPE, render_vm

log = logging.getLogger(__name__)


def handle(state: SimState, info: dict[str, str], method: str, target: str, body: bytes
           ) -> Outcome:
    url = urlsplit(target)
    query = dict(parse_qsl(url.query))
    key = (method, url.path.rstrip("/"))
    try:
        if key == ("GET", "/_sim/info"):
            return json_outcome(200, info)
        if key == ("GET", "/_sim/state"):
            return json_outcome(200, snapshot(state))
        if key == ("GET", "/_sim/audit"):
            write = {"true": True, "false": False}.get(query.get("write", "").lower())
            return json_outcome(200, {"entries": state.audit.entries(write),
                                      "counts": state.audit.counts()})
        if key == ("GET", "/_sim/critical-path"):
            return json_outcome(200, state.critical_path.report())
        if url.path.rstrip("/") == "/_sim/faults":
            return _faults(state, method, body)
        if url.path.rstrip("/") == "/_sim/clock":
            return _clock(state, method, body)
        raise ArmError(404, "NotFound", f"No simulator endpoint {method} {url.path}.")
    except ArmError as exc:
        return json_outcome(exc.status, exc.body())
    except Exception:  # as in dispatch: an envelope, never a traceback on the wire
        log.exception("azsim admin call failed: %s %s", method, target)
        return json_outcome(500, {"error": {"code": "InternalServerError",
                                            "message": "The simulator failed; see its log."}})


def snapshot(state: SimState) -> dict[str, Any]:
    with state.lock:
        state.settle()
        return {
            "time": iso(state.now()),
            "subscriptionId": state.subscription_id,
            "tenantId": state.tenant_id,
            "resources": [_render(state, body) for body in state.resources.values()],
            "roleAssignments": [
                {**ra.body(), "effectiveFrom": _time(ra.effective_from),
                 "effectiveUntil": _time(ra.effective_until), "deleted": ra.deleted,
                 "deletedOn": _time(ra.deleted_at) if ra.deleted_at is not None else None}
                for ra in state.role_assignments],
            "operations": [
                {"id": op.id, "action": op.action, "scope": op.scope, "status": op.status,
                 "startTime": iso(op.start), "endTime": iso(op.end), "error": op.error}
                for op in state.operations.values()],
            "principals": [vars(p) for p in state.principals.values()],
        }


def _render(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    rtype = body.get("type", "").lower()
    if rtype == DISK_TYPE.lower():
        return render_disk(state, body)
    if rtype == VM_TYPE.lower():
        return render_vm(state, body, instance_view=True)
    if rtype == JOB_TYPE.lower():
        return render_job(state, body)
    rendered = public(body)
    if "_snapshotId" in body:  # a recovery point: its snapshot (azsim's own link, see README)
        rendered["snapshotId"] = body["_snapshotId"]
    return rendered


def _time(t: float) -> str | None:
    return iso(t) if abs(t) != float("inf") else None


def _faults(state: SimState, method: str, body: bytes) -> Outcome:
    if method == "GET":
        return json_outcome(200, {"rules": state.faults.rules(), "fired": state.faults.fired()})
    if method == "DELETE":
        state.faults.clear()
        return Outcome(204)
    if method == "POST":
        specs = _body(body)
        added = [state.faults.add(s) for s in (specs if isinstance(specs, list) else [specs])]
        return json_outcome(201, {"rules": added})
    raise ArmError(405, "MethodNotAllowed", "Use GET, POST or DELETE.")


def _clock(state: SimState, method: str, body: bytes) -> Outcome:
    if method == "POST":
        request = _body(body)
        if not isinstance(request, dict):
            raise bad_request("BadRequest", "Send {\"advance\": seconds} or {\"advanceTo\": t}.")
        target = request.get("advanceTo")
        if target is None:
            seconds = request.get("advance")
            if not isinstance(seconds, (int, float)) or seconds < 0:
                raise bad_request("BadRequest", "'advance' must be a number of seconds >= 0.")
            target = state.now() + seconds
        if not isinstance(target, (int, float)) or not advance(state.clock, target - state.now()):
            raise bad_request("BadRequest", "This clock cannot be moved.")
    elif method != "GET":
        raise ArmError(405, "MethodNotAllowed", "Use GET or POST.")
    with state.lock:
        state.settle()
    return json_outcome(200, {"time": state.now(), "now": iso(state.now()),
                       "virtual": bool(getattr(state.clock, "virtual", False))})


def _body(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except (ValueError, RecursionError) as exc:
        raise bad_request("InvalidRequestContent", f"Invalid JSON: {exc}") from exc
