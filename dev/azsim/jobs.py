"""Backup vault jobs: the scenario's past backup jobs and the restore jobs `restore` starts.

A restore job is `InProgress` for the scenario's `restoreJob` duration, then `Completed` with
the new disk in the target resource group (or `Failed`, when a `jobFailure` fault was injected,
a same-name disk appeared meanwhile, or the backup instance had no restore left that day and the
scenario's `restoreLimitRefusal` is `job`: restore_limit.py).
"""

from __future__ import annotations

import copy
from typing import Any

from . import restore_limit
from .clock import iso
from .compute import PASSED_THROUGH, new_disk
from .dataprotection import JOB_TYPE, snapshot_of
from .errors import ArmError
from .state import SimState


def _job(state: SimState, bi: dict[str, Any], operation: str, start: float) -> dict[str, Any]:
    vault_id = bi["id"].split("/backupInstances/")[0]
    source = bi["properties"]["dataSourceInfo"]
    policy_id = bi["properties"]["policyInfo"]["policyId"]
    name = state.new_guid()
    parts = source["resourceID"].split("/")
    return {
        "id": f"{vault_id}/backupJobs/{name}", "name": name, "type": JOB_TYPE,
        "_start": start, "_end": start,
        "properties": {
            "activityID": state.new_guid(),
            "backupInstanceFriendlyName": bi["properties"]["friendlyName"],
            "backupInstanceId": bi["id"], "dataSourceId": source["resourceID"],
            "dataSourceLocation": source["resourceLocation"],
            "dataSourceName": source["resourceName"], "dataSourceSetName": None,
            "dataSourceType": source["datasourceType"], "duration": "PT0S",
            "startTime": iso(start), "endTime": None, "errorDetails": None,
            "extendedInfo": {"additionalDetails": {}, "subTasks": []},
            "isUserTriggered": operation == "Restore", "operation": operation,
            "operationCategory": operation, "policyId": policy_id,
            "policyName": policy_id.rsplit("/", 1)[-1], "progressEnabled": False,
            "progressUrl": None, "restoreType": None, "sourceResourceGroup": parts[4],
            "sourceSubscriptionID": parts[2], "status": "InProgress",
            "subscriptionId": vault_id.split("/")[2], "supportedActions": [""],
            "vaultName": vault_id.rsplit("/", 1)[-1], "sourceDataStoreType": "OperationalStore",
            "isCrossRegionRestore": False, "etag": None,
        },
    }


def completed_backup_job(state: SimState, bi: dict[str, Any], rp: dict[str, Any],
                         seconds: float) -> dict[str, Any]:
    """A finished scheduled backup that produced recovery point `rp`."""
    job = _job(state, bi, "Backup", rp["_time"] - seconds)
    props = job["properties"]
    job["_end"] = rp["_time"]
    props.update(status="Completed", endTime=iso(rp["_time"]), isUserTriggered=False)
    props["extendedInfo"] = {
        "additionalDetails": {"PolicyRuleName": "BackupDaily", "RetentionTag": "Default",
                              "TaskId": props["activityID"]},
        "subTasks": [{"taskId": 1, "taskName": "Trigger Backup", "taskStatus": "Completed"}],
    }
    return state.put(job)


def _restore_job(state: SimState, bi: dict[str, Any], rp: dict[str, Any], target_id: str,
                 start: float) -> dict[str, Any]:
    job = _job(state, bi, "Restore", start)
    job["properties"]["extendedInfo"] = {
        "additionalDetails": {}, "recoveryDestination": target_id,
        "sourceRecoverPoint": {"recoveryPointID": rp["name"],
                               "recoveryPointTime": rp["properties"]["recoveryPointTime"]},
        "subTasks": [{"taskId": 0, "taskName": "Trigger Restore", "taskStatus": "InProgress"}],
        "warningDetails": [],
    }
    return job


