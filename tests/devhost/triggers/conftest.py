"""Fixtures for the trigger tests: one real Azurite per session (the run fails if it cannot
start), the test app loaded once, an invoker whose durableClient source is canned, and helpers."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from azure.functions import meta
from devhost.azurite import Azurite
from devhost.discovery import start_worker
from devhost.invoker import Invoker, worker_loop

APP_DIR = Path(__file__).parent / "apps" / "trigger_app"

# What the host hands a durableClient binding (only the fields the SDK client reads).
CLIENT_BINDING = {
    "taskHubName": "TestHub",
    "creationUrls": {"createNewInstancePostUri": "http://127.0.0.1:1/create"},
    "managementUrls": {"id": "INSTANCEID", "statusQueryGetUri": "http://127.0.0.1:1/status"},
    "baseUrl": "http://127.0.0.1:1/runtime/webhooks/durabletask",
    "requiredQueryStringParameters": "",
    "rpcBaseUrl": "http://127.0.0.1:1/durabletask/",
}


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    # No skip on purpose: without Azurite the queue tests must fail, not pass vacuously.
    with Azurite() as instance:
        yield instance


@pytest.fixture(scope="session")
def trigger_app() -> Iterator[SimpleNamespace]:
    """The test app indexed and loaded by its own worker: the worker, its Registry and the app
    module (for its CALLS list).

    The app directory leaves sys.path again at once, so tests of other apps are not affected.
    """
    try:
        worker, registry = start_worker(APP_DIR, worker_loop())
        module = sys.modules["function_app"]
    finally:
        sys.modules.pop("function_app", None)
        while str(APP_DIR) in sys.path:
            sys.path.remove(str(APP_DIR))
    yield SimpleNamespace(worker=worker, registry=registry, module=module)
    worker.stop()


@pytest.fixture(scope="session")
def invoker(trigger_app: SimpleNamespace) -> Iterator[Invoker]:
    inv = Invoker(trigger_app.worker,
                  sources={"durableClient": lambda b: meta.Datum(json.dumps(CLIENT_BINDING),
                                                                  "string")})
    yield inv


@pytest.fixture
def calls(trigger_app: SimpleNamespace) -> list[tuple[str, object]]:
    trigger_app.module.CALLS.clear()
    return trigger_app.module.CALLS


@pytest.fixture
def wait_for() -> Callable[..., None]:
    """wait_for(predicate, timeout=30, what=...) polls in real time and fails with `what`.

    The limit only bounds a failure (a pass returns at once): generous, because Azurite and
    the listeners share a loaded machine's two cores with everything else."""
    def wait(predicate: Callable[[], object], timeout: float = 30.0,
             what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.01)
    return wait



@pytest.fixture
def stop_and_join() -> Callable[[Any], bool]:
    """stop_and_join(listener): stop it and tell whether its thread has ended.

    stop() gives up joining after its timeout (1 s by default) and forgets the thread either
    way: a thread still inside a slow poll or invocation on a loaded machine would live on into
    the next test and add to its calls. The generous join only tells a thread that ends on stop
    from one that does not (no latency limit: a loaded machine would make one flaky)."""
    def stop(listener: Any) -> bool:
        thread = listener._thread
        listener.stop(timeout=30)
        return thread is None or not thread.is_alive()
    return stop
