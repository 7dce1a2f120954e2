"""The app's storage account (AzureWebJobsStorage), reached exactly as the Functions host reaches
it, and its failures as domain errors.

The host's rules for a connection (Microsoft.Azure.WebJobs storage options, Durable Functions;
docs/devhost.md "Storage"), which dev/devhost/config.py follows too
(tests/test_storage_resolution.py holds both to the same answers):
* a connection string (`AzureWebJobsStorage`, or `__connectionString`) is used as it is, with its
  key; `UseDevelopmentStorage=true` is the local emulator: the real host hands it to the Azure SDK,
  which means http://127.0.0.1:10000-10002/devstoreaccount1 with the well-known key
  (DevelopmentStorageProxyUri is not modelled). devhost
  runs Azurite on ports the OS picks and resolves it there (DEVHOST_AZURITE_*_PORT), so the app,
  running under that host, must resolve it there too;
* otherwise identity-based: per service the explicit `__<service>ServiceUri`, which the host
  honours over `__accountName`, else https://<accountName>.<service>.core.windows.net; a token from
  the app's managed identity, `ManagedIdentityCredential(client_id=__clientId)` (without
  `__credential=managedidentity`, the system-assigned identity).

Clients fail fast (two retries a second apart): an activity or an HTTP request then fails within
seconds, and the durable retry or the caller takes over, instead of the SDK's default backoff
(15 s, then 3^n more) holding a worker for a minute or more per call: with the activities' own
retries on top, that is how `diskrestore drill start` once took minutes to fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import TableClient
from azure.storage.blob import BlobServiceClient
from azure.storage.blob import LinearRetry as BlobRetry
from azure.storage.queue import LinearRetry as QueueRetry
from azure.storage.queue import QueueClient

from domain import errors
from settings import STORAGE, STORAGE_SERVICES, StorageSettings

EMULATOR_ACCOUNT = "devstoreaccount1"
EMULATOR_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
                "KBHBeksoGMGw==")  # Azurite's well-known development key (public)
# The data role each service needs (docs/deploy.md); what a 403 asks the reader to check.
ROLES = {"blob": "Storage Blob Data Contributor", "queue": "Storage Queue Data Contributor",
         "table": "Storage Table Data Contributor"}
# Half a second either side of each one-second retry; the SDK annotates the range int, but it
# only feeds random.uniform, which takes the float.
_JITTER = cast(int, 0.5)
_TIMEOUTS: dict[str, Any] = {"connection_timeout": 10, "read_timeout": 30}


@dataclass(frozen=True)
class StorageTarget:
    """Where a connection leads: a connection string (key or SAS, parsed by the SDK), or service
    URIs reached with a managed identity (`client_id` None: the system-assigned one)."""

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


def resolve(storage: StorageSettings) -> StorageTarget:
    """The host's rules, on settings already checked by Settings.from_env."""
    if storage.connection_string:
        if is_development_storage(storage.connection_string):
            return StorageTarget(connection_string=emulator_connection_string(
                storage.emulator_ports))
        return StorageTarget(connection_string=storage.connection_string)
    if not storage.configured:
        raise errors.StorageNotConfigured(
            f"{STORAGE} is not set, and the app keeps its ledger, drill reports and notices in "
            "its storage account", hint=f"set {STORAGE}__accountName (with __credential="
                                        "managedidentity and __clientId), as infra/app/"
                                        "function.bicep does")
    explicit = dict(storage.service_uris)
    uris = {service: explicit.get(service) or
            (f"https://{storage.account_name}.{service}.core.windows.net"
             if storage.account_name else None) for service in STORAGE_SERVICES}
    return StorageTarget(blob=uris["blob"], queue=uris["queue"], table=uris["table"],
                         client_id=storage.client_id if storage.credential else None)


def is_development_storage(connection_string: str) -> bool:
    pairs = dict(part.split("=", 1) for part in connection_string.split(";") if "=" in part)
    return {k.strip().lower(): v.strip().lower() for k, v in pairs.items()}.get(
        "usedevelopmentstorage") == "true"


def emulator_connection_string(ports: tuple[int, int, int]) -> str:
    blob, queue, table = ports
    base = f"http://127.0.0.1:{{}}/{EMULATOR_ACCOUNT}"
    return (f"DefaultEndpointsProtocol=http;AccountName={EMULATOR_ACCOUNT};"
            f"AccountKey={EMULATOR_KEY};BlobEndpoint={base.format(blob)};"
            f"QueueEndpoint={base.format(queue)};TableEndpoint={base.format(table)};")


# ---- clients ---------------------------------------------------------------------------------
def _credential(client_id: str | None) -> Any:
    """The app's managed identity (App Service's endpoint serves its tokens, or devhost's). Built
    with each client, never ahead of time: ManagedIdentityCredential picks its platform from the
    environment (IDENTITY_ENDPOINT: App Service) when it is built. The clients, and so their
    tokens, are cached per settings (ledger_for, report_store_for)."""
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential(client_id=client_id)


def _service(target: StorageTarget, service: str) -> str:
    uri = getattr(target, service)
    if not uri:  # Settings.from_env refuses this; a hand-built StorageSettings may not
        raise errors.StorageNotConfigured(f"no {service} service URI in {STORAGE}",
                                          hint=f"set {STORAGE}__{service}ServiceUri or "
                                               "__accountName")
    return str(uri)


