"""The restore request is validated fully at the edge: every bad field is named."""

import re

import pytest

from domain.errors import InvalidRequest
from domain.restore.request import RestoreRequest

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


# ---- what the fuzzers (tests/fuzz) found ---------------------------------------------------------
def test_a_lun_written_as_a_whole_float_is_that_integer():
    """JSON has one number type (the OpenAPI document's integer takes 3.0): 3.0 was refused."""
    doc = {**GOOD, "attach": {"vmId": VM, "lun": 3.0}}
    request = RestoreRequest.from_dict(doc)
    assert request.attach.lun == 3 and isinstance(request.attach.lun, int)
    assert request.to_dict()["attach"]["lun"] == 3
    for bad in (3.5, 64.0, -1.0, float("inf")):
        with pytest.raises(InvalidRequest, match=re.escape("attach.lun")):
            RestoreRequest.from_dict({**doc, "attach": {"vmId": VM, "lun": bad}})


def test_json_nested_too_deeply_is_a_value_error_not_a_recursion_error():
    """json.loads raises RecursionError past the stack's depth: it escaped `except ValueError`."""
    from domain.restore.request import parse_json
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_json(b"[" * 100_000 + b"]" * 100_000)
    assert parse_json(b'{"a": [1]}') == {"a": [1]}
    with pytest.raises(ValueError):
        parse_json(b"{")


@pytest.mark.parametrize("field, doc", [
    ("requestId", {**GOOD, "requestId": "ticket-1\n"}),
    ("target.diskName", {**GOOD, "target": {"resourceGroupId": RG, "diskName": "d1\n"}}),
])
def test_a_final_newline_is_not_part_of_a_valid_name(field, doc):
    """re's "$" matches before a final newline: "ticket-1\\n" was a valid requestId, and the run
    id restore-ticket-1\\n broke the Durable SDK's URLs (a 500)."""
    assert field in fields(doc)


def test_a_time_before_the_first_utc_time_is_out_of_range_not_an_overflow():
    """0001-01-01T00:00+01:00 has no UTC equivalent: astimezone raised OverflowError (a 500, and a
    queue message retried five times)."""
    doc = {**GOOD, "recoveryPoint": {"before": "0001-01-01T00:00:00+01:00"}}
    assert fields(doc) == {"recoveryPoint.before": "is out of range"}


@pytest.mark.parametrize("bad", [
    "/subscriptions/6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6/resourceGroups/rg\n",
    "/subscriptions/6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6\n/resourceGroups/rg",
])
def test_a_final_newline_in_an_id_part_is_not_a_valid_id(bad):
    """$ matches before a final newline: the parts are matched to their very end."""
    from domain.resource_id import InvalidResourceId, ResourceId
    with pytest.raises(InvalidResourceId):
        ResourceId.parse(bad)


def test_a_member_of_swap_or_attach_is_named_like_any_other():
    """The schema's alternatives (an object or null) are judged by the value's type: inside
    the object, each bad member is named (swapOsDisk was refused whole before, attach was not)."""
    assert fields({**GOOD, "swapOsDisk": {"vmId": VM, "x": 1}}) == {"swapOsDisk.x": "unknown field"}
    assert fields({**GOOD, "attach": {"lun": 1}}) == {"attach.vmId": "is required"}
    assert fields({**GOOD, "attach": 5}) == {
        "attach": 'must be {"vmId": "<ARM id>", "lun": <int>, "caching": "..."} or '
                  '{"vmId": "<ARM id>", "mode": "replace"}'}



def test_a_request_id_sent_again_with_another_reason_is_the_same_request():
    """docs/restore.md: a requestId sent again with a different request is refused, "the
    `reason` aside". A run started with a reason, sent again with another (or none), was
    refused as RequestIdReused naming `reason`."""
    first = RestoreRequest.from_dict({**GOOD, "requestId": "t", "reason": "INC-1"})
    again = RestoreRequest.from_dict({**GOOD, "requestId": "t", "reason": "INC-1, again"})
    assert first.differences(again) == []
