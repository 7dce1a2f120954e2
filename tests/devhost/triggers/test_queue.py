"""Storage queue trigger against a real Azurite (session fixture; the run fails without it)."""

from __future__ import annotations

import base64
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import azure.durable_functions as df
import azure.functions as func
import pytest
from azure.storage.queue import (
    BinaryBase64EncodePolicy,
    QueueClient,
    QueueMessage,
    TextBase64EncodePolicy,
)
from devhost.azurite import Azurite
from devhost.clock import RealClock
from devhost.config import HostConfig
from devhost.invoker import Invoker
from devhost.triggers import create_listeners
from devhost.triggers.queue import QueueListener, create_listener

pytestmark = pytest.mark.azurite

Calls = list[tuple[str, object]]


@pytest.fixture
def env(azurite: Azurite) -> dict[str, str]:
    """App settings with fresh queue names, so tests never see each other's messages."""
    tag = uuid.uuid4().hex[:8]
    return {"AzureWebJobsStorage": azurite.connection_string,
            "OtherStorage": "UseDevelopmentStorage=true", **azurite.env(),
            "RECORDER_QUEUE": f"rec-{tag}", "FAILING_QUEUE": f"fail-{tag}",
            "CLIENT_QUEUE": f"client-{tag}"}


@pytest.fixture
def listen(trigger_app: SimpleNamespace, invoker: Invoker, env: dict[str, str],
           stop_and_join: Callable) -> Iterator[Callable[..., QueueListener]]:
    """listen(function_name, config=HostConfig()) -> a started listener whose queue exists."""
    started: list[QueueListener] = []

    def start(name: str, config: HostConfig | None = None) -> QueueListener:
        listener = create_listener(trigger_app.registry.functions[name], invoker,
                                   config or HostConfig(), RealClock(), env)
        assert listener is not None
        started.append(listener)
        listener.start()
        assert listener.ready.wait(30), "the listener did not create its queue"
        return listener

    yield start
    for listener in started:
        assert stop_and_join(listener), f"listener {listener.name} did not stop"


def client(env: dict[str, str], queue: str, policy: object = None) -> QueueClient:
    return QueueClient.from_connection_string(env["AzureWebJobsStorage"], queue,
                                              message_encode_policy=policy)


def of(calls: Calls, name: str) -> list:
    return [v for n, v in calls if n == name]


def message_count(q: QueueClient) -> int:
    return q.get_queue_properties().approximate_message_count


def test_message_arrives_as_a_real_queue_message(listen: Callable, env: dict[str, str],
                                                 calls: Calls, wait_for: Callable) -> None:
    listen("recorder")
    q = client(env, env["RECORDER_QUEUE"], TextBase64EncodePolicy())
    sent = q.send_message('{"order": 42}')
    wait_for(lambda: of(calls, "recorder"), what="the function to run")
    (msg,) = of(calls, "recorder")
    assert isinstance(msg, func.QueueMessage)
    assert msg.get_body() == b'{"order": 42}' and msg.get_json() == {"order": 42}
    assert msg.id == sent.id
    assert msg.dequeue_count == 1
    assert msg.insertion_time == sent.inserted_on
    assert msg.expiration_time == sent.expires_on
    assert msg.insertion_time.tzinfo == UTC
    assert msg.time_next_visible > msg.insertion_time + timedelta(minutes=9)  # hidden while it runs
    assert isinstance(msg.pop_receipt, str) and msg.pop_receipt
    wait_for(lambda: message_count(q) == 0, what="the message to be deleted")


@pytest.mark.parametrize(("encoding", "policy", "content", "body"), [
    ("base64", TextBase64EncodePolicy(), "grüße", "grüße".encode()),
    ("base64", BinaryBase64EncodePolicy(), b"\xff\x00\x01", b"\xff\x00\x01"),
    ("none", None, "plain <text> & more", b"plain <text> & more"),
])
def test_message_encodings(listen: Callable, env: dict[str, str], calls: Calls,
                           wait_for: Callable, encoding: str, policy: object, content: object,
                           body: bytes) -> None:
    listen("recorder", HostConfig(queue_message_encoding=encoding))
    client(env, env["RECORDER_QUEUE"], policy).send_message(content)
    wait_for(lambda: of(calls, "recorder"), what="the function to run")
    assert of(calls, "recorder")[0].get_body() == body


