"""Microsoft.DataProtection validateRestore and restore (LROs), their status/result endpoints.

Wire quirks kept from the real service: the initial POST answers 202 with an empty body, a
vault-scoped `Azure-AsyncOperation` and a region-scoped `Location` URL (both carry signed-looking
query parameters; follow them verbatim) and no `Retry-After`; the status body says `Inprogress`
with a `0001-01-01T00:00:00Z` end time while running; a restore's result carries the full ARM id
of its job. Failures surface as `status: Failed` with the documented `UserError...` codes. A
restore past the backup instance's restores of the day is refused as the scenario says
(restore_limit.py): at the POST, by its operation, or by the job it starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import restore_checks, restore_limit
from .arm import RG, SUB, Ctx, Response, Route, require, router
from .clock import iso
from .dataprotection import BI_PATH, BI_TYPE, NS, VAULT_PATH
from .errors import ArmError, bad_request
from .jobs import start_restore_job
from .state import Operation

ROUTES: list[Route] = []
route = router(ROUTES)

_BI_ACTION = f"{NS}/backupVaults/backupInstances"
_DISK_ID = re.compile(r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Compute/"
                      r"disks/[^/]+", re.IGNORECASE)
_RUNNING_END = "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class RestoreRequest:
    recovery_point: dict[str, Any]
    target_id: str
    identity_url: str | None


@route("POST", f"(?P<scope>{BI_PATH})/validateRestore", f"{_BI_ACTION}/validateRestore/action",
       "dataprotection")
def validate_restore(ctx: Ctx) -> Response:
    request = _parse(ctx, _member(ctx.json(), "restoreRequestObject"))

    def complete(op: Operation, due: float) -> None:
        restore_checks.run(ctx.state, _bi(ctx), request.recovery_point, request.target_id,
                           request.identity_url, due)
        op.result = {"objectType": "OperationJobExtendedInfo"}

    return _accepted(ctx, f"{_BI_ACTION}/validateRestore/action", "validateRestore", complete)


@route("POST", f"(?P<scope>{BI_PATH})/restore", f"{_BI_ACTION}/restore/action", "dataprotection")
def trigger_restore(ctx: Ctx) -> Response:
    request = _parse(ctx, ctx.json())
    refused = restore_limit.refusal(ctx.state, _bi(ctx)["id"], ctx.state.now(), "trigger")
    if refused is not None:  # past the backup instance's restores of the day (not documented)
        raise refused

    def complete(op: Operation, due: float) -> None:
        bi = _bi(ctx)
        if (refused := restore_limit.refusal(ctx.state, bi["id"], due, "operation")) is not None:
            raise refused
        restore_checks.run(ctx.state, bi, request.recovery_point, request.target_id,
                           request.identity_url, due)
        job = start_restore_job(ctx.state, bi, request.recovery_point, request.target_id, due)
        op.result = {"jobId": job["id"], "objectType": "OperationJobExtendedInfo"}

    return _accepted(ctx, f"{_BI_ACTION}/restore/action", "triggerRestore", complete)


def _bi(ctx: Ctx) -> dict[str, Any]:
    return require(ctx.state, ctx.groups["scope"], BI_TYPE)


def _accepted(ctx: Ctx, action: str, duration: str, complete: Any) -> Response:
    state = ctx.state
    op = state.begin(action, ctx.groups["scope"], state.duration(duration), ctx.api_version,
                     complete)
    vault_id = ctx.groups["scope"].split("/backupInstances/")[0]
    signed = f"api-version={op.api_version}&t={int(op.start)}&c=sim&s={op.id[:16]}&h=sim"
    return Response(202, None, {
        "Azure-AsyncOperation": f"{ctx.base_url}{vault_id}/operationStatus/{op.id}?{signed}",
        "Location": f"{ctx.base_url}/subscriptions/{state.subscription_id}/providers/{NS}/"
                    f"locations/{op.location}/operationResults/{op.id}?{signed}",
    })


def _member(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = next((v for k, v in body.items() if k.lower() == name.lower()), None)
    if not isinstance(value, dict):
        raise bad_request("BadRequest", f"The request is missing the object '{name}'.")
    return value


def _parse(ctx: Ctx, body: dict[str, Any]) -> RestoreRequest:
    """Check the restore request the way the service does before it accepts the operation."""
    bi = _bi(ctx)
    if str(body.get("objectType")).lower() != "azurebackuprecoverypointbasedrestorerequest":
        raise bad_request("BadRequest", "Azure Disk restores support only "
                          "AzureBackupRecoveryPointBasedRestoreRequest.")
    if str(body.get("sourceDataStoreType")).lower() != "operationalstore":
        raise bad_request("BadRequest", "Azure Disk restores read from the OperationalStore.")
    rp_id = body.get("recoveryPointId")
    rp = ctx.state.get(f"{bi['id']}/recoveryPoints/{rp_id}") if isinstance(rp_id, str) else None
    if rp is None:
        raise bad_request("BadRequest", f"Recovery point '{rp_id}' was not found.")
    target = _member(body, "restoreTargetInfo")
    if str(target.get("recoveryOption")).lower() != "failifexists":
        raise bad_request("BadRequest", "recoveryOption must be FailIfExists.")
    info = _member(target, "datasourceInfo")
    # The service accepts `resourceId` as well as the spec's `resourceID` (REC-DISK).
    target_id = info.get("resourceID") or info.get("resourceId")
    if not isinstance(target_id, str) or not _DISK_ID.fullmatch(target_id):
        raise bad_request("BadRequest", "datasourceInfo.resourceID must be the ARM id of the disk "
                          "to create.")
    location = str(target.get("restoreLocation", "")).replace(" ", "").lower()
    if location != bi["properties"]["dataSourceInfo"]["resourceLocation"].lower():
        raise bad_request("BadRequest", "Restore is supported only to the region of the source "
                          "disk's snapshot.")
    return RestoreRequest(rp, target_id, _identity_url(body))


def _identity_url(body: dict[str, Any]) -> str | None:
    details = body.get("identityDetails")
    if not isinstance(details, dict) or details.get("useSystemAssignedIdentity", True):
        return None
    url = details.get("userAssignedIdentityArmUrl")
    if not isinstance(url, str):
        raise bad_request("BadRequest", "userAssignedIdentityArmUrl is required when "
                          "useSystemAssignedIdentity is false.")
    return url


def _status_body(op: Operation, rid: str) -> dict[str, Any]:
    running = op.status == "InProgress"
    body: dict[str, Any] = {
        "id": rid, "name": op.id, "status": "Inprogress" if running else op.status,
        "startTime": iso(op.start), "endTime": _RUNNING_END if running else iso(op.end),
    }
    if op.error:
        body["error"] = op.error
    if op.result and "jobId" in op.result:
        body["properties"] = op.result
    return body


def _operation(ctx: Ctx) -> Operation:
    op = ctx.state.operations.get(ctx.groups["op"])
    if op is None or not op.action.startswith(NS):
        raise ArmError(404, "ResourceNotFound", f"Operation '{ctx.groups['op']}' was not found.")
    return op


@route("GET", f"(?P<scope>{VAULT_PATH}/operationStatus/(?P<op>[^/]+))",
       f"{NS}/backupVaults/operationStatus/read", "dataprotection")
def vault_operation_status(ctx: Ctx) -> Response:
    return Response(200, _status_body(_operation(ctx), ctx.groups["scope"]))


@route("GET", f"(?P<scope>{RG}/providers/Microsoft\\.DataProtection/operationStatus/"
       "(?P<op>[^/]+))", f"{NS}/operationStatus/read", "dataprotection")
def group_operation_status(ctx: Ctx) -> Response:
    return Response(200, _status_body(_operation(ctx), ctx.groups["scope"]))


@route("GET", f"(?P<scope>{SUB}/providers/Microsoft\\.DataProtection/locations/(?P<loc>[^/]+)/"
       "operationStatus/(?P<op>[^/]+))", f"{NS}/locations/operationStatus/read",
       "dataprotection")
def location_operation_status(ctx: Ctx) -> Response:
    return Response(200, _status_body(_operation(ctx), ctx.groups["scope"]))


@route("GET", f"(?P<scope>{SUB}/providers/Microsoft\\.DataProtection/locations/(?P<loc>[^/]+)/"
       "operationResults/(?P<op>[^/]+))", f"{NS}/locations/operationResults/read",
       "dataprotection")
def operation_result(ctx: Ctx) -> Response:
    op = _operation(ctx)
    if op.status == "InProgress":
        status_url = ctx.path.replace("/operationResults/", "/operationStatus/")
        query = f"?api-version={ctx.api_version}"
        return Response(202, None, {"Location": f"{ctx.base_url}{ctx.path}{query}",
                                    "Azure-AsyncOperation": f"{ctx.base_url}{status_url}{query}"})
    if op.error:
        return Response(op.error_status, {"error": op.error})
    return Response(200, op.result)
