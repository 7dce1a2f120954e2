"""All configuration, read from app settings (environment) and validated once.

Every problem is reported at once, naming the setting. Orchestrations never read settings: the
values they need are copied into the RestorePlan when a run starts, so a running restore is not
changed by a later configuration change.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

PUBLIC_ARM = "https://management.azure.com"
APP_DIR = os.path.dirname(os.path.abspath(__file__))
_TABLE = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
_CONTAINER = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


def _app_path(value: str | None) -> str | None:
    """A file the app ships: absolute, or relative to the app's directory (not the cwd)."""
    if not value:
        return None
    return value if os.path.isabs(value) else os.path.join(APP_DIR, value)
CREDENTIALS = ("managed-identity", "default", "dev-unsigned")
AUTHORIZATION_MODES = ("policy", "off")


class SettingsError(ValueError):
    """One or more app settings are missing or invalid."""


@dataclass(frozen=True)
class Settings:
    arm_endpoint: str = PUBLIC_ARM
    arm_ca_bundle: str | None = None
    credential: str = "managed-identity"
    managed_identity_client_id: str | None = None
    dev_principal_id: str | None = None
    dev_tenant_id: str | None = None
    backup_vault_ids: tuple[str, ...] = ()
    propagation_timeout_s: int = 30 * 60
    job_timeout_s: int = 4 * 60 * 60
    probe_interval_s: float = 20.0
    poll_interval_s: float = 10.0
    operation_poll_s: float = 5.0
    restore_queue: str = "restore-requests"
    storage_connection: str | None = None  # AzureWebJobsStorage (a connection string), or ...
    storage_account: str | None = None  # ... AzureWebJobsStorage__accountName (identity-based)
    ledger_table: str = "recoveryledger"
    recovery_policies_path: str | None = None  # absolute, or relative to the app's directory
    drill_plans_path: str | None = None  # likewise
    drill_reports_container: str = "drill-reports"
    # App Service authentication (Entra ID) is on: the platform then strips X-MS-CLIENT-
    # PRINCIPAL-* from callers and sets them itself. Only then may the app trust them.
    app_service_auth: bool = False
    # Who may restore what (domain/access.py, docs/security.md): "policy" (the default) checks
    # every self-service request against the access policy file, denying by default; "off" lets
    # any function-key caller do anything, for local development only.
    caller_authorization: str = "policy"
    access_policy_path: str | None = None  # absolute, or relative to the app's directory

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
            problems.append(f"ARM_CREDENTIAL={credential!r} must be one of {', '.join(CREDENTIALS)}")
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if credential == "dev-unsigned" and not loopback:
            problems.append("ARM_CREDENTIAL=dev-unsigned is only allowed with a loopback "
                            "ARM_ENDPOINT (the local simulator); it would send unsigned tokens")
        if credential == "dev-unsigned" and not env.get("DEV_PRINCIPAL_ID"):
            problems.append("DEV_PRINCIPAL_ID is required with ARM_CREDENTIAL=dev-unsigned")
        ca_bundle = env.get("ARM_CA_BUNDLE") or None
        if ca_bundle and not os.path.isfile(ca_bundle):
            problems.append(f"ARM_CA_BUNDLE={ca_bundle!r} is not a file")
        vaults = tuple(v.strip() for v in env.get("BACKUP_VAULT_IDS", "").split(",") if v.strip())
        bad = [v for v in vaults if "/providers/microsoft.dataprotection/backupvaults/" not in v.lower()]
        if bad:
            problems.append(f"BACKUP_VAULT_IDS has entries that are not Backup vault ids: {bad}")
        storage = env.get("AzureWebJobsStorage") or None
        account = env.get("AzureWebJobsStorage__accountName") or None
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
            backup_vault_ids=vaults,
            propagation_timeout_s=int(number("RESTORE_PROPAGATION_TIMEOUT_MINUTES", 30, 1, 240) * 60),
            job_timeout_s=int(number("RESTORE_JOB_TIMEOUT_MINUTES", 240, 1, 24 * 60) * 60),
            probe_interval_s=number("RESTORE_PROBE_INTERVAL_SECONDS", 20, 0.01, 600),
            poll_interval_s=number("RESTORE_POLL_INTERVAL_SECONDS", 10, 0.01, 600),
            operation_poll_s=number("ARM_OPERATION_POLL_SECONDS", 5, 0.01, 600),
            restore_queue=env.get("RESTORE_QUEUE_NAME", "restore-requests"),
            storage_connection=storage, storage_account=account, ledger_table=table,
            recovery_policies_path=policies, drill_plans_path=drills,
            drill_reports_container=container,
            app_service_auth=env.get("WEBSITE_AUTH_ENABLED", "").strip().lower() == "true",
            caller_authorization=authorization,
            access_policy_path=_app_path(env.get("ACCESS_POLICY_PATH")),
        )
        if problems:
            raise SettingsError("invalid app settings: " + "; ".join(problems))
        return settings


ENV_NAMES = ("ARM_ENDPOINT", "ARM_CA_BUNDLE", "ARM_CREDENTIAL", "AZURE_CLIENT_ID",
             "DEV_PRINCIPAL_ID", "DEV_TENANT_ID", "BACKUP_VAULT_IDS",
             "RESTORE_PROPAGATION_TIMEOUT_MINUTES", "RESTORE_JOB_TIMEOUT_MINUTES",
             "RESTORE_PROBE_INTERVAL_SECONDS", "RESTORE_POLL_INTERVAL_SECONDS",
             "ARM_OPERATION_POLL_SECONDS", "RESTORE_QUEUE_NAME", "AzureWebJobsStorage",
             "AzureWebJobsStorage__accountName", "RECOVERY_LEDGER_TABLE",
             "RECOVERY_POLICIES_PATH", "DRILL_PLANS_PATH", "DRILL_REPORTS_CONTAINER",
             "WEBSITE_AUTH_ENABLED", "CALLER_AUTHORIZATION", "ACCESS_POLICY_PATH")


def settings() -> Settings:
    """The process's settings (for triggers, activities and the gateway factory), read and
    validated once per distinct set of values: a test process that hosts several apps with
    different settings gets each its own."""
    return _settings_for(tuple((name, os.environ.get(name)) for name in ENV_NAMES))


@functools.lru_cache(maxsize=8)
def _settings_for(values: tuple[tuple[str, str | None], ...]) -> Settings:
    return Settings.from_env({k: v for k, v in values if v is not None})
