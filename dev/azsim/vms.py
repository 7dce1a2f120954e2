"""Microsoft.Compute virtual machines: get (with instance view), put/patch, attachDetachDataDisks,
deallocate, start and powerOff.

A VM with an operation in flight refuses other writes with 409 `Conflict`, as Compute does for
concurrent requests; `If-Match` against the VM's etag gives 412 `PreconditionFailed`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .arm import RG, SUB, Ctx, Response, Route, as_list, as_object, page, require, router
from .auth import readable
from .clock import iso
from .compute import lro_headers
from .errors import ArmError, bad_request, conflict
from .state import Operation, SimState, public
from .vm_disks import (
    apply_data_disks,
    apply_os_swap,
    check_for_vm,
    check_luns,
    data_disk_entry,
    default_caching,
    disk_for_attach,
    lowest_free_lun,
    plan_os_swap,
    requested_data_disks,
)

ROUTES: list[Route] = []
route = router(ROUTES)

VM_TYPE = "Microsoft.Compute/virtualMachines"
VM = f"(?P<scope>{RG}/providers/Microsoft\\.Compute/virtualMachines/(?P<name>[^/]+))"
_A = "Microsoft.Compute/virtualMachines"
# Power-state transitions: action -> (state while running, final state, duration name).
_POWER = {"deallocate": ("deallocating", "deallocated", "deallocate"),
          "start": ("starting", "running", "start"),
          "powerOff": ("stopping", "stopped", "powerOff")}


def new_vm(state: SimState, rid: str, size: str, os_disk: dict[str, Any],
           data_disks: list[dict[str, Any]], power: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A VM around existing disks. `spec` may carry `securityType` (TrustedLaunch or
    ConfidentialVM: `properties.securityProfile` with Secure Boot and vTPM on), `ultraSSDEnabled`
    (`properties.additionalCapabilities`), `hyperVGeneration` (the instance view's; the OS disk's
    by default), and extra `properties`, `instanceView`, `tags`, `zones` (passed through)."""
    props = {**spec.get("properties", {}), "vmId": state.new_guid(),
             "hardwareProfile": {"vmSize": size}, "timeCreated": iso(state.now())}
    if spec.get("securityType"):
        props["securityProfile"] = {"securityType": spec["securityType"], "uefiSettings": {
            "secureBootEnabled": True, "vTpmEnabled": True}}
    if spec.get("ultraSSDEnabled"):
        props["additionalCapabilities"] = {"ultraSSDEnabled": True, "hibernationEnabled": False}
    props["storageProfile"] = {
        **props.get("storageProfile", {}), "diskControllerType": "SCSI",
        "osDisk": {"osType": os_disk["properties"].get("osType", "Linux"), "name": os_disk["name"],
                   "createOption": "FromImage", "caching": "ReadWrite",
                   "managedDisk": {"storageAccountType": os_disk["sku"]["name"],
                                   "id": os_disk["id"]},
                   "deleteOption": "Detach", "diskSizeGB": os_disk["properties"]["diskSizeGB"]},
        "dataDisks": data_disks,
    }
    view = {**spec.get("instanceView", {}), "hyperVGeneration": spec.get("hyperVGeneration") or
            os_disk["properties"].get("hyperVGeneration", "V1")}
    vm = {"id": rid, "name": rid.rsplit("/", 1)[-1], "type": VM_TYPE,
          "location": os_disk["location"], "tags": spec.get("tags", {}), "properties": props,
          "_power": power, "_busyUntil": 0.0, "_etag": 1, "_changed": state.now(),
          "_instanceView": view}
    if spec.get("zones"):
        vm["zones"] = spec["zones"]
    return vm


def render_vm(state: SimState, vm: dict[str, Any], instance_view: bool = False) -> dict[str, Any]:
    body = public(vm)
    body["etag"] = f'"{vm["_etag"]}"'
    body["properties"]["provisioningState"] = "Updating" if _busy(state, vm) else "Succeeded"
    if instance_view:
        body["properties"]["instanceView"] = render_instance_view(state, vm)
    return body


