"""Fuzzing the queue entry point `restore-requests` (issue 10).

In process, for the many cases: each message goes through the path the host takes (base64 decoded
as devhost's listener does, the trigger data the host sends, azure.functions' own converter making
the func.QueueMessage) into restore_from_queue, with its poison output captured. Then a smaller
run through a real Azurite queue shows refused messages landing in `restore-requests-poison`.

Every message: the function never raises for a message that can never succeed (a raise means the
host retries it five times); such a message is poisoned at once with {"error": {code, message},
"original": <the text>}, the reason naming what is wrong; no orchestration starts from it.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fuzzlib import FULL, FUZZ, Mutated, collecting, dumps, json_values, names, nested, raw_bodies
from hypothesis import given, settings
from hypothesis import strategies as st
from test_fuzz_recovery import alerts
from test_fuzz_restores import BASES, TOP_LEVEL, _never_a_real_restore

QUEUE, POISON = "restore-requests", "restore-requests-poison"
QUEUE_LIMIT = 64 * 1024  # bytes of one queue message, as stored (base64)


def fits(case: tuple[bytes, Any, str]) -> bool:
    """What a sender can put on a queue: 64 KiB once base64-encoded."""
    return len(case[0]) <= QUEUE_LIMIT * 3 // 4


def messages() -> st.SearchStrategy[tuple[bytes, Mutated | None, str]]:
    """(the message's bytes, the change made to a valid one, what it was)."""
    from fuzzlib import mutations
    restore = st.sampled_from(BASES).flatmap(
        lambda b: mutations(b, extra_keys=TOP_LEVEL)).map(_never_a_real_restore)
    return st.one_of(
        restore.map(lambda m: (dumps(m.doc), m, "restore")),
        restore.map(lambda m: (dumps(m.doc), m, "restore")),
        alerts().map(lambda m: (dumps(m.doc), m, "alert")),
        json_values().map(lambda v: (dumps(v), None, "json")),
        nested().map(lambda v: (dumps(v), None, "json")),
        raw_bodies().map(lambda b: (b, None, "bytes"))).filter(fits)


class Captured:
    """The poison output binding, captured instead of sent to Azurite."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def deliver(self, binding: Any, datum: Any) -> None:
        assert binding.spec["queueName"] == POISON, binding.spec
        value = datum.value
        text = value.decode() if isinstance(value, bytes) else value
        assert len(base64.b64encode(text.encode())) <= QUEUE_LIMIT, \
            f"a poison message of {len(text)} characters does not fit in a queue message"
        self.sent.append(text)


@pytest.fixture
def queue(fuzz_app):
    """The app, and a way to run restore_from_queue on one message as the host would."""
    from azure.storage.queue import QueueMessage
    from devhost.triggers.queue import UndecodableMessage, decode_body, trigger_data
    app = fuzz_app()
    host = app.env.host.host
    entry = host.registry.functions["restore_from_queue"]
    captured = Captured()
    host.invoker.sinks["queue"] = captured

    def run(raw: bytes) -> tuple[list[str], BaseException | None, bool]:
        """(poison messages sent, what the function raised, whether the host poisons it
        itself because it is not base64: never the case here, messages are encoded)."""
        captured.sent.clear()
        stored = base64.b64encode(raw).decode()  # what a sender puts on the queue
        try:
            body = decode_body(stored, "base64")
        except UndecodableMessage:
            return [], None, True
        msg = QueueMessage(content=stored)
        msg.id, msg.pop_receipt, msg.dequeue_count = str(uuid.uuid4()), "pop", 1
        msg.inserted_on = msg.next_visible_on = datetime.now(UTC)
        msg.expires_on = datetime(2100, 1, 1, tzinfo=UTC)
        datum, metadata = trigger_data(msg, body, entry.name, datetime.now(UTC))
        try:
            host.invoker.invoke(entry, datum, metadata)
        except Exception as exc:
            return list(captured.sent), exc, False
        return list(captured.sent), None, False

    return app, run


@FUZZ
@given(case=messages())
@collecting
def test_queue_messages(queue, tally, case):
    app, run = queue
    raw, mutated, kind = case
    count = tally("queue restore-requests (in process)")
    before = app.top_level_runs()
    poisoned, raised, _ = run(raw)
    started = app.top_level_runs() - before
    count.cases += 1
    outcome = "raised" if raised else "poisoned" if poisoned else "handled"
    count.statuses[outcome] = count.statuses.get(outcome, 0) + 1
    assert raised is None, f"the function raised (the host would retry it): {raised!r}"
    if not poisoned:
        count.accepted += 1
        assert kind in ("restore", "alert"), f"a {kind} message was neither poisoned nor run"
        if kind == "restore":
            assert started in (0, 1)
        return
    count.rejected += 1
    assert len(poisoned) == 1 and started == 0, (poisoned, started)
    doc = json.loads(poisoned[0])
    original = raw.decode("utf-8", errors="replace")
    if doc.get("originalCut"):  # too long to fit with its error: cut, and said so
        assert set(doc) == {"error", "original", "originalLength", "originalCut"}, doc
        assert doc["originalLength"] == len(original) and original.startswith(doc["original"])
    else:
        assert set(doc) == {"error", "original"}, doc
        assert doc["original"] == original, "the original text changed"
    error = doc["error"]
    assert error["code"] in ("InvalidRequest", "MalformedEvent", "RequestIdReused"), error
    if error["code"] == "RequestIdReused":  # an earlier case's different request took the id
        assert error.get("errors"), error
    assert isinstance(error["message"], str) and len(error["message"].strip()) >= 12, error
    if mutated is not None and kind == "restore" and error["code"] == "InvalidRequest":
        assert names({"detail": error["message"], "errors": error.get("errors")}, mutated.path,
                     related={"attach": {"swapOsDisk"}, "swapOsDisk": {"attach"}}), error
    if mutated is not None and kind == "alert":
        assert names({"detail": error["message"]}, mutated.path), error


# ---- through a real Azurite queue ----------------------------------------------------------------
def _refused() -> st.SearchStrategy[bytes]:
    """Messages that can never succeed (each is refused: the test checks it is poisoned)."""
    from fuzzlib import mutations
    bad_restore = st.sampled_from(BASES).flatmap(lambda b: mutations(b)).map(lambda m: m.doc)
    return st.one_of(raw_bodies(), bad_restore.map(dumps), json_values().map(dumps)).filter(
        lambda b: len(b) <= QUEUE_LIMIT * 3 // 4 and _never_valid(b))


def _never_valid(raw: bytes) -> bool:
    from domain.errors import InvalidRequest
    from domain.recovery.signals import is_alert
    from domain.restore.request import RestoreRequest
    try:
        doc = json.loads(raw.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return True
    if is_alert(doc):
        return False
    try:
        RestoreRequest.from_dict(doc)
    except InvalidRequest:
        return True
    return False


@pytest.fixture
def listening(restore_env, shared_azurite, monkeypatch) -> tuple[Any, str]:
    """The app with its queue listener on a real Azurite (one per test, shared by its cases)."""
    for key, value in {"AzureWebJobsStorage": shared_azurite.connection_string,
                       "CALLER_AUTHORIZATION": "off"}.items():
        monkeypatch.setenv(key, value)
    return restore_env(listeners=True, oracle=False), shared_azurite.connection_string


@settings(FUZZ, max_examples=3 if not FULL else 25)
@given(batch=st.lists(_refused(), min_size=8, max_size=8))
def test_refused_messages_land_in_the_poison_queue_with_their_reason(listening, tally, batch):
    from azure.storage.queue import QueueClient
    env, conn = listening
    count = tally("queue restore-requests (Azurite)")
    main = QueueClient.from_connection_string(conn, QUEUE)
    poison = QueueClient.from_connection_string(conn, POISON)
    for client in (main, poison):
        try:
            client.create_queue()
        except Exception:  # noqa: S110 - the queue exists already
            pass
    for raw in batch:
        main.send_message(base64.b64encode(raw).decode())  # the host's default encoding
    found = _drain_poison(poison, len(batch))
    runs = env.host.host.store._all(
        "SELECT COUNT(*) FROM instances WHERE name IN ('restore_managed_disk', 'recover')")[0][0]
    assert runs == 0, "a refused message started an orchestration"
    sent = [raw.decode("utf-8", errors="replace") for raw in batch]
    assert sorted(doc["original"] if not doc.get("originalCut") else
                  next(t for t in sent if t.startswith(doc["original"])) for doc in found) == \
        sorted(sent), "not every refused message is in the poison queue as sent"
    for doc in found:
        assert doc["error"]["code"] in ("InvalidRequest", "MalformedEvent") and \
            len(doc["error"]["message"]) >= 12, doc
    assert list(main.peek_messages(max_messages=32)) == [], "a message was left to retry"
    count.cases += len(batch)
    count.rejected += len(batch)


def _drain_poison(poison: Any, expect: int, timeout: float = 60) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(found) < expect and time.monotonic() < deadline:
        for message in poison.receive_messages(max_messages=32, visibility_timeout=60):
            found.append(json.loads(base64.b64decode(message.content)))
            poison.delete_message(message)
        time.sleep(0.05)
    assert len(found) == expect, f"expected {expect} poison messages, found {len(found)}"
    return found
