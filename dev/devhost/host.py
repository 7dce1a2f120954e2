"""Wiring: one DevHost = app + registry + invoker + store + engine + HTTP server + listeners."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from azure.functions import meta

from . import identity
from .clock import Clock, RealClock
from .config import HostConfig, load_local_settings
from .config import external_event_order as external_event_order_of
from .discovery import start_worker
from .durable.client_api import ClientApi
from .durable.dispatch import DispatchModel
from .durable.engine import DurableEngine, status_json
from .durable.oracle import Oracle
from .durable.store import TERMINAL, Store
from .durable.trace import Trace
from .http_server import EVENT_GRID_PATH, HttpTriggers, Server
from .invoker import Invoker, worker_loop
from .outputs import QueueOutput

log = logging.getLogger("devhost")


class DevHost:
    """The app at `app_dir`, served the way `func start` serves it."""

    def __init__(self, app_dir: str | Path, *, port: int = 7071,
                 state_dir: str | Path | None = None,
                 clock: Clock | None = None, oracle: Oracle | None = None,
                 listeners: bool = True, dispatch: bool | DispatchModel = False,
                 trace: Trace | None = None, external_event_order: str | None = None) -> None:
        """`dispatch`: model the Durable backend's dispatch latency
        (dev/devhost/durable/dispatch.py): True for host.json's backend and polling settings, or
        a model of one's own; off by default, so work runs the moment it is visible. `trace`:
        record the causes of episodes (dev/bench/). `external_event_order`: "lifo" (the
        extension's, the default) or "fifo" (config.external_event_order)."""
        self.app_dir = Path(app_dir).resolve()
        load_local_settings(self.app_dir)
        # IDENTITY_ENDPOINT/IDENTITY_HEADER as App Service sets them: before anything builds a
        # ManagedIdentityCredential, which reads them when it is built.
        self.identity = identity.acquire()
        worker = None
        try:
            self.config = replace(HostConfig.load(self.app_dir),
                                  external_event_order=external_event_order_of(
                                      external_event_order))
            self.clock = clock or RealClock()
            # Indexed and loaded by the worker, as Azure does: IndexingError if it refuses the app.
            worker, self.registry = start_worker(self.app_dir, worker_loop())
            state = Path(state_dir) if state_dir else self.app_dir / ".devhost"
            self.store = Store(state / f"{self.config.hub_name}.sqlite")
        except BaseException:  # a host that cannot start leaves no worker or identity behind
            if worker is not None:
                worker.stop()
            if self.identity is not None:
                self.identity.release()
            raise
        self.worker = worker
        self.invoker = Invoker(worker)
        self.oracle = oracle
        try:
            model = DispatchModel.from_config(self.config) if dispatch is True else \
                (dispatch or None)
        except BaseException:
            self.worker.stop()
            self.store.close()
            raise
        self.engine = DurableEngine(self.registry, self.invoker, self.store, self.clock,
                                    self.config, oracle, dispatch=model, trace=trace)
        self.http = HttpTriggers(self.registry, self.invoker, self.config.route_prefix,
                                 os.environ.get("DEVHOST_FUNCTION_KEY") or None)
        self.server = Server(self.http, None, self.registry, self.invoker, port)  # type: ignore[arg-type]
        self.base_url = f"http://127.0.0.1:{self.server.port}"
        self.client_api = ClientApi(self.engine, self.base_url, self.config.hub_name)
        self.server.client_api = self.client_api
        self.invoker.sources["durableClient"] = \
            lambda _b: meta.Datum(self.client_api.binding_json(), "string")
        self.invoker.sinks["queue"] = QueueOutput(self.config)
        self.listeners: list[Any] = self._listeners() if listeners else []

    def _listeners(self) -> list[Any]:
        from .triggers import create_listeners
        return create_listeners(self.registry, self.invoker, self.config, self.clock)

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> DevHost:
        self.server.start()
        self.engine.start()
        for listener in self.listeners:
            listener.start()
        return self

    def stop(self) -> None:
        for listener in self.listeners:
            # Joined, not abandoned after stop()'s default second: a listener still inside a poll
            # or an invocation on a loaded machine would otherwise outlive the host and reach
            # its closed store (which reopens on access) or its closed invoker.
            listener.stop(timeout=30)
        self.engine.stop()
        self.server.stop()
        self.invoker.close()
        self.store.close()
        if self.identity is not None:
            self.identity.release()

    def __enter__(self) -> DevHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        with self:
            stop.wait()

    # ---- what `func start` prints ----------------------------------------------------------------
    def describe(self) -> list[str]:
        lines = ["Functions:", ""]
        for route, methods, entry in self.http.routes:
            lines.append(f"        {entry.name}: [{','.join(methods) or 'GET,POST,...'}] "
                         f"{self.base_url}{self.http.url_path(route)}")
        for entry in self.registry.functions.values():
            kind = entry.trigger_type
            if kind == "httpTrigger":
                continue
            extra = f" ({self.base_url}{EVENT_GRID_PATH}?functionName={entry.name})" \
                if kind == "eventGridTrigger" else ""
            lines.append(f"        {entry.name}: {kind}{extra}")
        return lines

    # ---- conveniences for tests and tools --------------------------------------------------------
    def status(self, instance_id: str, **kw: Any) -> dict[str, Any] | None:
        return status_json(self.store, instance_id, **kw)

    def wait_for(self, instance_id: str, timeout: float = 30.0,
                 statuses: tuple[str, ...] = TERMINAL) -> dict[str, Any]:
        """Block (in real time) until the instance reaches one of `statuses`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            doc = self.status(instance_id)
            if doc is not None and doc["runtimeStatus"] in statuses:
                return doc
            time.sleep(0.02)
        raise TimeoutError(f"{instance_id} did not reach {statuses} within {timeout}s: "
                           f"{self.status(instance_id)}")
