"""The whole-VM restore request: validated fully at the edge like a single disk's, every bad field
named; one entry point reads either kind; its run id can never be a single disk's."""

from __future__ import annotations

import copy
import itertools
import re
from typing import Any

import pytest

from domain.errors import InvalidRequest
from domain.restore.request import REQUEST_SCHEMAS, RestoreRequest
from domain.restore.vm_request import VmRestoreRequest, is_vm_request, parse_restore_body

SUB = "00000000-0000-0000-0000-000000000001"
VM = f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm1"
DISK = f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/disks/d1"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-target"
GOOD: dict[str, Any] = {"source": {"vmId": VM}, "target": {"resourceGroupId": RG}}
DISK_BODY = {"source": {"diskId": DISK}, "target": {"resourceGroupId": RG, "diskName": "d1-r"}}


def fields(doc: Any) -> dict[str, str]:
    with pytest.raises(InvalidRequest) as info:
        VmRestoreRequest.from_dict(doc)
    return {e.field: e.message for e in info.value.errors}


def with_(**changes: Any) -> dict[str, Any]:
    """GOOD with top-level members replaced; `source_x` / `target_x` set source.x / target.x."""
    doc = copy.deepcopy(GOOD)
    for key, value in changes.items():
        part, _, member = key.partition("_")
        (doc[part] if member else doc)[member or key] = value
    return doc


def test_a_minimal_request_restores_every_disk_from_the_latest_point_and_replaces():
    request = VmRestoreRequest.from_dict(GOOD)
    assert request.vm_id == VM and request.target_resource_group_id == RG
    assert request.disks is None  # every protected disk
    assert request.recovery_point.kind == "latest"
    assert request.apply == "replace" and request.disk_name_suffix == "-restored"
    assert not request.dry_run and request.request_id is None and request.reason is None


def test_every_bad_field_is_reported_at_once():
    bad = fields({"requestId": "x y", "source": {"vmId": DISK, "disks": ["os", 64]},
                  "recoveryPoint": {"before": "yesterday"},
                  "target": {"resourceGroupId": VM, "diskNameSuffix": "-"},
                  "apply": "swap", "dryRun": "yes", "reason": " ", "colour": "blue"})
    assert set(bad) == {"requestId", "source.vmId", "source.disks[1]", "recoveryPoint.before",
                        "target.resourceGroupId", "target.diskNameSuffix", "apply", "dryRun",
                        "reason", "colour"}
    assert "Microsoft.Compute/disks" in bad["source.vmId"]
    assert bad["apply"] == "must be one of replace, none"


def test_a_recovery_point_id_is_refused_for_a_vm_saying_why():
    """An id is one backup instance's point: the VM's other disks have none of that id."""
    message = fields(with_(recoveryPoint={"id": "rp-1"}))["recoveryPoint.id"]
    assert "names one disk's point" in message and '"latest"' in message
    assert "before" in message
    # beside a time, the id is still the one named
    assert set(fields(with_(recoveryPoint={"id": "rp-1", "before": "2026-11-20T10:00:00Z"}))) \
        == {"recoveryPoint.id"}
    assert fields(with_(recoveryPoint="Latest")) == {
        "recoveryPoint": 'must be "latest" or {"before": "<ISO-8601 time>"}'}


def test_a_time_is_read_with_its_zone_and_kept_in_utc():
    doc = with_(recoveryPoint={"before": "2026-11-20T11:00:00+01:00"})
    request = VmRestoreRequest.from_dict(doc)
    assert (request.recovery_point.kind, request.recovery_point.value) == \
        ("before", "2026-11-20T10:00:00+00:00")
    assert "recoveryPoint.before" in fields(with_(recoveryPoint={"before": "2026-11-20T10:00"}))


def test_a_subset_of_disks_is_the_os_disk_and_luns_in_order_however_written():
    request = VmRestoreRequest.from_dict(with_(source_disks=[2, "os", 0.0]))
    assert request.disks == ("os", 0, 2)
    assert all(type(d) is int for d in request.disks[1:])
    assert VmRestoreRequest.from_dict(with_(source_disks=[3])).disks == (3,)
    assert VmRestoreRequest.from_dict(with_(source_disks=None)).disks is None


@pytest.mark.parametrize("disks, field", [
    ([], "source.disks"), ([0, 0], "source.disks"), (["os", "os"], "source.disks"),
    ([1, 1.0], "source.disks"), ("os", "source.disks"), ({"os": True}, "source.disks"),
    (["OS"], "source.disks[0]"), ([0, 64], "source.disks[1]"), ([-1], "source.disks[0]"),
    ([True], "source.disks[0]"), ([1.5], "source.disks[0]"), (["0"], "source.disks[0]"),
])
def test_a_bad_disk_choice_is_named(disks, field):
    assert field in fields(with_(source_disks=disks))


def test_each_bad_disk_of_a_list_is_named():
    assert set(fields(with_(source_disks=["os", "data", 70, 1, None]))) == \
        {"source.disks[1]", "source.disks[2]", "source.disks[4]"}


