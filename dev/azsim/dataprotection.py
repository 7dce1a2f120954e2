"""Microsoft.DataProtection reads: backup vaults, backup instances, recovery points, jobs.

Shapes follow the 2026-06-01 REST spec and the real disk recordings quoted in the reference
(e.g. a disk recovery point's datastore is `OperationalStore`/`COMMITTED`, `name` is 32 hex
digits; restore jobs go `InProgress` -> `Completed`; durations are ISO-8601 like `PT3M34.2S`).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from .arm import RG, SUB, Ctx, Response, Route, page, require, router
from .clock import iso
from .errors import bad_request, resource_not_found
from .state import SimState, public

ROUTES: list[Route] = []
route = router(ROUTES)

NS = "Microsoft.DataProtection"
VAULT_TYPE = f"{NS}/backupVaults"
BI_TYPE = f"{VAULT_TYPE}/backupInstances"
RP_TYPE = f"{BI_TYPE}/recoveryPoints"
JOB_TYPE = f"{VAULT_TYPE}/backupJobs"
VAULT_PATH = RG + r"/providers/Microsoft\.DataProtection/backupVaults/(?P<vault>[^/]+)"
BI_PATH = VAULT_PATH + "/backupInstances/(?P<bi>[^/]+)"
_V = f"{NS}/backupVaults"
_FILTER = re.compile(r"\s*(startDate|endDate)\s+eq\s+'([^']*)'\s*", re.IGNORECASE)


def new_vault(rid: str, location: str, identity: dict[str, Any], cross_subscription: str,
              tags: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": rid, "name": rid.rsplit("/", 1)[-1], "type": VAULT_TYPE, "location": location,
        "tags": tags or {}, "identity": identity,
        "properties": {
            "provisioningState": "Succeeded", "resourceMoveState": "Unknown",
            "storageSettings": [{"datastoreType": "VaultStore", "type": "LocallyRedundant"}],
            "securitySettings": {
                "softDeleteSettings": {"state": "On", "retentionDurationInDays": 14},
                "immutabilitySettings": {"state": "Disabled"}},
            "featureSettings": {
                "crossSubscriptionRestoreSettings": {"state": cross_subscription},
                "crossRegionRestoreSettings": {"state": "Disabled"}},
            "monitoringSettings": {
                "azureMonitorAlertSettings": {"alertsForAllJobFailures": "Enabled"}},
            "isVaultProtectedByResourceGuard": False, "secureScore": "Adequate",
            "bcdrSecurityLevel": "Good", "replicatedRegions": [],
        },
    }


def new_backup_instance(vault: dict[str, Any], name: str, disk: dict[str, Any],
                        snapshot_rg_id: str, policy: str) -> dict[str, Any]:
    return {
        "id": f"{vault['id']}/backupInstances/{name}", "name": name, "type": BI_TYPE,
        "properties": {
            "friendlyName": disk["name"], "objectType": "BackupInstance",
            "provisioningState": "Succeeded",
            "dataSourceInfo": {
                "datasourceType": "Microsoft.Compute/disks", "objectType": "Datasource",
                "resourceID": disk["id"], "resourceLocation": disk["location"],
                "resourceName": disk["name"], "resourceType": "Microsoft.Compute/disks",
                "resourceUri": disk["id"]},
            "policyInfo": {
                "policyId": f"{vault['id']}/backupPolicies/{policy}", "policyVersion": "",
                "policyParameters": {"dataStoreParametersList": [{
                    "objectType": "AzureOperationalStoreParameters",
                    "dataStoreType": "OperationalStore", "resourceGroupId": snapshot_rg_id}]}},
            "protectionStatus": {"status": "ProtectionConfigured"},
            "currentProtectionState": "ProtectionConfigured",
            "identityDetails": {"useSystemAssignedIdentity": True},
        },
    }


def new_recovery_point(state: SimState, bi: dict[str, Any], t: float, snapshot_id: str,
                       retention_days: int) -> dict[str, Any]:
    """A disk recovery point at time `t` on the incremental snapshot `snapshot_id` (a
    Microsoft.Compute/snapshots resource in the snapshot resource group, or gone). Which of the
    point's members names its snapshot is not documented, so the link is azsim's own
    (`_snapshotId`, never rendered): the product finds the snapshot as Azure documents, by listing
    the group (scenario.py, compute.py `new_snapshot`)."""
    rp_id = state.new_guid().replace("-", "")
    expiry = iso(t + retention_days * 86400)
    policy = bi["properties"]["policyInfo"]["policyId"].rsplit("/", 1)[-1]
    return {
        "id": f"{bi['id']}/recoveryPoints/{rp_id}", "name": rp_id, "type": RP_TYPE,
        "_time": t, "_snapshotId": snapshot_id,
        "properties": {
            "objectType": "AzureBackupDiscreteRecoveryPoint", "recoveryPointId": rp_id,
            "recoveryPointTime": iso(t), "recoveryPointType": "Incremental",
            "friendlyName": snapshot_id.rsplit("/", 1)[-1], "policyName": policy,
            "policyVersion": "", "retentionTagName": "Default", "retentionTagVersion": "",
            "expiryTime": expiry, "recoveryPointState": "Completed",
            "recoveryPointDataStoresDetails": [{
                "id": state.new_guid(), "type": "OperationalStore", "creationTime": iso(t),
                "expiryTime": expiry, "metaData": "", "visible": True, "state": "COMMITTED"}],
        },
    }


def snapshot_of(state: SimState, rp: dict[str, Any]) -> dict[str, Any] | None:
    """The recovery point's incremental snapshot, or None once it was deleted (or moved)."""
    return state.get(rp["_snapshotId"])


