"""Storage queue trigger against a real Azurite, with the WebJobs QueueProcessor rules.

* Messages are base64 unless host.json says `extensions.queues.messageEncoding: "none"`. A message
  that is not valid base64 goes straight to the poison queue, as the storage extension's
  MessageDecodingFailed handler does.
* Up to `batchSize` messages are received at once (kept invisible for 10 minutes while they run)
  and run in parallel; the next batch is fetched when the whole batch is done.
* Success deletes the message. Failure releases it after `visibilityTimeout` by updating only its
  visibility (same content, new pop receipt). Once DequeueCount reaches `maxDequeueCount` a
  failure copies the message to `<queue>-poison` and deletes it; a message that arrives with
  DequeueCount above the maximum (a host died while running it) goes there without running.
* An empty queue is polled with exponential backoff from 100 ms up to `maxPollingInterval`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.functions import meta
from azure.storage.queue import LinearRetry, QueueClient, QueueMessage

from ..clock import Clock
from ..config import HostConfig, StorageConnection, StorageSettingError, resolve_connection
from ..discovery import FunctionEntry
from ..invoker import Invoker, log_failure
from . import BackgroundListener, SettingError, dotnet_iso, resolve_settings

log = logging.getLogger("devhost")

MIN_POLLING_INTERVAL = 0.1  # seconds; the host's QueuePollingIntervals.Minimum
PROCESSING_VISIBILITY = 600  # seconds a received message stays hidden while it runs (host: 10 min)
_QUEUE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$")


class UndecodableMessage(ValueError):
    """The message text is not valid base64 while messageEncoding is base64."""


@dataclass(frozen=True)
class QueueSettings:
    batch_size: int = 16
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0  # seconds
    max_polling_interval: float = 1.0  # seconds
    message_encoding: str = "base64"  # or "none"

    @classmethod
    def from_host_config(cls, config: HostConfig) -> QueueSettings:
        return cls(batch_size=min(config.queue_batch_size, 32),  # the Storage API's maximum
                   max_dequeue_count=config.queue_max_dequeue_count,
                   visibility_timeout=config.queue_visibility_timeout,
                   max_polling_interval=max(config.queue_max_polling_interval,
                                            MIN_POLLING_INTERVAL),
                   message_encoding=config.queue_message_encoding)


def queue_client(conn: StorageConnection, queue_name: str) -> QueueClient:
    """A client that fails fast (one immediate retry): the SDK's default retry backs off 15 s,
    far too long for stop(); the polling loop is the retry. Identity-based connections get a
    token from the app's managed identity endpoint (dev/devhost/identity.py), as the host does."""
    options = {"retry_policy": LinearRetry(backoff=0, retry_total=1, random_jitter_range=0),
               "connection_timeout": 5, "read_timeout": 15,
               "http_logging_level": logging.DEBUG}  # polling is not news: keep it out of INFO
    if conn.connection_string is not None:
        return QueueClient.from_connection_string(conn.connection_string, queue_name, **options)
    if conn.queue is None:
        raise StorageSettingError(f"connection {conn.setting!r} has no queue service URI")
    return QueueClient(conn.queue, queue_name, credential=_credential(conn.client_id), **options)


def _credential(client_id: str | None) -> object:
    """Built with the client, after DevHost has set IDENTITY_ENDPOINT (which
    ManagedIdentityCredential reads when it is built); it caches its own token."""
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential(client_id=client_id)


