"""All configuration, read from app settings (environment) and validated once.

Every problem is reported at once, naming the setting. Orchestrations never read settings: the
values they need are copied into the RestorePlan when a run starts, so a running restore is not
changed by a later configuration change.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

PUBLIC_ARM = "https://management.azure.com"
APP_DIR = os.path.dirname(os.path.abspath(__file__))
_TABLE = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
_CONTAINER = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def _app_principal(env: Mapping[str, str], credential: str, problems: list[str]) -> str | None:
    """APP_PRINCIPAL_ID; with dev-unsigned tokens, the DEV_PRINCIPAL_ID they name."""
    principal = (env.get("APP_PRINCIPAL_ID") or "").strip()
    if principal and not _OBJECT_ID.match(principal):
        problems.append(f"APP_PRINCIPAL_ID={principal!r} is not an object id (a GUID)")
    if not principal and credential == "dev-unsigned":
        principal = env.get("DEV_PRINCIPAL_ID") or ""
    return principal.lower() or None


def _app_path(value: str | None) -> str | None:
    """A file the app ships: absolute, or relative to the app's directory (not the cwd)."""
    if not value:
        return None
    return value if os.path.isabs(value) else os.path.join(APP_DIR, value)
CREDENTIALS = ("managed-identity", "default", "dev-unsigned")
AUTHORIZATION_MODES = ("policy", "off")


class SettingsError(ValueError):
    """One or more app settings are missing or invalid."""


STORAGE = "AzureWebJobsStorage"
STORAGE_SERVICES = ("blob", "queue", "table")
_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
# Hosts whose first label is the account (public and sovereign clouds, DNS zone endpoints);
# on a loopback or IP host (Azurite) the account is the first path segment.
_STORAGE_SUFFIXES = (".core.windows.net", ".core.chinacloudapi.cn", ".core.usgovcloudapi.net",
                     ".core.cloudapi.de", ".storage.azure.net")


@dataclass(frozen=True)
class StorageSettings:
    """AzureWebJobsStorage, the app's storage account, as the app settings give it (read and
    checked here; gateway/storage.py resolves it the way the Functions host does).

    Either a connection string (`AzureWebJobsStorage`, or `AzureWebJobsStorage__connectionString`;
    `UseDevelopmentStorage=true` is the local emulator), or identity-based: per service
    `__blobServiceUri` / `__queueServiceUri` / `__tableServiceUri`, else
    https://<__accountName>.<service>.core.windows.net, with `__credential=managedidentity` and
    `__clientId` for a user-assigned identity. `emulator_ports` are where
    UseDevelopmentStorage=true leads: the SDK's 10000-10002, or the Azurite devhost was given
    (DEVHOST_AZURITE_*_PORT), since the app must reach the storage its host uses."""

    connection_string: str | None = None
    account_name: str | None = None
    service_uris: tuple[tuple[str, str], ...] = ()  # (service, URI) given explicitly
    credential: str | None = None  # "managedidentity", or None (the system-assigned identity)
    client_id: str | None = None
    emulator_ports: tuple[int, int, int] = (10000, 10001, 10002)

    @property
    def configured(self) -> bool:
        return bool(self.connection_string or self.account_name or self.service_uris)


def _storage(env: Mapping[str, str], problems: list[str],
             number: Callable[[str, float, float, float], float]) -> StorageSettings:
    """AzureWebJobsStorage, with every inconsistency named (the host would pick one reading
    silently; some Functions components pick another)."""
    connection = (env.get("AzureWebJobsStorage") or
                  env.get("AzureWebJobsStorage__connectionString") or None)
    given = {"accountName": env.get("AzureWebJobsStorage__accountName") or None,
             "blobServiceUri": env.get("AzureWebJobsStorage__blobServiceUri") or None,
             "queueServiceUri": env.get("AzureWebJobsStorage__queueServiceUri") or None,
             "tableServiceUri": env.get("AzureWebJobsStorage__tableServiceUri") or None,
             "serviceUri": env.get("AzureWebJobsStorage__serviceUri") or None,
             "credential": env.get("AzureWebJobsStorage__credential") or None,
             "clientId": env.get("AzureWebJobsStorage__clientId") or None,
             "managedIdentityResourceId":
                 env.get("AzureWebJobsStorage__managedIdentityResourceId") or None}
    ports = (int(number("DEVHOST_AZURITE_BLOB_PORT", 10000, 1, 65535)),
             int(number("DEVHOST_AZURITE_QUEUE_PORT", 10001, 1, 65535)),
             int(number("DEVHOST_AZURITE_TABLE_PORT", 10002, 1, 65535)))
    named = [f"{STORAGE}__{k}" for k, v in given.items() if v]
    if connection and named:
        problems.append(f"{STORAGE} is a connection string and {', '.join(named)} "
                        f"{'is' if len(named) == 1 else 'are'} set too: the host uses the "
                        "connection string and ignores the rest; keep one way to connect")
        return StorageSettings(connection_string=connection, emulator_ports=ports)
    if connection or not named:
        return StorageSettings(connection_string=connection, emulator_ports=ports)
    _identity_problems(given, problems)
    uris = tuple((service, uri.rstrip("/")) for service in STORAGE_SERVICES
                 if (uri := given[f"{service}ServiceUri"]))
    return StorageSettings(account_name=given["accountName"], service_uris=uris,
                           credential=(given["credential"] or "").lower() or None,
                           client_id=given["clientId"], emulator_ports=ports)


