"""The Event Grid webhook handler: both schemas, both handshakes, batches and error answers."""

from __future__ import annotations

import email.message
import json
import logging
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import azure.functions as func
import pytest
from devhost.invoker import Invoker
from devhost.triggers.eventgrid import handle

NOTIFY = {"aeg-event-type": "Notification", "Content-Type": "application/json"}


def post(app: SimpleNamespace, invoker: Invoker, function: str, payload: Any,
         headers: Any = None, method: str = "POST") -> tuple[int, dict[str, str], bytes]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return handle(app.registry, invoker, method, {"functionName": function},
                  NOTIFY if headers is None else headers, body)


def eg_event(n: int, **data: Any) -> dict[str, Any]:
    return {"id": f"evt-{n}", "topic": "/subscriptions/s/resourceGroups/rg",
            "subject": f"/blobs/{n}.txt", "eventType": "Microsoft.Storage.BlobCreated",
            "eventTime": "2024-05-06T07:08:09.1234567Z", "data": {"n": n, **data},
            "dataVersion": "1", "metadataVersion": "1"}


def cloud_event(n: int) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"ce-{n}", "source": "/my/source", "type": "demo.created",
            "time": "2024-05-06T07:08:09Z", "subject": f"thing/{n}",
            "datacontenttype": "application/json", "data": {"n": n}, "traceparent": "00-ab-cd-01"}


def of(calls: list, name: str) -> list:
    return [v for n, v in calls if n == name]


def test_event_grid_schema_array_runs_once_per_event(trigger_app: SimpleNamespace,
                                                      invoker: Invoker, calls: list) -> None:
    status, _, body = post(trigger_app, invoker, "on_event", [eg_event(1), eg_event(2)])
    assert (status, body) == (202, b"")
    first, second = of(calls, "on_event")
    assert isinstance(first, func.EventGridEvent)
    assert (first.id, second.id) == ("evt-1", "evt-2")
    assert first.event_type == "Microsoft.Storage.BlobCreated"
    assert first.subject == "/blobs/1.txt" and first.topic == "/subscriptions/s/resourceGroups/rg"
    assert first.get_json() == {"n": 1} and first.data_version == "1"
    assert first.event_time == datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def test_single_cloud_event(trigger_app: SimpleNamespace, invoker: Invoker, calls: list) -> None:
    headers = {**NOTIFY, "Content-Type": "application/cloudevents+json; charset=utf-8"}
    status, _, _ = post(trigger_app, invoker, "on_cloud_event", cloud_event(1), headers)
    assert status == 202
    (event,) = of(calls, "on_cloud_event")
    assert isinstance(event, func.CloudEvent)
    assert (event.id, event.source, event.type, event.subject) == \
        ("ce-1", "/my/source", "demo.created", "thing/1")
    assert event.get_json() == {"n": 1}
    assert event.time == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert event.extension_attrs == {"traceparent": "00-ab-cd-01"}


def test_cloud_events_batch(trigger_app: SimpleNamespace, invoker: Invoker, calls: list) -> None:
    headers = {**NOTIFY, "Content-Type": "application/cloudevents-batch+json; charset=utf-8"}
    status, _, _ = post(trigger_app, invoker, "on_cloud_event",
                        [cloud_event(1), cloud_event(2), cloud_event(3)], headers)
    assert status == 202
    assert [e.id for e in of(calls, "on_cloud_event")] == ["ce-1", "ce-2", "ce-3"]


def test_subscription_validation_handshake(trigger_app: SimpleNamespace, invoker: Invoker,
                                           calls: list) -> None:
    headers = email.message.Message()  # a case-insensitive mapping, like http.server's headers
    headers["AEG-Event-Type"] = "SubscriptionValidation"
    payload = [{"id": "v", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}}]
    status, out_headers, body = post(trigger_app, invoker, "on_event", payload, headers)
    assert status == 200
    assert out_headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == {"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}
    assert calls == []  # the handshake is not an invocation


def test_cloudevents_abuse_protection_handshake(trigger_app: SimpleNamespace,
                                                invoker: Invoker) -> None:
    status, headers, _ = post(trigger_app, invoker, "on_cloud_event", b"",
                              {"webhook-request-origin": "eventgrid.azure.net"}, "OPTIONS")
    assert status == 200
    assert headers == {"WebHook-Allowed-Origin": "eventgrid.azure.net",
                       "WebHook-Allowed-Rate": "*"}
    # Like the extension, only Event Grid origins are echoed back.
    _, headers, _ = post(trigger_app, invoker, "on_cloud_event", b"",
                         {"WebHook-Request-Origin": "evil.example.com"}, "OPTIONS")
    assert headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"


def test_unknown_function_is_404(trigger_app: SimpleNamespace, invoker: Invoker) -> None:
    status, _, body = post(trigger_app, invoker, "nope", [eg_event(1)])
    assert status == 404
    assert body.decode() == ("cannot find function: 'nope' (Event Grid trigger functions: "
                             "on_event, on_cloud_event)")
    # A function that exists but is not an Event Grid trigger is unknown to the webhook too.
    assert post(trigger_app, invoker, "recorder", [eg_event(1)])[0] == 404


def test_malformed_json_is_400(trigger_app: SimpleNamespace, invoker: Invoker,
                               calls: list) -> None:
    status, _, body = post(trigger_app, invoker, "on_event", b'[{"id": ')
    assert status == 400
    assert body.decode().startswith("request body is not valid JSON: ")
    assert post(trigger_app, invoker, "on_event", [1, 2])[0] == 400
    assert calls == []


def test_missing_event_type_header_is_400(trigger_app: SimpleNamespace,
                                          invoker: Invoker) -> None:
    status, _, body = post(trigger_app, invoker, "on_event", [eg_event(1)],
                           {"Content-Type": "application/json"})
    assert status == 400
    assert "aeg-event-type: Notification" in body.decode()


def test_failing_function_is_500_and_every_event_still_runs(
        trigger_app: SimpleNamespace, invoker: Invoker, calls: list,
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="devhost"):
        status, _, body = post(trigger_app, invoker, "on_event",
                               [eg_event(1, fail=True), eg_event(2)])
    assert status == 500
    assert body.decode() == "ValueError: event evt-1 asked to fail"  # the worker's text
    assert [e.id for e in of(calls, "on_event")] == ["evt-1", "evt-2"]
    assert ("Event Grid trigger 'on_event' failed for event evt-1: "
            "ValueError: event evt-1 asked to fail") in caplog.text


def test_unsubscribe_and_other_methods(trigger_app: SimpleNamespace, invoker: Invoker) -> None:
    assert post(trigger_app, invoker, "on_event", b"", {"aeg-event-type": "Unsubscribe"})[0] == 202
    status, headers, _ = post(trigger_app, invoker, "on_event", b"", NOTIFY, "GET")
    assert (status, headers["Allow"]) == (405, "POST, OPTIONS")
