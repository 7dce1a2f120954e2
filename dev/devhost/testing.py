"""pytest support: start an app in-process under devhost and drive it with the real Durable client.

Register with `pytest_plugins = ["devhost.testing"]`, then:

    def test_restore(devhost):
        host = devhost("path/to/app")              # started; virtual time by default
        iid = host.client.start_new("my_orchestrator", client_input={"x": 1})
        assert host.wait_for(iid)["runtimeStatus"] == "Completed"

`host.client` is the SDK's own `DurableOrchestrationClient`, built from the binding JSON the host
gives functions, with each coroutine method made synchronous. The virtual clock skips to the next
durable timer whenever nothing else can run, so a one-hour timer takes no real time. The fidelity
oracle runs on every episode in strict mode; a test fails at teardown if it saw a divergence.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.durable_functions import DurableOrchestrationClient

from .clock import Clock, RealClock, VirtualClock
from .durable.dispatch import DispatchModel
from .durable.oracle import Oracle
from .durable.trace import Trace
from .host import DevHost


class SyncClient:
    """`DurableOrchestrationClient` with every coroutine method run to completion on the host's
    worker loop (its aiohttp session must stay on one loop)."""

    def __init__(self, client: DurableOrchestrationClient, loop: asyncio.AbstractEventLoop) -> None:
        self._client, self._loop = client, loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        @functools.wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            return asyncio.run_coroutine_threadsafe(attr(*args, **kwargs), self._loop).result(60)
        return call


class TestHost:
    """A started DevHost plus its client, clock and oracle."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, app_dir: str | Path, *, virtual_time: bool = True,
                 clock: Clock | None = None, state_dir: str | Path | None = None,
                 listeners: bool = False, oracle: bool = True,
                 dispatch: bool | DispatchModel = False, trace: Trace | None = None,
                 external_event_order: str | None = None) -> None:
        self.clock = clock or (VirtualClock() if virtual_time else RealClock())
        # The fidelity oracle replays every episode a second time in the SDK: on by default;
        # a scale test whose orchestrations other tests already check may turn it off.
        self.oracle = Oracle(strict=True) if oracle else None
        self._tmp = None if state_dir else tempfile.TemporaryDirectory(prefix="devhost-")
        self.host = DevHost(app_dir, port=0, state_dir=state_dir or self._tmp.name,
                            clock=self.clock, oracle=self.oracle, listeners=listeners,
                            dispatch=dispatch, trace=trace,
                            external_event_order=external_event_order).start()
        self.base_url = self.host.base_url
        self.client = SyncClient(
            DurableOrchestrationClient(self.host.client_api.binding_json()), self.host.invoker.loop)

    def wait_for(self, instance_id: str, timeout: float = 60.0, **kw: Any) -> dict[str, Any]:
        return self.host.wait_for(instance_id, timeout, **kw)

    def status(self, instance_id: str, **kw: Any) -> dict[str, Any] | None:
        return self.host.status(instance_id, **kw)

    def stop(self) -> None:
        self.host.stop()
        if self._tmp is not None:
            self._tmp.cleanup()


@pytest.fixture
def devhost() -> Iterator[Callable[..., TestHost]]:
    """Factory fixture: `devhost(app_dir, virtual_time=True)` → a started TestHost."""
    hosts: list[TestHost] = []

    def start(app_dir: str | Path, **kw: Any) -> TestHost:
        host = TestHost(app_dir, **kw)
        hosts.append(host)
        return host

    yield start
    for host in hosts:
        host.stop()
    divergences = [v.describe() for h in hosts if h.oracle for v in h.oracle.divergences]
    assert not divergences, "\n".join(divergences)
