"""Invocations as the host makes them: a trigger's data becomes the InvocationRequest the host
sends the worker, and the worker's InvocationResponse becomes the return value and the output
bindings the host acts on.

The host side of the wire is modelled here (what the Functions host puts into TypedData for each
trigger, and reads back); the worker side is the worker's own code (dev/devhost/worker.py), so
decoding into `azure.functions` types, return-value rules and exception text are the worker's.
Async functions run on ONE long-lived event loop, the worker's: the Durable client keeps a
module-global aiohttp session bound to the loop that first used it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.functions import meta

from .discovery import Binding, FunctionEntry
from .worker import FunctionFailed, Worker, protos

__all__ = ["FunctionFailed", "Invocation", "Invoker", "log_failure", "worker_loop"]

log = logging.getLogger("devhost")

# Supplies the value of a non-trigger input binding (e.g. durableClient) as a Datum.
InputSource = Callable[[Binding], meta.Datum]


@dataclass
class Invocation:
    """What one call produced, as the host receives it: the return value and each output binding
    (by name), decoded from TypedData."""

    returned: meta.Datum | None
    outputs: dict[str, meta.Datum] = field(default_factory=dict)


def to_typed_data(datum: meta.Datum) -> Any:
    """The TypedData the host sends for a value (devhost's triggers describe their payloads as
    the Datum kinds the host uses: string, bytes, json and http)."""
    if datum.type == "string":
        return protos.TypedData(string=datum.value)
    if datum.type == "bytes":
        return protos.TypedData(bytes=datum.value)
    if datum.type == "json":
        return protos.TypedData(json=datum.value)
    if datum.type == "http":
        v = datum.value

        def strings(name: str) -> dict[str, str]:
            return {k: d.value for k, d in (v.get(name) or {}).items()}
        # The worker declares RpcHttpBodyOnly and RawHttpBodyBytes: the host sends the body
        # once, as bytes, and no copy of the request in the trigger metadata.
        return protos.TypedData(http=protos.RpcHttp(
            method=v["method"].value, url=v["url"].value, headers=strings("headers"),
            query=strings("query"), params=strings("params"),
            body=to_typed_data(v["body"])))
    raise TypeError(f"devhost cannot send a {datum.type!r} value to the worker")


def from_typed_data(data: Any) -> meta.Datum | None:
    """A TypedData the worker answered, as a Datum (None when it carries nothing)."""
    kind = data.WhichOneof("data")
    if kind is None:
        return None
    if kind == "http":
        http = data.http
        return meta.Datum({"status_code": meta.Datum(http.status_code, "string"),
                           "headers": {k: meta.Datum(val, "string")
                                       for k, val in http.headers.items()},
                           "cookies": list(http.cookies),
                           "body": from_typed_data(http.body) or meta.Datum(b"", "bytes")},
                          "http")
    if kind in ("string", "bytes", "json", "int", "double"):
        return meta.Datum(getattr(data, kind), kind)
    if kind.startswith("collection_"):
        return meta.Datum(list(getattr(getattr(data, kind), kind.split("_", 1)[1])), kind)
    raise TypeError(f"the worker answered TypedData of kind {kind!r}, which devhost does not read")


def log_failure(what: str, exc: BaseException) -> None:
    """Log a failed invocation as the host does: the worker's message and its stack trace (a
    devhost traceback would only show where devhost read the answer)."""
    if isinstance(exc, FunctionFailed):
        log.error("%s: %s\n%s", what, exc.message, exc.stack_trace.rstrip())
    else:
        log.error("%s: %s", what, exc, exc_info=exc)


_loop_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def worker_loop() -> asyncio.AbstractEventLoop:
    """The process's one event loop for the worker (async functions run on it), as the Python
    worker has one. Shared by every host in the process: the Durable client's module-global
    aiohttp session is bound to the first loop that used it."""
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, daemon=True,
                             name="devhost-worker-loop").start()
        return _loop


class Invoker:
    """Calls functions through the worker. Thread-safe: callers are the HTTP server, activity
    workers and trigger listeners."""

    def __init__(self, worker: Worker, sources: dict[str, InputSource] | None = None) -> None:
        self.worker = worker
        self.sources: dict[str, InputSource] = dict(sources or {})
        self.sinks: dict[str, Any] = {}  # binding type -> object with deliver(binding, datum)
        self._active = 0
        self._active_lock = threading.Lock()
        self.loop = worker.loop

    def invoke(self, entry: FunctionEntry, trigger: meta.Datum,
               metadata: dict[str, meta.Datum] | None = None) -> Invocation:
        """One InvocationRequest: the trigger's data, every other input binding's value and the
        trigger metadata; output bindings are delivered to their sinks (queue messages) as the
        host does after a successful invocation. Raises FunctionFailed with the worker's text."""
        inputs = {entry.trigger.name: to_typed_data(trigger)}
        for b in entry.input_bindings:
            source = self.sources.get(b.type)
            if source is None:
                raise LookupError(f"function {entry.name}: no source for input binding {b.type!r}")
            inputs[b.name] = to_typed_data(source(b))
        typed_metadata = {k: to_typed_data(v) for k, v in (metadata or {}).items()}
        with self._active_lock:
            self._active += 1
        try:
            answer = self.worker.invoke(entry.function_id, str(uuid.uuid4()), inputs,
                                        typed_metadata)
        finally:
            with self._active_lock:
                self._active -= 1
        outputs = {}
        for binding in answer.output_data:
            datum = from_typed_data(binding.data)
            if datum is not None:
                outputs[binding.name] = datum
        returned = from_typed_data(answer.return_value) if answer.HasField("return_value") \
            else None
        for b in entry.output_bindings:  # output bindings the host delivers (queue messages, ...)
            sink = self.sinks.get(b.type)
            value = returned if b.name == "$return" else outputs.get(b.name)
            if sink is not None and value is not None:
                sink.deliver(b, value)
        return Invocation(returned=returned, outputs=outputs)

    @property
    def active(self) -> int:
        """Invocations running right now (the virtual clock never skips time past one)."""
        return self._active

    def close(self) -> None:
        """Stop the worker (the loop lives as long as the process, as in the worker)."""
        self.worker.stop()
