"""Microsoft.Compute disks, disk encryption sets and the Compute async-operation endpoints.

Compute LROs answer with `Azure-AsyncOperation` (a status body with `InProgress`, `Succeeded`,
`Failed`) and/or `Location` (202 while running, then 200 with the final body); `?monitor=true`
marks the Location form, as the real Compute URLs do.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from .arm import RG, SUB, Ctx, Response, Route, as_object, page, provider_id, require, router
from .auth import readable
from .clock import iso
from .errors import ArmError, bad_request, conflict
from .locks import check_not_locked
from .state import Operation, SimState, public

ROUTES: list[Route] = []
route = router(ROUTES)

DISK_TYPE = "Microsoft.Compute/disks"
SNAPSHOT_TYPE = "Microsoft.Compute/snapshots"
DES_TYPE = "Microsoft.Compute/diskEncryptionSets"
DISK_ACCESS_TYPE = "Microsoft.Compute/diskAccesses"
NETWORK_ACCESS_POLICIES = ("AllowAll", "AllowPrivate", "DenyAll")
PUBLIC_NETWORK_ACCESS = ("Enabled", "Disabled")
DISK = f"(?P<scope>{RG}/providers/Microsoft\\.Compute/disks/(?P<name>[^/]+))"
SNAPSHOT = f"(?P<scope>{RG}/providers/Microsoft\\.Compute/snapshots/(?P<name>[^/]+))"
_DISK_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,78}[A-Za-z0-9_]|[A-Za-z0-9_]")
_TIERS = {"Premium_LRS": "Premium", "Premium_ZRS": "Premium", "StandardSSD_LRS": "Standard",
          "StandardSSD_ZRS": "Standard", "Standard_LRS": "Standard", "UltraSSD_LRS": "Ultra",
          "PremiumV2_LRS": "Premium"}
_CREATE_OPTIONS = {"Empty", "Copy", "FromImage", "Import", "Restore", "Upload"}
PASSED_THROUGH = ("osType", "hyperVGeneration", "encryption", "securityProfile",
                   "supportedCapabilities")


def new_disk(state: SimState, rid: str, location: str, sku: str, size_gb: int,
             creation: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A disk body; `extra` properties (osType, encryption, securityProfile...) are merged in."""
    now = iso(state.now())
    properties: dict[str, Any] = {
        "creationData": creation, "diskSizeGB": size_gb, "diskSizeBytes": size_gb * 1024**3,
        "uniqueId": state.new_guid(), "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
        "networkAccessPolicy": "AllowAll", "publicNetworkAccess": "Enabled",
        "timeCreated": now, "provisioningState": "Succeeded",
    }
    properties.update(extra or {})
    return {"id": rid, "name": rid.rsplit("/", 1)[-1], "type": DISK_TYPE, "location": location,
            "sku": {"name": sku, "tier": _TIERS.get(sku, "Standard")}, "properties": properties}


def set_managed_by(state: SimState, disk: dict[str, Any], vm_id: str | None) -> None:
    if vm_id:
        disk["managedBy"] = vm_id
    else:
        disk.pop("managedBy", None)
    disk["properties"]["LastOwnershipUpdateTime"] = iso(state.now())


def render_disk(state: SimState, disk: dict[str, Any]) -> dict[str, Any]:
    """The disk as GET returns it; `diskState` follows the owning VM's power state."""
    body = public(disk)
    vm = state.get(disk["managedBy"]) if disk.get("managedBy") else None
    if vm is None:
        body["properties"]["diskState"] = "Unattached"
    else:
        reserved = vm["_power"] in ("deallocated", "deallocating")
        body["properties"]["diskState"] = "Reserved" if reserved else "Attached"
    return body


def des_id_of(disk: dict[str, Any]) -> str | None:
    return disk["properties"].get("encryption", {}).get("diskEncryptionSetId")


def lro_headers(ctx: Ctx, op: Operation, *, async_op: bool = True) -> dict[str, str]:
    base = (f"{ctx.base_url}/subscriptions/{ctx.state.subscription_id}/providers/"
            f"Microsoft.Compute/locations/{op.location}/operations/{op.id}")
    headers = {"Location": f"{base}?p={op.id}&monitor=true&api-version={op.api_version}"}
    if async_op:
        headers["Azure-AsyncOperation"] = f"{base}?p={op.id}&api-version={op.api_version}"
    return headers


