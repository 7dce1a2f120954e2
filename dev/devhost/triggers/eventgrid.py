"""The Event Grid webhook: /runtime/webhooks/eventgrid?functionName=<name>.

Follows the Event Grid extension's HttpRequestProcessor:

* `OPTIONS` is the CloudEvents abuse-protection handshake: 200 with `WebHook-Allowed-Origin`
  (the request's `WebHook-Request-Origin` if it is an Event Grid origin, else
  `eventgrid.azure.net`, as the extension answers) and `WebHook-Allowed-Rate: *`.
* `aeg-event-type: SubscriptionValidation` is the Event Grid schema handshake: 200 with
  `{"validationResponse": <data.validationCode>}`.
* `aeg-event-type: Notification` delivers events: a JSON array (Event Grid schema, or a
  CloudEvents batch) or one object (a single CloudEvent). The function runs once per event with
  the real func.EventGridEvent / func.CloudEvent from the converter; 202 when all succeed, 500
  with the first error message otherwise (Event Grid then retries the whole delivery).
* `aeg-event-type: Unsubscribe` is answered 202; a missing or other value is 400 - Event Grid
  always sends the header, so a hand-made request must too.

Departures, for clearer local errors: malformed JSON is 400 (the extension answers 500), and
methods other than POST and OPTIONS are 405.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from azure.functions import meta

from ..discovery import EVENT_GRID_TRIGGER, FunctionEntry, Registry
from ..invoker import Invoker, log_failure

log = logging.getLogger("devhost")

Response = tuple[int, dict[str, str], bytes]

# The origins the extension echoes back; any other origin is answered with the public cloud one.
EVENT_GRID_ORIGINS = ("eventgrid.azure.net", "eventgrid.azure.us", "eventgrid.azure.eaglex.ic.gov",
                      "eventgrid.azure.microsoft.scloud", "eventgrid.azure.cn")


class BadRequest(ValueError):
    """The request cannot be processed as sent (answered 400 with this message)."""


def handle(registry: Registry, invoker: Invoker, method: str, query: Mapping[str, Any],
           headers: Any, body: bytes) -> Response:
    """Serve one webhook request; `headers` is any mapping (matched case-insensitively)."""
    name = _first(query.get("functionName"))
    entry = find_function(registry, name)
    if entry is None:
        known = ", ".join(e.name for e in registry.by_trigger(EVENT_GRID_TRIGGER)) or "none"
        log.warning("Event Grid webhook: cannot find function '%s' (Event Grid functions: %s)",
                    name, known)
        return _text(404, f"cannot find function: '{name}' (Event Grid trigger functions: "
                          f"{known})")
    method = method.upper()
    if method == "OPTIONS":
        return _abuse_protection(headers)
    if method != "POST":
        return 405, {"Allow": "POST, OPTIONS", "Content-Type": "text/plain; charset=utf-8"}, \
            f"{method} is not supported; Event Grid POSTs events".encode()
    try:
        return _dispatch(entry, invoker, _header(headers, "aeg-event-type"), body)
    except BadRequest as exc:
        log.warning("Event Grid webhook (function '%s'): 400 %s", entry.name, exc)
        return _text(400, str(exc))


def find_function(registry: Registry, name: str | None) -> FunctionEntry | None:
    """The Event Grid function called `name` (exact name first, then ignoring case)."""
    if not name:
        return None
    functions = registry.by_trigger(EVENT_GRID_TRIGGER)
    exact = [e for e in functions if e.name == name]
    if exact:
        return exact[0]
    return next((e for e in functions if e.name.lower() == name.lower()), None)


def _dispatch(entry: FunctionEntry, invoker: Invoker, event_type: str | None,
              body: bytes) -> Response:
    kind = (event_type or "").lower()
    if kind == "subscriptionvalidation":
        return _validation(entry, _parse(body))
    if kind == "notification":
        return _deliver(entry, invoker, _events(_parse(body)))
    if kind == "unsubscribe":
        return 202, {}, b""
    raise BadRequest(f"header aeg-event-type is {event_type!r}; Event Grid sends "
                     "'Notification' with events and 'SubscriptionValidation' for the handshake "
                     "(add 'aeg-event-type: Notification' when posting events by hand)")


def _abuse_protection(headers: Any) -> Response:
    origin = (_header(headers, "WebHook-Request-Origin") or "").strip()
    allowed = origin if origin.lower() in EVENT_GRID_ORIGINS else EVENT_GRID_ORIGINS[0]
    return 200, {"WebHook-Allowed-Origin": allowed, "WebHook-Allowed-Rate": "*"}, b""


def _validation(entry: FunctionEntry, doc: Any) -> Response:
    event = doc[0] if isinstance(doc, list) and doc else doc
    data = event.get("data") if isinstance(event, dict) else None
    if isinstance(data, str):  # CloudEvents carry it double-encoded
        try:
            data = json.loads(data)
        except json.JSONDecodeError:
            data = None
    code = data.get("validationCode") if isinstance(data, dict) else None
    if code is None:
        raise BadRequest("SubscriptionValidation request has no data.validationCode")
    log.info("Event Grid subscription validation handshake for function '%s'", entry.name)
    body = json.dumps({"validationResponse": str(code)}).encode()
    return 200, {"Content-Type": "application/json; charset=utf-8"}, body


def _deliver(entry: FunctionEntry, invoker: Invoker, events: list[dict[str, Any]]) -> Response:
    """One invocation per event; every event runs even if an earlier one failed (as the host)."""
    first_error: Exception | None = None
    for event in events:
        try:
            invoker.invoke(entry, meta.Datum(json.dumps(event), "json"), {})
        except Exception as exc:  # noqa: BLE001 - the host catches whatever the function raises
            log_failure(f"Event Grid trigger '{entry.name}' failed for event {event.get('id')}",
                        exc)
            first_error = first_error or exc
    if first_error is not None:
        return _text(500, str(first_error) or type(first_error).__name__)
    return 202, {}, b""


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8-sig") if body else "")
    except ValueError as exc:  # not UTF-8, not JSON, or a number of more than 4300 digits
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    except RecursionError:  # not a ValueError: it escaped as a 500
        raise BadRequest("request body is not valid JSON: it is nested too deeply") from None


def _events(doc: Any) -> list[dict[str, Any]]:
    events = doc if isinstance(doc, list) else [doc]
    if not all(isinstance(e, dict) for e in events):
        raise BadRequest("request body must be a JSON object (one CloudEvent) or an array of "
                         "event objects")
    return events


def _header(headers: Any, name: str) -> str | None:
    value = headers.get(name) if hasattr(headers, "get") else None
    if value is not None:
        return str(value)
    wanted = name.lower()
    items = headers.items() if hasattr(headers, "items") else headers
    return next((str(v) for k, v in items if str(k).lower() == wanted), None)


def _first(value: Any) -> str | None:
    if isinstance(value, list | tuple):
        return str(value[0]) if value else None
    return None if value is None else str(value)


def _text(status: int, message: str) -> Response:
    return status, {"Content-Type": "text/plain; charset=utf-8"}, message.encode()