def completed_restore_job(state: SimState, bi: dict[str, Any], rp: dict[str, Any], start: float,
                          target_id: str) -> dict[str, Any]:
    """A restore made before the scenario starts (`pastRestores`): it counts toward the backup
    instance's restores of the day; its disk is not in the scenario."""
    job = _restore_job(state, bi, rp, target_id, start)
    _end(job, min(start + state.duration("restoreJob"), state.now()), None)
    return state.put(job)


def start_restore_job(state: SimState, bi: dict[str, Any], rp: dict[str, Any], target_id: str,
                      start: float) -> dict[str, Any]:
    limited = restore_limit.refusal(state, bi["id"], start, "job")  # before this job counts
    job = _restore_job(state, bi, rp, target_id, start)
    seconds = state.duration("restoreJob")
    fault = state.faults.draw("Microsoft.DataProtection/backupVaults/backupJobs/restore", "POST",
                              {"jobFailure"})
    state.put(job)
    state.critical_path.add("job", "Microsoft.DataProtection/backupVaults/backupJobs/restore",
                            job["id"], start, seconds)

    def finish(due: float) -> None:
        error = None
        if limited is not None:
            error = limited
        elif fault is not None:
            error = ArmError(400, fault.code or "UserErrorGenericError",
                             fault.message or "Injected restore job failure.",
                             extra=fault.extra())
        elif state.get(target_id) is not None:
            error = ArmError(400, "UserErrorSameNameDiskAlreadyExists", "Could not restore as a "
                             "Disk with same name already exists in the selected target "
                             "resource group")
        elif (snapshot := snapshot_of(state, rp)) is None:  # deleted while the job ran
            error = ArmError(400, "UserErrorDiskSnapshotNotFound",
                             "The disk snapshot for this Restore point has been deleted.")
        else:
            state.put(_restored_disk(state, snapshot, target_id))
        _end(job, due, error)

    state.schedule(start + seconds, finish)
    return job


def _end(job: dict[str, Any], due: float, error: ArmError | None) -> None:
    props = job["properties"]
    status = "Failed" if error else "Completed"
    job["_end"] = due
    props.update(status=status, endTime=iso(due))
    props["extendedInfo"]["subTasks"][0]["taskStatus"] = status
    if error:
        props["errorDetails"] = [{"isRetryable": False, **error.error_object(),
                                  "isUserError": True, "recommendedAction": []}]


def _restored_disk(state: SimState, snapshot: dict[str, Any], target_id: str
                   ) -> dict[str, Any]:
    """The new disk: region, size and encryption of the snapshot it is created from, the source
    disk's SKU (what the snapshot's backup recorded; an incremental snapshot itself is Standard
    storage); its zone as the scenario's `restoredDiskZone` says (Azure does not document it):
    none, or the source disk's; its securityProfile as `restoredDiskSecurityProfile` says: kept,
    or dropped. No tags, and export allowed from anywhere: the restore request carries neither
    and Azure does not document what a restored disk gets, so azsim gives the least kind answer
    (a private-link source comes back public)."""
    creation = {"createOption": "Copy", "sourceResourceId": snapshot["id"]}
    props = snapshot["properties"]
    disk = new_disk(state, target_id, snapshot["location"], snapshot["_sourceSku"],
                    props["diskSizeGB"], creation,
                    {k: copy.deepcopy(v) for k, v in props.items() if k in PASSED_THROUGH})
    disk["properties"].pop("diskAccessId", None)
    disk["properties"].update(networkAccessPolicy="AllowAll", publicNetworkAccess="Enabled")
    disk.pop("tags", None)
    # Whether the disk keeps the source's security type (Trusted Launch, Confidential VM) is not
    # documented either (restore-realities-2026.md 1.4): the scenario's
    # `restoredDiskSecurityProfile` says.
    if state.restored_disk_security_profile == "dropped":
        disk["properties"].pop("securityProfile", None)
    if state.restored_disk_zone == "source" and snapshot.get("_sourceZones"):
        disk["zones"] = list(snapshot["_sourceZones"])
    return disk
