"""The non-HTTP, non-durable triggers: Storage queues, timers and the Event Grid webhook.

Every trigger builds the `Datum` and trigger metadata the Functions host would send the worker
and lets the invoker decode it with the azure.functions converter, so user code receives the
real types (func.QueueMessage, func.TimerRequest, func.EventGridEvent / func.CloudEvent).

Host wiring: `create_listeners(...)` returns the queue and timer listeners to `start()` and
`stop()`; Event Grid is served by `devhost.triggers.eventgrid.handle` from the HTTP server.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..clock import Clock
    from ..config import HostConfig
    from ..discovery import Registry
    from ..invoker import Invoker


class Listener(Protocol):
    """A background trigger source: start() returns at once; stop() returns within ~1 s."""

    name: str

    def start(self) -> None: ...

    def stop(self, timeout: float = 1.0) -> None: ...


class BackgroundListener:
    """A listener's thread: `start()` (idempotent) runs `_run` in a daemon thread named
    devhost-<kind>-<function>; `stop()` sets `_stop` and joins. Subclasses prepare in
    `_before_start()` and watch `self._stop` in `_run()`."""

    kind = "listener"

    def __init__(self, name: str) -> None:
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._before_start()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"devhost-{self.kind}-{self.name}")
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _before_start(self) -> None:
        return None

    def _run(self) -> None:
        raise NotImplementedError


class SettingError(ValueError):
    """A %name% binding expression names an app setting that is not set."""


_SETTING = re.compile(r"%([^%]+)%")


def resolve_settings(value: str, env: Mapping[str, str] | None = None) -> str:
    """Replace %name% with the app setting `name`, as the host does for queueName and schedule."""
    env = os.environ if env is None else env

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise SettingError(f"'%{name}%' does not resolve to a value (app setting {name!r} "
                               "is not set in local.settings.json Values or the environment)")
        return env[name]

    return _SETTING.sub(lookup, value)


def dotnet_iso(dt: datetime) -> str:
    """A DateTime(Offset) the way the host's JSON serializer writes it: no zero fraction, '+00:00'.

    Newtonsoft writes 'yyyy-MM-ddTHH:mm:ss.FFFFFFFzzz': trailing zeros of the fraction dropped.
    Naive datetimes are taken as UTC.
    """
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += f".{dt.microsecond:06d}".rstrip("0")
    offset = dt.strftime("%z") or "+0000"
    return f"{text}{offset[:3]}:{offset[3:5]}"


def create_listeners(registry: Registry, invoker: Invoker, config: HostConfig, clock: Clock,
                     env: Mapping[str, str] | None = None) -> list[Listener]:
    """One listener per queue and timer function; unconfigured queues are skipped with a warning.

    Raises ScheduleError (naming the function) for a timer whose schedule cannot be used.
    """
    from ..discovery import QUEUE_TRIGGER, TIMER_TRIGGER
    from . import queue, timer

    listeners: list[Listener] = []
    for entry in registry.by_trigger(QUEUE_TRIGGER):
        q = queue.create_listener(entry, invoker, config, clock, env)
        if q is not None:
            listeners.append(q)
    for entry in registry.by_trigger(TIMER_TRIGGER):
        listeners.append(timer.create_listener(entry, invoker, clock, env))
    return listeners
