"""devhost HTTP details the fuzzers (tests/fuzz) found: route matching at a final newline, the
latency of every answer with a body (Nagle's algorithm against delayed ACKs), methods http.server
has no handler for."""

from __future__ import annotations

import socket
from pathlib import Path

import requests
from devhost.routes import compile_route

SAMPLE = Path(__file__).parent / "apps" / "sample"


def test_a_route_does_not_match_a_path_with_a_final_newline():
    """re's "$" matches before a final newline: "/restores/%0A" was routed as "/restores", and
    "/restores/x%0A" as the id "x" (ASP.NET routing matches the whole path)."""
    assert compile_route("restores").match("/restores/\n") is None
    assert compile_route("restores").match("/restores\n") is None
    assert compile_route("restores/{id}").match("/restores/x\n") == {"id": "x\n"}
    assert compile_route("restores/{id}").match("/restores/x") == {"id": "x"}
    assert compile_route("restores/{id}").match("/restores/x/") == {"id": "x"}


def test_answers_with_a_body_are_not_held_back_by_nagle(devhost, monkeypatch):
    """Headers and body go out as two writes: without TCP_NODELAY the body waited for the
    client's delayed ACK, ~40 ms per answer on Linux (a fuzzer's 10,000 requests took 7 min).
    Checked on the sockets the server answers on, not by timing answers: a loaded machine makes
    any latency limit either flaky or too loose to tell 40 ms apart."""
    host = devhost(SAMPLE)
    handler = host.host.server.httpd.RequestHandlerClass
    assert handler.disable_nagle_algorithm is True
    nodelay: list[int] = []
    setup = handler.setup

    def recording_setup(self):
        setup(self)
        nodelay.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    monkeypatch.setattr(handler, "setup", recording_setup)
    with requests.Session() as session:  # keep-alive, as a client reuses its connection
        for _ in range(3):
            answer = session.get(f"{host.base_url}/api/items/5", timeout=10)
            assert answer.status_code == 200 and answer.json()["id"] == 5
    requests.get(f"{host.base_url}/api/items/5", timeout=10)  # and a fresh connection
    assert nodelay and all(nodelay), nodelay


def test_a_method_no_function_takes_is_a_404_not_a_server_error(devhost):
    """http.server answers 501 for a method it has no handler for (TRACE, ...): a 5xx for a
    request the Functions host answers 404 (no function has the route with that method)."""
    host = devhost(SAMPLE)
    for method in ("TRACE", "CONNECT", "BREW", "PROPFIND"):
        answer = requests.request(method, f"{host.base_url}/api/items/5", timeout=10)
        assert answer.status_code == 404, (method, answer.status_code)
