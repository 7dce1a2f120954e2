"""Queue entry point `restore-requests`: the HTTP request schema, one message per restore; or an
Azure Monitor alert in the common alert schema (relayed by, say, a Logic App), which goes through
alert-driven recovery like POST /api/alerts.

A message that can never succeed (not JSON, or an invalid request) is logged with its reason and
moved to `restore-requests-poison` at once, with the reason next to the original text; it is
never retried and never dropped. A transient failure raises, so the host retries the message and
poisons it after maxDequeueCount, as for any queue function.
"""

from __future__ import annotations

import json
import logging

import azure.durable_functions as df
import azure.functions as func

from domain import errors
from domain.recovery.signals import MalformedEvent, is_alert
from domain.restore.request import parse_json
from settings import settings

from .services.signal_intake import handle_alert
from .services.submit import submit
from .wiring import recovery_intake

bp = df.Blueprint()
log = logging.getLogger(__name__)
QUEUE, POISON = "restore-requests", "restore-requests-poison"


MAX_POISON = 48 * 1024  # a queue message holds 64 KiB, and the host base64-encodes it


def poison_message(original: str, error: dict) -> str:
    """{"error", "original"}; an original too long to fit in one queue message with its error
    (JSON escapes make it longer than it came) is cut, and says so, rather than lost: a poison
    message too large to send failed the function, and the host retried the message."""
    text = json.dumps({"error": error, "original": original})
    if len(text) > MAX_POISON:  # the error quotes what was wrong: that is cut first
        error = {key: _cut(value) for key, value in error.items()}
        if isinstance(error.get("errors"), list):
            error["errors"] = [{k: _cut(v) for k, v in e.items()} for e in error["errors"][:50]]
        text = json.dumps({"error": error, "original": original})
    keep = len(original)
    while len(text) > MAX_POISON and keep:
        keep = keep * MAX_POISON // len(text) * 9 // 10
        text = json.dumps({"error": error, "original": original[:keep],
                           "originalLength": len(original), "originalCut": True})
    return text


@bp.queue_trigger(arg_name="msg", queue_name=QUEUE, connection="AzureWebJobsStorage")
@bp.queue_output(arg_name="poison", queue_name=POISON, connection="AzureWebJobsStorage")
@bp.durable_client_input(client_name="client")
async def restore_from_queue(msg: func.QueueMessage, poison: func.Out[str],
                             client: df.DurableOrchestrationClient) -> None:
    text = msg.get_body().decode("utf-8", errors="replace")
    try:
        body = parse_json(text)
    except ValueError as exc:
        error = errors.InvalidRequest(errors=[errors.FieldError("", f"not valid JSON: {exc}")])
        _reject(msg, text, error, poison)
        return
    if is_alert(body) or _alert_like(body):  # an Azure Monitor alert: alert-driven recovery
        try:
            decisions = await handle_alert(client, body, text, recovery_intake())
        except MalformedEvent as exc:
            _reject(msg, text, exc, poison)
            return
        for signal, decision in decisions:
            log.info("queue message %s: alert %s: %s (%s)", msg.id, signal.summary,
                     decision.disposition, decision.reason)
        return
    try:
        submitted = await submit(client, body, settings(), requested_by={
            "kind": "queue", "id": msg.id, "name": QUEUE}, why=f"queue message {msg.id}")
    except errors.InvalidRequest as exc:
        _reject(msg, text, exc, poison)
        return
    log.info("queue message %s: restore %s %s", msg.id, submitted.instance_id,
             "started" if submitted.started else "already running (duplicate)")


def _cut(value: object, limit: int = 500) -> object:
    if not isinstance(value, str) or len(value) <= limit:
        return value
    return f"{value[:limit]}... ({len(value)} characters)"


def _alert_like(body: object) -> bool:
    """An alert whose schemaId is missing or wrong (a restore request has no data.essentials):
    refused as an alert, naming schemaId, not as a restore request with unknown fields."""
    data = body.get("data") if isinstance(body, dict) else None
    return isinstance(data, dict) and "essentials" in data


def _reject(msg: func.QueueMessage, text: str, error: errors.RestoreError,
            poison: func.Out[str]) -> None:
    log.warning("queue message %s rejected, moved to %s: %s", msg.id, POISON, error)
    poison.set(poison_message(text, error.to_dict()))
