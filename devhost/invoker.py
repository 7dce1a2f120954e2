"""Worker emulation: bind arguments and call a user function the way the Python worker does.

Every trigger payload arrives as the `Datum` (plus trigger metadata) the host would send over gRPC
and is decoded by the converter the worker itself would pick from the azure.functions binding
registry, so user code receives the real `azure.functions` types. Async functions all run on ONE
long-lived event loop: the Durable client keeps a module-global aiohttp session bound to the loop
that first used it, so a fresh loop per call would break the second call.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func
from azure.functions import meta

from .discovery import Binding, FunctionEntry

log = logging.getLogger("devhost")

# Supplies the value of a non-trigger input binding (e.g. durableClient) as a Datum.
InputSource = Callable[[Binding], meta.Datum]


class _Context(func.Context):
    def __init__(self, name: str, invocation_id: str) -> None:
        self._name, self._id = name, invocation_id
        self._tls = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._id

    @property
    def thread_local_storage(self) -> threading.local:  # type: ignore[override]
        return self._tls

    @property
    def function_name(self) -> str:
        return self._name

    @property
    def function_directory(self) -> str:
        return "."

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None


class _Out(func.Out):
    """The worker's implementation of `func.Out[T]` output parameters."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


@dataclass
class Invocation:
    """What one call produced: the return value and each output binding, encoded by converters."""

    value: Any
    outputs: dict[str, meta.Datum] = field(default_factory=dict)


def decode(binding_type: str, datum: meta.Datum,
           metadata: dict[str, meta.Datum] | None = None) -> Any:
    converter = meta.get_binding_registry().get(binding_type)
    if converter is None:
        raise LookupError(f"no azure.functions converter for binding type {binding_type!r}")
    return converter.decode(datum, trigger_metadata=metadata)


def encode(binding_type: str, value: Any) -> meta.Datum:
    converter = meta.get_binding_registry().get(binding_type)
    if converter is None:
        raise LookupError(f"no azure.functions converter for binding type {binding_type!r}")
    return converter.encode(value, expected_type=None)


_loop_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def worker_loop() -> asyncio.AbstractEventLoop:
    """The process's one event loop for async functions, as the Python worker has one.

    Shared by every host in the process: the Durable client's module-global aiohttp session is
    bound to the first loop that used it.
    """
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, daemon=True,
                             name="devhost-worker-loop").start()
        return _loop


class Invoker:
    """Calls user functions. Thread-safe: callers are the HTTP server, activity workers, listeners."""

    def __init__(self, sources: dict[str, InputSource] | None = None) -> None:
        self.sources: dict[str, InputSource] = dict(sources or {})
        self.sinks: dict[str, Any] = {}  # binding type -> object with deliver(binding, datum)
        self._active = 0
        self._active_lock = threading.Lock()
        self.loop = worker_loop()

    def invoke(self, entry: FunctionEntry, trigger: meta.Datum,
               metadata: dict[str, meta.Datum] | None = None) -> Invocation:
        """Decode the trigger, bind inputs and outputs, call the function, encode its outputs."""
        kwargs: dict[str, Any] = {entry.trigger.name: decode(entry.trigger_type, trigger, metadata)}
        for b in entry.input_bindings:
            source = self.sources.get(b.type)
            if source is None:
                raise LookupError(f"function {entry.name}: no source for input binding {b.type!r}")
            kwargs[b.name] = decode(b.type, source(b))
        outs = {b.name: _Out() for b in entry.output_bindings if b.name != "$return"}
        kwargs.update(outs)
        if "context" in entry.params and "context" not in kwargs:
            kwargs["context"] = _Context(entry.name, str(uuid.uuid4()))
        value = self.call(entry, kwargs)
        outputs = {name: encode(_type_of(entry, name), out.get())
                   for name, out in outs.items() if out.get() is not None}
        ret = next((b for b in entry.output_bindings if b.name == "$return"), None)
        if ret is not None and value is not None:
            outputs["$return"] = encode(ret.type, value)
        for b in entry.output_bindings:  # output bindings the host delivers (queue messages, ...)
            sink = self.sinks.get(b.type)
            if sink is not None and b.name in outputs:
                sink.deliver(b, outputs[b.name])
        return Invocation(value=value, outputs=outputs)

    @property
    def active(self) -> int:
        """Invocations running right now (the virtual clock never skips time past one)."""
        return self._active

    def call(self, entry: FunctionEntry, kwargs: dict[str, Any]) -> Any:
        with self._active_lock:
            self._active += 1
        try:
            return self._call(entry, kwargs)
        finally:
            with self._active_lock:
                self._active -= 1

    def _call(self, entry: FunctionEntry, kwargs: dict[str, Any]) -> Any:
        if entry.is_async:
            return asyncio.run_coroutine_threadsafe(entry.user_fn(**kwargs), self.loop).result()
        # Sync functions run on the caller's thread, each with a copy of the caller's context.
        return contextvars.copy_context().run(entry.user_fn, **kwargs)

    def close(self) -> None:
        """Nothing to release: the worker loop lives as long as the process, as in the worker."""


def _type_of(entry: FunctionEntry, name: str) -> str:
    return next(b.type for b in entry.output_bindings if b.name == name)