@route("GET", f"{SUB}/providers/Microsoft\\.Compute/locations/(?P<loc>[^/]+)/operations/"
       "(?P<op>[^/]+)", "Microsoft.Compute/locations/operations/read", "compute-operations")
def get_operation(ctx: Ctx) -> Response:
    op = ctx.state.operations.get(ctx.groups["op"])
    if op is None or not op.action.startswith("Microsoft.Compute/"):
        raise ArmError(404, "NotFound", f"The operation '{ctx.groups['op']}' was not found.")
    if ctx.query.get("monitor", "").lower() == "true":
        return _location_poll(ctx, op)
    body: dict[str, Any] = {"name": op.id, "startTime": iso(op.start), "status": op.status}
    if op.status != "InProgress":
        body["endTime"] = iso(op.end)
    if op.error:
        body["error"] = op.error
    return Response(200, body)


def _location_poll(ctx: Ctx, op: Operation) -> Response:
    if op.status == "InProgress":
        return Response(202, None, lro_headers(ctx, op, async_op=False))
    if op.error:
        return Response(op.error_status, {"error": op.error})
    return Response(200, op.result)


@route("GET", DISK, "Microsoft.Compute/disks/read", "disks")
def get_disk(ctx: Ctx) -> Response:
    return Response(200, render_disk(ctx.state, require(ctx.state, ctx.groups["scope"], DISK_TYPE)))


@route("GET", f"(?P<scope>{RG})/providers/Microsoft\\.Compute/disks",
       "Microsoft.Compute/disks/read", "disks")
def list_disks(ctx: Ctx) -> Response:
    """Disks_ListByResourceGroup, paged; needs disks/read (auth.readable)."""
    return _disk_list(ctx)


@route("GET", f"(?P<scope>{SUB})/providers/Microsoft\\.Compute/disks",
       "Microsoft.Compute/disks/read", "disks")
def list_disks_in_subscription(ctx: Ctx) -> Response:
    """Disks_List: every disk of the subscription, paged; needs disks/read (auth.readable)."""
    return _disk_list(ctx)


def _disk_list(ctx: Ctx) -> Response:
    scope = ctx.groups["scope"]
    disks = sorted(ctx.state.children(scope, DISK_TYPE), key=lambda d: d["id"].lower())
    visible = readable(ctx.state, ctx.caller, "Microsoft.Compute/disks/read", scope, disks)
    return page(ctx, [render_disk(ctx.state, d) for d in visible])


@route("PUT", DISK, "Microsoft.Compute/disks/write", "disks")
def put_disk(ctx: Ctx) -> Response:
    state, rid, request = ctx.state, ctx.groups["scope"], ctx.json()
    if not _DISK_NAME.fullmatch(ctx.groups["name"]):
        raise bad_request("InvalidResourceName", f"The resource name '{ctx.groups['name']}' is "
                          "invalid. Disk names are 1-80 letters, digits, '_', '.' or '-'.")
    existing = state.get(rid)
    disk = _update_disk(ctx, existing, request) if existing else _create_disk(ctx, rid, request)
    disk["properties"]["provisioningState"] = "Updating"

    def complete(op: Operation, due: float) -> None:
        disk["properties"]["provisioningState"] = "Succeeded"
        op.result = render_disk(state, disk)

    state.put(disk)
    op = state.begin("Microsoft.Compute/disks/write", rid, state.duration("diskWrite"),
                     ctx.api_version, complete, op_id=state.new_guid())
    status = 202 if existing is None else 200
    return Response(status, render_disk(state, disk), lro_headers(ctx, op))


