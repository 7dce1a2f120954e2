"""host.json and local.settings.json, read the way the Functions host reads them.

Only the settings devhost acts on are modelled; each has the host's documented default.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The well-known Azurite account (public, documented development credentials).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
               "KBHBeksoGMGw==")


def azurite_connection_string(host: str = "127.0.0.1", blob_port: int = 10000,
                              queue_port: int = 10001, table_port: int = 10002) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://{host}:{blob_port}/{AZURITE_ACCOUNT};"
            f"QueueEndpoint=http://{host}:{queue_port}/{AZURITE_ACCOUNT};"
            f"TableEndpoint=http://{host}:{table_port}/{AZURITE_ACCOUNT};")


class ConfigError(ValueError):
    """host.json or local.settings.json is unreadable or has a bad value."""


@dataclass(frozen=True)
class HostConfig:
    route_prefix: str = "api"
    hub_name: str = "DevHostHub"
    max_concurrent_activities: int = 10
    max_concurrent_orchestrators: int = 10
    queue_max_dequeue_count: int = 5
    queue_visibility_timeout: float = 0.0  # seconds
    queue_batch_size: int = 16
    queue_max_polling_interval: float = 1.0  # seconds (host default is 60 s; tuned for local use)
    queue_message_encoding: str = "base64"
    # durableTask.overridableExistingInstanceStates: may start_new replace an instance that is
    # still running (AnyState, the extension's default) or only a finished one (NonRunningStates:
    # a start over a Pending/Running/Suspended instance fails, 409 on the HTTP API).
    overridable_existing_instance_states: str = "AnyState"
    # durableTask.storageProvider: which Durable backend hands out work, and how the Azure Storage
    # provider polls its queues (one control queue per partition, one work-item queue). Only
    # devhost's dispatch-latency model (devhost/durable/dispatch.py) acts on them.
    storage_provider_type: str = "AzureStorage"  # "azureManaged" is the Durable Task Scheduler
    partition_count: int = 4  # extension default; 1-16, fixed once the task hub exists
    max_queue_polling_interval: float = 30.0  # seconds; the extension's default 00:00:30

    @classmethod
    def load(cls, app_dir: str | Path) -> HostConfig:
        path = Path(app_dir) / "host.json"
        if not path.exists():
            return cls()
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        return cls.from_dict(doc)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> HostConfig:
        ext = doc.get("extensions") or {}
        http, durable, queues = ext.get("http") or {}, ext.get("durableTask") or {}, ext.get("queues") or {}
        provider = durable.get("storageProvider") or {}
        d = cls()
        prefix = http.get("routePrefix", d.route_prefix)
        return cls(
            route_prefix=str(prefix).strip("/"),
            hub_name=str(durable.get("hubName") or d.hub_name),
            max_concurrent_activities=_positive(durable, "maxConcurrentActivityFunctions",
                                                d.max_concurrent_activities),
            max_concurrent_orchestrators=_positive(durable, "maxConcurrentOrchestratorFunctions",
                                                   d.max_concurrent_orchestrators),
            queue_max_dequeue_count=_positive(queues, "maxDequeueCount", d.queue_max_dequeue_count),
            queue_visibility_timeout=_timespan(queues.get("visibilityTimeout"),
                                               d.queue_visibility_timeout,
                                               "extensions.queues.visibilityTimeout"),
            queue_batch_size=_positive(queues, "batchSize", d.queue_batch_size),
            queue_max_polling_interval=_timespan(queues.get("maxPollingInterval"),
                                                 d.queue_max_polling_interval,
                                                 "extensions.queues.maxPollingInterval"),
            queue_message_encoding=str(queues.get("messageEncoding", "base64")).lower(),
            overridable_existing_instance_states=_overridable(
                durable.get("overridableExistingInstanceStates")),
            storage_provider_type=str(provider.get("type") or d.storage_provider_type),
            partition_count=_partition_count(provider.get("partitionCount", d.partition_count)),
            max_queue_polling_interval=_polling_interval(provider.get("maxQueuePollingInterval")),
        )


def _overridable(value: Any) -> str:
    if value is None:
        return "AnyState"
    found = {"anystate": "AnyState", "nonrunningstates": "NonRunningStates"}.get(
        str(value).lower())
    if found is None:
        raise ConfigError("host.json: overridableExistingInstanceStates must be AnyState or "
                          f"NonRunningStates, got {value!r}")
    return found


PARTITION_COUNT = "extensions.durableTask.storageProvider.partitionCount"
MAX_QUEUE_POLLING_INTERVAL = "extensions.durableTask.storageProvider.maxQueuePollingInterval"


def _partition_count(value: Any) -> int:
    # AzureStorageOptions.Validate: "PartitionCount must be an integer value between 1 and 16."
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 16:
        raise ConfigError(f"host.json: {PARTITION_COUNT} must be an integer from 1 to 16, got "
                          f"{value!r}")
    return value


def _polling_interval(value: Any) -> float:
    """storageProvider.maxQueuePollingInterval: a TimeSpan string, more than zero."""
    if value is None:
        return HostConfig.max_queue_polling_interval
    # The host binds this option with .NET's TimeSpan parser, which reads a bare number as DAYS
    # ("10" or 10 is ten days of back-off): insist on hh:mm:ss.
    if not isinstance(value, str):
        raise ConfigError(f'host.json: {MAX_QUEUE_POLLING_INTERVAL} must be a TimeSpan string '
                          f'such as "00:00:10", got {value!r} (a number would be read as days)')
    seconds = _timespan(value, 0.0, MAX_QUEUE_POLLING_INTERVAL)
    if seconds <= 0:  # AzureStorageOptions.Validate refuses <= 0 when the host starts
        raise ConfigError(f"host.json: {MAX_QUEUE_POLLING_INTERVAL} must be more than zero, got "
                          f"{value!r}")
    return seconds


def _positive(section: Mapping[str, Any], key: str, default: int) -> int:
    value = section.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"host.json: {key} must be a positive integer, got {value!r}")
    return value


# .NET's TimeSpan "[d.]hh:mm:ss[.fffffff]"; its other forms ("10", "00:10") read easily as seconds
# but mean ten DAYS and ten MINUTES, so devhost refuses them.
_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2}(?:\.\d{1,7})?)")


def _timespan(value: Any, default: float, name: str) -> float:
    """A .NET TimeSpan string ('00:00:30', '1.00:00:00') or milliseconds as a number; `name` is
    the setting's path in host.json, for the error."""
    if value is None:
        return default
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000.0
    found = _TIMESPAN.fullmatch(str(value).strip())
    # .NET refuses minutes or seconds of 60 and more, and reads "24:00:00" as 24 DAYS.
    if found is None or int(found[2]) >= 24 or int(found[3]) >= 60 or float(found[4]) >= 60:
        raise ConfigError(f"host.json: {name} is {value!r}, not a TimeSpan (hh:mm:ss with hours "
                          "under 24, minutes and seconds under 60; d.hh:mm:ss for days)")
    days, h, m, sec = int(found[1] or 0), int(found[2]), int(found[3]), float(found[4])
    return days * 86400 + h * 3600 + m * 60 + sec