def decode_body(text: str, encoding: str) -> bytes | str:
    """The message body the function sees: text for UTF-8, bytes otherwise."""
    if encoding == "none":
        return text
    try:
        raw = base64.b64decode(re.sub(r"\s+", "", text), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UndecodableMessage(f"not valid base64 ({exc})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def trigger_data(msg: QueueMessage, body: bytes | str, function_name: str,
                 now: datetime) -> tuple[meta.Datum, dict[str, meta.Datum]]:
    """The Datum and trigger metadata the host sends for one message.

    The host serialises non-string binding data as JSON (RpcMessageConversionExtensions
    .ToRpcDefault), so DequeueCount and the DateTimeOffsets arrive as `json` typed data.
    """
    def when(dt: datetime | None) -> meta.Datum:
        return meta.Datum(json.dumps(dotnet_iso(dt) if dt else None), "json")

    datum = meta.Datum(body, "string" if isinstance(body, str) else "bytes")
    metadata = {
        "Id": meta.Datum(msg.id, "string"),
        "PopReceipt": meta.Datum(msg.pop_receipt, "string"),
        "DequeueCount": meta.Datum(json.dumps(msg.dequeue_count), "json"),
        "InsertionTime": when(msg.inserted_on),
        "ExpirationTime": when(msg.expires_on),
        "NextVisibleTime": when(msg.next_visible_on),
        "sys": meta.Datum(json.dumps({"MethodName": function_name, "RandGuid": str(uuid.uuid4()),
                                      "UtcNow": dotnet_iso(now)}), "json"),
    }
    if isinstance(body, str):
        metadata["QueueTrigger"] = meta.Datum(body, "string")
    return datum, metadata


class QueueListener(BackgroundListener):
    """Polls one queue and runs one function per message, in a daemon thread."""

    kind = "queue"

    def __init__(self, entry: FunctionEntry, invoker: Invoker, conn: StorageConnection,
                 queue_name: str, settings: QueueSettings, clock: Clock) -> None:
        super().__init__(entry.name)
        self.entry, self.invoker, self.settings, self.clock = entry, invoker, settings, clock
        self.queue_name = queue_name
        self.poison_name = f"{queue_name}-poison"
        self._queue = queue_client(conn, queue_name)
        self._poison = queue_client(conn, self.poison_name)
        self.ready = threading.Event()  # set once the queue exists (created if missing)

    # ------------------------------------------------------------------ polling
    def _run(self) -> None:
        delay, failing = MIN_POLLING_INTERVAL, False
        while not self._stop.is_set():
            try:
                self._ensure_queue()
                handled = self._poll_once()
                if failing:
                    log.info("queue '%s' (function '%s'): storage reachable again",
                             self.queue_name, self.name)
                failing = False
            except Exception as exc:  # noqa: BLE001 - storage down, queue deleted...: keep listening
                if not failing:
                    log.warning("queue '%s' (function '%s'): %s; retrying every %g s",
                                self.queue_name, self.name, _reason(exc),
                                self.settings.max_polling_interval)
                failing, handled = True, 0
                self.ready.clear()
                delay = self.settings.max_polling_interval
            if handled:
                delay = MIN_POLLING_INTERVAL
                continue  # more may be waiting: poll again at once
            if self._idle_wait(delay):
                return
            delay = min(delay * 2, self.settings.max_polling_interval)

    def _idle_wait(self, seconds: float) -> bool:
        """Wait between polls; True if stopped.

        Azurite runs in real time, so under a virtual clock the wait is real time too: a poll
        deadline on the virtual clock would make the host's time-skipping creep forward in
        poll-sized steps instead of jumping to the next durable or timer deadline.
        """
        if self.clock.virtual:
            return self._stop.wait(seconds)
        return self.clock.wait_until(self.clock.time() + seconds, self._stop)

    def _ensure_queue(self) -> None:
        if self.ready.is_set():
            return
        with contextlib.suppress(ResourceExistsError):
            self._queue.create_queue()
        self.ready.set()

    def _poll_once(self) -> int:
        try:
            batch = list(self._queue.receive_messages(
                max_messages=self.settings.batch_size, messages_per_page=self.settings.batch_size,
                visibility_timeout=PROCESSING_VISIBILITY))
        except ResourceNotFoundError:
            self.ready.clear()  # deleted under us: recreate on the next round
            raise
        if len(batch) == 1:
            self._handle(batch[0])
        elif batch:
            self._run_parallel(batch)
        return len(batch)

    def _run_parallel(self, batch: list[QueueMessage]) -> None:
        # Daemon threads, not an executor: a hung function must not block interpreter exit.
        threads = [threading.Thread(target=self._handle, args=(m,), daemon=True,
                                    name=f"devhost-queue-{self.name}-msg") for m in batch]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive() and not self._stop.is_set():
                t.join(0.1)

    # ------------------------------------------------------------------ one message
    def _handle(self, msg: QueueMessage) -> None:
        try:
            if (msg.dequeue_count or 0) > self.settings.max_dequeue_count:
                self._to_poison(msg, f"DequeueCount {msg.dequeue_count} is above "
                                     f"maxDequeueCount {self.settings.max_dequeue_count} "
                                     "(a previous run never finished)")
                return
            try:
                body = decode_body(msg.content or "", self.settings.message_encoding)
            except UndecodableMessage as exc:
                self._to_poison(msg, f"{exc}; host.json extensions.queues.messageEncoding is "
                                     "'base64', so senders must base64-encode messages")
                return
            self._invoke(msg, body)
        except AzureError as exc:  # e.g. the pop receipt expired; the message will reappear
            log.warning("queue '%s': could not settle message %s: %s", self.queue_name, msg.id,
                        _reason(exc))

    def _invoke(self, msg: QueueMessage, body: bytes | str) -> None:
        datum, metadata = trigger_data(msg, body, self.name, self.clock.now())
        try:
            self.invoker.invoke(self.entry, datum, metadata)
        except Exception as exc:  # noqa: BLE001 - the host catches whatever the function raises
            self._failed(msg, exc)
            return
        self._queue.delete_message(msg.id, msg.pop_receipt)

    def _failed(self, msg: QueueMessage, exc: Exception) -> None:
        count, max_count = msg.dequeue_count or 0, self.settings.max_dequeue_count
        log_failure(f"queue trigger '{self.name}' failed for message {msg.id} (dequeue count "
                    f"{count} of {max_count})", exc)
        if count >= max_count:
            self._to_poison(msg, f"it failed {count} times (maxDequeueCount {max_count})")
            return
        # Only the visibility changes: passing the id (not the message) keeps the content as is.
        self._queue.update_message(msg.id, msg.pop_receipt,
                                   visibility_timeout=round(self.settings.visibility_timeout))

    def _to_poison(self, msg: QueueMessage, reason: str) -> None:
        """Copy the stored text unchanged (base64 stays base64) to <queue>-poison, then delete."""
        try:
            self._poison.send_message(msg.content)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):
                self._poison.create_queue()
            self._poison.send_message(msg.content)
        self._queue.delete_message(msg.id, msg.pop_receipt)
        log.warning("queue '%s': moved message %s to '%s' because %s", self.queue_name, msg.id,
                    self.poison_name, reason)