def render_instance_view(state: SimState, vm: dict[str, Any]) -> dict[str, Any]:
    view = dict(vm["_instanceView"])
    provisioning = "updating" if _busy(state, vm) else "succeeded"
    disks = [vm["properties"]["storageProfile"]["osDisk"],
             *vm["properties"]["storageProfile"]["dataDisks"]]
    ok = {"code": "ProvisioningState/succeeded", "level": "Info",
          "displayStatus": "Provisioning succeeded", "time": iso(vm["_changed"])}
    view["disks"] = [{"name": d["name"], "statuses": [ok]} for d in disks]
    view["statuses"] = [
        {"code": f"ProvisioningState/{provisioning}", "level": "Info",
         "displayStatus": f"Provisioning {provisioning}", "time": iso(vm["_changed"])},
        {"code": f"PowerState/{vm['_power']}", "level": "Info",
         "displayStatus": f"VM {vm['_power']}"},
    ]
    return view


def _busy(state: SimState, vm: dict[str, Any]) -> bool:
    return state.now() < vm["_busyUntil"]


def _vm_for_write(ctx: Ctx) -> dict[str, Any]:
    vm = require(ctx.state, ctx.groups["scope"], VM_TYPE)
    if _busy(ctx.state, vm):
        raise conflict("Conflict", "The request failed due to conflict with a concurrent request.")
    if_match = ctx.headers.get("If-Match")
    if if_match and if_match not in ("*", f'"{vm["_etag"]}"'):
        raise ArmError(412, "PreconditionFailed", "The specified precondition 'If-Match' failed.")
    return vm


def _begin(ctx: Ctx, vm: dict[str, Any], action: str, duration: str,
           complete: Callable[[Operation, float], None]) -> Operation:
    state = ctx.state
    seconds = state.duration(duration)
    op = state.begin(action, vm["id"], seconds, ctx.api_version, complete, op_id=state.new_guid())
    vm["_busyUntil"], vm["_changed"] = op.end, state.now()
    vm["_etag"] += 1
    return op


@route("GET", VM, f"{_A}/read", "compute")
def get_vm(ctx: Ctx) -> Response:
    vm = require(ctx.state, ctx.groups["scope"], VM_TYPE)
    expand = ctx.query.get("$expand", "")
    return Response(200, render_vm(ctx.state, vm, expand.lower() == "instanceview"))


@route("GET", f"(?P<scope>{RG})/providers/Microsoft\\.Compute/virtualMachines", f"{_A}/read",
       "compute")
def list_vms(ctx: Ctx) -> Response:
    """VirtualMachines_List (a resource group's VMs), paged; needs virtualMachines/read
    (auth.readable). Without the instance view, as Compute lists them."""
    return _vm_list(ctx)


@route("GET", f"(?P<scope>{SUB})/providers/Microsoft\\.Compute/virtualMachines", f"{_A}/read",
       "compute")
def list_vms_in_subscription(ctx: Ctx) -> Response:
    """VirtualMachines_ListAll: every VM of the subscription, paged; needs virtualMachines/read
    (auth.readable)."""
    return _vm_list(ctx)


def _vm_list(ctx: Ctx) -> Response:
    scope = ctx.groups["scope"]
    vms = sorted(ctx.state.children(scope, VM_TYPE), key=lambda v: v["id"].lower())
    visible = readable(ctx.state, ctx.caller, f"{_A}/read", scope, vms)
    return page(ctx, [render_vm(ctx.state, vm) for vm in visible])


@route("GET", f"{VM}/instanceView", f"{_A}/instanceView/read", "compute")
def get_instance_view(ctx: Ctx) -> Response:
    vm = require(ctx.state, ctx.groups["scope"], VM_TYPE)
    return Response(200, render_instance_view(ctx.state, vm))


@route("PUT", VM, f"{_A}/write", "compute")
def put_vm(ctx: Ctx) -> Response:
    if ctx.state.get(ctx.groups["scope"]) is None:
        raise conflict("OperationNotAllowed", "Creating virtual machines is not supported by "
                       "the simulator; only updates of existing VMs are.")
    return _update(ctx)


