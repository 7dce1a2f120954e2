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
from domain.signals import MalformedEvent, is_alert
from settings import settings

from .recovery import handle_alert
from .submit import submit

bp = df.Blueprint()
log = logging.getLogger(__name__)
QUEUE, POISON = "restore-requests", "restore-requests-poison"


def poison_message(original: str, error: dict) -> str:
    return json.dumps({"error": error, "original": original})


@bp.queue_trigger(arg_name="msg", queue_name=QUEUE, connection="AzureWebJobsStorage")
@bp.queue_output(arg_name="poison", queue_name=POISON, connection="AzureWebJobsStorage")
@bp.durable_client_input(client_name="client")
async def restore_from_queue(msg: func.QueueMessage, poison: func.Out[str],
                             client: df.DurableOrchestrationClient) -> None:
    text = msg.get_body().decode("utf-8", errors="replace")
    try:
        body = json.loads(text)
    except ValueError as exc:
        error = errors.InvalidRequest(errors=[errors.FieldError("", f"not valid JSON: {exc}")])
        _reject(msg, text, error, poison)
        return
    if is_alert(body):  # an Azure Monitor alert relayed onto the queue: alert-driven recovery
        try:
            decisions = await handle_alert(client, body, text)
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


def _reject(msg: func.QueueMessage, text: str, error: errors.RestoreError,
            poison: func.Out[str]) -> None:
    log.warning("queue message %s rejected, moved to %s: %s", msg.id, POISON, error)
    poison.set(poison_message(text, error.to_dict()))
