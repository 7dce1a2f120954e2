"""Fidelity: for every official example in ../shared/azure-api-examples, the simulator's answer to
the same operation deserializes with the SDK model and carries the example's fields (names,
nesting, JSON types) and headers. Every place where it does not is listed in DIFFERENCES with
the reason; the test fails on an unlisted difference and on a listed one that no longer occurs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from azsim.roles import DISK_RESTORE_OPERATOR
from azure.mgmt.authorization.v2022_04_01 import models as authz
from azure.mgmt.compute import models as compute
from azure.mgmt.dataprotection import models as dp
from azure.mgmt.resource.resources import models as resources

if TYPE_CHECKING:
    from conftest import Demo

# A verbatim copy of ../shared/azure-api-examples plus the Resource SKUs example (provenance in
# SOURCES.md), kept in the repo so the suite runs from any clone.
EXAMPLES = Path(__file__).resolve().parent / "examples"
DP, AUTHZ, VM, DISKS, RG = "2026-06-01", "2022-04-01", "2026-04-01", "2026-03-02", "2025-04-01"
Observed = dict[str, tuple[dict[str, str], Any]]  # status code -> (headers, body)

_NOT_DISK = "the example is a PostgreSQL backup instance; Azure Disk instances have no such member"
_ADE = "Azure Disk Encryption (ADE) disks cannot be protected by Disk Backup, so none exist here"
_SYNC = "the simulator always answers 202 and never completes synchronously"
DIFFERENCES: dict[str, dict[str, str]] = {
    "BackupInstanceOperations__GetBackupInstance.json": {
        "200 properties.dataSourceSetInfo": _NOT_DISK,
        "200 properties.identityDetails.userAssignedIdentityArmUrl":
            "the demo vault restores with its system-assigned identity",
    },
    "BackupInstanceOperations__ListBackupInstances.json": {
        "200 value[].properties.dataSourceSetInfo": _NOT_DISK,
    },
    "BackupInstanceOperations__TriggerRestore.json": {
        "202 header Retry-After": "real Data Protection 202s carry no Retry-After (recordings)",
    },
    "BackupInstanceOperations__ValidateRestore.json": {
        "202 header Retry-After": "real Data Protection 202s carry no Retry-After (recordings)",
        "200 jobId": "a real validateRestore result is {objectType} only (REC-DISK)",
    },
    "GetOperationResult.json": {
        "202 header Retry-After": "real Data Protection 202s carry no Retry-After (recordings)",
    },
    "JobCRUD__GetJob.json": {
        "200 properties.dataSourceSetName": "null for disks, which have no datasource set",
    },
    "JobCRUD__ListJobs.json": {
        "200 value[].properties.dataSourceSetName": "null for disks, which have no datasource set",
    },
    "Compute__Disk_Get.json": {
        "200 properties.purchasePlan": "the demo OS disk is not a Marketplace plan image",
        "200 properties.encryptionSettingsCollection": _ADE,
    },
    "Compute__Disk_Delete.json": {
        "200 status": "deletion is always asynchronous here (202), or 204 when absent",
    },
    "Compute__Snapshot_GetIncrementalSnapshot.json": {
        "200 properties.purchasePlan": "the demo OS disk is not a Marketplace plan image",
        "200 properties.encryptionSettingsCollection": _ADE,
        "200 properties.supportsHibernation": "the demo OS disk does not declare hibernation",
        "200 properties.creationData.instantAccessDurationMinutes":
            "instant access snapshots are not simulated; Backup's are plain incremental ones",
    },
    "Compute__Disk_ListBySubscription.json": {
        "200 value[].properties.encryptionSettingsCollection": _ADE,
        "200 value[].properties.creationData.sourceResourceId":
            "the demo's first disk listed is an empty data disk, not a copy",
        "200 value[].properties.osType": "the first disk listed is a data disk (no OS type)",
        "200 nextLink": "the demo's disks fit on one page (paging: tests/azsim/test_lists.py)",
    },
    "Compute__Disk_ListByResourceGroup.json": {
        "200 value[].properties.encryptionSettingsCollection": _ADE,
        "200 value[].properties.creationData.sourceResourceId":
            "the demo's first disk listed is an empty data disk, not a copy",
        "200 value[].properties.osType": "the first disk listed is a data disk (no OS type)",
        "200 nextLink": "the demo's disks fit on one page (paging: tests/azsim/test_lists.py)",
    },
    "Compute__Snapshot_ListByResourceGroup.json": {
        "200 value[].properties.encryptionSettingsCollection": _ADE,
        "200 value[].properties.osType": "the first snapshot listed is a data disk's (no OS type)",
    },
    "Compute__VirtualMachine_AttachDetachDataDisks_MaximumSet_Gen.json": {
        "200 header location": _SYNC + "; the StorageProfile comes from the Location poll",
    },
    "Compute__VirtualMachine_AttachDetachDataDisks_MinimumSet_Gen.json": {
        "200 header location": _SYNC + "; the StorageProfile comes from the Location poll",
    },
    "Compute__VirtualMachine_Deallocate_MaximumSet_Gen.json": {"200 status": _SYNC},
    "Compute__VirtualMachine_Deallocate_MinimumSet_Gen.json": {"200 status": _SYNC},
    "Compute__VirtualMachine_Start_MaximumSet_Gen.json": {"200 status": _SYNC},
    "Compute__VirtualMachine_Start_MinimumSet_Gen.json": {"200 status": _SYNC},
    "Compute__VirtualMachine_Get.json": {
        "200 properties.availabilitySet": "the demo VM is in no availability set",
        "200 properties.proximityPlacementGroup": "the demo VM is in no proximity placement group",
        "200 properties.applicationProfile": "the demo VM has no gallery applications",
        "200 properties.userData": "$expand=userData is not simulated",
        "200 properties.osProfile.windowsConfiguration": "the demo VM runs Linux",
        "200 properties.diagnosticsProfile.bootDiagnostics.storageUri":
            "managed boot diagnostics (no storage account)",
        "200 resources": "VM extensions are not simulated",
        "200 managedBy": "the demo VM is not part of a scale set",
    },
    "Compute__VirtualMachine_Get_InstanceView.json": {
        "200 bootDiagnostics.consoleScreenshotBlobUri": "managed boot diagnostics (no blob URIs)",
        "200 bootDiagnostics.serialConsoleLogBlobUri": "managed boot diagnostics (no blob URIs)",
        "200 patchStatus.lastPatchInstallationSummary":
            "no patch installation has run on the demo VM",
    },
    "Compute__ResourceSkus_ListForARegion.json": {
        "200 value[].locationInfo[].zoneDetails[].name":
            "the example writes `name`; azure-mgmt-compute 39.0.0 (generated from the API spec) "
            "reads `Name` in ResourceSkuZoneDetails, so azsim sends that",
    },
    "Compute__VirtualMachine_Update_DetachDataDiskUsingToBeDetachedProperty.json": {
        "200 properties.osProfile.windowsConfiguration": "the demo VM runs Linux",
    },
    "Compute__VirtualMachine_Create_WithDataDisksFromSourceResource.json": {
        "201 status": "creating VMs is not simulated; the PUT updates the existing VM (200)",
        "200 properties.osProfile.windowsConfiguration": "the demo VM runs Linux",
        "200 properties.storageProfile.dataDisks[].sourceResource":
            "data disks are attached existing disks, not copies of a source",
    },
}


def _hybrid(model: type) -> Callable[[Any], Any]:
    def check(body: Any) -> Any:
        instance = model(body)
        _touch(instance)
        return instance
    return check


def _msrest(model: type) -> Callable[[Any], Any]:
    return lambda body: model.deserialize(body)


def _touch(value: Any) -> None:
    """Read every attribute of a hybrid model so that each field is really deserialized."""
    if isinstance(value, list):
        for item in value:
            _touch(item)
    elif hasattr(value, "_attr_to_rest_field"):
        for attr in value._attr_to_rest_field:
            _touch(getattr(value, attr))


def _diff(example: Any, actual: Any, path: str, found: set[str]) -> None:
    if example is None:
        return
    if actual is None and path:
        found.add(path)
        return
    if isinstance(example, dict):
        if not isinstance(actual, dict):
            found.add(f"{path} (type)")
            return
        for key, value in example.items():
            child = f"{path}.{key}" if path else key
            if key in _FREE_FORM:
                continue  # user-chosen keys (tags...): only the map itself must be there
            if key not in actual:
                found.add(child)
            else:
                _diff(value, actual[key], child, found)
    elif isinstance(example, list):
        if not isinstance(actual, list):
            found.add(f"{path} (type)")
        elif example and not actual:
            if isinstance(example[0], (dict, list)):  # an empty list of scalars is fine
                found.add(f"{path}[]")
        else:
            for i, item in enumerate(example):
                _diff(item, actual[min(i, len(actual) - 1)], f"{path}[]", found)
    elif _kind(example) != _kind(actual):
        found.add(f"{path} (type)")


_FREE_FORM = {"tags"}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, (int, float)) else type(value).__name__


def compare(name: str, observed: Observed, deserialize: Callable[[Any], Any]) -> set[str]:
    """Differences between the example's responses and the observed ones, as stable labels:
    "<status> status" (not produced), "<status> header <name>", "<status> <body path>"."""
    example = json.loads((EXAMPLES / name).read_text())["responses"]
    found = {f"{status} status" for status in example if status not in observed}
    for status, (headers, body) in observed.items():
        expected = example.get(status)
        assert expected is not None, f"{name}: the simulator answered {status}"
        lowered = {k.lower() for k in headers}
        found |= {f"{status} header {h}" for h in expected.get("headers", {})
                  if h.lower() not in lowered}
        if expected.get("body") is None:
            continue
        body_found: set[str] = set()
        _diff(expected["body"], body, "", body_found)
        found |= {f"{status} {p}" for p in body_found}
        for item in body.get("value", [body]):
            assert deserialize(item) is not None
    return found


# --- observing the simulator ------------------------------------------------------------------

def _get(demo: Demo, path: str, version: str) -> Observed:
    status, headers, body = demo.raw("GET", f"{path}?api-version={version}")
    return {str(status): (headers, body)}


def _get_as(demo: Demo, path: str, version: str, alias: str = "operator") -> Observed:
    status, headers, body = demo.raw("GET", f"{path}?api-version={version}",
                                     token=demo.token(alias))
    return {str(status): (headers, body)}


def _vault(demo: Demo) -> str:
    return f"{demo.rg_id(demo.vault_rg)}/providers/Microsoft.DataProtection/backupVaults/bv-demo"


def _bi_path(demo: Demo) -> str:
    return f"{_vault(demo)}/backupInstances/{demo.backup_instance('vm-app01-data0').name}"


def _restore_lro(demo: Demo, action: str) -> tuple[Observed, str]:
    """POST validateRestore or restore (with the role granted), then the final Location GET."""
    demo.grant(demo.rg_id(demo.target_rg), DISK_RESTORE_OPERATOR, demo.vault_principal,
               str(uuid.uuid4()))
    demo.clock.advance(241)
    bi = demo.backup_instance("vm-app01-data0")
    request = demo.restore_request(demo.latest_point(bi.name).name, "fidelity-restored").as_dict()
    body = {"restoreRequestObject": request} if action == "validateRestore" else request
    status, headers, _ = demo.raw("POST", f"{bi.id}/{action}?api-version={DP}", body)
    assert status == 202
    demo.clock.advance(60)
    location = headers["Location"].removeprefix(demo.sim.endpoint)
    final_status, final_headers, final = demo.raw("GET", location)
    return {"202": (headers, None), str(final_status): (final_headers, final)}, location


def _operation_result(demo: Demo) -> Observed:
    observed, _location = _restore_lro(demo, "restore")
    bi = demo.backup_instance("vm-app01-data0")
    request = demo.restore_request(demo.latest_point(bi.name).name, "second").as_dict()
    _, headers, _ = demo.raw("POST", f"{bi.id}/restore?api-version={DP}", request)
    running = demo.raw("GET", headers["Location"].removeprefix(demo.sim.endpoint))
    return {"200": observed["200"], str(running[0]): (running[1], running[2])}


def _operation_status(demo: Demo) -> Observed:
    _, headers, _ = demo.raw("POST", f"{_bi_path(demo)}/validateRestore?api-version={DP}", {
        "restoreRequestObject": demo.restore_request(
            demo.latest_point(demo.backup_instance("vm-app01-data0").name).name, "x").as_dict()})
    demo.clock.advance(60)
    return {"200": demo.raw("GET", headers["Azure-AsyncOperation"].removeprefix(
        demo.sim.endpoint))[1:]}


def _backup_job(demo: Demo) -> Observed:
    _status, _, jobs = demo.raw("GET", f"{_vault(demo)}/backupJobs?api-version={DP}")
    return _get(demo, jobs["value"][0]["id"], DP)


def _assignment_created(demo: Demo, name: str) -> tuple[str, dict[str, Any]]:
    path = (f"{demo.rg_id(demo.target_rg)}/providers/Microsoft.Authorization/roleAssignments/"
            f"{name}?api-version={AUTHZ}")
    body = {"properties": {"roleDefinitionId": demo.role_id(DISK_RESTORE_OPERATOR),
                           "principalId": demo.vault_principal,
                           "principalType": "ServicePrincipal"}}
    return path, body


def _create_assignment(demo: Demo) -> Observed:
    path, body = _assignment_created(demo, str(uuid.uuid4()))
    created, again = demo.raw("PUT", path, body), demo.raw("PUT", path, body)
    return {str(created[0]): created[1:], str(again[0]): again[1:]}


def _get_assignment(demo: Demo) -> Observed:
    path, body = _assignment_created(demo, str(uuid.uuid4()))
    demo.raw("PUT", path, body)
    return {str(s): (h, b) for s, h, b in [demo.raw("GET", path)]}


def _delete_assignment(demo: Demo) -> Observed:
    path, body = _assignment_created(demo, str(uuid.uuid4()))
    demo.raw("PUT", path, body)
    first, second = demo.raw("DELETE", path), demo.raw("DELETE", path)
    return {str(first[0]): first[1:], str(second[0]): second[1:]}


def _list_assignments(scope: Callable[[Demo], str]) -> Callable[[Demo], Observed]:
    def observe(demo: Demo) -> Observed:
        demo.grant(demo.rg_id(demo.target_rg), DISK_RESTORE_OPERATOR, demo.vault_principal,
                   str(uuid.uuid4()))
        return _get(demo, f"{scope(demo)}/providers/Microsoft.Authorization/roleAssignments",
                    AUTHZ)
    return observe


def _put_disk(body: dict[str, Any]) -> Callable[[Demo], Observed]:
    def observe(demo: Demo) -> Observed:
        path = f"{demo.disk_id(demo.target_rg, 'fidelity-disk')}?api-version={DISKS}"
        first = demo.raw("PUT", path, body)
        demo.clock.advance(10)
        again = demo.raw("PUT", path, body)
        return {str(first[0]): first[1:], str(again[0]): again[1:]}
    return observe


def _put_disk_from_snapshot(demo: Demo) -> Observed:
    """A disk copied from a snapshot azsim holds (a Copy of a missing source is a 404)."""
    snapshot = f"{demo.rg_id(demo.target_rg)}/providers/Microsoft.Compute/snapshots/mySnapshot"
    demo.raw("PUT", f"{snapshot}?api-version={DISKS}", {"location": "westeurope", "properties": {
        "creationData": {"createOption": "Copy",
                         "sourceResourceId": demo.disk_id(demo.app_rg, "vm-app01-data0")}}})
    demo.clock.advance(10)
    return _put_disk({"location": "westeurope", "properties": {"creationData": {
        "createOption": "Copy", "sourceResourceId": snapshot}}})(demo)


def _newest_backup_snapshot(demo: Demo, disk: str) -> str:
    """The id of the incremental snapshot Backup took of `disk` last (in rg-snapshots)."""
    _, _, listed = demo.raw("GET", f"{demo.rg_id('rg-snapshots')}/providers/Microsoft.Compute/"
                                   f"snapshots?api-version={DISKS}")
    mine = [s for s in listed["value"] if s["properties"]["creationData"]["sourceResourceId"]
            .lower() == demo.disk_id(demo.app_rg, disk).lower()]
    return max(mine, key=lambda s: s["properties"]["timeCreated"])["id"]


def _delete_disk(demo: Demo) -> Observed:
    path = f"{demo.disk_id(demo.target_rg, 'fidelity-disk')}?api-version={DISKS}"
    demo.raw("PUT", path, {"location": "westeurope", "properties": {
        "creationData": {"createOption": "Empty"}, "diskSizeGB": 32}})
    demo.clock.advance(10)
    first = demo.raw("DELETE", path)
    demo.clock.advance(10)
    second = demo.raw("DELETE", path)
    return {str(first[0]): first[1:], str(second[0]): second[1:]}


def _vm_path(demo: Demo, suffix: str = "") -> str:
    return f"{demo.rg_id(demo.app_rg)}/providers/Microsoft.Compute/virtualMachines/vm-app01{suffix}"


def _empty_disks(demo: Demo, *names: str, cmk: bool = False) -> list[str]:
    des = f"{demo.rg_id('rg-keys')}/providers/Microsoft.Compute/diskEncryptionSets/des-cmk"
    ids = []
    for name in names:
        props: dict[str, Any] = {"creationData": {"createOption": "Empty"}, "diskSizeGB": 32}
        if cmk:
            props["encryption"] = {"diskEncryptionSetId": des}
        demo.raw("PUT", f"{demo.disk_id(demo.app_rg, name)}?api-version={DISKS}",
                 {"location": "westeurope", "sku": {"name": "Premium_LRS"}, "properties": props})
        ids.append(demo.disk_id(demo.app_rg, name))
    demo.clock.advance(10)
    return ids


def _attach_detach(maximum: bool) -> Callable[[Demo], Observed]:
    def observe(demo: Demo) -> Observed:
        new = _empty_disks(demo, "attach-a", "attach-b", cmk=maximum)
        old = [demo.disk_id(demo.app_rg, n) for n in ("vm-app01-data0", "vm-app01-data1")]
        body: dict[str, Any] = {"dataDisksToAttach": [{"diskId": new[0]}],
                                "dataDisksToDetach": [{"diskId": old[0]}]}
        if maximum:
            body = {"dataDisksToAttach": [
                        {"lun": 4 + i, "diskId": d, "caching": "ReadOnly", "deleteOption": "Detach",
                         "writeAcceleratorEnabled": False} for i, d in enumerate(new)],
                    "dataDisksToDetach": [{"diskId": d, "detachOption": "ForceDetach"}
                                          for d in old]}
        status, headers, _ = demo.raw(
            "POST", f"{_vm_path(demo, '/attachDetachDataDisks')}?api-version={VM}", body)
        demo.clock.advance(60)
        final = demo.raw("GET", headers["Location"].removeprefix(demo.sim.endpoint))
        return {str(status): (headers, None), str(final[0]): final[1:]}
    return observe


def _power(action: str, query: str = "") -> Callable[[Demo], Observed]:
    def observe(demo: Demo) -> Observed:
        status, headers, body = demo.raw("POST", f"{_vm_path(demo, '/' + action)}"
                                                 f"?api-version={VM}{query}")
        return {str(status): (headers, body)}
    return observe


def _put_vm(demo: Demo) -> Observed:
    _, _, vm = demo.raw("GET", f"{_vm_path(demo)}?api-version={VM}")
    new = _empty_disks(demo, "put-attached")
    vm["properties"]["storageProfile"]["dataDisks"].append(
        {"lun": 5, "createOption": "Attach", "managedDisk": {"id": new[0]}})
    status, headers, body = demo.raw("PUT", f"{_vm_path(demo)}?api-version={VM}", vm)
    return {str(status): (headers, body)}


def _patch_detach(demo: Demo) -> Observed:
    _, _, vm = demo.raw("GET", f"{_vm_path(demo)}?api-version={VM}")
    disks = vm["properties"]["storageProfile"]["dataDisks"]
    disks[0]["toBeDetached"] = True
    status, headers, body = demo.raw("PATCH", f"{_vm_path(demo)}?api-version={VM}", {
        "properties": {"storageProfile": {"dataDisks": disks}}})
    return {str(status): (headers, body)}


def _create_group(demo: Demo) -> Observed:
    path, token = f"{demo.rg_id('my-resource-group')}?api-version={RG}", demo.token("operator")
    first = demo.raw("PUT", path, {"location": "eastus"}, token=token)
    again = demo.raw("PUT", path, {"location": "eastus"}, token=token)
    return {str(first[0]): first[1:], str(again[0]): again[1:]}


_DRO_PATH = "/providers/Microsoft.Authorization/roleDefinitions/" + DISK_RESTORE_OPERATOR
CASES: dict[str, tuple[Callable[[Demo], Observed], Callable[[Any], Any]]] = {
    "VaultCRUD__GetBackupVault.json": (
        lambda d: _get(d, _vault(d), DP), _hybrid(dp.BackupVaultResource)),
    "BackupInstanceOperations__GetBackupInstance.json": (
        lambda d: _get(d, _bi_path(d), DP), _hybrid(dp.BackupInstanceResource)),
    "BackupInstanceOperations__ListBackupInstances.json": (
        lambda d: _get(d, f"{_vault(d)}/backupInstances", DP), _hybrid(dp.BackupInstanceResource)),
    "BackupInstanceOperations__ListRecoveryPoints.json": (
        lambda d: _get(d, f"{_bi_path(d)}/recoveryPoints", DP),
        _hybrid(dp.AzureBackupRecoveryPointResource)),
    "BackupInstanceOperations__GetRecoveryPoint.json": (
        lambda d: _get(d, d.latest_point(d.backup_instance("vm-app01-data0").name).id, DP),
        _hybrid(dp.AzureBackupRecoveryPointResource)),
    "BackupInstanceOperations__ValidateRestore.json": (
        lambda d: _restore_lro(d, "validateRestore")[0], _hybrid(dp.OperationJobExtendedInfo)),
    "BackupInstanceOperations__TriggerRestore.json": (
        lambda d: _restore_lro(d, "restore")[0], _hybrid(dp.OperationJobExtendedInfo)),
    "GetOperationResult.json": (_operation_result, _hybrid(dp.OperationJobExtendedInfo)),
    "GetOperationStatusVaultContext.json": (_operation_status, _hybrid(dp.OperationResource)),
    "JobCRUD__GetJob.json": (_backup_job, _hybrid(dp.AzureBackupJobResource)),
    "JobCRUD__ListJobs.json": (
        lambda d: _get(d, f"{_vault(d)}/backupJobs", DP), _hybrid(dp.AzureBackupJobResource)),
    "Authorization__GetRoleDefinitionById.json": (
        lambda d: _get(d, f"/subscriptions/{d.sub}{_DRO_PATH}", AUTHZ),
        _msrest(authz.RoleDefinition)),
    "Authorization__GetRoleDefinitionByName.json": (
        lambda d: _get(d, f"{d.rg_id(d.target_rg)}{_DRO_PATH}", AUTHZ),
        _msrest(authz.RoleDefinition)),
    "Authorization__RoleAssignments_CreateForResourceGroup.json": (
        _create_assignment, _msrest(authz.RoleAssignment)),
    "Authorization__RoleAssignments_Get.json": (_get_assignment, _msrest(authz.RoleAssignment)),
    "Authorization__RoleAssignments_Delete.json": (
        _delete_assignment, _msrest(authz.RoleAssignment)),
    "Authorization__RoleAssignments_ListForScope.json": (
        _list_assignments(lambda d: f"/subscriptions/{d.sub}"), _msrest(authz.RoleAssignment)),
    "Authorization__RoleAssignments_ListForResourceGroup.json": (
        _list_assignments(lambda d: d.rg_id(d.target_rg)), _msrest(authz.RoleAssignment)),
    "Compute__DiskEncryptionSet_Get.json": (
        lambda d: _get(d, f"{d.rg_id('rg-keys')}/providers/Microsoft.Compute/diskEncryptionSets/"
                          "des-cmk", DISKS), _hybrid(compute.DiskEncryptionSet)),
    "Compute__Disk_Get.json": (
        lambda d: _get(d, d.disk_id(d.app_rg, "vm-app01-osdisk"), DISKS), _hybrid(compute.Disk)),
    "Compute__Disk_Create_Empty.json": (
        _put_disk({"location": "westeurope", "properties": {
            "creationData": {"createOption": "Empty"}, "diskSizeGB": 200}}), _hybrid(compute.Disk)),
    "Compute__Disk_Create_ByCopyingASnapshot.json": (
        _put_disk_from_snapshot, _hybrid(compute.Disk)),
    "Compute__Disk_Delete.json": (_delete_disk, _hybrid(compute.Disk)),
    "Compute__Snapshot_GetIncrementalSnapshot.json": (
        lambda d: _get(d, _newest_backup_snapshot(d, "vm-app01-osdisk"), DISKS),
        _hybrid(compute.Snapshot)),
    # Listed as the operator: the app may read disks only where the scenario grants it.
    "Compute__Disk_ListBySubscription.json": (
        lambda d: _get_as(d, f"/subscriptions/{d.sub}/providers/Microsoft.Compute/disks", DISKS),
        _hybrid(compute.Disk)),
    "Compute__Disk_ListByResourceGroup.json": (
        lambda d: _get_as(d, f"{d.rg_id(d.app_rg)}/providers/Microsoft.Compute/disks", DISKS),
        _hybrid(compute.Disk)),
    "Compute__Snapshot_ListByResourceGroup.json": (
        lambda d: _get(d, f"{d.rg_id('rg-snapshots')}/providers/Microsoft.Compute/snapshots",
                       DISKS), _hybrid(compute.Snapshot)),
    "Compute__VirtualMachine_Get.json": (
        lambda d: _get(d, _vm_path(d), VM), _hybrid(compute.VirtualMachine)),
    "Compute__VirtualMachine_Get_InstanceView.json": (
        lambda d: _get(d, _vm_path(d, "/instanceView"), VM),
        _hybrid(compute.VirtualMachineInstanceView)),
    "Compute__VirtualMachine_AttachDetachDataDisks_MaximumSet_Gen.json": (
        _attach_detach(maximum=True), _hybrid(compute.StorageProfile)),
    "Compute__VirtualMachine_AttachDetachDataDisks_MinimumSet_Gen.json": (
        _attach_detach(maximum=False), _hybrid(compute.StorageProfile)),
    "Compute__VirtualMachine_Deallocate_MaximumSet_Gen.json": (
        _power("deallocate", "&hibernate=true"), _hybrid(compute.VirtualMachine)),
    "Compute__VirtualMachine_Deallocate_MinimumSet_Gen.json": (
        _power("deallocate"), _hybrid(compute.VirtualMachine)),
    "Compute__VirtualMachine_Start_MaximumSet_Gen.json": (
        _power("start"), _hybrid(compute.VirtualMachine)),
    "Compute__VirtualMachine_Start_MinimumSet_Gen.json": (
        _power("start"), _hybrid(compute.VirtualMachine)),
    "Compute__VirtualMachine_Create_WithDataDisksFromSourceResource.json": (
        _put_vm, _hybrid(compute.VirtualMachine)),
    "Compute__VirtualMachine_Update_DetachDataDiskUsingToBeDetachedProperty.json": (
        _patch_detach, _hybrid(compute.VirtualMachine)),
    "Resources__CreateResourceGroup.json": (_create_group, _hybrid(resources.ResourceGroup)),
    "Compute__ResourceSkus_ListForARegion.json": (
        lambda d: _get(d, f"/subscriptions/{d.sub}/providers/Microsoft.Compute/skus",
                       "2021-07-01&%24filter=location%20eq%20%27westeurope%27"),
        _hybrid(compute.ResourceSku)),
}


def test_every_example_is_covered() -> None:
    assert {p.name for p in EXAMPLES.glob("*.json")} == set(CASES)
    assert set(DIFFERENCES) <= set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_response_matches_the_official_example(demo: Demo, name: str) -> None:
    observe, deserialize = CASES[name]
    found = compare(name, observe(demo), deserialize)
    assert found == set(DIFFERENCES.get(name, {})), f"{name}: differences {sorted(found)}"
