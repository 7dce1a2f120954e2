"""The catalog of what can be restored (issue 18; docs/catalog.md):

* `GET /api/disks`: the protected disks the caller may restore, across the configured Backup
  vaults (BACKUP_VAULT_IDS), filtered by `resourceGroup`, `vm` and `tag` (name=value,
  repeatable) and paged (`top`, `skipToken` from `nextLink`);
* `GET /api/disks/{subscriptionId}/{resourceGroup}/{diskName}/recovery-points`: that disk's
  recovery points, newest first, each with whether it can be restored now and why not.

Who sees what: a caller some access rule names (as for every read), and of the disks only those
a rule lets them restore (or swap): the rule must cover the disk (`sourceDisks`) and its vault
(`vaults`), as a restore of it would be judged (triggers/services/authorization.py). A disk
that is not protected, does not exist or is not the caller's gets the same 404, so the answer
says nothing about disks the caller may not see.

What it costs Azure, and why ARM lists rather than Resource Graph: domain/catalog/catalog.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import azure.functions as func

from domain import errors
from domain.access.access_policy import Caller
from domain.catalog.catalog import (
    DiskNotInCatalog,
    MayRestore,
    catalog_page,
    disk_key,
    readiness_states,
    recovery_points_view,
)
from domain.catalog.query import HOST_PARAMETERS, parse_query
from domain.document import DocumentUnavailable
from domain.errors import FieldError
from domain.resource_id import DISK_NAME
from settings import settings

from .api_route import api
from .callers import reader
from .problems import problem
from .services.authorization import Denied
from .wiring import access_gate, app_ledger, app_report_store, catalog_reader, now

bp = func.Blueprint()
log = logging.getLogger(__name__)
# The actions that restore a disk: a rule allowing either lets its caller see the disk.
RESTORING = ("restore", "swap")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\Z")
_RG_NAME = re.compile(r"^[-\w._()]{1,90}\Z")


@bp.route(route="disks", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@api(reads=True)
async def get_disks(req: func.HttpRequest) -> func.HttpResponse:
    pairs = _query_pairs(req)
    query = parse_query(pairs)
    vaults = settings().backup_vault_ids
    if not vaults:
        return _no_vaults()
    may_restore = _may_restore(req)
    try:
        page = await asyncio.to_thread(
            lambda: catalog_page(catalog_reader(), vaults, may_restore, query, now(),
                                 readiness=readiness_by_disk(), last_drills=last_drills_by_disk()))
    except errors.RestoreError as exc:
        return _azure_failed(exc)
    if page.missing_vaults:
        log.warning("catalog: configured Backup vaults that do not exist (BACKUP_VAULT_IDS): %s",
                    ", ".join(page.missing_vaults))
    next_link = None
    if page.next_token:
        keep = [(k, v) for k, v in pairs if k in HOST_PARAMETERS]  # the key, if sent this way
        base = req.url.split("?", 1)[0]
        next_link = f"{base}?{urlencode(query.query_string_pairs(page.next_token) + keep)}"
    return _json(200, {"value": page.items, "nextLink": next_link})


@bp.route(route="disks/{subscriptionId}/{resourceGroup}/{diskName}/recovery-points",
          methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@api(reads=True)
async def get_recovery_points(req: func.HttpRequest) -> func.HttpResponse:
    params = req.route_params
    problems = _path_problems(params)
    unknown = sorted({k for k, _ in _query_pairs(req)} - set(HOST_PARAMETERS))
    problems += [FieldError(k, f"unknown query parameter {k[:100]!r}: this route takes none")
                 for k in unknown]
    if problems:
        return problem(400, "Invalid request", "; ".join(e.message for e in problems),
                       errors=[{"field": e.field, "message": e.message} for e in problems])
    disk_id = (f"/subscriptions/{params['subscriptionId']}/resourceGroups/"
               f"{params['resourceGroup']}/providers/Microsoft.Compute/disks/{params['diskName']}")
    vaults = settings().backup_vault_ids
    if not vaults:
        return _no_vaults()
    may_restore = _may_restore(req)
    try:
        view = await asyncio.to_thread(recovery_points_view, catalog_reader(), vaults,
                                       may_restore, disk_id, now())
    except DiskNotInCatalog as exc:
        return problem(404, "Not found", exc.message)
    except errors.RestoreError as exc:
        return _azure_failed(exc)
    return _json(200, view)


# ---- the per-disk state readiness and drills keep ---------------------------------------------
def readiness_by_disk() -> dict[str, dict[str, Any]]:
    """Each disk's state in the latest readiness report ({"status", "findings": [codes],
    "checkedAt"}), keyed by disk_key; {} before the first run. As for the last drills, a report
    store that cannot be read leaves `readiness` null, with a warning, and the catalog answers."""
    try:
        latest = app_report_store().readiness_latest("json")
    except errors.RestoreError as exc:
        log.warning("catalog: the latest readiness report unavailable, readiness left null: %s",
                    exc.message)
        return {}
    return readiness_states(json.loads(latest)) if latest else {}


def last_drills_by_disk() -> dict[str, dict[str, Any]]:
    """Each disk's last drill verdict ({"drillId", "at", "verdict", "rto", "rpo"}), keyed by
    disk_key, as the drill's report activity keeps them in the ledger. Why a failure here does
    not fail the catalog: the list of what can be restored matters most during an incident,
    when the app's own storage may be the thing in trouble; `lastDrill` is then null for every
    disk and the warning says why."""
    try:
        return {disk_key(k): v for k, v in app_ledger().last_drills().items()}
    except errors.RestoreError as exc:
        log.warning("catalog: last drill verdicts unavailable, lastDrill left null: %s",
                    exc.message)
        return {}


# ---- helpers ------------------------------------------------------------------------------------
def _may_restore(req: func.HttpRequest) -> MayRestore:
    """Whether the caller may restore a disk from a vault: any disk with caller authorization
    off; else a rule that names the caller, lets them restore or swap, and covers both."""
    gate = access_gate()
    if gate.mode == "off":
        return lambda disk, vault: True
    who: Caller = reader(req)  # named by some rule (checked by @api(reads=True) already)
    try:
        policy = gate.policy()
    except DocumentUnavailable as exc:
        raise Denied(403, "Forbidden", str(exc)) from None

    def may(disk: str, vault: str) -> bool:
        resources: dict[str, str | None] = {"sourceDisks": disk, "vaults": vault}
        return any(policy.decide(who, action, resources).allowed for action in RESTORING)
    return may


def _query_pairs(req: func.HttpRequest) -> list[tuple[str, str]]:
    """The query string's (name, value) pairs, repeated names kept (`tag` may repeat): read from
    the URL, since the host's `params` keeps one value per name."""
    pairs = parse_qsl(urlsplit(req.url).query, keep_blank_values=True)
    return pairs or [(str(k), str(v)) for k, v in dict(req.params).items()]