def _identity_problems(given: Mapping[str, str | None], problems: list[str]) -> None:
    credential, client_id, account = given["credential"], given["clientId"], given["accountName"]
    if credential and credential.lower() != "managedidentity":
        problems.append(f"{STORAGE}__credential={credential!r} must be 'managedidentity', the one "
                        "value the Functions host knows (leave it out for the system-assigned "
                        "identity)")
    if client_id and (credential or "").lower() != "managedidentity":
        problems.append(f"{STORAGE}__clientId is set but {STORAGE}__credential is not "
                        "'managedidentity': the host then ignores the client id and connects "
                        "with the system-assigned identity; set "
                        f"{STORAGE}__credential=managedidentity")
    if client_id and not _is_guid(client_id):
        problems.append(f"{STORAGE}__clientId={client_id!r} is not a client id (a GUID)")
    if given["managedIdentityResourceId"]:
        problems.append(f"{STORAGE}__managedIdentityResourceId is not supported by this app: "
                        f"name the user-assigned identity by {STORAGE}__clientId")
    if given["serviceUri"]:
        problems.append(f"{STORAGE}__serviceUri cannot be used for a connection used across "
                        f"blobs, queues and tables, as {STORAGE} is (the host, Durable Functions, "
                        "this app): set __blobServiceUri, __queueServiceUri and __tableServiceUri")
    if account and not _ACCOUNT.match(account):
        problems.append(f"{STORAGE}__accountName={account!r} must be 3-24 lowercase letters and "
                        "digits (a storage account name)")
    for service in STORAGE_SERVICES:
        name, uri = f"{STORAGE}__{service}ServiceUri", given[f"{service}ServiceUri"]
        if not uri and not account:
            problems.append(f"{name} (or {STORAGE}__accountName) must be set: the host, Durable "
                            "Functions and this app use blobs, queues and tables")
        elif uri:
            _check_service_uri(name, uri, account, problems)


def _check_service_uri(name: str, uri: str, account: str | None, problems: list[str]) -> None:
    parts = urlsplit(uri)
    if parts.scheme != "https" or not parts.hostname:
        problems.append(f"{name}={uri!r} must be an https:// URL (bearer tokens are only sent "
                        "over HTTPS)")
        return
    named = _account_of(parts.hostname, parts.path)
    if account and named is not None and named != account:
        problems.append(f"{name}={uri!r} names account {named!r} but {STORAGE}__accountName is "
                        f"{account!r}: the host takes the service URI, some Functions components "
                        "the account name; make them name the same account")


def _account_of(host: str, path: str) -> str | None:
    """The account a service URI names, or None when its host does not say (a custom domain)."""
    host = host.lower()
    try:
        ipaddress.ip_address(host)
        path_style = True
    except ValueError:
        path_style = host == "localhost"
    if path_style:
        return path.strip("/").split("/")[0] or None
    if host.endswith(_STORAGE_SUFFIXES):
        return host.split(".")[0]
    return None


