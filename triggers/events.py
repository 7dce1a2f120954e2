"""Alert-driven recovery entry points.

* Event Grid trigger `recovery_event` (Event Grid schema and CloudEvents 1.0; the host answers
  both subscription handshakes): resource deletions, ARN health changes.
* `POST /api/alerts`: Azure Monitor alerts in the common alert schema, from an action group's
  webhook or Azure Function receiver. 200 quickly, with what became of each alert target; 400
  for a payload that can never succeed; 503 (retried by the action group) while no valid policy
  file is loaded.
* `GET /api/recovery/events`: the ledger, newest first: every event and what became of it.
* `GET /api/recovery/policies`: the loaded policies, or why none are loaded.

A malformed event is recorded and answered, never retried. An event that cannot be judged now
(no valid policy file, the ledger unreachable) raises, so Event Grid delivers it again later.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from domain.recovery.admission import Decision
from domain.recovery.signals import MalformedEvent, Signal, is_alert, parse_event
from domain.restore.request import parse_json
from gateway.ledger import ledger_for
from settings import settings

from .api_route import api
from .http_inputs import query, read_query, since_utc
from .problems import STORAGE_FAILURES, problem, unavailable
from .services.signal_intake import (
    PoliciesUnavailable,
    account_malformed,
    admit,
    decision_view,
    event_key,
    handle_alert,
    malformed_key,
)
from .wiring import load_policies, recovery_intake

bp = df.Blueprint()
log = logging.getLogger(__name__)


def check_policies_at_startup() -> None:
    """Validate the policy file when the app starts, and say loudly what is wrong with it.
    The app still starts: manual restores do not depend on the policies."""
    try:
        config = settings()
    except Exception:  # noqa: BLE001 - invalid settings are reported by every entry point
        return
    if not config.recovery_policies_path:
        log.info("alert-driven recovery is off: RECOVERY_POLICIES_PATH is not set")
        return
    try:
        policies = load_policies(config)
    except PoliciesUnavailable as exc:
        log.error("alert-driven recovery is refusing events until the policy file is fixed: %s",
                  exc)
        return
    log.info("alert-driven recovery: %d polic%s from %s", len(policies.policies),
             "y" if len(policies.policies) == 1 else "ies", config.recovery_policies_path)


check_policies_at_startup()


def event_dict(event: func.EventGridEvent | func.CloudEvent) -> dict[str, Any]:
    """The event as it arrived on the wire (the trigger hands over parsed objects)."""
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    if isinstance(event, func.CloudEvent):
        return {"specversion": event.specversion, "id": event.id, "source": event.source,
                "type": event.type, "time": iso(event.time), "subject": event.subject,
                "data": event.get_json()}
    return {"id": event.id, "topic": event.topic, "subject": event.subject,
            "eventType": event.event_type, "eventTime": iso(event.event_time),
            "data": event.get_json(), "dataVersion": event.data_version}


@bp.event_grid_trigger(arg_name="event")
@bp.durable_client_input(client_name="client")
async def recovery_event(event: func.EventGridEvent, client: df.DurableOrchestrationClient) -> None:
    doc = event_dict(event)
    source = "cloudevents" if "specversion" in doc else "eventgrid"
    try:
        signal = parse_event(doc)
    except MalformedEvent as exc:
        key = event_key("eventgrid", doc.get("id"),
                        source, json.dumps(doc, sort_keys=True, default=str))
        await account_malformed(recovery_intake(), key, exc, source)
        return
    await admit(client, signal, recovery_intake().admission())


@bp.route(route="alerts", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def post_alert(req: func.HttpRequest,
                     client: df.DurableOrchestrationClient) -> func.HttpResponse:
    try:
        return await _post_alert(req, client)
    except STORAGE_FAILURES as exc:  # the ledger: Azure Monitor retries a 503
        log.error("alert refused for now: %s", exc)
        return unavailable("Recovery ledger unavailable", exc)


async def _post_alert(req: func.HttpRequest,
                      client: df.DurableOrchestrationClient) -> func.HttpResponse:
    text = req.get_body().decode("utf-8", errors="replace")
    try:
        body = parse_json(text)
    except ValueError as exc:
        error = MalformedEvent(f"the body is not valid JSON: {exc}")
        await account_malformed(recovery_intake(), malformed_key("alert", text), error,
                                "alert")
        return problem(400, "Malformed alert", error.message)
    if not is_alert(body):
        error = MalformedEvent('not a common alert schema payload: "schemaId" must be '
                               '"azureMonitorCommonAlertSchema" (turn on the common alert '
                               "schema in the action group)")
        await account_malformed(recovery_intake(), malformed_key("alert", text), error,
                                "alert")
        return problem(400, "Malformed alert", error.message)
    try:
        decisions = await handle_alert(client, body, text, recovery_intake())
    except MalformedEvent as exc:
        return problem(400, "Malformed alert", exc.message)
    except PoliciesUnavailable as exc:
        return problem(503, "Recovery policies unavailable", str(exc),
                       headers={"Retry-After": "300"})
    base = req.url.split("/api/", 1)[0]
    return func.HttpResponse(json.dumps({"signals": [
        _answer(signal, decision, base) for signal, decision in decisions]}),
        status_code=200, mimetype="application/json")


def _answer(signal: Signal, decision: Decision, base: str) -> dict[str, Any]:
    answer = {"key": signal.key, "summary": signal.summary, **decision_view(decision)}
    if decision.run_id:
        answer["statusQueryGetUri"] = f"{base}/api/restores/{decision.run_id}"
    return answer


@bp.route(route="recovery/events", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@api(reads=True)
async def list_recovery_events(req: func.HttpRequest) -> func.HttpResponse:
    params = query(req.params)
    read_query("RecoveryEventsQuery", params, title="Invalid query")
    since, limit = since_utc(params.get("since")), int(params.get("limit", "100"))
    try:
        events = await asyncio.to_thread(ledger_for(settings()).events, since, limit)
    except STORAGE_FAILURES as exc:
        log.error("recovery events unavailable: %s", exc)
        return unavailable("Recovery ledger unavailable", exc)
    return func.HttpResponse(json.dumps({"events": events}), mimetype="application/json")


@bp.route(route="recovery/policies", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@api(reads=True)
async def get_recovery_policies(req: func.HttpRequest) -> func.HttpResponse:
    try:
        policies = load_policies(settings())
    except PoliciesUnavailable as exc:
        return problem(503, "Recovery policies unavailable", str(exc))
    return func.HttpResponse(json.dumps({
        "version": policies.version, "maxConcurrentRecoveries": policies.max_concurrent_recoveries,
        "policies": [p.to_dict() for p in policies.policies]}), mimetype="application/json")
