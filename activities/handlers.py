"""One function per activity: `handler(payload, gateway) -> JSON`. Each parses its input with the
domain types, makes one gateway call (planning makes the reads a plan needs) and returns plain
JSON. A permanent RestoreError is returned as {"error": {...}} so host retries are not spent on
it; transient and unexpected errors raise, and the orchestrator's retry policy takes over.
"""

from __future__ import annotations

import functools
from datetime import datetime
from collections.abc import Callable
from typing import Any

from domain import errors
from domain.access.access_policy import check_resolved
from domain.drills.selection import DRILL_TAG, EXPIRY_TAG, verify
from domain.model import Disk, Operation, RestorePlan, RoleGrant
from domain.restore.planning import build_plan
from domain.recovery.policy import Policy
from domain.recovery.admission import resolve
from domain.restore.request import RestoreRequest
from domain.recovery.signals import Signal
from gateway.port import ControlPlane

Handler = Callable[[Any, ControlPlane], Any]


def reported(handler: Handler) -> Handler:
    @functools.wraps(handler)
    def run(payload: Any, gateway: ControlPlane) -> Any:
        try:
            return handler(payload, gateway)
        except errors.RestoreError as exc:
            if exc.retryable:
                raise
            return {"error": exc.to_dict()}
    return run


@reported
def plan_restore(payload: dict[str, Any], gateway: ControlPlane) -> dict[str, Any]:
    config = payload["config"]
    request = RestoreRequest.from_dict(payload["request"])
    plan = build_plan(request, gateway, instance_id=payload["instanceId"],
                      created=payload["created"],
                      propagation_timeout_s=config["propagation_timeout_s"],
                      job_timeout_s=config["job_timeout_s"])
    check_resolved(payload.get("access"), plan.backup_instance.vault_id,
                   None if request.source_disk_id else plan.backup_instance.datasource_id)
    return plan.to_dict()


@reported
def grant_role(payload: dict[str, Any], gateway: ControlPlane) -> dict[str, Any]:
    return gateway.grant_role(RoleGrant.from_dict(payload)).to_dict()


@reported
def revoke_role(assignment_id: str, gateway: ControlPlane) -> bool:
    return gateway.revoke_role(assignment_id)


@reported
def start_validate_restore(payload: dict[str, Any], gateway: ControlPlane) -> dict[str, Any]:
    return gateway.start_validate_restore(RestorePlan.from_dict(payload)).to_dict()


@reported
def start_restore(payload: dict[str, Any], gateway: ControlPlane) -> dict[str, Any]:
    return gateway.start_restore(RestorePlan.from_dict(payload)).to_dict()


@reported
def get_operation(payload: dict[str, Any], gateway: ControlPlane) -> dict[str, Any]:
    return gateway.get_operation(Operation.from_dict(payload)).to_dict()


@reported
def find_restore_job(payload: dict[str, Any], gateway: ControlPlane) -> dict[str, Any] | None:
    job = gateway.find_restore_job(RestorePlan.from_dict(payload))
    return job.to_dict() if job else None


@reported
def get_restore_job(job_id: str, gateway: ControlPlane) -> dict[str, Any]:
    return gateway.get_restore_job(job_id).to_dict()


@reported
def get_vm(vm_id: str, gateway: ControlPlane) -> dict[str, Any]:
    vm = gateway.get_vm(vm_id)
    if vm is None:
        raise errors.VmNotFound(f"virtual machine {vm_id} does not exist")
    return vm.to_dict()


@reported
def start_attach_data_disk(payload: dict[str, Any], gateway: ControlPlane) -> dict[str, Any]:
    return gateway.start_attach_data_disk(payload["vmId"], payload["diskId"], payload["lun"],
                                          payload["caching"]).to_dict()


@reported
def start_deallocate_vm(payload: dict[str, Any], gateway: ControlPlane) -> dict[str, Any]:
    return gateway.start_deallocate_vm(payload["vmId"]).to_dict()


@reported
def start_set_os_disk(payload: dict[str, Any], gateway: ControlPlane) -> dict[str, Any]:
    return gateway.start_set_os_disk(payload["vmId"], payload["diskId"]).to_dict()


@reported
def start_start_vm(payload: dict[str, Any], gateway: ControlPlane) -> dict[str, Any]:
    return gateway.start_start_vm(payload["vmId"]).to_dict()


@reported
def start_delete_disk(payload: dict[str, Any], gateway: ControlPlane) -> dict[str, Any]:
    return gateway.start_delete_disk(payload["diskId"]).to_dict()


@reported
def resolve_recovery(payload: dict[str, Any], gateway: ControlPlane) -> dict[str, Any]:
    return resolve(Policy.from_dict(payload["policy"]), Signal.from_dict(payload["signal"]),
                   payload["runId"], gateway).to_dict()


@reported
def start_tag_disk(payload: dict[str, Any], gateway: ControlPlane) -> dict[str, Any]:
    return gateway.start_tag_disk(payload["diskId"], payload["tags"]).to_dict()


@reported
def verify_drill_disk(payload: dict[str, Any], gateway: ControlPlane) -> dict[str, Any]:
    source = Disk.from_dict(payload["source"]) if payload.get("source") else None
    checks, reason = verify(source, gateway.get_disk(payload["restoredDiskId"]))
    return {"checks": checks, "reason": reason}


@reported
def expired_drill_disks(payload: dict[str, Any], gateway: ControlPlane) -> list[str]:
    """Drill disks in the sandboxes whose expiry tag is before `now` and that no VM uses."""
    now = datetime.fromisoformat(payload["now"])
    return [d.id for sandbox in payload["sandboxes"] for d in gateway.list_disks(sandbox)
            if d.tags.get(DRILL_TAG) and not d.managed_by and _before(d.tags.get(EXPIRY_TAG), now)]


def _before(text: str | None, now: datetime) -> bool:
    try:
        return text is not None and datetime.fromisoformat(text) < now
    except ValueError:
        return False
