"""HTTP entry points: POST /api/restores, GET /api/restores (the runs), GET /api/restores/{id},
and POST /api/restores/{id}/cancel, /approve and /reject.

Errors are RFC 9457 problem details naming the problem (and every bad field).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from domain import errors
from domain.request import zulu
from settings import settings

from .submit import ORCHESTRATOR, submit
from .views import restore_view, run_summary

bp = df.Blueprint()
log = logging.getLogger(__name__)
_PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, *, headers: dict[str, str] | None = None,
            **extra: Any) -> func.HttpResponse:
    body = {"type": f"https://diskrestore.dev/problems/{title.lower().replace(' ', '-')}",
            "title": title, "status": status, "detail": detail, **extra}
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype=_PROBLEM,
                             headers=headers)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json",
                             headers=headers)


def _status_url(req: func.HttpRequest, instance_id: str) -> str:
    base = req.url.split("/api/", 1)[0]
    return f"{base}/api/restores/{instance_id}"


@bp.route(route="restores", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def post_restore(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    try:
        body = json.loads(req.get_body() or b"")
    except ValueError as exc:
        return problem(400, "Invalid request", f"the body is not valid JSON: {exc}")
    try:
        submitted = await submit(client, body, settings())
    except errors.InvalidRequest as exc:
        return problem(400, "Invalid request", exc.message,
                       errors=[{"field": e.field, "message": e.message} for e in exc.errors])
    url = _status_url(req, submitted.instance_id)
    return _json(202 if submitted.started else 200,
                 {"id": submitted.instance_id, "started": submitted.started,
                  "statusQueryGetUri": url, "cancelPostUri": f"{url}/cancel"},
                 {"Location": url, "Retry-After": "10"})


LISTED = (ORCHESTRATOR, "recover")  # what GET /api/restores lists: restores and recovery runs
_STATUSES = {s.value.lower(): s for s in df.OrchestrationRuntimeStatus}
MAX_TOP = 500


@bp.route(route="restores", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def list_restores(req: func.HttpRequest,
                        client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The restore and recovery runs created since `since` (default: 7 days ago), newest first,
    at most `top` (default 50), optionally only those in the runtime statuses `status` names."""
    query = _ListQuery(req.params)
    bad = list(query.unknown)
    since, statuses, top = query.since(bad), query.statuses(bad), query.top(bad)
    if bad:
        return problem(400, "Invalid request", "; ".join(e["message"] for e in bad), errors=bad)
    found = await client.get_status_by(created_time_from=since, runtime_status=statuses)
    runs = sorted((run_summary(s) for s in found if s.name in LISTED),
                  key=lambda r: r["createdTime"] or "", reverse=True)
    return _json(200, {"restores": runs[:top], "count": min(len(runs), top),
                       "truncated": len(runs) > top, "since": since.isoformat()})


def is_restore(status: Any) -> bool:
    """A restore or recovery run: the API's other orchestrations (drills, sweeps) are not
    restores, and answer 404 here."""
    return status.runtime_status is not None and status.name in LISTED


class _ListQuery:
    def __init__(self, params: Any) -> None:
        self.params = params
        extra = sorted(set(params) - {"since", "status", "top", "code"})  # code: the key
        self.unknown = [{"field": k, "message": f"unknown query parameter {k!r}"} for k in extra]

    def since(self, bad: list[dict[str, str]]) -> datetime:
        text = self.params.get("since")
        if not text:
            return datetime.now(UTC) - timedelta(days=7)
        try:
            value = datetime.fromisoformat(zulu(text))
        except ValueError:
            value = None
        if value is None or value.tzinfo is None:
            bad.append({"field": "since", "message": "since must be an ISO 8601 time with a "
                        f"zone, like 2026-11-20T00:00:00Z (got {text!r})"})
            return datetime.now(UTC)
        return value

    def statuses(self, bad: list[dict[str, str]]) -> list[df.OrchestrationRuntimeStatus] | None:
        text = self.params.get("status")
        if not text:
            return None
        names = [n.strip() for n in text.split(",") if n.strip()]
        unknown = [n for n in names if n.lower() not in _STATUSES]
        if unknown or not names:
            bad.append({"field": "status", "message": f"unknown status {', '.join(unknown)!r}: "
                        f"use {', '.join(s.value for s in _STATUSES.values())}"})
            return None
        return [_STATUSES[n.lower()] for n in names]

    def top(self, bad: list[dict[str, str]]) -> int:
        text = self.params.get("top") or "50"
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_TOP:
            bad.append({"field": "top", "message": f"top must be a whole number from 1 to "
                        f"{MAX_TOP} (got {text!r})"})
            return 1
        return int(text)


