"""The HTTPS server and the in-process handle.

    sim = azsim.start(scenario="demo", port=0, clock=None, time_scale=1.0)
    ... sim.endpoint, sim.ca_bundle, sim.subscription_id, sim.app_principal_id ...
    sim.stop()

One thread per connection (HTTP/1.1 keep-alive, as the SDK's connection pool expects); the TLS
handshake happens on that thread, so a silent or garbage client never blocks the accept loop.
"""

from __future__ import annotations

import logging
import shutil
import socket
import ssl
import struct
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from . import admin, dispatch, tls
from . import scenario as scenarios
from .clock import Clock, WallClock, advance
from .dispatch import Outcome, json_outcome
from .errors import ArmError
from .state import SimState

log = logging.getLogger(__name__)
MAX_BODY = 4 * 1024 * 1024


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, port: int, context: ssl.SSLContext, sim: Simulator) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.context, self.sim = context, sim

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(30)
        # Headers and body go out as separate TLS records; without NODELAY, Nagle plus the
        # client's delayed ACK adds ~40 ms to every response.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            conn = self.context.wrap_socket(request, server_side=True)
        except (OSError, ValueError):
            return  # not TLS, or the client gave up: nothing to answer
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except OSError:
            pass  # the client went away mid-request
        finally:
            conn.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def __getattr__(self, name: str) -> Any:
        # Every HTTP method, known or not, goes through the same pipeline.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        sim = self.server.sim
        body = self._read_body()
        if body is None:
            return
        if self.path.startswith("/_sim/") or self.path == "/_sim":
            outcome = admin.handle(sim.state, sim.info(), self.command, self.path, body)
        else:
            outcome = dispatch.handle(sim.state, sim.endpoint, self.command, self.path,
                                      self.headers, body)
        if outcome.reset:
            self._reset()
        else:
            self._send(outcome)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            self._send_error(ArmError(411, "LengthRequired", "Send a Content-Length."), close=True)
            return None
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit() or int(length) > MAX_BODY:
            self._send_error(ArmError(413 if length.isdigit() else 400, "InvalidRequestContent",
                                      "The Content-Length is invalid or too large."), close=True)
            return None
        return self.rfile.read(int(length))

    def _send(self, outcome: Outcome) -> None:
        self.send_response(outcome.status)
        for name, value in outcome.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(outcome.body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(outcome.body)

    def _send_error(self, error: ArmError, close: bool = False) -> None:
        if close:
            self.close_connection = True
        self._send(json_outcome(error.status, error.body()))

    def _reset(self) -> None:
        # SO_LINGER 0 makes close() send a TCP RST: the client sees a connection reset.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own errors (bad request line, oversized headers) as ARM envelopes.
        self.close_connection = True
        self._send_error(ArmError(code, "BadRequest", message or "Bad request."))

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


class Simulator:
    """A running simulator: its endpoint, identities, state and admin accessors."""

    def __init__(self, scenario_spec: dict[str, Any], clock: Clock, time_scale: float,
                 port: int) -> None:
        self.clock = clock
        self.scenario = scenario_spec
        self.state: SimState = scenarios.build(scenario_spec, clock, time_scale)
        self._dir = Path(tempfile.mkdtemp(prefix="azsim-"))
        files = tls.create(self._dir)
        self._server = _Server(port, files.server_context(), self)
        self.ca_bundle = str(files.ca_bundle)
        self.endpoint = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="azsim", daemon=True)
        self._thread.start()

    @property
    def subscription_id(self) -> str:
        return self.state.subscription_id

    @property
    def tenant_id(self) -> str:
        return self.state.tenant_id

    @property
    def app_principal_id(self) -> str:
        return self.scenario["principals"][self.scenario.get("appPrincipal", "app")]["id"]

    def principal_id(self, alias: str) -> str:
        """The object id of a scenario principal by alias (e.g. "vault", "operator")."""
        return self.scenario["principals"][alias]["id"]

    def info(self) -> dict[str, str]:
        return {"endpoint": self.endpoint, "caBundle": self.ca_bundle,
                "subscriptionId": self.subscription_id, "tenantId": self.tenant_id,
                "appPrincipalId": self.app_principal_id}

    def audit(self, write: bool | None = None) -> list[dict[str, Any]]:
        return self.state.audit.entries(write)

    def audit_counts(self) -> dict[str, int]:
        return self.state.audit.counts()

    def snapshot(self) -> dict[str, Any]:
        return admin.snapshot(self.state)

    def add_fault(self, **spec: Any) -> dict[str, Any]:
        """Inject a fault, e.g. `add_fault(kind="status", status=429, retryAfter=1, count=2,
        operation="Microsoft.Compute/disks/read")`; see dev/azsim/faults.py."""
        return self.state.faults.add(spec)

    def clear_faults(self) -> None:
        self.state.faults.clear()

    def fired_faults(self) -> list[dict[str, Any]]:
        return self.state.faults.fired()

    def critical_path(self) -> dict[str, Any]:
        return self.state.critical_path.report()

    def next_due(self) -> float | None:
        """Clock time of the next simulated change (an LRO ending, a job completing...)."""
        return self.state.next_due()

    def advance(self, seconds: float) -> None:
        """Move the clock forward (a VirtualClock or azsim's WallClock) and apply due changes."""
        if not advance(self.clock, seconds):
            raise TypeError("this clock cannot be advanced")
        self.state.settle()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(scenario: str | Path | dict[str, Any] = "demo", port: int = 0,
          clock: Clock | None = None, time_scale: float = 1.0) -> Simulator:
    """Serve `scenario` over HTTPS on 127.0.0.1:`port` (0 = any free port)."""
    if time_scale <= 0:
        raise ValueError("time_scale must be positive")
    return Simulator(scenarios.load(scenario), clock or WallClock(), time_scale, port)