@route("PATCH", VM, f"{_A}/write", "compute")
def patch_vm(ctx: Ctx) -> Response:
    return _update(ctx)


def _update(ctx: Ctx) -> Response:
    request = ctx.json()
    vm = _vm_for_write(ctx)
    props = as_object(request.get("properties") or {}, "properties")
    storage = as_object(props.get("storageProfile") or {}, "storageProfile")
    entries = None
    if "dataDisks" in storage:
        entries = requested_data_disks(ctx.state, vm, storage["dataDisks"])
        check_luns(vm, entries)
    new_os = plan_os_swap(ctx.state, vm, storage.get("osDisk"))
    tags = ctx.tags(request)
    # Every check passed: only now change the VM and the disks.
    disks_changed = new_os is not None
    if entries is not None and entries != vm["properties"]["storageProfile"]["dataDisks"]:
        apply_data_disks(ctx.state, vm, entries)
        disks_changed = True
    if new_os is not None:
        apply_os_swap(ctx.state, vm, new_os)
    if tags is not None:
        vm["tags"] = tags
    op = _begin(ctx, vm, f"{_A}/write", "attach" if disks_changed else "vmUpdate",
                lambda op, due: None)
    headers = lro_headers(ctx, op)
    del headers["Location"]  # VM PUT/PATCH answer with Azure-AsyncOperation only
    return Response(200, render_vm(ctx.state, vm), headers)


@route("POST", f"{VM}/attachDetachDataDisks", f"{_A}/attachDetachDataDisks/action", "compute")
def attach_detach(ctx: Ctx) -> Response:
    request = ctx.json()
    vm = _vm_for_write(ctx)
    entries = list(vm["properties"]["storageProfile"]["dataDisks"])
    for item in as_list(request.get("dataDisksToDetach"), "dataDisksToDetach"):
        disk_id = as_object(item, "dataDisksToDetach").get("diskId")
        kept = [e for e in entries if e["managedDisk"]["id"].lower() != str(disk_id).lower()]
        if len(kept) == len(entries):
            raise bad_request("InvalidParameter", f"Disk {disk_id} is not attached to VM "
                              f"{vm['id']}.", "dataDisksToDetach.diskId")
        entries = kept
    for item in as_list(request.get("dataDisksToAttach"), "dataDisksToAttach"):
        item = as_object(item, "dataDisksToAttach")
        if any(e["managedDisk"]["id"].lower() == str(item.get("diskId")).lower() for e in entries):
            continue  # attaching an attached disk again is a no-op
        disk = disk_for_attach(ctx.state, vm, item.get("diskId"))
        caching = item.get("caching", default_caching(disk))
        check_for_vm(vm, disk, caching)
        lun = item.get("lun", lowest_free_lun(entries))
        entries.append(data_disk_entry(disk, lun, caching,
                                       item.get("deleteOption", "Detach"),
                                       bool(item.get("writeAcceleratorEnabled", False))))
    apply_data_disks(ctx.state, vm, entries)

    def complete(op: Operation, due: float) -> None:
        op.result = public(vm)["properties"]["storageProfile"]

    op = _begin(ctx, vm, f"{_A}/attachDetachDataDisks/action", "attach", complete)
    return Response(202, None, lro_headers(ctx, op, async_op=False))


def _power_action(name: str) -> None:
    during, final, duration = _POWER[name]

    @route("POST", f"{VM}/{name}", f"{_A}/{name}/action", "compute")
    def handler(ctx: Ctx) -> Response:
        vm = _vm_for_write(ctx)
        unchanged = vm["_power"] == final or (name == "powerOff" and vm["_power"] == "deallocated")
        if not unchanged:
            vm["_power"] = during

        def complete(op: Operation, due: float) -> None:
            if not unchanged:
                vm["_power"], vm["_changed"] = final, due

        op = _begin(ctx, vm, f"{_A}/{name}/action", "noop" if unchanged else duration, complete)
        return Response(202, None, lro_headers(ctx, op))


for _name in _POWER:
    _power_action(_name)
