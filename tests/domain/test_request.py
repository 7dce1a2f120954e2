"""The restore request is validated fully at the edge: every bad field is named."""

import pytest

from domain.errors import InvalidRequest
from domain.request import RestoreRequest

SUB = "00000000-0000-0000-0000-000000000001"
DISK = f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/disks/d1"
VM = f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm1"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-target"
GOOD = {"source": {"diskId": DISK}, "target": {"resourceGroupId": RG, "diskName": "d1-restored"}}


def fields(doc) -> dict[str, str]:
    with pytest.raises(InvalidRequest) as info:
        RestoreRequest.from_dict(doc)
    return {e.field: e.message for e in info.value.errors}


def test_a_minimal_request_defaults_to_the_latest_point_and_no_attach():
    request = RestoreRequest.from_dict(GOOD)
    assert request.recovery_point.kind == "latest"
    assert request.attach is None and request.swap_vm_id is None and not request.dry_run
    assert request.target_disk_id == f"{RG}/providers/Microsoft.Compute/disks/d1-restored"


def test_every_bad_field_is_reported_at_once():
    bad = fields({"source": {"diskId": VM}, "recoveryPoint": {"before": "yesterday"},
                  "target": {"resourceGroupId": DISK, "diskName": "-x"},
                  "attach": {"vmId": VM, "lun": 64, "caching": "Sometimes"},
                  "swapOsDisk": {"vmId": VM}, "dryRun": "yes", "colour": "blue"})
    assert set(bad) == {"source.diskId", "recoveryPoint.before", "target.resourceGroupId",
                        "target.diskName", "attach.lun", "attach.caching", "swapOsDisk",
                        "dryRun", "colour"}
    assert "virtualMachines" in bad["source.diskId"]
    assert "cannot be combined with attach" in bad["swapOsDisk"]


@pytest.mark.parametrize("doc, field", [
    ([], ""), ("text", ""), ({}, "source"), ({**GOOD, "source": {}}, "source"),
    ({**GOOD, "source": {"diskId": DISK, "backupInstanceId": DISK}}, "source"),
    ({**GOOD, "recoveryPoint": "newest"}, "recoveryPoint"),
    ({**GOOD, "recoveryPoint": {"id": ""}}, "recoveryPoint"),
    ({**GOOD, "recoveryPoint": {"before": "2026-01-01T00:00:00"}}, "recoveryPoint.before"),
    ({**GOOD, "target": None}, "target"),
    ({**GOOD, "requestId": "has spaces"}, "requestId"),
    ({**GOOD, "source": {"diskId": "/subscriptions/not-a-guid/resourceGroups/x"}}, "source.diskId"),
])
def test_each_kind_of_bad_input_names_its_field(doc, field):
    assert field in fields(doc)


def test_the_instance_id_comes_from_request_id_or_a_hash_of_the_request():
    assert RestoreRequest.from_dict({**GOOD, "requestId": "ticket-42"}).instance_id() == \
        "restore-ticket-42"
    a = RestoreRequest.from_dict(GOOD).instance_id()
    assert a == RestoreRequest.from_dict(dict(GOOD)).instance_id()
    other = {**GOOD, "target": {"resourceGroupId": RG, "diskName": "other"}}
    assert a != RestoreRequest.from_dict(other).instance_id()


def test_a_dry_run_never_takes_the_real_runs_id():
    """Planning first with the same requestId must leave the real run's id free."""
    plan = RestoreRequest.from_dict({**GOOD, "requestId": "ticket-42", "dryRun": True})
    assert plan.instance_id() == "dryrun-ticket-42"
    assert RestoreRequest.from_dict({**GOOD, "dryRun": True}).instance_id().startswith("dryrun-")


def test_round_trip_through_to_dict():
    doc = {**GOOD, "requestId": "r1", "recoveryPoint": {"before": "2026-11-20T10:00:00Z"},
           "attach": {"vmId": VM, "lun": 3, "caching": "ReadOnly"}, "dryRun": True}
    request = RestoreRequest.from_dict(doc)
    assert RestoreRequest.from_dict(request.to_dict()) == request