@route("PATCH", DISK, "Microsoft.Compute/disks/write", "disks")
def patch_disk(ctx: Ctx) -> Response:
    """DiskUpdate: tags (replaced as a whole, as ARM does), size and the network settings
    (networkAccessPolicy, diskAccessId, publicNetworkAccess); an LRO like an update PUT."""
    state, rid = ctx.state, ctx.groups["scope"]
    disk = _update_disk(ctx, require(state, rid, DISK_TYPE), ctx.json())
    disk["properties"]["provisioningState"] = "Updating"

    def complete(op: Operation, due: float) -> None:
        disk["properties"]["provisioningState"] = "Succeeded"
        op.result = render_disk(state, disk)

    op = state.begin("Microsoft.Compute/disks/write", rid, state.duration("diskWrite"),
                     ctx.api_version, complete, op_id=state.new_guid())
    return Response(200, render_disk(state, disk), lro_headers(ctx, op))


def _create_disk(ctx: Ctx, rid: str, request: dict[str, Any]) -> dict[str, Any]:
    location = request.get("location")
    if not isinstance(location, str) or not location:
        raise bad_request("LocationRequired", "The location property is required for this "
                          "definition.")
    props = as_object(request.get("properties") or {}, "properties")
    creation = as_object(props.get("creationData") or {}, "creationData")
    option = creation.get("createOption")
    if not isinstance(option, str) or option not in _CREATE_OPTIONS:
        raise bad_request("InvalidParameter", "Required parameter 'creationData.createOption' is "
                          "missing or invalid.", "creationData.createOption")
    size = props.get("diskSizeGB")
    if option == "Empty" and not (isinstance(size, int) and 0 < size <= 65536):
        raise bad_request("InvalidParameter", "Required parameter 'diskSizeGB' is missing (null).",
                          "diskSizeGB")
    source = _copy_source(ctx, creation, request) if option == "Copy" else None
    sku = as_object(request.get("sku") or {}, "sku").get(
        "name", source["sku"]["name"] if source and source["type"] == DISK_TYPE
        else "Standard_LRS")
    if not isinstance(sku, str) or sku not in _TIERS:
        raise bad_request("InvalidParameter", f"The value '{sku}' of parameter 'sku.name' is "
                          "invalid.", "sku.name")
    extra = {k: v for k, v in props.items() if k in PASSED_THROUGH}
    if source is not None:  # a copy keeps what its source carries unless the request says
        size = size or source["properties"]["diskSizeGB"]
        extra = {**{k: copy.deepcopy(v) for k, v in source["properties"].items()
                    if k in PASSED_THROUGH}, **extra}
    if des := as_object(extra.get("encryption", {}), "encryption").get("diskEncryptionSetId"):
        require(ctx.state, des, DES_TYPE)
        extra["encryption"] = {"type": "EncryptionAtRestWithCustomerKey",
                               "diskEncryptionSetId": des}
    disk = new_disk(ctx.state, rid, location, sku, size or 128, creation, extra)
    if tags := ctx.tags(request):
        disk["tags"] = tags
    zones = request.get("zones")
    if zones:
        if not (isinstance(zones, list) and all(isinstance(z, str) for z in zones)):
            raise bad_request("InvalidParameter", "zones must be a list of strings.", "zones")
        if sku.upper().endswith("_ZRS"):  # velero-plugin-for-microsoft-azure PR #134
            raise bad_request("BadRequest", f"A disk with sku '{sku}' cannot be created in an "
                              "availability zone.")
        disk["zones"] = zones
    return disk


