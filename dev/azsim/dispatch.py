"""One ARM request, end to end: authenticate, route, check api-version, inject faults, settle
time, authorize, run the handler, audit. Every failure becomes an ARM error envelope.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from . import auth, authorization, compute, dataprotection, locks, resources, restore, sizes, vms
from .arm import Ctx, Response, Route, check_api_version
from .audit import AuditEntry
from .clock import iso
from .errors import ArmError
from .faults import Fault
from .state import SimState

log = logging.getLogger(__name__)

ROUTES: list[Route] = [*resources.ROUTES, *dataprotection.ROUTES, *restore.ROUTES,
                       *authorization.ROUTES, *compute.ROUTES, *vms.ROUTES,
                       *sizes.ROUTES, *locks.ROUTES]
_NAMESPACES = {"microsoft.resources", "microsoft.dataprotection", "microsoft.authorization",
               "microsoft.compute"}
_PROVIDER = re.compile(r"/providers/([^/]+)/([^/]+)", re.IGNORECASE)


@dataclass
class Outcome:
    """What the HTTP layer sends: a response (body already encoded), or a connection reset."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False


def handle(state: SimState, base_url: str, method: str, target: str, headers: Any,
           body: bytes) -> Outcome:
    request_id = str(uuid.uuid4())
    url = urlsplit(target)
    path, query = unquote(url.path), dict(parse_qsl(url.query, keep_blank_values=True))
    entry = {"method": method, "operation": "unknown", "scope": path, "caller": None,
             "write": method not in ("GET", "HEAD"), "fault": None}
    try:
        entry["caller"] = auth.caller(headers, state.tenant_id)
        route, groups = _match(method, path, query)
        entry.update(operation=route.action, scope=groups.get("scope") or path,
                     write=route.write)
        check_api_version(query, route.api)
        fault = _http_fault(state, route, method)
        if fault is not None:
            entry["fault"] = fault.kind
            if fault.kind == "reset":
                return _audited(state, entry, request_id, Outcome(status=0, reset=True))
            if fault.kind != "lostAnswer":
                raise _fault_error(state, fault, route, entry["scope"])
        ctx = Ctx(state, method, path, query, headers, body, entry["caller"], request_id,
                  base_url, groups)
        outcome = _run(state, route, ctx)
        if fault is not None and fault.kind == "lostAnswer":  # done, but the answer is lost
            raise _fault_error(state, fault, route, entry["scope"])
    except ArmError as exc:
        outcome = _encode(Response(exc.status, exc.body(), exc.headers))
    except Exception:  # a bug must still answer as ARM does, never with a traceback
        log.exception("azsim handler failed for %s %s", method, path)
        outcome = _encode(Response(500, {"error": {
            "code": "InternalServerError",
            "message": "Encountered internal server error. Diagnostic information: "
                       f"timestamp '{iso(state.now())}', request id '{request_id}'."}}))
    outcome.headers.setdefault("x-ms-request-id", request_id)
    return _audited(state, entry, request_id, outcome)


def _match(method: str, path: str, query: dict[str, str]) -> tuple[Route, dict[str, str]]:
    path_matched = False
    for route in ROUTES:
        match = route.pattern.fullmatch(path)
        if match is None:
            continue
        if route.method == method:
            return route, match.groupdict()
        path_matched = True
    if path_matched:
        raise ArmError(405, "MethodNotAllowed",
                       f"The requested resource does not support http method '{method}'.")
    raise _unknown_path(path, query.get("api-version", ""))


def _unknown_path(path: str, api_version: str) -> ArmError:
    providers = _PROVIDER.findall(path)
    if providers:
        namespace, rtype = providers[-1]
        if namespace.lower() not in _NAMESPACES:
            return ArmError(404, "InvalidResourceNamespace",
                            f"The resource namespace '{namespace}' is invalid.")
        return ArmError(404, "InvalidResourceType",
                        f"The resource type '{rtype}' could not be found in the namespace "
                        f"'{namespace}' for api version '{api_version}'.")
    return ArmError(404, "NotFound", f"The requested path '{path}' was not found.")


def _http_fault(state: SimState, route: Route, method: str) -> Fault | None:
    latency = state.faults.draw(route.action, method, {"latency"})
    if latency is not None:
        state.critical_path.add("latency", route.action, "", state.now(), latency.seconds)
        time.sleep(latency.seconds)  # injected latency is real time: the client waits for it
    return state.faults.draw(route.action, method, {"status", "reset", "lostAnswer"})


def _fault_error(state: SimState, fault: Fault, route: Route, scope: str) -> ArmError:
    code, message = fault.error()
    headers = {}
    if fault.retryAfter is not None:
        headers["Retry-After"] = f"{fault.retryAfter:g}"
        state.critical_path.add("throttle", route.action, scope, state.now(), fault.retryAfter)
    return ArmError(fault.status or 500, code, message, headers=headers, extra=fault.extra())


def _run(state: SimState, route: Route, ctx: Ctx) -> Outcome:
    with state.lock:
        state.settle()
        # ARM authorizes before the resource provider looks anything up.
        auth.authorize(state, ctx.caller, route.action, ctx.groups.get("scope") or ctx.path)
        _check_parents(state, route, ctx.groups)
        # Encode while holding the lock: handlers may return live state objects.
        return _encode(route.handler(ctx))


def _check_parents(state: SimState, route: Route, groups: dict[str, str]) -> None:
    if "sub" in groups and state.get(f"/subscriptions/{groups['sub']}") is None:
        raise ArmError(404, "SubscriptionNotFound",
                       f"The subscription '{groups['sub']}' could not be found.")
    if (
        "rg" in groups
        and route.api != "resources"
        and state.get(f"/subscriptions/{groups['sub']}/resourceGroups/{groups['rg']}") is None
    ):
        raise resources.group_not_found(groups["rg"])


def _encode(response: Response) -> Outcome:
    if response.body is None:
        return Outcome(response.status, b"", dict(response.headers))
    return json_outcome(response.status, response.body, response.headers)


def json_outcome(status: int, body: Any, headers: dict[str, str] | None = None) -> Outcome:
    return Outcome(status, json.dumps(body).encode(),
                   {**(headers or {}), "Content-Type": "application/json; charset=utf-8"})


def _audited(state: SimState, entry: dict[str, Any], request_id: str, outcome: Outcome
             ) -> Outcome:
    state.audit.record(AuditEntry(time=iso(state.now()), request_id=request_id,
                                  status=outcome.status, **entry))
    return outcome