def _setting_hint(setting: str) -> str:
    if setting == "AzureWebJobsStorage":
        return ("AzureWebJobsStorage (UseDevelopmentStorage=true means Azurite), or "
                "AzureWebJobsStorage__accountName or its service URIs with __credential and "
                "__clientId")
    return (f"{setting}, {setting}__connectionString or AzureWebJobs{setting}, or "
            f"{setting}__queueServiceUri or __accountName with __credential and __clientId")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def create_listener(entry: FunctionEntry, invoker: Invoker, config: HostConfig, clock: Clock,
                    env: Mapping[str, str] | None = None) -> QueueListener | None:
    """A listener, or None with one warning when the queue or its connection is not configured."""
    spec = entry.trigger.spec
    setting = spec.get("connection") or "AzureWebJobsStorage"
    try:
        conn = resolve_connection(setting, env, service="queue")
    except StorageSettingError as exc:
        log.warning("skipping queue trigger '%s': connection '%s': %s", entry.name, setting, exc)
        return None
    if conn is None:
        log.warning("skipping queue trigger '%s': connection '%s' is not configured (set %s in "
                    "local.settings.json Values or the environment)", entry.name, setting,
                    _setting_hint(setting))
        return None
    try:
        name = resolve_settings(str(spec.get("queueName") or ""), env).lower()
    except SettingError as exc:
        log.warning("skipping queue trigger '%s': queueName %s", entry.name, exc)
        return None
    if not _QUEUE_NAME.match(name):
        log.warning("skipping queue trigger '%s': %r is not a valid queue name (3-63 lowercase "
                    "letters, digits and single hyphens, starting and ending with a letter or "
                    "digit)", entry.name, name)
        return None
    try:
        return QueueListener(entry, invoker, conn, name, QueueSettings.from_host_config(config),
                             clock)
    except ValueError as exc:  # the SDK's "Connection string is either blank or malformed."
        log.warning("skipping queue trigger '%s': connection '%s' is not a usable storage "
                    "connection string (%s)", entry.name, setting, exc)
        return None