def snapshot_rg_of(bi: dict[str, Any]) -> str:
    params = bi["properties"]["policyInfo"]["policyParameters"]["dataStoreParametersList"]
    return next(p["resourceGroupId"] for p in params
                if p["objectType"] == "AzureOperationalStoreParameters")


def job_duration(seconds: float) -> str:
    minutes, rest = divmod(max(seconds, 0.0), 60)
    hours, minutes = divmod(int(minutes), 60)
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return f"{text}{rest:.7f}S"


def render_job(state: SimState, job: dict[str, Any]) -> dict[str, Any]:
    body = public(job)
    props = body["properties"]
    end = job["_end"] if props["status"] != "InProgress" else state.now()
    props["duration"] = job_duration(end - job["_start"])
    return body


@route("GET", f"(?P<scope>{VAULT_PATH})", f"{_V}/read", "dataprotection")
def get_vault(ctx: Ctx) -> Response:
    return Response(200, public(require(ctx.state, ctx.groups["scope"], VAULT_TYPE)))


@route("GET", f"(?P<scope>{SUB})/providers/Microsoft\\.DataProtection/backupVaults", f"{_V}/read",
       "dataprotection")
def list_vaults_in_subscription(ctx: Ctx) -> Response:
    """BackupVaults_GetInSubscription: every vault of the subscription."""
    prefix = ctx.groups["scope"].lower() + "/"
    return page(ctx, [public(v) for v in ctx.state.resources.values()
                      if v.get("type") == VAULT_TYPE and v["id"].lower().startswith(prefix)])


@route("GET", f"(?P<scope>{RG})/providers/Microsoft\\.DataProtection/backupVaults", f"{_V}/read",
       "dataprotection")
def list_vaults_in_resource_group(ctx: Ctx) -> Response:
    """BackupVaults_GetInResourceGroup."""
    return page(ctx, [public(v) for v in ctx.state.children(ctx.groups["scope"], VAULT_TYPE)])


@route("GET", f"(?P<scope>{BI_PATH})", f"{_V}/backupInstances/read", "dataprotection")
def get_backup_instance(ctx: Ctx) -> Response:
    require(ctx.state, ctx.groups["scope"].rsplit("/backupInstances/", 1)[0], VAULT_TYPE)
    return Response(200, public(require(ctx.state, ctx.groups["scope"], BI_TYPE)))


@route("GET", f"(?P<scope>{VAULT_PATH})/backupInstances", f"{_V}/backupInstances/read",
       "dataprotection")
def list_backup_instances(ctx: Ctx) -> Response:
    require(ctx.state, ctx.groups["scope"], VAULT_TYPE)
    return page(ctx, [public(b) for b in ctx.state.children(ctx.groups["scope"], BI_TYPE)])


@route("GET", f"(?P<scope>{BI_PATH})/recoveryPoints", f"{_V}/backupInstances/recoveryPoints/read",
       "dataprotection")
def list_recovery_points(ctx: Ctx) -> Response:
    require(ctx.state, ctx.groups["scope"], BI_TYPE)
    start, end = _date_range(ctx.query.get("$filter", ""))
    points = [rp for rp in ctx.state.children(ctx.groups["scope"], RP_TYPE)
              if start <= rp["_time"] <= end]
    points.sort(key=lambda rp: rp["_time"], reverse=True)  # newest first, as recorded
    return page(ctx, [public(rp) for rp in points])


@route("GET", f"(?P<scope>{BI_PATH}/recoveryPoints/(?P<rp>[^/]+))",
       f"{_V}/backupInstances/recoveryPoints/read", "dataprotection")
def get_recovery_point(ctx: Ctx) -> Response:
    return Response(200, public(require(ctx.state, ctx.groups["scope"], RP_TYPE)))


def _date_range(text: str) -> tuple[float, float]:
    """`startDate eq '<ts>' and endDate eq '<ts>'` (either part optional), as the CLI sends."""
    bounds = {"startdate": float("-inf"), "enddate": float("inf")}
    for part in filter(None, re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE)):
        match = _FILTER.fullmatch(part)
        if not match:
            raise bad_request("BadRequest", f"The filter '{text}' is not supported. Supported "
                              "filters are startDate eq '<datetime>' and endDate eq '<datetime>'.")
        bounds[match.group(1).lower()] = _parse_time(match.group(2))
    return bounds["startdate"], bounds["enddate"]