@pytest.mark.parametrize("suffix, ok", [
    ("-r1124", True), ("", True), ("_", True), ("a" * 79, True), ("-.x_", True),
    ("a" * 80, False), ("-", False), ("x.", False), (" x", False), ("é", False),
    ("x\n", False), (5, False), (None, False),
])
def test_the_disk_name_suffix_keeps_a_disk_name_valid(suffix, ok):
    doc = with_(target_diskNameSuffix=suffix)
    if ok:
        assert VmRestoreRequest.from_dict(doc).disk_name_suffix == suffix
    else:
        assert "target.diskNameSuffix" in fields(doc)


def test_a_single_disks_fields_in_a_vm_request_say_what_to_use_instead():
    bad = fields({**GOOD, "attach": {"vmId": VM, "mode": "replace"}, "swapOsDisk": {"vmId": VM},
                  "source": {"vmId": VM, "diskId": DISK},
                  "target": {"resourceGroupId": RG, "diskName": "x"}})
    assert "apply says what happens to the VM" in bad["attach"]
    assert "apply says what happens to the VM" in bad["swapOsDisk"]
    assert "unknown field" in bad["source.diskId"] and "vmId" in bad["source.diskId"]
    assert "diskNameSuffix" in bad["target.diskName"]
    # even null: a whole VM's request has no attach of its own
    assert "attach" in fields({**GOOD, "attach": None})


@pytest.mark.parametrize("doc, field", [
    ([], ""), ("text", ""), (None, ""), ({}, "source"), (with_(target=None), "target"),
    ({"source": {"vmId": VM}}, "target"), (with_(target={}), "target.resourceGroupId"),
    (with_(source={"vmId": None}), "source.vmId"), (with_(requestId="a" * 101), "requestId"),
    (with_(requestId="ticket-1\n"), "requestId"), (with_(reason="x" * 501), "reason"),
])
def test_each_kind_of_bad_input_names_its_field(doc, field):
    assert field in fields(doc)


# ---- one entry point for both kinds --------------------------------------------------------------
def test_the_body_says_which_kind_by_its_source():
    assert isinstance(parse_restore_body(GOOD), VmRestoreRequest)
    single = parse_restore_body(DISK_BODY)
    assert isinstance(single, RestoreRequest)
    assert single == RestoreRequest.from_dict(DISK_BODY)
    assert is_vm_request(GOOD) and not is_vm_request(DISK_BODY)
    assert not is_vm_request([]) and not is_vm_request({"source": "vmId"})


def test_a_single_disks_request_is_read_exactly_as_before_but_a_bad_source_names_vm_id():
    """RestoreRequest's own errors, except that a `source` of neither shape is told all three."""
    for doc in ({"target": {"resourceGroupId": RG}}, {**DISK_BODY, "source": {}},
                {**DISK_BODY, "source": {"diskId": DISK, "backupInstanceId": DISK}}):
        with pytest.raises(InvalidRequest) as via_body:
            parse_restore_body(doc)
        with pytest.raises(InvalidRequest) as direct:
            RestoreRequest.from_dict(doc)
        got = {e.field: e.message for e in via_body.value.errors}
        assert '{"vmId": "<VM ARM id>"}' in got["source"]
        assert {k: v for k, v in got.items() if k != "source"} == \
            {e.field: e.message for e in direct.value.errors if e.field != "source"}
    with pytest.raises(InvalidRequest) as info:
        parse_restore_body({**DISK_BODY, "attach": {"vmId": VM, "lun": 64}})
    assert [e.field for e in info.value.errors] == ["attach.lun"]


# ---- the run's id --------------------------------------------------------------------------------
def test_the_run_id_comes_from_request_id_with_a_prefix_of_its_own():
    assert VmRestoreRequest.from_dict(with_(requestId="ticket-42")).instance_id() == \
        "restorevm-ticket-42"
    assert VmRestoreRequest.from_dict(with_(requestId="ticket-42", dryRun=True)).instance_id() \
        == "dryrunvm-ticket-42"
    # the same requestId for one disk names another run: neither takes the other's place
    disk_run = RestoreRequest.from_dict({**DISK_BODY, "requestId": "ticket-42"}).instance_id()
    assert disk_run == "restore-ticket-42"
    assert not disk_run.startswith("restorevm-")


def test_the_same_request_names_the_same_run_however_it_is_written():
    a = VmRestoreRequest.from_dict(with_(source_disks=[0, "os"]))
    same = [
        with_(source={"vmId": VM.upper().replace("/SUBSCRIPTIONS/", "/subscriptions/"),
                      "disks": ["os", 0.0]}),
        with_(source_disks=["os", 0], reason="INC-1"),
        with_(source_disks=["os", 0], target_diskNameSuffix="-restored", apply="replace",
              recoveryPoint="latest", dryRun=False, schema=1),
    ]
    for doc in same:
        assert VmRestoreRequest.from_dict(doc).instance_id() == a.instance_id(), doc
    assert a.instance_id().startswith("restorevm-")
    assert re.fullmatch(r"restorevm-[0-9a-f]{24}", a.instance_id())


