"""The Function App's app settings in the Bicep against the settings the code reads.

Every name in `settings.ENV_NAMES` is set by the Bicep, unless it is listed in DEV_ONLY with the
reason production does without it; every name the Bicep sets is read by the code, or is listed
in HOST_SETTINGS (read by the Functions host or the platform) with its reason. Both lists are
checked too: a DEV_ONLY name the code no longer reads, or that the Bicep sets after all, is a
finding.

Settings are read from `Microsoft.Web/sites` resources (`properties.siteConfig.appSettings`, a
list of {name, value}) and `Microsoft.Web/sites/config` resources named `appsettings`
(`properties`, an object); names must be statically known.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .bicep import Declaration, Finding, Project, Unknown

REPO = Path(__file__).resolve().parents[3]

_KEYS_REFUSED = ("in Azure the app connects by identity through AzureWebJobsStorage__accountName, "
                 "and the account refuses keys (allowSharedKeyAccess false)")
_AZURITE_URI = ("Azurite's endpoint for identity-based storage locally (make demo, the tests); in "
                "Azure AzureWebJobsStorage__accountName gives the public-cloud endpoints")
_DEVHOST_PORT = ("where devhost's own Azurite listens, so UseDevelopmentStorage=true reaches the "
                 "storage the host uses; set by devhost's tooling, never in Azure")

DEV_ONLY: dict[str, str] = {
    "AzureWebJobsStorage": f"a storage connection string (Azurite locally); {_KEYS_REFUSED}",
    "AzureWebJobsStorage__connectionString": f"the same connection string, as a child "
                                             f"setting; {_KEYS_REFUSED}",
    "AzureWebJobsStorage__blobServiceUri": _AZURITE_URI,
    "AzureWebJobsStorage__queueServiceUri": _AZURITE_URI,
    "AzureWebJobsStorage__tableServiceUri": _AZURITE_URI,
    "AzureWebJobsStorage__serviceUri": "read only to be refused with its reason: host storage "
                                       "is used across blobs, queues and tables",
    "AzureWebJobsStorage__managedIdentityResourceId": "read only to be refused with its reason: "
                                                      "the app names its identity by "
                                                      "AzureWebJobsStorage__clientId",
    "DEVHOST_AZURITE_BLOB_PORT": _DEVHOST_PORT,
    "DEVHOST_AZURITE_QUEUE_PORT": _DEVHOST_PORT,
    "DEVHOST_AZURITE_TABLE_PORT": _DEVHOST_PORT,
    "ARM_CA_BUNDLE": "a CA bundle for a local ARM endpoint (azsim); Azure's endpoint has a "
                     "public certificate",
    "DEV_PRINCIPAL_ID": "the principal of ARM_CREDENTIAL=dev-unsigned, which settings.py allows "
                        "only with a loopback ARM_ENDPOINT",
    "DEV_TENANT_ID": "the tenant of dev-unsigned tokens (local simulator only)",
    "WEBSITE_AUTH_ENABLED": "set by the platform, not by an app setting, when App Service "
                            "authentication is on; only then are X-MS-CLIENT-PRINCIPAL-* trusted",
}

HOST_SETTINGS: dict[str, str] = {
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "Functions host: where telemetry goes",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Functions host: Entra ID authentication to "
                                                 "Application Insights (local auth is off)",
    "AzureFunctionsJobHost__extensions__durableTask__hubName": "Durable Functions: the task hub, "
                                                               "per environment (overrides "
                                                               "host.json)",
}

# Never app settings: the Durable storage provider's settings (queue polling, partitions) are
# host.json's (docs/deploy.md, "Durable queue polling"), where devhost and dev/bench/ read them; an
# override in the Bicep would make both measure something else than Azure runs.
HOST_JSON_ONLY = "AzureFunctionsJobHost__extensions__durableTask__storageProvider__"

SITE = "Microsoft.Web/sites"
SITE_CONFIG = "Microsoft.Web/sites/config"


@dataclass(frozen=True)
class SettingsFound:
    names: dict[str, Declaration]  # setting name -> the resource that sets it
    findings: list[Finding]


def code_env_names() -> tuple[str, ...]:
    """settings.ENV_NAMES of the repository (settings.py imports nothing but the stdlib)."""
    if str(REPO) not in sys.path:
        sys.path.append(str(REPO))
    import settings

    return tuple(settings.ENV_NAMES)


def bicep_settings(project: Project) -> SettingsFound:
    names: dict[str, Declaration] = {}
    findings: list[Finding] = []
    sites = [d for d in project.declarations(SITE) if not d.existing]
    configs = [d for d in project.declarations(SITE_CONFIG) if not d.existing]
    if not sites:
        findings.append(Finding("app-settings", project.root.name, "-",
                                "no Function App (Microsoft.Web/sites) in the Bicep"))
    for site in sites:
        props = site.config.get("properties")
        site_config = props.get("siteConfig") if isinstance(props, dict) else None
        listed = site_config.get("appSettings") if isinstance(site_config, dict) else None
        if listed is None:
            continue
        for value in project.values(listed, site.file, site.loop_names):
            if not isinstance(value, list):
                findings.append(_unreadable(site, "siteConfig.appSettings", value))
                continue
            for entry in value:
                _add_names(project, site, _entry_names(project, site, entry), names, findings)
    for config in configs:
        if not any(n == "appsettings" for n in project.strings(config.config.get("name"),
                                                               config.file, config.loop_names)):
            continue
        props = config.config.get("properties")
        for value in project.values(props, config.file, config.loop_names):
            if not isinstance(value, dict):
                findings.append(_unreadable(config, "properties", value))
                continue
            keys = [k for k in value if not k.startswith("__")]
            _add_names(project, config, [[k] for k in keys], names, findings)
    return SettingsFound(names, findings)


def _entry_names(project: Project, site: Declaration, entry: Any) -> list[list[str | Unknown]]:
    out: list[list[str | Unknown]] = []
    for item in project.values(entry, site.file, site.loop_names):
        if isinstance(item, dict) and "name" in item:
            out.append(list(project.strings(item["name"], site.file, site.loop_names)))
        else:
            out.append([Unknown(f"an appSettings entry that is not {{name, value}}: {item!r}")])
    return out


def _add_names(project: Project, decl: Declaration, candidates: Iterable[list[Any]],
               names: dict[str, Declaration], findings: list[Finding]) -> None:
    for options in candidates:
        for name in options:
            if isinstance(name, Unknown):
                findings.append(Finding("app-settings", decl.file.relpath, decl.where,
                                        f"an app setting name cannot be read ({name.why})"))
            else:
                names.setdefault(name, decl)


def _unreadable(decl: Declaration, what: str, value: Any) -> Finding:
    why = value.why if isinstance(value, Unknown) else f"a {type(value).__name__}"
    return Finding("app-settings", decl.file.relpath, decl.where,
                   f"{what} cannot be read statically ({why}): list the settings literally")


def check(project: Project, env_names: Iterable[str] | None = None) -> list[Finding]:
    code = tuple(code_env_names() if env_names is None else env_names)
    found = bicep_settings(project)
    findings = list(found.findings)
    if not found.names and findings:
        return findings  # no Function App, or nothing readable: one finding says so
    where = project.root.name
    for name in code:
        if name not in found.names and name not in DEV_ONLY:
            findings.append(Finding("app-settings", where, name,
                                    "the code reads this setting (settings.ENV_NAMES) but the "
                                    "Bicep does not set it"))
    for name, decl in sorted(found.names.items()):
        if name.startswith(HOST_JSON_ONLY):
            findings.append(Finding("app-settings", decl.file.relpath, name,
                                    "overrides host.json's Durable storage provider settings, "
                                    "which devhost and the restore benchmark read: set it in "
                                    "host.json"))
        elif name in DEV_ONLY:
            findings.append(Finding("app-settings", decl.file.relpath, name,
                                    f"set by the Bicep but listed as dev-only ({DEV_ONLY[name]})"))
        elif name not in code and name not in HOST_SETTINGS:
            findings.append(Finding("app-settings", decl.file.relpath, name,
                                    "set by the Bicep but read by neither the code "
                                    "(settings.ENV_NAMES) nor the host (HOST_SETTINGS)"))
    for name in DEV_ONLY:
        if name not in code:
            findings.append(Finding("app-settings", "dev/tools/infra/app_settings.py", name,
                                    "DEV_ONLY names a setting the code does not read"))
    return findings
