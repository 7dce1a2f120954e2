"""The records at every orchestration and activity boundary: one wire convention (camelCase),
and JSON that reads back to the same record."""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path

from domain.access.access_policy import Caller, RunAccess
from domain.model import AttachPlan, Record, RecoveryPoint, wire_name
from domain.restore.request import RestoreRequest
from domain.restore.restore_run import (
    ApprovalRequest,
    AssignmentReport,
    RestoreInput,
    RestoreOutcome,
    RunSettings,
)

ROOT = Path(__file__).resolve().parents[2]
SUB = "/subscriptions/00000000-0000-0000-0000-000000000001"
SETTINGS = RunSettings(1800, 14400, 20.0, 10.0, 5.0)


def _records() -> list[type[Record]]:
    for path in sorted((ROOT / "domain").rglob("*.py")):
        importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
    found, todo = [], list(Record.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return found


def test_field_names_become_camel_case_keys():
    assert [wire_name(n) for n in ("id", "size_gb", "job_timeout_s", "backup_instance_id")] == \
        ["id", "sizeGb", "jobTimeoutS", "backupInstanceId"]


def test_every_record_writes_camel_case_keys_none_of_them_twice():
    records = _records()
    assert len(records) > 40
    for cls in records:
        keys = [wire_name(f.name) for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        assert all("_" not in k for k in keys) and len(set(keys)) == len(keys), cls


def test_a_restore_input_reads_back_as_the_same_record():
    request = RestoreRequest.from_dict({
        "requestId": "r1", "source": {"diskId": f"{SUB}/resourceGroups/rg/providers/"
                                                "Microsoft.Compute/disks/d"},
        "target": {"resourceGroupId": f"{SUB}/resourceGroups/rg-t", "diskName": "d-copy"},
        "attach": {"vmId": f"{SUB}/resourceGroups/rg/providers/Microsoft.Compute/"
                           "virtualMachines/vm", "lun": 2}})
    doc = RestoreInput(request, SETTINGS, Caller("user", "oid", "alice"),
                       RunAccess("policy", "team", [{"name": "team", "vaults": ["*"]}]),
                       why="INC-1", approval=ApprovalRequest(60))
    wire = json.loads(json.dumps(doc.to_dict()))
    assert set(wire) == {"request", "settings", "requestedBy", "access", "why", "approval",
                         "deferVmChange"}
    assert wire["settings"] == {"propagationTimeoutS": 1800, "jobTimeoutS": 14400,
                                "probeIntervalS": 20.0, "pollIntervalS": 10.0,
                                "operationPollS": 5.0}
    assert wire["request"] == request.to_dict()  # the public request schema, as it is
    assert RestoreInput.from_dict(wire) == doc


def test_an_outcome_leaves_out_what_the_run_did_not_do():
    outcome = RestoreOutcome(
        schema=1, id="restore-r1", outcome="Failed", restored_disk_id=None, job_id=None,
        recovery_point=RecoveryPoint("rp1", "2026-01-01T00:00:00+00:00"), phases={"plan": 1.0},
        role_assignments=[AssignmentReport("ra", "scope", "guid", False, "not revoked: x")],
        error={"code": "RestoreJobFailed", "message": "m", "hint": None})
    wire = outcome.to_dict()
    assert set(wire) == {"schema", "id", "outcome", "restoredDiskId", "jobId", "recoveryPoint",
                         "phases", "roleAssignments", "error"}
    assert wire["roleAssignments"] == [{"id": "ra", "scope": "scope", "role": "guid",
                                        "preExisting": False, "revoked": "not revoked: x"}]
    attached = dataclasses.replace(outcome, attach=AttachPlan("vm", 3, "None"))
    assert attached.to_dict()["attach"] == {"vmId": "vm", "lun": 3, "caching": "None"}
    assert RestoreOutcome.from_dict(json.loads(json.dumps(attached.to_dict()))) == attached
