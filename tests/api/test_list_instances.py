"""triggers/instances.py against a scripted Durable HTTP API: it follows the continuation token
through short and empty pages to an empty (or absent) one, sends the token back in the request
header, asks without inputs, and stops with a clear error where the API fails or stalls."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from azure.durable_functions import DurableOrchestrationClient, OrchestrationRuntimeStatus
from devhost.invoker import worker_loop

from triggers.instances import InstanceListError, list_instances

TOKEN = "x-ms-continuation-token"


class ScriptedApi:
    """Answers each GET with the next (status, body, token or None for no header)."""

    def __init__(self) -> None:
        self.script: list[tuple[int, Any, str | None]] = []
        self.requests: list[tuple[str, str | None]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                api.requests.append((self.path, self.headers.get(TOKEN)))
                status, body, token = api.script.pop(0)
                payload = json.dumps(body).encode()
                self.send_response(status)
                if token is not None:
                    self.send_header(TOKEN, token)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def client(self) -> DurableOrchestrationClient:
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        return DurableOrchestrationClient(json.dumps({
            "taskHubName": "hub", "creationUrls": {}, "managementUrls": {},
            "rpcBaseUrl": f"{base}/durabletask/"}))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    server = ScriptedApi()
    yield server
    server.stop()


def _run(coro: Any) -> Any:
    # the loop the app's functions run on: the SDK's HTTP session belongs to one loop
    return asyncio.run_coroutine_threadsafe(coro, worker_loop()).result(30)


def _status(instance_id: str) -> dict[str, Any]:
    return {"name": "restore_managed_disk", "instanceId": instance_id,
            "runtimeStatus": "Failed", "createdTime": "2026-11-20T10:00:00Z",
            "lastUpdatedTime": "2026-11-20T10:05:00Z", "input": None, "output": None,
            "customStatus": None}


def test_follows_the_token_through_short_and_empty_pages(api):
    api.script = [(200, [_status("a"), _status("b")], "t1"), (200, [], "t2"),
                  (200, [_status("c")], "")]
    since = datetime(2026, 11, 13, tzinfo=UTC)
    found = _run(list_instances(api.client(), created_from=since, runtime_status=[
        OrchestrationRuntimeStatus.Failed, OrchestrationRuntimeStatus.Terminated]))
    assert [s.instance_id for s in found] == ["a", "b", "c"]
    assert [token for _, token in api.requests] == [None, "t1", "t2"]
    path = api.requests[0][0]
    assert all(p == path for p, _ in api.requests)  # the same query with every token
    assert path.startswith("/durabletask/instances/?") and "showInput=false" in path
    assert "createdTimeFrom=2026-11-13T00:00:00.000000Z" in path
    assert "runtimeStatus=Failed,Terminated" in path


def test_a_page_without_the_header_is_the_last(api):
    api.script = [(200, [_status("a")], "t1"), (200, [_status("b")], None)]
    assert [s.instance_id for s in _run(list_instances(api.client()))] == ["a", "b"]


def test_a_refusal_or_a_stalled_token_is_a_clear_error(api):
    api.script = [(200, [_status("a")], "t1"), (500, {"Message": "Something went wrong"}, None)]
    with pytest.raises(InstanceListError, match=r"HTTP 500: .*Something went wrong"):
        _run(list_instances(api.client()))
    api.script = [(200, [], "same"), (200, [], "same")]
    with pytest.raises(InstanceListError, match="'same' twice"):
        _run(list_instances(api.client()))
