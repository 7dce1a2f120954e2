"""Output bindings: what a function sets on a `func.Out` (or returns into a `$return` binding)
is delivered after the invocation, as the host does. Storage queue outputs go to Azurite.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Mapping

from azure.functions import meta

from .config import HostConfig, StorageConnection, resolve_connection
from .discovery import Binding
from .triggers import resolve_settings

log = logging.getLogger("devhost")


class QueueOutput:
    """`queue` output bindings: one message per value (a list is several), base64 by default."""

    def __init__(self, config: HostConfig, env: Mapping[str, str] | None = None) -> None:
        self.encoding, self.env = config.queue_message_encoding, env
        self._clients: dict[tuple[StorageConnection, str], object] = {}
        self._lock = threading.Lock()

    def deliver(self, binding: Binding, datum: meta.Datum) -> None:
        conn = resolve_connection(binding.spec.get("connection"), self.env, service="queue")
        if conn is None:
            raise RuntimeError(f"queue output {binding.name!r}: connection "
                               f"{binding.spec.get('connection') or 'AzureWebJobsStorage'!r} is "
                               "not configured")
        name = resolve_settings(binding.spec["queueName"], self.env).lower()
        client = self._client(conn, name)
        for value in _messages(datum):
            raw = value.encode() if isinstance(value, str) else bytes(value)
            text = base64.b64encode(raw).decode() if self.encoding != "none" else raw.decode()
            client.send_message(text)  # type: ignore[attr-defined]

    def _client(self, conn: StorageConnection, name: str) -> object:  # one client per queue
        from .triggers.queue import queue_client
        with self._lock:
            client = self._clients.get((conn, name))
            if client is None:
                client = queue_client(conn, name)
                try:
                    client.create_queue()  # type: ignore[attr-defined]
                except Exception:  # noqa: BLE001, S110 - exists already
                    pass
                self._clients[(conn, name)] = client
            return client


def _messages(datum: meta.Datum) -> list[str | bytes]:
    """A str or bytes is one message; a JSON list (the converter's encoding of a list) is many."""
    if datum.type == "json":
        parsed = json.loads(datum.value)
        if isinstance(parsed, list):
            return [v if isinstance(v, str) else json.dumps(v) for v in parsed]
    return [datum.value]