@bp.route(route="restores/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def get_restore(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = req.route_params["id"]
    status = await client.get_status(instance_id, show_input=False)
    if not is_restore(status):
        return problem(404, "Not found", f"no restore with id {instance_id!r}")
    view = restore_view(status)
    if view["phase"] in ("propagate", "track") and not view["done"]:
        # the wait runs as an orchestration of its own (orchestrations/polls.py): its progress
        for child, child_view in await _children(client, status):
            view["progress"] = {**child_view["progress"], **view["progress"], "wait": child}
    return _json(200 if view["done"] else 202, view,
                 None if view["done"] else {"Retry-After": "10"})


@bp.route(route="restores/{id}/cancel", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def cancel_restore(req: func.HttpRequest,
                         client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = req.route_params["id"]
    status = await client.get_status(instance_id, show_input=False)
    if not is_restore(status):
        return problem(404, "Not found", f"no restore with id {instance_id!r}")
    if restore_view(status)["done"]:
        return problem(409, "Already finished", f"restore {instance_id!r} has already finished")
    targets = [instance_id, *[c for c, s in await _children(client, status) if not s["done"]]]
    for target in targets:
        await client.raise_event(target, "cancel", {"requestedBy": "http"})
    return _json(202, {"id": instance_id, "cancelRequested": True, "appliedTo": targets},
                 {"Location": _status_url(req, instance_id)})


@bp.route(route="restores/{id}/approve", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def approve_restore(req: func.HttpRequest,
                          client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await _decide(req, client, approved=True)


@bp.route(route="restores/{id}/reject", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def reject_restore(req: func.HttpRequest,
                         client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await _decide(req, client, approved=False)


async def _decide(req: func.HttpRequest, client: df.DurableOrchestrationClient, *,
                  approved: bool) -> func.HttpResponse:
    """Send a person's decision to the restore waiting for it: the run itself, or the restores
    of a recovery run. The approver is the signed-in caller (App Service authentication headers);
    without them, the body must name one, recorded as unauthenticated."""
    instance_id = req.route_params["id"]
    try:
        body = json.loads(req.get_body() or b"{}")
    except ValueError as exc:
        return problem(400, "Invalid request", f"the body is not valid JSON: {exc}")
    if not isinstance(body, dict) or set(body) - {"approver", "comment"}:
        return problem(400, "Invalid request", 'the body may hold only "approver" and "comment"')
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > 2000):
        return problem(400, "Invalid request", '"comment" must be a string of at most 2000 '
                       "characters", errors=[{"field": "comment", "message": "must be a string "
                                              "of at most 2000 characters"}])
    principal = signed_in(req)
    approver = principal or body.get("approver")
    if not isinstance(approver, str) or not approver.strip() or len(approver) > 200:
        return problem(400, "Invalid request", "name the approver: sign in (App Service "
                       'authentication) or send {"approver": "<who>"}')
    status = await client.get_status(instance_id, show_input=False)
    if not is_restore(status):
        return problem(404, "Not found", f"no restore with id {instance_id!r}")
    waiting = [instance_id] if restore_view(status)["phase"] == "approval" else []
    waiting += [c for c, s in await _children(client, status) if s["phase"] == "approval"]
    if not waiting:
        return problem(409, "Not waiting for approval",
                       f"restore {instance_id!r} is not waiting for approval (phase "
                       f"{restore_view(status)['phase']!r})")
    decision = {"approved": approved, "by": approver.strip(),
                "principalId": req.headers.get("x-ms-client-principal-id") if principal else None,
                "authenticated": bool(principal), "comment": comment}
    for target in waiting:
        await client.raise_event(target, "approval", decision)
    return _json(202, {"id": instance_id, "decision": "approved" if approved else "rejected",
                       "by": decision["by"], "authenticated": decision["authenticated"],
                       "appliedTo": waiting}, {"Location": _status_url(req, instance_id)})


def signed_in(req: func.HttpRequest) -> str | None:
    """The caller App Service authentication signed in, or None. The X-MS-CLIENT-PRINCIPAL-*
    headers are the platform's only when authentication is on (WEBSITE_AUTH_ENABLED); otherwise
    any caller can send them, so they are ignored (and the attempt logged)."""
    name = req.headers.get("x-ms-client-principal-name")
    if name and not settings().app_service_auth:
        log.warning("ignored X-MS-CLIENT-PRINCIPAL-NAME %r: App Service authentication is not "
                    "enabled, so the header comes from the caller", name[:200])
        return None
    return name or None


async def _children(client: df.DurableOrchestrationClient,
                    status: Any) -> list[tuple[str, dict[str, Any]]]:
    """A recovery run's restores (listed in its progress) with their views."""
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    children = (custom.get("detail") or {}).get("children") or []
    views = []
    for child in children:
        child_status = await client.get_status(child, show_input=False)
        if child_status.runtime_status is not None:
            views.append((child, restore_view(child_status)))
    return views
