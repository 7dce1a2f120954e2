"""The queue entry point against a real Azurite: a good message starts a restore; a message that
can never succeed goes to the poison queue at once, with its reason, and is not retried."""

from __future__ import annotations

import base64
import json
import time

import pytest
from azure.storage.queue import QueueClient
from devhost.azurite import Azurite

QUEUE, POISON = "restore-requests", "restore-requests-poison"


@pytest.fixture
def azurite():
    with Azurite() as instance:  # no skip: without Azurite this test must fail
        yield instance


def _send(conn: str, text: str) -> None:
    client = QueueClient.from_connection_string(conn, QUEUE)
    try:
        client.create_queue()
    except Exception:  # noqa: S110 - the queue exists already
        pass
    client.send_message(base64.b64encode(text.encode()).decode())  # the host's default encoding


def _poison(conn: str, expect: int, timeout: float = 30) -> list[dict]:
    client = QueueClient.from_connection_string(conn, POISON)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = list(client.peek_messages(max_messages=32))
        except Exception:  # not created yet
            found = []
        if len(found) >= expect:
            return [json.loads(base64.b64decode(m.content)) for m in found]
        time.sleep(0.1)
    raise AssertionError(f"expected {expect} poison message(s), found {len(found)}")


def test_queue_messages_start_restores_or_go_to_poison_with_their_reason(restore_env, azurite,
                                                                         monkeypatch):
    for key, value in azurite.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    env = restore_env(listeners=True)
    conn = azurite.connection_string

    _send(conn, json.dumps(env.request(requestId="from-queue")))
    _send(conn, "{this is not json")
    _send(conn, json.dumps({"source": {"diskId": "nope"}, "target": {}}))

    doc = env.host.wait_for("restore-from-queue", timeout=120)
    assert doc["output"]["outcome"] == "Succeeded"
    assert env.leftover_assignments() == set()
    # the same requestId for another disk name: it can never succeed, so poison, saying why
    reused = env.request(requestId="from-queue")
    reused["target"]["diskName"] = "another-name"
    _send(conn, json.dumps(reused))

    poisoned = _poison(conn, expect=3)
    reasons = {p["original"]: p["error"] for p in poisoned}
    assert "not valid JSON" in reasons["{this is not json"]["message"]
    [again] = [e for e in reasons.values() if e["code"] == "RequestIdReused"]
    assert [f["field"] for f in again["errors"]] == ["target.diskName"]
    assert "restore-from-queue" in again["message"]
    bad = next(e for o, e in reasons.items() if o.startswith('{"source"'))
    assert bad["code"] == "InvalidRequest"
    assert {f["field"] for f in bad["errors"]} == {"source.diskId", "target.resourceGroupId",
                                                   "target.diskName"}
    main = QueueClient.from_connection_string(conn, QUEUE)
    assert list(main.peek_messages(max_messages=32)) == []  # nothing left to retry