def _drill_reserve(env: Mapping[str, str], problems: list[str]) -> int:
    """DRILL_RESTORE_RESERVE: 0-9 of Azure Backup's 10 restores per disk a day (default 2)."""
    raw = env.get("DRILL_RESTORE_RESERVE", "")
    value = raw.strip()
    if not value:
        return 2
    if not (value.isascii() and value.isdigit() and int(value) <= 9):
        problems.append(f"DRILL_RESTORE_RESERVE={raw!r} must be a whole number from 0 to 9: the "
                        "restores a day, of Azure Backup's 10 per disk, that drills leave for "
                        "incidents")
        return 2
    return int(value)


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Settings:
    arm_endpoint: str = PUBLIC_ARM
    arm_ca_bundle: str | None = None
    credential: str = "managed-identity"
    managed_identity_client_id: str | None = None
    dev_principal_id: str | None = None
    dev_tenant_id: str | None = None
    # The object id of the identity the app calls ARM with (APP_PRINCIPAL_ID; with dev-unsigned,
    # DEV_PRINCIPAL_ID): a deletion this identity made (a rejected approval's restored disk, an
    # expired drill disk) is never recovered, or each cycle would start the next.
    app_principal_id: str | None = None
    backup_vault_ids: tuple[str, ...] = ()
    propagation_timeout_s: int = 30 * 60
    job_timeout_s: int = 4 * 60 * 60
    probe_interval_s: float = 20.0
    poll_interval_s: float = 10.0
    operation_poll_s: float = 5.0
    restore_queue: str = "restore-requests"
    storage: StorageSettings = StorageSettings()  # AzureWebJobsStorage (ledger, reports, notices)
    ledger_table: str = "recoveryledger"
    recovery_policies_path: str | None = None  # absolute, or relative to the app's directory
    drill_plans_path: str | None = None  # likewise
    drill_reports_container: str = "drill-reports"
    # Of Azure Backup's 10 restores per disk a day, how many drills leave for incidents: a drill
    # skips a disk with no more than this many left (restores and recoveries may use them all).
    drill_restore_reserve: int = 2
    # App Service authentication (Entra ID) is on: the platform then strips X-MS-CLIENT-
    # PRINCIPAL-* from callers and sets them itself. Only then may the app trust them.
    app_service_auth: bool = False
    # Who may restore what (domain/access/access_policy.py, docs/security.md): "policy" (the
    # default) checks every self-service request against the access policy file, denying by
    # default; "off" lets any function-key caller do anything, for local development only.
    caller_authorization: str = "policy"
    access_policy_path: str | None = None  # absolute, or relative to the app's directory
    # Readiness checks (docs/readiness.md): the timer's NCRONTAB schedule (checked where the
    # timer is registered, triggers/readiness_routes.py) and the RPO where no objective covers a
    # disk (26 h: a daily backup starts anywhere in a 2-hour window).
    readiness_schedule: str = "0 17 * * * *"
    readiness_rpo_hours: float = 26.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        problems: list[str] = []

        def number(name: str, default: float, low: float, high: float) -> float:
            raw = env.get(name)
            if raw in (None, ""):
                return default
            try:
                value = float(raw)
            except ValueError:
                problems.append(f"{name}={raw!r} is not a number")
                return default
            if not low <= value <= high:
                problems.append(f"{name}={raw!r} must be between {low:g} and {high:g}")
            return value

        endpoint = env.get("ARM_ENDPOINT", PUBLIC_ARM).rstrip("/")
        parts = urlsplit(endpoint)
        if parts.scheme != "https" or not parts.hostname:
            problems.append(f"ARM_ENDPOINT={endpoint!r} must be an https:// URL")
        credential = env.get("ARM_CREDENTIAL", "managed-identity")
        if credential not in CREDENTIALS:
            problems.append(
                f"ARM_CREDENTIAL={credential!r} must be one of {', '.join(CREDENTIALS)}")
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if credential == "dev-unsigned" and not loopback:
            problems.append("ARM_CREDENTIAL=dev-unsigned is only allowed with a loopback "
                            "ARM_ENDPOINT (the local simulator); it would send unsigned tokens")
        if credential == "dev-unsigned" and not env.get("DEV_PRINCIPAL_ID"):
            problems.append("DEV_PRINCIPAL_ID is required with ARM_CREDENTIAL=dev-unsigned")
        app_principal = _app_principal(env, credential, problems)
        ca_bundle = env.get("ARM_CA_BUNDLE") or None
        if ca_bundle and not os.path.isfile(ca_bundle):
            problems.append(f"ARM_CA_BUNDLE={ca_bundle!r} is not a file")
        vaults = tuple(v.strip() for v in env.get("BACKUP_VAULT_IDS", "").split(",") if v.strip())
        bad = [v for v in vaults
               if "/providers/microsoft.dataprotection/backupvaults/" not in v.lower()]
        if bad:
            problems.append(f"BACKUP_VAULT_IDS has entries that are not Backup vault ids: {bad}")
        storage = _storage(env, problems, number)
        table = env.get("RECOVERY_LEDGER_TABLE", "recoveryledger")
        if not _TABLE.match(table):
            problems.append(f"RECOVERY_LEDGER_TABLE={table!r} must be 3-63 letters and digits, "
                            "starting with a letter")
        policies = _app_path(env.get("RECOVERY_POLICIES_PATH"))
        drills = _app_path(env.get("DRILL_PLANS_PATH"))
        container = env.get("DRILL_REPORTS_CONTAINER", "drill-reports")
        if not _CONTAINER.match(container) or "--" in container:
            problems.append(f"DRILL_REPORTS_CONTAINER={container!r} must be 3-63 lowercase "
                            "letters, digits and single hyphens, starting with a letter or digit")
        authorization = env.get("CALLER_AUTHORIZATION", "policy").strip().lower() or "policy"
        if authorization not in AUTHORIZATION_MODES:
            problems.append(f"CALLER_AUTHORIZATION={authorization!r} must be one of "
                            f"{', '.join(AUTHORIZATION_MODES)}")
        settings = cls(
            arm_endpoint=endpoint, arm_ca_bundle=ca_bundle, credential=credential,
            managed_identity_client_id=env.get("AZURE_CLIENT_ID") or None,
            dev_principal_id=env.get("DEV_PRINCIPAL_ID") or None,
            dev_tenant_id=env.get("DEV_TENANT_ID") or None,
            app_principal_id=app_principal,
            backup_vault_ids=vaults,
            propagation_timeout_s=int(
                number("RESTORE_PROPAGATION_TIMEOUT_MINUTES", 30, 1, 240) * 60),
            job_timeout_s=int(number("RESTORE_JOB_TIMEOUT_MINUTES", 240, 1, 24 * 60) * 60),
            probe_interval_s=number("RESTORE_PROBE_INTERVAL_SECONDS", 20, 0.01, 600),
            poll_interval_s=number("RESTORE_POLL_INTERVAL_SECONDS", 10, 0.01, 600),
            operation_poll_s=number("ARM_OPERATION_POLL_SECONDS", 5, 0.01, 600),
            restore_queue=env.get("RESTORE_QUEUE_NAME", "restore-requests"),
            storage=storage, ledger_table=table,
            recovery_policies_path=policies, drill_plans_path=drills,
            drill_reports_container=container,
            drill_restore_reserve=_drill_reserve(env, problems),
            app_service_auth=env.get("WEBSITE_AUTH_ENABLED", "").strip().lower() == "true",
            caller_authorization=authorization,
            access_policy_path=_app_path(env.get("ACCESS_POLICY_PATH")),
            readiness_schedule=(env.get("READINESS_SCHEDULE") or "").strip() or "0 17 * * * *",
            readiness_rpo_hours=number("READINESS_RPO_HOURS", 26, 0.25, 8760),
        )
        if problems:
            raise SettingsError("invalid app settings: " + "; ".join(problems))
        return settings


