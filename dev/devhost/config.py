"""host.json and local.settings.json, read the way the Functions host reads them.

Only the settings devhost acts on are modelled; each has the host's documented default.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import uuid
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .durable.shim import EXTERNAL_EVENT_ORDERS, LIFO

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
    # seconds: the host's default (00:01:00): an idle queue's message may wait up to this long
    queue_max_polling_interval: float = 60.0
    queue_message_encoding: str = "base64"
    # durableTask.overridableExistingInstanceStates: may start_new replace an instance that is
    # still running (AnyState, the extension's default) or only a finished one (NonRunningStates:
    # a start over a Pending/Running/Suspended instance fails, 409 on the HTTP API).
    overridable_existing_instance_states: str = "AnyState"
    # durableTask.storageProvider: which Durable backend hands out work, and how the Azure Storage
    # provider polls its queues (one control queue per partition, one work-item queue). Only
    # devhost's dispatch-latency model (dev/devhost/durable/dispatch.py) acts on them.
    storage_provider_type: str = "AzureStorage"  # "azureManaged" is the Durable Task Scheduler
    partition_count: int = 4  # extension default; 1-16, fixed once the task hub exists
    max_queue_polling_interval: float = 30.0  # seconds; the extension's default 00:00:30
    # devhost's own, not a host.json setting: which of several host-side waiters for one event
    # name an external event completes (dev/devhost/durable/shim.py): "lifo", the extension's
    # stack, or "fifo", a what-if. From DevHost(external_event_order=...), `--external-event-order`
    # or DEVHOST_EXTERNAL_EVENT_ORDER (local.settings.json Values too); see external_event_order().
    external_event_order: str = "lifo"

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
        http, durable = ext.get("http") or {}, ext.get("durableTask") or {}
        queues = ext.get("queues") or {}
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


EXTERNAL_EVENT_ORDER_SETTING = "DEVHOST_EXTERNAL_EVENT_ORDER"


def external_event_order(given: str | None, env: Mapping[str, str] | None = None) -> str:
    """The host's external-event order: `given`, else DEVHOST_EXTERNAL_EVENT_ORDER, else "lifo"
    (what the Durable extension does). Anything else is refused, naming the setting."""
    env = os.environ if env is None else env
    name = "external_event_order" if given is not None else EXTERNAL_EVENT_ORDER_SETTING
    value = given if given is not None else env.get(EXTERNAL_EVENT_ORDER_SETTING) or LIFO
    if str(value).lower() not in EXTERNAL_EVENT_ORDERS:
        raise ConfigError(f"{name} must be one of {', '.join(EXTERNAL_EVENT_ORDERS)} (lifo is what "
                          f"the Durable extension does), got {value!r}")
    return str(value).lower()


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


STORAGE = "AzureWebJobsStorage"
SERVICES = ("blob", "queue", "table")
# Hosts whose first label is the account; on a loopback or IP host (Azurite) it is the path's.
_STORAGE_SUFFIXES = (".core.windows.net", ".core.chinacloudapi.cn", ".core.usgovcloudapi.net",
                     ".core.cloudapi.de", ".storage.azure.net")


class StorageSettingError(ConfigError):
    """A storage connection's settings contradict each other or the host's rules."""


@dataclass(frozen=True)
class StorageConnection:
    """Where a binding's `connection` leads: a connection string (key-based; the SDK parses
    it), or service URIs reached with a managed identity (`client_id` None: system-assigned)."""

    setting: str
    connection_string: str | None = None
    blob: str | None = None
    queue: str | None = None
    table: str | None = None
    client_id: str | None = None

    def describe(self) -> dict[str, Any]:
        """The comparable answer (tests/test_storage_resolution.py)."""
        if self.connection_string is not None:
            return {"connectionString": self.connection_string}
        return {"blob": self.blob, "queue": self.queue, "table": self.table,
                "managedIdentity": self.client_id or "system-assigned"}


def resolve_connection(setting: str | None, env: Mapping[str, str] | None = None,
                       service: str = "queue") -> StorageConnection | None:
    """Resolve a binding's `connection` app setting the way the host does; None when nothing is
    configured (the caller skips the trigger with a warning). StorageSettingError names every
    inconsistency.

    The section is `AzureWebJobs<X>`, else `<X>` (GetWebJobsConnectionStringSection), keys read
    case-insensitively as .NET configuration does. Its value, or `__connectionString`, is a
    connection string; `UseDevelopmentStorage=true` is Azurite, on the ports in
    DEVHOST_AZURITE_*_PORT when the host was given its own Azurite (the real host hands it to the
    SDK: http://127.0.0.1:10000-10002). Otherwise identity-based: per service
    `__<service>ServiceUri`, honoured over `__accountName` (https://<account>.<service>.core.
    windows.net); `__serviceUri` is an alias for `service`'s URI except on AzureWebJobsStorage,
    which is used across blobs, queues and tables; `__credential=managedidentity` and `__clientId`
    pick the user-assigned identity. gateway/storage.py applies the same rules for the app.
    """
    env = os.environ if env is None else env
    name = setting or STORAGE
    for candidate in (f"AzureWebJobs{name}", name):
        value, children = _section(env, candidate)
        if value or children:
            break
    else:
        return None
    connection = value or children.get("connectionstring")
    identity = {k: v for k, v in children.items() if k != "connectionstring"}
    if connection and identity:
        others = ", ".join(f"{candidate}__{k}" for k in identity)
        raise StorageSettingError(
            f"{candidate} is a connection string and {others} set too: the host uses the "
            "connection string and ignores the rest; keep one way to connect")
    if connection:
        if _is_development_storage(connection):
            connection = azurite_connection_string(
                blob_port=int(env.get("DEVHOST_AZURITE_BLOB_PORT", 10000)),
                queue_port=int(env.get("DEVHOST_AZURITE_QUEUE_PORT", 10001)),
                table_port=int(env.get("DEVHOST_AZURITE_TABLE_PORT", 10002)))
        return StorageConnection(candidate, connection_string=connection)
    return _identity_connection(candidate, identity, service)


def _section(env: Mapping[str, str], name: str) -> tuple[str | None, dict[str, str]]:
    prefix = f"{name.lower()}__"
    value = next((v for k, v in env.items() if k.lower() == name.lower() and v), None)
    children = {k[len(prefix):].lower(): v for k, v in env.items()
                if k.lower().startswith(prefix) and v}
    return value, children


def _identity_connection(name: str, given: Mapping[str, str], service: str) -> StorageConnection:
    problems: list[str] = []
    credential, client_id = given.get("credential"), given.get("clientid")
    account = given.get("accountname")
    if credential and credential.lower() != "managedidentity":
        problems.append(f"{name}__credential={credential!r} must be 'managedidentity', the one "
                        "value the Functions host knows (leave it out for the system-assigned "
                        "identity)")
    if client_id and (credential or "").lower() != "managedidentity":
        problems.append(f"{name}__clientId is set but {name}__credential is not "
                        "'managedidentity': the host then ignores the client id and connects "
                        "with the system-assigned identity; set "
                        f"{name}__credential=managedidentity")
    if client_id and not is_guid(client_id):
        problems.append(f"{name}__clientId={client_id!r} is not a client id (a GUID)")
    if given.get("managedidentityresourceid"):
        problems.append(f"{name}__managedIdentityResourceId is not supported by devhost: name the "
                        f"user-assigned identity by {name}__clientId")
    shared = name == STORAGE  # host storage: used across blobs, queues and tables
    if given.get("serviceuri") and shared:
        problems.append(f"{name}__serviceUri cannot be used for a connection used across blobs, "
                        f"queues and tables, as {name} is (the host, Durable Functions, this app):"
                        " set __blobServiceUri, __queueServiceUri and __tableServiceUri")
    if account and not re.fullmatch(r"[a-z0-9]{3,24}", account):
        problems.append(f"{name}__accountName={account!r} must be 3-24 lowercase letters and "
                        "digits (a storage account name)")
    uris: dict[str, str | None] = {}
    for each in SERVICES:
        uri = given.get(f"{each}serviceuri") or (given.get("serviceuri") if each == service
                                                 and not shared else None)
        if uri:
            problems += _uri_problems(f"{name}__{each}ServiceUri", uri, account)
        elif (shared or each == service) and not account:
            problems.append(f"{name}__{each}ServiceUri (or {name}__accountName) must be set"
                            + (": the host, Durable Functions and this app use blobs, queues and "
                               "tables" if shared else ""))
        uris[each] = (uri.rstrip("/") if uri else
                      f"https://{account}.{each}.core.windows.net" if account else None)
    if problems:
        raise StorageSettingError("; ".join(problems))
    return StorageConnection(name, blob=uris["blob"], queue=uris["queue"], table=uris["table"],
                             client_id=client_id if credential else None)


def _uri_problems(name: str, uri: str, account: str | None) -> list[str]:
    parts = urlsplit(uri)
    if parts.scheme != "https" or not parts.hostname:
        return [f"{name}={uri!r} must be an https:// URL (bearer tokens are only sent over "
                "HTTPS)"]
    host = parts.hostname.lower()
    try:
        ipaddress.ip_address(host)
        named: str | None = parts.path.strip("/").split("/")[0] or None
    except ValueError:
        named = (parts.path.strip("/").split("/")[0] or None if host == "localhost" else
                 host.split(".")[0] if host.endswith(_STORAGE_SUFFIXES) else None)
    if account and named is not None and named != account:
        return [f"{name}={uri!r} names account {named!r} but {name.split('__')[0]}__accountName "
                f"is {account!r}: the host takes the service URI, some Functions components the "
                "account name; make them name the same account"]
    return []


def _is_development_storage(connection_string: str) -> bool:
    pairs = dict(part.split("=", 1) for part in connection_string.split(";") if "=" in part)
    return {k.strip().lower(): v.strip().lower() for k, v in pairs.items()}.get(
        "usedevelopmentstorage") == "true"


def is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
