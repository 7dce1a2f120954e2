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
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from domain.recovery.admission import Decision
from domain.restore.request import parse_json, zulu
from domain.recovery.signals import MalformedEvent, Signal, is_alert, parse_event
from gateway.ledger import ledger_for
from settings import settings

from .authorization import read_refusal
from .problems import STORAGE_FAILURES, problem, unavailable
from .signal_intake import (
    PoliciesUnavailable,
    account_malformed,
    admission,
    admit,
    decision_view,
    event_key,
    handle_alert,
    load_policies,
    malformed_key,
)

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
        await account_malformed(ledger_for(settings()), key, exc, source)
        return
    await admit(client, signal, admission())


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
        await account_malformed(ledger_for(settings()), malformed_key("alert", text), error,
                                "alert")
        return problem(400, "Malformed alert", error.message)
    if not is_alert(body):
        error = MalformedEvent('not a common alert schema payload: "schemaId" must be '
                               '"azureMonitorCommonAlertSchema" (turn on the common alert '
                               "schema in the action group)")
        await account_malformed(ledger_for(settings()), malformed_key("alert", text), error,
                                "alert")
        return problem(400, "Malformed alert", error.message)
    try:
        decisions = await handle_alert(client, body, text)
    except MalformedEvent as exc:
        return problem(400, "Malformed alert", exc.message)
    except PoliciesUnavailable as exc:
        return problem(503, "Recovery policies unavailable", str(exc), headers={"Retry-After": "300"})
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
async def list_recovery_events(req: func.HttpRequest) -> func.HttpResponse:
    if (refused := read_refusal(req)) is not None:
        return refused
    bad: list[dict[str, str]] = []
    since, limit = _since(req.params.get("since"), bad), _limit(req.params.get("limit"), bad)
    if bad:
        return problem(400, "Invalid query", "; ".join(e["message"] for e in bad), errors=bad)
    try:
        events = await asyncio.to_thread(ledger_for(settings()).events, since, limit)
    except STORAGE_FAILURES as exc:
        log.error("recovery events unavailable: %s", exc)
        return unavailable("Recovery ledger unavailable", exc)
    return func.HttpResponse(json.dumps({"events": events}), mimetype="application/json")


def _since(text: str | None, bad: list[dict[str, str]]) -> datetime | None:
    """ISO 8601; a date or a time without a zone reads as UTC (the ledger's times are UTC)."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(zulu(text))
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:  # OverflowError: year 1 at +01:00, say
        bad.append({"field": "since", "message": "since must be an ISO 8601 time, like "
                    f"2026-11-20T00:00:00Z ({exc}; got {text[:100]!r})"})
        return None


def _limit(text: str | None, bad: list[dict[str, str]]) -> int:
    text = "100" if text is None else text
    if not (text.isascii() and text.isdigit() and len(text) <= 4) or not 1 <= int(text) <= 1000:
        bad.append({"field": "limit", "message": "limit must be a whole number from 1 to 1000 "
                    f"(got {text[:100]!r})"})
        return 1
    return int(text)


@bp.route(route="recovery/policies", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
async def get_recovery_policies(req: func.HttpRequest) -> func.HttpResponse:
    if (refused := read_refusal(req)) is not None:
        return refused
    try:
        policies = load_policies(settings())
    except PoliciesUnavailable as exc:
        return problem(503, "Recovery policies unavailable", str(exc))
    return func.HttpResponse(json.dumps({
        "version": policies.version, "maxConcurrentRecoveries": policies.max_concurrent_recoveries,
        "policies": [p.to_dict() for p in policies.policies]}), mimetype="application/json")