def blob_service(storage: StorageSettings) -> BlobServiceClient:
    target = resolve(storage)
    retry = BlobRetry(backoff=1, retry_total=2, random_jitter_range=_JITTER)
    if target.connection_string:
        return BlobServiceClient.from_connection_string(target.connection_string,
                                                        retry_policy=retry, **_TIMEOUTS)
    return BlobServiceClient(_service(target, "blob"), credential=_credential(target.client_id),
                             retry_policy=retry, **_TIMEOUTS)


def queue_client(storage: StorageSettings, queue: str) -> QueueClient:
    target = resolve(storage)
    retry = QueueRetry(backoff=1, retry_total=2, random_jitter_range=_JITTER)
    if target.connection_string:
        return QueueClient.from_connection_string(target.connection_string, queue,
                                                  retry_policy=retry, **_TIMEOUTS)
    return QueueClient(_service(target, "queue"), queue,
                       credential=_credential(target.client_id), retry_policy=retry, **_TIMEOUTS)


def table_client(storage: StorageSettings, table: str) -> TableClient:
    target = resolve(storage)
    retry: dict[str, Any] = {"retry_total": 2, "retry_backoff_factor": 0.5, "retry_backoff_max": 2}
    if target.connection_string:
        return TableClient.from_connection_string(target.connection_string, table, **retry,
                                                  **_TIMEOUTS)
    return TableClient(_service(target, "table"), table,
                       credential=_credential(target.client_id), **retry, **_TIMEOUTS)


# ---- failures --------------------------------------------------------------------------------
@contextmanager
def translated(subject: str, service: str, url: str) -> Iterator[None]:
    """A storage call's failure as one domain error naming `subject` (what the app was using,
    e.g. "the recovery ledger (table recoveryledger)"), the endpoint and what to check. Answers
    a caller handles itself (404, 409, 412) are caught inside the block, before they get here;
    any other failure is re-raised untouched."""
    try:
        yield
    except errors.RestoreError:
        raise
    except HttpResponseError as exc:
        status = exc.status_code
        # 401/403: AuthenticationFailed arrives as ClientAuthenticationError, a missing data role
        # (AuthorizationPermissionMismatch) as a plain HttpResponseError; a credential that
        # could not get a token raises ClientAuthenticationError without a response.
        if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
            raise _refused(subject, service, url, exc) from exc
        detail = _detail(exc)
        if status == 429 or detail.startswith("ServerBusy"):
            raise errors.AzureThrottled(f"{subject} cannot be used now: storage at {url} is "
                                        f"throttling the app ({detail})") from exc
        if status is not None and (status >= 500 or status == 408):
            raise errors.AzureUnavailable(f"{subject} cannot be used now: storage at {url} "
                                          f"answered {status} ({detail})",
                                          hint="a transient storage failure; retry") from exc
        raise
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise errors.AzureUnavailable(
            f"{subject} cannot be used now: storage at {url} could not be reached "
            f"({type(exc).__name__}: {_reason(exc)})", hint=_unreachable_hint(exc)) from exc


def _refused(subject: str, service: str, url: str, exc: HttpResponseError) -> errors.RestoreError:
    status = exc.status_code
    if exc.response is not None and status in (401, 403):
        return errors.AppNotAuthorized(
            f"{subject} cannot be used: storage at {url} refused the app ({_detail(exc)})",
            hint=f"give the Function app's managed identity {ROLES[service]} on the storage "
                 "account (a new role assignment can take up to 10 minutes to apply); with a "
                 "connection string, check its key or SAS permissions")
    return errors.AppNotAuthorized(
        f"{subject} cannot be used: the app's managed identity could not get a token for "
        f"storage at {url} ({type(exc).__name__}: {_reason(exc)})",
        hint=f"check that {STORAGE}__clientId names a user-assigned identity the Function app "
             "has (locally: DEVHOST_MANAGED_IDENTITIES, served by devhost's identity endpoint)")


def _detail(exc: HttpResponseError) -> str:
    """"<ErrorCode>: <first line of the message>[ (<AuthenticationErrorDetail>)]"."""
    code = getattr(exc, "error_code", None)  # storage's errors carry it; azure-core's need not
    code = getattr(code, "value", code) or f"HTTP {exc.status_code}"
    text = exc.message or str(exc)
    why = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                if line.lower().startswith("authenticationerrordetail:")), None)
    return f"{code}: {_first_line(text)}" + (f" ({why})" if why else "")


def _unreachable_hint(exc: Exception) -> str:
    if "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return ("the endpoint's TLS certificate is not trusted: locally, REQUESTS_CA_BUNDLE must "
                "name a bundle with Azurite's CA (make serve and the tests set it)")
    return (f"check {STORAGE} (the account name or service URIs) and the account's network "
            "rules; locally, that Azurite is running")


_NOISE = re.compile(r"<urllib3\.[^>]*>:?\s*|HTTPS?ConnectionPool\([^)]*\):\s*")


def _reason(exc: BaseException) -> str:
    """The useful end of an SDK message: "Connection refused", not the urllib3 object dump."""
    text = _first_line(str(exc))
    text = _NOISE.sub("", text)
    for marker in ("Connection refused", "CERTIFICATE_VERIFY_FAILED", "timed out",
                   "Name or service not known", "Unable to load the proper Managed Identity",
                   "X-IDENTITY-HEADER", "No managed identity endpoint found"):
        if marker in text:
            return marker if marker != "CERTIFICATE_VERIFY_FAILED" else \
                "certificate verify failed"
    return text[:240]


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""