def _path_problems(params: dict[str, str]) -> list[FieldError]:
    found = []
    if not _GUID.match(params.get("subscriptionId", "")):
        found.append(FieldError("subscriptionId", f"subscriptionId "
                                f"{params.get('subscriptionId', '')[:100]!r} is not a GUID"))
    group = params.get("resourceGroup", "")
    if not _RG_NAME.match(group) or group.endswith("."):
        found.append(FieldError("resourceGroup", f"resourceGroup {group[:100]!r} is not a "
                                "resource group name (1-90 letters, digits, - _ . ( ))"))
    if not DISK_NAME.match(params.get("diskName", "")):
        found.append(FieldError("diskName", f"diskName {params.get('diskName', '')[:100]!r} is "
                                "not a managed disk name (1-80 letters, digits, _ . -)"))
    return found


def _no_vaults() -> func.HttpResponse:
    return problem(503, "Catalog unavailable", "BACKUP_VAULT_IDS is not set: the catalog lists "
                   "the backup instances of the configured Backup vaults (docs/catalog.md)")


def _azure_failed(exc: errors.RestoreError) -> func.HttpResponse:
    """A read of Azure failed: 503 with the one line saying what, and when to retry."""
    log.error("catalog read failed: %s", exc)
    detail = exc.message + (f" ({exc.hint})" if exc.hint else "")
    retry = "30" if isinstance(exc, errors.TransientError) else "300"
    return problem(503, "Azure read failed", detail, headers={"Retry-After": retry})


def _json(status: int, body: Any) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")