@pytest.mark.parametrize("change", [
    {"source_disks": ["os"]}, {"source_disks": None}, {"target_diskNameSuffix": "-r2"},
    {"apply": "none"}, {"recoveryPoint": {"before": "2026-11-20T10:00:00Z"}},
    {"target_resourceGroupId": f"/subscriptions/{SUB}/resourceGroups/other"},
])
def test_a_different_request_names_a_different_run(change):
    base = with_(source_disks=["os", 0])
    other = copy.deepcopy(base)
    for key, value in change.items():
        part, _, member = key.partition("_")
        (other[part] if member else other)[member or key] = value
    assert VmRestoreRequest.from_dict(other).instance_id() != \
        VmRestoreRequest.from_dict(base).instance_id()


def test_a_dry_run_never_takes_the_real_runs_id():
    real = VmRestoreRequest.from_dict(GOOD).instance_id()
    dry = VmRestoreRequest.from_dict(with_(dryRun=True)).instance_id()
    assert dry.startswith("dryrunvm-") and dry != real


# ---- stored and compared -------------------------------------------------------------------------
def test_round_trip_through_to_dict():
    doc = with_(requestId="r1", recoveryPoint={"before": "2026-11-20T10:00:00Z"},
                source_disks=[1, "os"], target_diskNameSuffix="-r1124", apply="none",
                dryRun=True, reason=" INC-1 ")
    request = VmRestoreRequest.from_dict(doc)
    stored = request.to_dict()
    assert stored["schema"] == 1 and stored["source"]["disks"] == ["os", 1]
    assert stored["reason"] == "INC-1"
    assert VmRestoreRequest.from_dict(stored) == request
    assert parse_restore_body(stored) == request
    plain = VmRestoreRequest.from_dict(GOOD)
    assert "disks" not in plain.to_dict()["source"]
    assert VmRestoreRequest.from_dict(plain.to_dict()) == plain


def test_differences_name_every_field_that_differs_but_not_the_reason():
    a = VmRestoreRequest.from_dict(with_(requestId="t", source_disks=["os"], reason="one"))
    b = VmRestoreRequest.from_dict(with_(requestId="t", source_disks=["os", 1], apply="none",
                                         reason="another"))
    assert {d.field for d in a.differences(b)} == {"source.disks", "apply"}
    same_ids = VmRestoreRequest.from_dict(with_(
        requestId="t", source={"vmId": VM.lower(), "disks": ["os"]}, reason="three"))
    assert a.differences(same_ids) == []
    message = next(d.message for d in a.differences(b) if d.field == "apply")
    assert "'replace'" in message and "'none'" in message


# ---- the schema the document publishes agrees with the parser ------------------------------------
def _accepted(body: Any) -> bool:
    try:
        parse_restore_body(body)
    except InvalidRequest:
        return False
    return True


POOLS: dict[str, list[Any]] = {
    "source": [{"vmId": VM}, {"vmId": VM, "disks": ["os", 1]}, {"vmId": VM, "disks": []},
               {"vmId": VM, "disks": None}, {"vmId": DISK}, {"diskId": DISK}, {}, None, 5,
               {"vmId": VM, "diskId": DISK}, {"backupInstanceId": DISK}],
    "recoveryPoint": ["latest", {"id": "x"}, {"before": "2026-11-20T10:00:00Z"}, "x", None,
                      {"before": "x"}],
    "target": [{"resourceGroupId": RG}, {"resourceGroupId": RG, "diskName": "d"},
               {"resourceGroupId": RG, "diskNameSuffix": "-x"}, {}, None],
    "apply": ["replace", "none", "x", None],
    "attach": [{"vmId": VM}, None],
    "dryRun": [True, "x"],
}


def _bodies() -> list[Any]:
    keys = sorted(POOLS)
    bodies: list[Any] = [[], "x", None, {}]
    for key in keys:  # each field alone, each value, and dropped
        for value in [*POOLS[key], "<drop>"]:
            body = copy.deepcopy(GOOD)
            if value == "<drop>":
                body.pop(key, None)
            else:
                body[key] = copy.deepcopy(value)
            bodies.append(body)
    for a, b in itertools.product(POOLS["source"], POOLS["target"]):  # the kinds crossed
        bodies.append({"source": a, "target": b})
    return bodies


def test_the_restore_body_schema_accepts_exactly_what_parse_restore_body_accepts():
    """RestoreBody (the document's union of the two kinds) is the app's reading of a body."""
    bodies = _bodies()
    problems = [body for body in bodies
                if (not REQUEST_SCHEMAS.errors("RestoreBody", body)) != _accepted(body)]
    accepted = sum(map(_accepted, bodies))
    assert not problems and 10 < accepted < len(bodies) - 10, problems