def _parse_time(text: str) -> float:
    cleaned = re.sub(r"(\.\d{6})\d+", r"\1", text.strip()).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError as exc:
        raise bad_request("BadRequest", f"'{text}' is not a valid date-time.") from exc
    if parsed.tzinfo is None:
        raise bad_request("BadRequest", f"'{text}' has no time zone.")
    return parsed.timestamp()


@route("GET", f"(?P<scope>{VAULT_PATH}/backupJobs/(?P<job>[^/]+))", f"{_V}/backupJobs/read",
       "dataprotection")
def get_job(ctx: Ctx) -> Response:
    require(ctx.state, ctx.groups["scope"].rsplit("/backupJobs/", 1)[0], VAULT_TYPE)
    return Response(200, render_job(ctx.state, require(ctx.state, ctx.groups["scope"], JOB_TYPE)))


@route("GET", f"(?P<scope>{VAULT_PATH})/backupJobs", f"{_V}/backupJobs/read", "dataprotection")
def list_jobs(ctx: Ctx) -> Response:
    require(ctx.state, ctx.groups["scope"], VAULT_TYPE)
    jobs = sorted(ctx.state.children(ctx.groups["scope"], JOB_TYPE), key=lambda j: j["_start"],
                  reverse=True)
    return page(ctx, [render_job(ctx.state, j) for j in jobs])


# ---- Multi-User Authorization: the vault's Resource Guard proxies ------------------------------
PROXY_TYPE = f"{VAULT_TYPE}/backupResourceGuardProxies"
PROXY_NAME = "DppResourceGuardProxy"  # the one name the portal and PowerShell give it
# The operations a Resource Guard protects by default for a Backup vault (GetResourceGuardProxy
# example, 2025-07-01).
_CRITICAL = ("deleteBackupInstanceRequests", "Microsoft.DataProtection/backupVaults/"
             "backupInstances/delete"), ("deleteResourceGuardProxyRequests",
                                         "Microsoft.DataProtection/backupVaults/"
                                         "backupResourceGuardProxies/delete")


def new_resource_guard_proxy(state: SimState, vault: dict[str, Any],
                             guard_id: str) -> dict[str, Any]:
    """A vault's link to a Resource Guard, as GetResourceGuardProxy.json shows one (its `type`
    is the example's own spelling, `Microsoft.DataProtection/vaults/backupResourceGuardProxies`);
    the vault's `isVaultProtectedByResourceGuard` turns true with it."""
    vault["properties"]["isVaultProtectedByResourceGuard"] = True
    return {
        "id": f"{vault['id']}/backupResourceGuardProxies/{PROXY_NAME}", "name": PROXY_NAME,
        "type": "Microsoft.DataProtection/vaults/backupResourceGuardProxies",
        "_type": PROXY_TYPE,
        "properties": {
            "resourceGuardResourceId": guard_id,
            "resourceGuardOperationDetails": [
                {"vaultCriticalOperation": operation,
                 "defaultResourceRequest": f"{guard_id}/{request}/default"}
                for request, operation in _CRITICAL],
            "lastUpdatedTime": iso(state.now()), "description": ""}}


def _proxies(state: SimState, vault_id: str) -> list[dict[str, Any]]:
    prefix = vault_id.lower().rstrip("/") + "/backupresourceguardproxies/"
    return [b for k, b in state.resources.items()
            if k.startswith(prefix) and b.get("_type") == PROXY_TYPE]


@route("GET", f"(?P<scope>{VAULT_PATH})/backupResourceGuardProxies",
       f"{_V}/backupResourceGuardProxies/read", "dataprotection")
def list_resource_guard_proxies(ctx: Ctx) -> Response:
    require(ctx.state, ctx.groups["scope"], VAULT_TYPE)
    return page(ctx, [public(p) for p in _proxies(ctx.state, ctx.groups["scope"])])


@route("GET", f"(?P<scope>{VAULT_PATH}/backupResourceGuardProxies/(?P<proxy>[^/]+))",
       f"{_V}/backupResourceGuardProxies/read", "dataprotection")
def get_resource_guard_proxy(ctx: Ctx) -> Response:
    vault_id = ctx.groups["scope"].rsplit("/backupResourceGuardProxies/", 1)[0]
    require(ctx.state, vault_id, VAULT_TYPE)
    found = next((p for p in _proxies(ctx.state, vault_id)
                  if p["name"].lower() == ctx.groups["proxy"].lower()), None)
    if found is None:
        parts = ctx.groups["scope"].split("/")
        raise resource_not_found(PROXY_TYPE, ctx.groups["proxy"], parts[4])
    return Response(200, public(found))