def test_non_base64_message_goes_straight_to_poison(listen: Callable, env: dict[str, str],
                                                    calls: Calls, wait_for: Callable,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    poison = client(env, env["RECORDER_QUEUE"] + "-poison")
    with caplog.at_level(logging.WARNING, logger="devhost"):
        listen("recorder")
        client(env, env["RECORDER_QUEUE"]).send_message("not base64!")
        wait_for(lambda: _exists(poison) and message_count(poison) == 1, what="the poison copy")
    assert of(calls, "recorder") == []
    assert [m.content for m in poison.receive_messages()] == ["not base64!"]
    assert "not valid base64" in caplog.text


def _exists(q: QueueClient) -> bool:
    try:
        q.get_queue_properties()
        return True
    except Exception:
        return False


def test_failing_function_is_retried_then_poisoned_with_the_original_body(
        listen: Callable, env: dict[str, str], calls: Calls, wait_for: Callable,
        caplog: pytest.LogCaptureFixture) -> None:
    poison = client(env, env["FAILING_QUEUE"] + "-poison")
    with caplog.at_level(logging.WARNING, logger="devhost"):
        listen("failing")  # default maxDequeueCount 5, visibilityTimeout 0
        q = client(env, env["FAILING_QUEUE"], TextBase64EncodePolicy())
        q.send_message('{"poison": true}')
        wait_for(lambda: _exists(poison) and message_count(poison) == 1,
                 what="the message in the poison queue")
    attempts = of(calls, "failing")
    assert [m.dequeue_count for m in attempts] == [1, 2, 3, 4, 5]
    assert len({m.id for m in attempts}) == 1  # released, not re-sent
    (copy,) = poison.receive_messages()
    assert base64.b64decode(copy.content) == b'{"poison": true}'  # still base64, same body
    assert message_count(q) == 0
    failures = [r for r in caplog.records if "failed for message" in r.getMessage()]
    assert len(failures) == 5
    assert "RuntimeError: cannot process b'{\"poison\": true}'" in failures[0].getMessage()
    assert f"moved message {attempts[0].id} to '{env['FAILING_QUEUE']}-poison'" in caplog.text


def test_message_over_max_dequeue_count_is_poisoned_without_running(
        listen: Callable, env: dict[str, str], calls: Calls, wait_for: Callable) -> None:
    name = env["RECORDER_QUEUE"]
    q = client(env, name, TextBase64EncodePolicy())
    q.create_queue()
    q.send_message("left over from a crash")
    for _ in range(2):  # two hosts received it and died before settling it
        (m,) = q.receive_messages(visibility_timeout=30)
        q.update_message(m.id, m.pop_receipt, visibility_timeout=0)
    poison = client(env, name + "-poison")
    listen("recorder", HostConfig(queue_max_dequeue_count=2))  # this receipt makes it 3 > 2
    wait_for(lambda: _exists(poison) and message_count(poison) == 1, what="the poison copy")
    assert of(calls, "recorder") == []
    assert base64.b64decode(next(iter(poison.receive_messages())).content) == \
        b"left over from a crash"


def test_visibility_timeout_delays_the_retry(listen: Callable, env: dict[str, str],
                                             calls: Calls, wait_for: Callable) -> None:
    listen("failing", HostConfig(queue_visibility_timeout=1.0, queue_max_dequeue_count=2))
    client(env, env["FAILING_QUEUE"], TextBase64EncodePolicy()).send_message("x")
    wait_for(lambda: len(of(calls, "failing")) == 2, what="the retry")
    first, second = of(calls, "failing")
    assert second.insertion_time == first.insertion_time
    assert second.time_next_visible - first.time_next_visible >= timedelta(seconds=1)


def test_batch_runs_every_message(listen: Callable, env: dict[str, str], calls: Calls,
                                  wait_for: Callable) -> None:
    q = client(env, env["RECORDER_QUEUE"], TextBase64EncodePolicy())
    q.create_queue()
    for i in range(6):
        q.send_message(f"m{i}")
    listen("recorder", HostConfig(queue_batch_size=4))
    wait_for(lambda: len(of(calls, "recorder")) == 6, what="all six messages")
    assert sorted(m.get_body() for m in of(calls, "recorder")) == [f"m{i}".encode()
                                                                    for i in range(6)]
    wait_for(lambda: message_count(q) == 0, what="all six deleted")


def test_durable_client_binding_is_passed(listen: Callable, env: dict[str, str], calls: Calls,
                                          wait_for: Callable) -> None:
    listen("with_client")  # connection OtherStorage = UseDevelopmentStorage=true -> our Azurite
    client(env, env["CLIENT_QUEUE"], TextBase64EncodePolicy()).send_message("start")
    wait_for(lambda: of(calls, "with_client"), what="the async function to run")
    ((msg, durable),) = of(calls, "with_client")
    assert msg.get_body() == b"start"
    assert isinstance(durable, df.DurableOrchestrationClient)
    assert durable._orchestration_bindings.task_hub_name == "TestHub"  # our binding JSON


class RecordingClock(RealClock):
    """Real time that records each wait the listener asks for (seconds, rounded)."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait_until(self, deadline: float | None, wake: threading.Event) -> bool:
        self.waits.append(round((deadline or 0) - self.time(), 2))
        return super().wait_until(deadline, wake)


def test_empty_queue_polling_backs_off_to_max_interval(
        trigger_app: SimpleNamespace, invoker: Invoker, env: dict[str, str],
        wait_for: Callable, stop_and_join: Callable) -> None:
    clock = RecordingClock()
    listener = create_listener(trigger_app.registry.functions["recorder"], invoker,
                               HostConfig(queue_max_polling_interval=0.4), clock, env)
    assert listener is not None
    listener.start()
    # five polls, however slowly a loaded machine gets through them (a fixed sleep assumed each
    # of Azurite's answers took less than 50 ms)
    wait_for(lambda: len(clock.waits) >= 5, what="five empty polls")
    assert stop_and_join(listener)
    assert clock.waits[:5] == [0.1, 0.2, 0.4, 0.4, 0.4]


def test_unconfigured_connection_skips_with_one_warning(trigger_app: SimpleNamespace,
                                                        invoker: Invoker,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="devhost"):
        listeners = create_listeners(trigger_app.registry, invoker, HostConfig(), RealClock(),
                                     {"TICK_SCHEDULE": "0 0 * * * *"})
    assert sorted(listener.name for listener in listeners) == ["at_startup", "failing_tick", "tick"]
    lines = [r.getMessage() for r in caplog.records]
    host_storage = ("is not configured (set AzureWebJobsStorage (UseDevelopmentStorage=true "
                    "means Azurite), or AzureWebJobsStorage__accountName or its service URIs "
                    "with __credential and __clientId in local.settings.json Values or the "
                    "environment)")
    assert lines == [
        f"skipping queue trigger 'recorder': connection 'AzureWebJobsStorage' {host_storage}",
        f"skipping queue trigger 'failing': connection 'AzureWebJobsStorage' {host_storage}",
        "skipping queue trigger 'with_client': connection 'OtherStorage' is not configured (set "
        "OtherStorage, OtherStorage__connectionString or AzureWebJobsOtherStorage, or "
        "OtherStorage__queueServiceUri or __accountName with __credential and __clientId in "
        "local.settings.json Values or the environment)",
    ]


def test_bad_queue_name_settings_skip_with_a_warning(trigger_app: SimpleNamespace,
                                                     invoker: Invoker,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    recorder = trigger_app.registry.functions["recorder"]
    conn = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
    with caplog.at_level(logging.WARNING, logger="devhost"):
        assert create_listener(recorder, invoker, HostConfig(), RealClock(), conn) is None
        assert create_listener(recorder, invoker, HostConfig(), RealClock(),
                               {**conn, "RECORDER_QUEUE": "bad--name"}) is None
        garbage = {"AzureWebJobsStorage": "nonsense", "RECORDER_QUEUE": "q-one"}
        assert create_listener(recorder, invoker, HostConfig(), RealClock(), garbage) is None
    first, second, third = (r.getMessage() for r in caplog.records)
    assert "'%RECORDER_QUEUE%' does not resolve" in first
    assert "'bad--name' is not a valid queue name" in second
    assert "connection 'AzureWebJobsStorage' is not a usable storage connection string" in third


def test_listener_survives_storage_outage_and_stops_promptly(
        trigger_app: SimpleNamespace, invoker: Invoker, caplog: pytest.LogCaptureFixture,
        wait_for: Callable, stop_and_join: Callable) -> None:
    dead = {"AzureWebJobsStorage": "UseDevelopmentStorage=true",
            "DEVHOST_AZURITE_QUEUE_PORT": "1", "RECORDER_QUEUE": "nowhere"}
    clock = RecordingClock()
    listener = create_listener(trigger_app.registry.functions["recorder"], invoker,
                               HostConfig(queue_max_polling_interval=0.2), clock, dead)
    assert listener is not None
    with caplog.at_level(logging.WARNING, logger="devhost"):
        listener.start()
        # each failed poll is followed by a wait: four of them, not "whatever 0.8 s allowed"
        wait_for(lambda: len(clock.waits) >= 4, what="four failed polls")
        assert listener._thread is not None and listener._thread.is_alive()
        assert stop_and_join(listener)
    warnings = [r for r in caplog.records if "queue 'nowhere'" in r.getMessage()]
    assert len(warnings) == 1  # one line per outage, not one per poll


def test_trigger_metadata_shape() -> None:
    """The metadata types the host sends: strings, and JSON for numbers and dates."""
    from devhost.triggers.queue import trigger_data

    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    msg = QueueMessage(content="x")
    msg.id, msg.pop_receipt, msg.dequeue_count = "id-1", "pop", 3
    msg.inserted_on, msg.expires_on, msg.next_visible_on = when, when, when
    datum, meta = trigger_data(msg, "x", "recorder", when)
    assert (datum.type, datum.value) == ("string", "x")
    assert (meta["DequeueCount"].type, meta["DequeueCount"].value) == ("json", "3")
    assert meta["InsertionTime"].value == '"2024-05-06T07:08:09+00:00"'
    assert meta["QueueTrigger"].value == "x"


# ---- identity-based connections (production's shape) ---------------------------------------
@pytest.fixture(scope="module")
def oauth_azurite() -> Iterator[Azurite]:
    with Azurite(oauth=True) as instance:
        yield instance


IDENTITY = "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"


def test_an_identity_based_connection_polls_and_sends_with_the_apps_managed_identity(
        trigger_app: SimpleNamespace, invoker: Invoker, oauth_azurite: Azurite, calls: Calls,
        wait_for: Callable, monkeypatch: pytest.MonkeyPatch) -> None:
    """AzureWebJobsStorage__accountName/__queueServiceUri, __credential=managedidentity and
    __clientId, as deployed: the listener and the queue output get tokens from the identity
    endpoint (App Service's protocol) and Azurite's OAuth mode accepts them; no key anywhere."""
    from devhost import identity
    from devhost.discovery import Binding
    from devhost.outputs import QueueOutput

    lease = identity.acquire(served := {"DEVHOST_MANAGED_IDENTITIES": IDENTITY})
    assert lease is not None
    for key in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER"):
        monkeypatch.setenv(key, served[key])
    for key, value in oauth_azurite.trust_env().items():
        monkeypatch.setenv(key, value)
    tag = uuid.uuid4().hex[:8]
    env = {**oauth_azurite.identity_settings(IDENTITY), "RECORDER_QUEUE": f"rec-{tag}"}
    before = len(lease.endpoint.issued)
    listener = create_listener(trigger_app.registry.functions["recorder"], invoker,
                               HostConfig(), RealClock(), env)
    assert listener is not None
    try:
        listener.start()
        assert listener.ready.wait(10), "the listener did not create its queue"
        binding = Binding("out", "queue", "out", {"queueName": "%RECORDER_QUEUE%"})
        QueueOutput(HostConfig(), env).deliver(binding, func_datum('{"via": "output"}'))
        wait_for(lambda: of(calls, "recorder"), timeout=10, what="the function to run")
    finally:
        listener.stop()
        lease.release()
    assert of(calls, "recorder")[0].get_json() == {"via": "output"}
    assert {c for c, _ in lease.endpoint.issued[before:]} == {IDENTITY}


def test_an_identity_the_app_lacks_keeps_the_listener_waiting_with_one_line(
        trigger_app: SimpleNamespace, invoker: Invoker, oauth_azurite: Azurite,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, wait_for: Callable,
        stop_and_join: Callable) -> None:
    from devhost import identity

    lease = identity.acquire(served := {"DEVHOST_MANAGED_IDENTITIES": IDENTITY})
    assert lease is not None
    for key in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER"):
        monkeypatch.setenv(key, served[key])
    for key, value in oauth_azurite.trust_env().items():
        monkeypatch.setenv(key, value)
    env = {**oauth_azurite.identity_settings(str(uuid.uuid4())), "RECORDER_QUEUE": "nobody"}
    clock = RecordingClock()
    listener = create_listener(trigger_app.registry.functions["recorder"], invoker,
                               HostConfig(queue_max_polling_interval=0.2), clock, env)
    assert listener is not None
    with caplog.at_level(logging.WARNING, logger="devhost"):
        listener.start()
        # each refused poll is followed by a wait: three of them, however slow the machine
        wait_for(lambda: len(clock.waits) >= 3, what="three refused polls")
        assert stop_and_join(listener)
    lease.release()
    lines = [r.getMessage() for r in caplog.records if "queue 'nobody'" in r.getMessage()]
    assert len(lines) == 1 and "Unable to load the proper Managed Identity" in lines[0]


def test_inconsistent_identity_settings_skip_the_trigger_naming_them(
        trigger_app: SimpleNamespace, invoker: Invoker,
        caplog: pytest.LogCaptureFixture) -> None:
    env = {"AzureWebJobsStorage__accountName": "acct", "AzureWebJobsStorage__clientId": IDENTITY,
           "RECORDER_QUEUE": "q-one"}
    with caplog.at_level(logging.WARNING, logger="devhost"):
        assert create_listener(trigger_app.registry.functions["recorder"], invoker,
                               HostConfig(), RealClock(), env) is None
    assert caplog.records[-1].getMessage().startswith(
        "skipping queue trigger 'recorder': connection 'AzureWebJobsStorage': "
        "AzureWebJobsStorage__clientId is set but AzureWebJobsStorage__credential is not "
        "'managedidentity'")


def func_datum(text: str) -> object:
    from azure.functions import meta
    return meta.Datum(text, "string")
