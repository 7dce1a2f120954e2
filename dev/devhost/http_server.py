"""One loopback HTTP server for everything `func start` serves: HTTP triggers under the route
prefix, the Durable HTTP API, and the Event Grid webhook.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from azure.functions import meta

from .discovery import HTTP_TRIGGER, FunctionEntry, Registry
from .durable.client_api import RPC_PREFIX, WEBHOOK_PREFIX, ClientApi
from .invoker import Invoker, log_failure
from .routes import Route, compile_route
from .worker import FunctionFailed

log = logging.getLogger("devhost")
Response = tuple[int, dict[str, str], bytes]
EVENT_GRID_PATH = "/runtime/webhooks/eventgrid"


class HttpTriggers:
    """Matches `/<prefix>/<route>` to HTTP-triggered functions and calls them.

    With `function_key` set (DEVHOST_FUNCTION_KEY), functions whose authLevel is not anonymous
    answer 401 unless the request carries the key (`x-functions-key` header or `code` query),
    as a deployed app does; without it, like `func start`, keys are not checked."""

    def __init__(self, registry: Registry, invoker: Invoker, prefix: str,
                 function_key: str | None = None) -> None:
        self.invoker, self.prefix, self.function_key = invoker, prefix, function_key
        self.routes: list[tuple[Route, list[str], FunctionEntry]] = []
        for entry in registry.by_trigger(HTTP_TRIGGER):
            spec = entry.trigger.spec
            methods = [str(getattr(m, "value", m)).upper() for m in spec.get("methods") or []]
            self.routes.append((compile_route(spec.get("route") or entry.name), methods, entry))

    def url_path(self, route: Route) -> str:
        return "/" + "/".join(p for p in (self.prefix, route.template.strip("/")) if p)

    def handle(self, method: str, url: str, path: str, query: Mapping[str, str],
               headers: Mapping[str, str], body: bytes) -> Response | None:
        for route, methods, entry in self.routes:
            params = route.match(path)
            if params is None or (methods and method not in methods):
                continue
            if not self._authorized(entry, query, headers):
                return 401, {}, b""
            return self._invoke(entry, method, url, params, query, headers, body)
        return None

    def _authorized(self, entry: FunctionEntry, query: Mapping[str, str],
                    headers: Mapping[str, str]) -> bool:
        level = str(getattr(entry.trigger.spec.get("authLevel"), "value",
                            entry.trigger.spec.get("authLevel") or "function")).lower()
        if not self.function_key or level == "anonymous":
            return True
        given = headers.get("x-functions-key") or query.get("code")
        return given is not None and hmac.compare_digest(given, self.function_key)

    def _invoke(self, entry: FunctionEntry, method: str, url: str, params: dict[str, str],
                query: Mapping[str, str], headers: Mapping[str, str], body: bytes) -> Response:
        def s(v: str) -> meta.Datum:
            return meta.Datum(v, "string")
        datum = meta.Datum({"method": s(method), "url": s(url),
                            "headers": {k.lower(): s(v) for k, v in headers.items()},
                            "query": {k: s(v) for k, v in query.items()},
                            "params": {k: s(v) for k, v in params.items()},
                            "body": meta.Datum(body, "bytes")}, "http")
        try:
            result = self.invoker.invoke(entry, datum)
        except FunctionFailed as exc:
            log_failure(f"Executed 'Functions.{entry.name}' (Failed)", exc)
            return 500, {}, b""
        return _http_response(result.returned)


def _http_response(out: meta.Datum | None) -> Response:
    if out is None:
        return 204, {}, b""
    if out.type == "http":
        v = out.value
        headers = {k: d.value for k, d in v["headers"].items()}
        body = v["body"].value
        return int(v["status_code"].value), headers, body if isinstance(body, bytes) else \
            str(body or "").encode()
    value = out.value if isinstance(out.value, bytes) else str(out.value).encode()
    return 200, {"Content-Type": "text/plain; charset=utf-8"}, value


class Server:
    """Dispatches by path; every handler answers (status, headers, body)."""

    def __init__(self, http: HttpTriggers, client_api: ClientApi, registry: Registry,
                 invoker: Invoker, port: int, host: str = "127.0.0.1") -> None:
        self.http, self.client_api = http, client_api
        self.registry, self.invoker = registry, invoker
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = server.dispatch(self.command, self.path,
                                                           self.headers, body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _serve

            def __getattr__(self, name: str) -> Any:
                # any other method (TRACE, CONNECT, ...) is routed too: no function takes it, so
                # it is the host's 404, not http.server's "501 Unsupported method"
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                        name="devhost-http")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def dispatch(self, method: str, raw_path: str, headers: Any, body: bytes) -> Response:
        parts = urlsplit(raw_path)
        path, query = unquote(parts.path), dict(parse_qsl(parts.query, keep_blank_values=True))
        try:
            for prefix in (RPC_PREFIX, WEBHOOK_PREFIX):
                if path.startswith(prefix):
                    return self.client_api.handle(method, path[len(prefix):], query, headers, body)
            if path.rstrip("/") == EVENT_GRID_PATH:
                from .triggers import eventgrid
                return eventgrid.handle(self.registry, self.invoker, method, query, headers, body)
            prefix = f"/{self.http.prefix}" if self.http.prefix else ""
            if path.startswith(prefix + "/") or (not prefix and path.startswith("/")):
                host = headers.get("Host") or f"127.0.0.1:{self.port}"
                url = f"http://{host}{raw_path}"
                response = self.http.handle(method, url, path[len(prefix):], query, headers, body)
                if response is not None:
                    return response
            return 404, {}, b""
        except Exception:
            log.exception("devhost: error serving %s %s", method, raw_path)
            return 500, {}, b""
