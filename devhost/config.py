"""host.json and local.settings.json, read the way the Functions host reads them.

Only the settings devhost acts on are modelled; each has the host's documented default.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The well-known Azurite account (public, documented development credentials).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
               "KBHBeksoGMGw==")


def azurite_connection_string(host: str = "127.0.0.1", blob_port: int = 10000,
                              queue_port: int = 10001, table_port: int = 10002,
                              scheme: str = "http") -> str:
    return (f"DefaultEndpointsProtocol={scheme};AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={scheme}://{host}:{blob_port}/{AZURITE_ACCOUNT};"
            f"QueueEndpoint={scheme}://{host}:{queue_port}/{AZURITE_ACCOUNT};"
            f"TableEndpoint={scheme}://{host}:{table_port}/{AZURITE_ACCOUNT};")


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
                                               d.queue_visibility_timeout),
            queue_batch_size=_positive(queues, "batchSize", d.queue_batch_size),
            queue_max_polling_interval=_timespan(queues.get("maxPollingInterval"),
                                                 d.queue_max_polling_interval),
            queue_message_encoding=str(queues.get("messageEncoding", "base64")).lower(),
            overridable_existing_instance_states=_overridable(
                durable.get("overridableExistingInstanceStates")),
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


def _positive(section: Mapping[str, Any], key: str, default: int) -> int:
    value = section.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"host.json: {key} must be a positive integer, got {value!r}")
    return value


def _timespan(value: Any, default: float) -> float:
    """A .NET TimeSpan string ('00:00:30', '1.00:00:00') or milliseconds as a number."""
    if value is None:
        return default
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000.0
    text = str(value)
    days = 0.0
    if "." in text.split(":")[0]:
        d, _, text = text.partition(".")
        days = float(d)
    parts = text.split(":")
    if len(parts) != 3:
        raise ConfigError(f"host.json: {value!r} is not a TimeSpan (hh:mm:ss)")
    h, m, s = (float(p) for p in parts)
    return days * 86400 + h * 3600 + m * 60 + s


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