def _copy_source(ctx: Ctx, creation: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """The disk or snapshot a `Copy` reads. A disk copied into another zone than its own is
    refused: whether Compute allows it is not documented, and the documented way for a disk to
    change zone is a snapshot and a disk from it (availability-zones/migrate-managed-disks.md);
    azsim keeps the product on that way."""
    source_id = creation.get("sourceResourceId")
    source = ctx.state.get(source_id) if isinstance(source_id, str) else None
    if source is None or source["type"] not in (DISK_TYPE, SNAPSHOT_TYPE):
        raise ArmError(404, "NotFound", f"Resource {source_id} is not found.")
    if source["location"].lower() != str(request.get("location", "")).replace(" ", "").lower():
        raise bad_request("BadRequest", f"The source {source_id} is in location "
                          f"'{source['location']}'; copy it in that location.")
    wanted = request.get("zones") or []
    if source["type"] == DISK_TYPE and (source.get("zones") or []) != wanted:
        raise bad_request("BadRequest", f"Disk {source_id} cannot be copied into another zone: "
                          "create a snapshot of it and a disk from the snapshot in that zone.")
    return source


def _update_disk(ctx: Ctx, disk: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    tags = ctx.tags(request)
    location = request.get("location")
    if isinstance(location, str) and location.lower() != disk["location"].lower():
        raise bad_request("InvalidResourceLocation",
                          f"The resource '{disk['name']}' already exists in location "
                          f"'{disk['location']}'. A resource with the same name cannot be "
                          f"created in location '{location}'.")
    size = as_object(request.get("properties") or {}, "properties").get("diskSizeGB")
    if isinstance(size, int) and size != disk["properties"]["diskSizeGB"]:
        if size < disk["properties"]["diskSizeGB"]:
            raise bad_request("BadRequest", f"Disk '{disk['name']}' cannot be resized down. "
                              "Reducing disk size is not supported.")
        if disk.get("managedBy"):
            raise conflict("OperationNotAllowed", f"Disk '{disk['name']}' is attached to VM "
                           f"'{disk['managedBy']}'; resize it while unattached.")
        disk["properties"].update(diskSizeGB=size, diskSizeBytes=size * 1024**3)
    _update_network(ctx, disk, as_object(request.get("properties") or {}, "properties"))
    if tags is not None:
        disk["tags"] = tags
    return disk


def _update_network(ctx: Ctx, disk: dict[str, Any], props: dict[str, Any]) -> None:
    """networkAccessPolicy, diskAccessId, publicNetworkAccess of a disk update, checked as
    Compute's API spec bounds them: AllowPrivate needs a disk access, which must exist. Whether
    linking a disk access needs a permission on it (a linked access check) is not documented:
    azsim checks none."""
    policy = props.get("networkAccessPolicy", disk["properties"].get("networkAccessPolicy"))
    public_access = props.get("publicNetworkAccess")
    access = props.get("diskAccessId", disk["properties"].get("diskAccessId"))
    if policy not in NETWORK_ACCESS_POLICIES:
        raise bad_request("InvalidParameter", f"The value '{policy}' of parameter "
                          "'networkAccessPolicy' is invalid; allowed: "
                          f"{', '.join(NETWORK_ACCESS_POLICIES)}.", "networkAccessPolicy")
    if public_access is not None and public_access not in PUBLIC_NETWORK_ACCESS:
        raise bad_request("InvalidParameter", f"The value '{public_access}' of parameter "
                          "'publicNetworkAccess' is invalid.", "publicNetworkAccess")
    if policy == "AllowPrivate" and not access:
        raise bad_request("InvalidParameter", "diskAccessId is required when "
                          "networkAccessPolicy is AllowPrivate.", "diskAccessId")
    if access:
        found = require(ctx.state, access, DISK_ACCESS_TYPE)
        if found["location"].lower() != disk["location"].lower():
            raise bad_request("BadRequest", f"The disk access {access} is in "
                              f"'{found['location']}', the disk in '{disk['location']}'.")
    disk["properties"]["networkAccessPolicy"] = policy
    if access and "diskAccessId" in props:
        disk["properties"]["diskAccessId"] = access
    if public_access is not None:
        disk["properties"]["publicNetworkAccess"] = public_access


@route("DELETE", DISK, "Microsoft.Compute/disks/delete", "disks")
def delete_disk(ctx: Ctx) -> Response:
    state, rid = ctx.state, ctx.groups["scope"]
    disk = state.get(rid)
    if disk is None:
        return Response(204)
    if disk.get("managedBy"):
        raise conflict("OperationNotAllowed",
                       f"Disk {disk['name']} is attached to VM {disk['managedBy']}.")
    check_not_locked(state, rid)

    def complete(op: Operation, due: float) -> None:
        state.remove(rid)

    op = state.begin("Microsoft.Compute/disks/delete", rid, state.duration("diskDelete"),
                     ctx.api_version, complete, op_id=state.new_guid())
    return Response(202, None, lro_headers(ctx, op))


@route("GET", SNAPSHOT, "Microsoft.Compute/snapshots/read", "disks")
def get_snapshot(ctx: Ctx) -> Response:
    return Response(200, public(require(ctx.state, ctx.groups["scope"], SNAPSHOT_TYPE)))


@route("PUT", SNAPSHOT, "Microsoft.Compute/snapshots/write", "disks")
def put_snapshot(ctx: Ctx) -> Response:
    """A snapshot of a disk (`createOption: Copy`): regional (snapshots have no zone), the
    source's size, OS type, generation and encryption; an LRO like a disk PUT. An existing one is
    only re-tagged (its source cannot change)."""
    state, rid, request = ctx.state, ctx.groups["scope"], ctx.json()
    if not _DISK_NAME.fullmatch(ctx.groups["name"]):
        raise bad_request("InvalidResourceName", f"The resource name '{ctx.groups['name']}' is "
                          "invalid.")
    snapshot = state.get(rid)
    if snapshot is None:
        props = as_object(request.get("properties") or {}, "properties")
        creation = as_object(props.get("creationData") or {}, "creationData")
        if creation.get("createOption") != "Copy":
            raise bad_request("InvalidParameter", "azsim makes snapshots of disks only "
                              "(createOption Copy).", "creationData.createOption")
        source_id = creation.get("sourceResourceId")
        source = state.get(source_id) if isinstance(source_id, str) else None
        if source is None or source["type"] != DISK_TYPE:
            raise ArmError(404, "NotFound", f"Resource {source_id} is not found.")
        location = str(request.get("location") or "").replace(" ", "").lower()
        if location != source["location"].lower():
            raise bad_request("BadRequest", f"The snapshot must be in the location of its source "
                              f"disk, '{source['location']}'.")
        snapshot = new_snapshot(state, rid, source, incremental=bool(
            props.get("incremental", False)))
    if (tags := ctx.tags(request)) is not None:
        snapshot["tags"] = tags
    snapshot["properties"]["provisioningState"] = "Updating"

    def complete(op: Operation, due: float) -> None:
        snapshot["properties"]["provisioningState"] = "Succeeded"
        op.result = public(snapshot)

    existed = state.get(rid) is not None
    state.put(snapshot)
    op = state.begin("Microsoft.Compute/snapshots/write", rid, state.duration("diskWrite"),
                     ctx.api_version, complete, op_id=state.new_guid())
    return Response(200 if existed else 202, public(snapshot), lro_headers(ctx, op))


def new_snapshot(state: SimState, rid: str, source: dict[str, Any], *, incremental: bool,
                 created: float | None = None) -> dict[str, Any]:
    """A snapshot of disk `source` as Compute shows one (Snapshot_GetIncrementalSnapshot.json):
    `creationData` Copy with the disk's id and `uniqueId`, the disk's size, OS type, generation,
    security profile and encryption (its Disk Encryption Set); regional, Standard storage (an
    incremental one ZRS where the region has zones, as Compute picks). `created` (epoch seconds,
    default now): a Backup snapshot taken in the past. `_sourceZones` and `_sourceSku` keep the
    disk's zones and SKU, which a restore from it gives the new disk (`restoredDiskZone: source`;
    a snapshot itself has no zone and Standard storage)."""
    creation = {"createOption": "Copy", "sourceResourceId": source["id"],
                "sourceUniqueId": source["properties"]["uniqueId"]}
    snapshot = new_disk(state, rid, source["location"],
                        "Standard_ZRS" if incremental else "Standard_LRS",
                        source["properties"]["diskSizeGB"], creation,
                        {k: copy.deepcopy(v) for k, v in source["properties"].items()
                         if k in PASSED_THROUGH})
    snapshot.update(type=SNAPSHOT_TYPE, tags={}, _sourceZones=list(source.get("zones") or []),
                    _sourceSku=source["sku"]["name"])
    snapshot["sku"] = {"name": snapshot["sku"]["name"], "tier": "Standard"}
    props = snapshot["properties"]
    props.update(incremental=incremental, diskState="Unattached",
                 snapshotAccessState="Available", completionPercent=100.0)
    if incremental:  # one family per disk: every incremental snapshot of it shares the id
        props["incrementalSnapshotFamilyId"] = source.setdefault(
            "_snapshotFamily", state.new_guid())
    if created is not None:
        props["timeCreated"] = iso(created)
    for key in ("networkAccessPolicy", "publicNetworkAccess"):
        props[key] = source["properties"].get(key, "AllowAll")
    return snapshot


@route("GET", f"(?P<scope>{RG})/providers/Microsoft\\.Compute/snapshots",
       "Microsoft.Compute/snapshots/read", "disks")
def list_snapshots(ctx: Ctx) -> Response:
    """Snapshots_ListByResourceGroup, paged (`nextLink` beyond the scenario's `pageSize`)."""
    snapshots = ctx.state.children(ctx.groups["scope"], SNAPSHOT_TYPE)
    return page(ctx, [public(s) for s in sorted(snapshots, key=lambda s: s["id"].lower())])


@route("GET", f"(?P<scope>{SUB})/providers/Microsoft\\.Compute/snapshots",
       "Microsoft.Compute/snapshots/read", "disks")
def list_snapshots_in_subscription(ctx: Ctx) -> Response:
    """Snapshots_List: every snapshot of the subscription, paged."""
    snapshots = ctx.state.children(ctx.groups["scope"], SNAPSHOT_TYPE)
    return page(ctx, [public(s) for s in sorted(snapshots, key=lambda s: s["id"].lower())])


@route("DELETE", SNAPSHOT, "Microsoft.Compute/snapshots/delete", "disks")
def delete_snapshot(ctx: Ctx) -> Response:
    state, rid = ctx.state, ctx.groups["scope"]
    if state.get(rid) is None:
        return Response(204)
    check_not_locked(state, rid)

    def complete(op: Operation, due: float) -> None:
        state.remove(rid)

    op = state.begin("Microsoft.Compute/snapshots/delete", rid, state.duration("diskDelete"),
                     ctx.api_version, complete, op_id=state.new_guid())
    return Response(202, None, lro_headers(ctx, op))


@route("GET", f"(?P<scope>{RG}/providers/Microsoft\\.Compute/diskAccesses/(?P<name>[^/]+))",
       "Microsoft.Compute/diskAccesses/read", "disks")
def get_disk_access(ctx: Ctx) -> Response:
    return Response(200, public(require(ctx.state, ctx.groups["scope"], DISK_ACCESS_TYPE)))


def new_disk_access(state: SimState, sub: str, rg: str, name: str,
                    location: str | None = None) -> dict[str, Any]:
    """A disk access (private endpoints for disk export and import); azsim keeps no endpoints."""
    return {"id": provider_id(sub, rg, DISK_ACCESS_TYPE, name), "name": name,
            "type": DISK_ACCESS_TYPE, "location": location or state.location, "tags": {},
            "properties": {"privateEndpointConnections": [], "provisioningState": "Succeeded",
                           "timeCreated": iso(state.now())}}


@route("GET", f"(?P<scope>{RG}/providers/Microsoft\\.Compute/diskEncryptionSets/(?P<name>[^/]+))",
       "Microsoft.Compute/diskEncryptionSets/read", "disks")
def get_disk_encryption_set(ctx: Ctx) -> Response:
    return Response(200, public(require(ctx.state, ctx.groups["scope"], DES_TYPE)))


def new_des(state: SimState, sub: str, rg: str, name: str, key_url: str, vault_id: str,
            tags: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": provider_id(sub, rg, DES_TYPE, name), "name": name, "type": DES_TYPE,
        "location": state.location, "tags": tags or {},
        "identity": {"type": "SystemAssigned", "principalId": state.new_guid(),
                     "tenantId": state.tenant_id},
        "properties": {"activeKey": {"sourceVault": {"id": vault_id}, "keyUrl": key_url},
                       "encryptionType": "EncryptionAtRestWithCustomerKey", "previousKeys": [],
                       "rotationToLatestKeyVersionEnabled": False,
                       "provisioningState": "Succeeded"},
        "_keyEnabled": True,
    }