def load_local_settings(app_dir: str | Path, env: MutableMapping[str, str] | None = None) -> None:
    """Copy `Values` from local.settings.json into the environment, never overriding what is set."""
    env = os.environ if env is None else env
    path = Path(app_dir) / "local.settings.json"
    if not path.exists():
        return
    try:
        values = json.loads(path.read_text(encoding="utf-8")).get("Values") or {}
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    for key, value in values.items():
        env.setdefault(key, str(value))


def connection_string(setting: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """Resolve a binding's `connection` app setting the way the host does.

    `X`, then `X__connectionString`; `AzureWebJobsX` for a bare name; `UseDevelopmentStorage=true`
    means Azurite (on the ports in DEVHOST_AZURITE_* when the host started its own Azurite).
    Returns None when nothing is configured, so the caller can skip the trigger with a warning.
    """
    env = os.environ if env is None else env
    name = setting or "AzureWebJobsStorage"
    candidates = [name, f"{name}__connectionString", f"AzureWebJobs{name}"]
    value = next((env[c] for c in candidates if env.get(c)), None)
    if value is None:
        return None
    if value.strip().lower().startswith("usedevelopmentstorage=true"):
        return azurite_connection_string(
            blob_port=int(env.get("DEVHOST_AZURITE_BLOB_PORT", 10000)),
            queue_port=int(env.get("DEVHOST_AZURITE_QUEUE_PORT", 10001)),
            table_port=int(env.get("DEVHOST_AZURITE_TABLE_PORT", 10002)))
    return value