ENV_NAMES = ("ARM_ENDPOINT", "ARM_CA_BUNDLE", "ARM_CREDENTIAL", "AZURE_CLIENT_ID",
             "DEV_PRINCIPAL_ID", "DEV_TENANT_ID", "APP_PRINCIPAL_ID", "BACKUP_VAULT_IDS",
             "RESTORE_PROPAGATION_TIMEOUT_MINUTES", "RESTORE_JOB_TIMEOUT_MINUTES",
             "RESTORE_PROBE_INTERVAL_SECONDS", "RESTORE_POLL_INTERVAL_SECONDS",
             "ARM_OPERATION_POLL_SECONDS", "RESTORE_QUEUE_NAME", "AzureWebJobsStorage",
             "AzureWebJobsStorage__connectionString", "AzureWebJobsStorage__accountName",
             "AzureWebJobsStorage__blobServiceUri", "AzureWebJobsStorage__queueServiceUri",
             "AzureWebJobsStorage__tableServiceUri", "AzureWebJobsStorage__serviceUri",
             "AzureWebJobsStorage__credential", "AzureWebJobsStorage__clientId",
             "AzureWebJobsStorage__managedIdentityResourceId", "DEVHOST_AZURITE_BLOB_PORT",
             "DEVHOST_AZURITE_QUEUE_PORT", "DEVHOST_AZURITE_TABLE_PORT", "RECOVERY_LEDGER_TABLE",
             "RECOVERY_POLICIES_PATH", "DRILL_PLANS_PATH", "DRILL_REPORTS_CONTAINER",
             "DRILL_RESTORE_RESERVE", "WEBSITE_AUTH_ENABLED", "CALLER_AUTHORIZATION",
             "ACCESS_POLICY_PATH", "READINESS_SCHEDULE", "READINESS_RPO_HOURS")


def settings() -> Settings:
    """The process's settings (for triggers, activities and the gateway factory), read and
    validated once per distinct set of values: a test process that hosts several apps with
    different settings gets each its own."""
    return _settings_for(tuple((name, os.environ.get(name)) for name in ENV_NAMES))


@functools.lru_cache(maxsize=8)
def _settings_for(values: tuple[tuple[str, str | None], ...]) -> Settings:
    return Settings.from_env({k: v for k, v in values if v is not None})
