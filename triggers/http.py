"""HTTP entry points: POST /api/restores, GET /api/restores/{id}, POST /api/restores/{id}/cancel.

Errors are RFC 9457 problem details naming the problem (and every bad field).
"""

from __future__ import annotations

import json
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from domain import errors
from settings import settings

from .submit import submit
from .views import restore_view

bp = df.Blueprint()
_PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> func.HttpResponse:
    body = {"type": f"https://diskrestore.dev/problems/{title.lower().replace(' ', '-')}",
            "title": title, "status": status, "detail": detail, **extra}
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype=_PROBLEM)


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


@bp.route(route="restores/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def get_restore(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = req.route_params["id"]
    status = await client.get_status(instance_id, show_input=False)
    if status.runtime_status is None:
        return problem(404, "Not found", f"no restore with id {instance_id!r}")
    view = restore_view(status)
    return _json(200 if view["done"] else 202, view,
                 None if view["done"] else {"Retry-After": "10"})


@bp.route(route="restores/{id}/cancel", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def cancel_restore(req: func.HttpRequest,
                         client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = req.route_params["id"]
    status = await client.get_status(instance_id, show_input=False)
    if status.runtime_status is None:
        return problem(404, "Not found", f"no restore with id {instance_id!r}")
    if restore_view(status)["done"]:
        return problem(409, "Already finished", f"restore {instance_id!r} has already finished")
    await client.raise_event(instance_id, "cancel", {"requestedBy": "http"})
    return _json(202, {"id": instance_id, "cancelRequested": True},
                 {"Location": _status_url(req, instance_id)})
