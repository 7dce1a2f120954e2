"""Recovery policies: every problem in the file is named by its path; matching explains itself."""

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from domain.errors import RestoreError
from domain.objectives import Objectives
from domain.recovery.policy import (
    ACTIONS,
    SCHEMA_VERSION,
    Action,
    AttachTo,
    Policies,
    Policy,
    PolicyError,
    Rejection,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "recovery-policies.example.json"
SUB = "00000000-0000-0000-0000-000000000001"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-prod"
RG2 = f"/subscriptions/{SUB}/resourceGroups/rg-other"
VM = f"{RG}/providers/Microsoft.Compute/virtualMachines/vm1"
DISK = f"{RG}/providers/Microsoft.Compute/disks/d1"
DELETED = "Microsoft.Resources.ResourceDeleteSuccess"
ARN_DELETED = "Microsoft.ResourceNotifications.Resources.Deleted"
WRITE = "Microsoft.Resources.ResourceWriteSuccess"
ALERT = "azureMonitorCommonAlertSchema"
HEALTH = "Microsoft.ResourceNotifications.HealthResources.AvailabilityStatusChanged"


@dataclass(frozen=True)
class Sig:
    event_type: str
    resource_id: str
    resource_type: str
    resource_group_id: str
    details: dict[str, Any] = field(default_factory=dict)


def deleted_disk(name="deleted-disk", **match) -> dict:
    return {"name": name, "match": {"eventTypes": [DELETED], "resourceTypes":
                                    ["Microsoft.Compute/disks"], **match},
            "action": {"type": "restoreDeletedDisk"}}


def os_swap(name="os-swap", **match) -> dict:
    return {"name": name, "match": {"eventTypes": [HEALTH], "resourceTypes":
                                    ["Microsoft.Compute/virtualMachines"], **match},
            "action": {"type": "restoreOsDiskAndSwap"}}


def alert(name="alert", **match) -> dict:
    return {"name": name, "match": {"eventTypes": [ALERT], "resourceTypes":
                                    ["Microsoft.Compute/virtualMachines"], **match},
            "action": {"type": "restoreDataDisksAndAttach"}}


def doc(*policies, **top) -> dict:
    return {"version": 1, "policies": list(policies), **top}


def problems(document) -> dict[str, str]:
    with pytest.raises(PolicyError) as info:
        Policies.parse(document)
    errors = info.value.errors
    assert info.value.message == "; ".join(f"{e.field}: {e.message}" for e in errors)
    return {e.field: e.message for e in errors}


# --- the file --------------------------------------------------------------------------------

def test_the_example_file_loads_with_its_three_policies():
    policies = Policies.load(EXAMPLE)
    assert policies.version == SCHEMA_VERSION == 1 and policies.max_concurrent_recoveries == 3
    disk, swap, data = policies.policies
    assert [p.action.type for p in policies.policies] == list(ACTIONS[:3])
    assert disk.action.attach_to == AttachTo(
        f"{RG}/providers/Microsoft.Compute/virtualMachines/vm-prod-app01", 2, "ReadOnly")
    assert disk.match.resource_groups == (RG,)
    assert swap.approval.required and swap.match.availability_states == ("Unavailable",)
    assert swap.match.tags == {"recovery": "auto"}
    assert data.match.alert_rules == ("vm-data-corruption",)
    assert data.match.severities == ("Sev0", "Sev1") and data.approval.timeout_minutes == 120
    assert disk.objectives.for_tags(None) == Objectives(30, 26.0) and swap.objectives.empty
    assert data.objectives.for_tags({"TIER": "gold"}) == Objectives(90, 4.0)


def test_policies_round_trip_through_to_dict_and_back_into_a_file():
    policies = Policies.load(EXAMPLE)
    for policy in policies.policies:
        assert Policy.from_dict(policy.to_dict()) == policy
    again = Policies.parse(doc(*(p.to_dict() for p in policies.policies),
                               maxConcurrentRecoveries=3))
    assert again == policies
    raw = json.loads(EXAMPLE.read_text())["policies"][2]
    assert policies.policies[2].to_dict() == raw  # the same shape as the file entry


def test_defaults_and_an_empty_policy_list():
    empty = Policies.parse(doc())
    assert empty.policies == () and empty.max_concurrent_recoveries == 3
    policy = Policies.parse(doc(alert())).policies[0]
    assert policy.description == "" and policy.action == Action("restoreDataDisksAndAttach")
    assert not policy.approval.required and policy.approval.timeout_minutes == 60
    assert (policy.limits.runs_per_resource_per_hour, policy.limits.cooldown_minutes) == (1, 60)
    assert policy.match.monitor_conditions == ("Fired",)
    assert Policies.parse(doc(maxConcurrentRecoveries=50)).max_concurrent_recoveries == 50


def test_resource_groups_are_canonicalised():
    guid = "abcdef00-0000-0000-0000-00000000000a"
    group = f"/SUBSCRIPTIONS/{guid.upper()}/RESOURCEGROUPS/Rg-Prod/"
    named = "/subscriptions/s/resourceGroups/x"  # a subscription name, as in hand-written ids
    policy = Policies.parse(doc(deleted_disk(resourceGroups=[group, named])))
    assert policy.policies[0].match.resource_groups == (
        f"/subscriptions/{guid}/resourceGroups/Rg-Prod", "/subscriptions/s/resourceGroups/x")
    shouting_vm = VM.replace("/subscriptions/", "/SUBSCRIPTIONS/").replace(SUB, guid.upper())
    attach = Policies.parse(with_policy(deleted_disk(), "action.attachTo", {"vmId": shouting_vm}))
    assert attach.policies[0].action.attach_to.vm_id == VM.replace(SUB, guid)


# --- validation: each rule names its field ----------------------------------------------------

def with_policy(policy: dict, path: str, value) -> dict:
    """The policy with the value at a dotted path set (None deletes it)."""
    policy = copy.deepcopy(policy)
    *parents, last = path.split(".")
    node = policy
    for key in parents:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return doc(policy)


P = "policies[0] (deleted-disk)"
S = "policies[0] (os-swap)"
A = "policies[0] (alert)"
BAD_PATHS = [
    # names
    (with_policy(deleted_disk(), "name", "Has_Caps"), "policies[0].name", "lowercase"),
    (with_policy(deleted_disk(), "name", None), "policies[0].name", "lowercase"),
    (with_policy(deleted_disk(), "name", "a" * 64), "policies[0].name", "1-63"),
    (with_policy(deleted_disk(), "description", 5), f"{P}.description", "string"),
    # unknown fields anywhere
    (with_policy(deleted_disk(), "colour", "red"), f"{P}.colour", "unknown field"),
    (with_policy(deleted_disk(), "match.resourceType", ["x"]), f"{P}.match.resourceType",
     "unknown field"),
    (with_policy(deleted_disk(), "action.vm", VM), f"{P}.action.vm", "unknown field"),
    (with_policy(deleted_disk(), "action.attachTo", {"vmId": VM, "port": 1}),
     f"{P}.action.attachTo.port", "unknown field"),
    (with_policy(deleted_disk(), "approval.by", "me"), f"{P}.approval.by", "unknown field"),
    (with_policy(deleted_disk(), "limits.perDay", 3), f"{P}.limits.perDay", "unknown field"),
    # match
    (with_policy(deleted_disk(), "match", None), f"{P}.match", "is required"),
    (with_policy(deleted_disk(), "match", []), f"{P}.match", "object"),
    (with_policy(deleted_disk(), "match.eventTypes", None), f"{P}.match.eventTypes", "non-empty"),
    (with_policy(deleted_disk(), "match.eventTypes", []), f"{P}.match.eventTypes", "non-empty"),
    (with_policy(deleted_disk(), "match.eventTypes", DELETED), f"{P}.match.eventTypes", "list"),
    (with_policy(deleted_disk(), "match.eventTypes", [DELETED, ""]),
     f"{P}.match.eventTypes[1]", "non-empty string"),
    (with_policy(deleted_disk(), "match.eventTypes", [DELETED, 7]),
     f"{P}.match.eventTypes[1]", "non-empty string"),
    (with_policy(deleted_disk(), "match.resourceTypes", None), f"{P}.match.resourceTypes",
     "non-empty"),
    (with_policy(deleted_disk(), "match.resourceTypes", ["disks"]),
     f"{P}.match.resourceTypes[0]", "Microsoft.Compute/disks"),
    (with_policy(os_swap(), "match.resourceTypes",
                 ["Microsoft.Compute/virtualMachines", "Compute/vm"]),
     f"{S}.match.resourceTypes[1]", "resource type"),
    (with_policy(deleted_disk(), "match.resourceGroups", [RG, "rg-prod"]),
     f"{P}.match.resourceGroups[1]", "resource group id"),
    (with_policy(deleted_disk(), "match.resourceGroups", [DISK]),
     f"{P}.match.resourceGroups[0]", "resource group id"),
    (with_policy(deleted_disk(), "match.resourceGroups", RG), f"{P}.match.resourceGroups",
     "list"),
    (with_policy(os_swap(), "match.tags", ["env"]), f"{S}.match.tags", "object"),
    (with_policy(os_swap(), "match.tags", {"env": 1}), f"{S}.match.tags.env", "string"),
    (with_policy(os_swap(), "match.tags", {"Env": "a", "env": "b"}), f"{S}.match.tags.env",
     "case-insensitive"),
    (with_policy(alert(), "match.severities", ["Sev0", "Sev5"]), f"{A}.match.severities[1]",
     "Sev0, Sev1, Sev2, Sev3, Sev4"),
    (with_policy(alert(), "match.severities", ["sev0"]), f"{A}.match.severities[0]", "Sev0"),
    (with_policy(alert(), "match.monitorConditions", ["Active"]),
     f"{A}.match.monitorConditions[0]", "Fired, Resolved"),
    (with_policy(alert(), "match.monitorConditions", []), f"{A}.match.monitorConditions",
     "non-empty"),
    (with_policy(alert(), "match.alertRules", [""]), f"{A}.match.alertRules[0]", "non-empty"),
    (with_policy(os_swap(), "match.availabilityStates", ["Down"]),
     f"{S}.match.availabilityStates[0]", "Unavailable"),
    # conditions that need a particular event type
    (with_policy(deleted_disk(), "match.tags", {"env": "prod"}), f"{P}.match.tags",
     "deletion events carry no tags"),
    (with_policy(os_swap(), "match.alertRules", ["r"]), f"{S}.match.alertRules", ALERT),
    (with_policy(os_swap(), "match.severities", ["Sev0"]), f"{S}.match.severities", ALERT),
    (with_policy(os_swap(), "match.monitorConditions", ["Fired"]),
     f"{S}.match.monitorConditions", ALERT),
    (with_policy(alert(), "match.availabilityStates", ["Unavailable"]),
     f"{A}.match.availabilityStates", HEALTH),
    # action
    (with_policy(deleted_disk(), "action", None), f"{P}.action", "is required"),
    (with_policy(deleted_disk(), "action", {}), f"{P}.action.type", "restoreDeletedDisk, "),
    (with_policy(deleted_disk(), "action.type", "restoreEverything"), f"{P}.action.type",
     "must be one of"),
    (with_policy(os_swap(), "action.attachTo", {"vmId": VM}), f"{S}.action.attachTo",
     "only applies to restoreDeletedDisk"),
    (with_policy(deleted_disk(), "action.attachTo", {"vmId": DISK}),
     f"{P}.action.attachTo.vmId", "Microsoft.Compute/virtualMachines id"),
    (with_policy(deleted_disk(), "action.attachTo", {"vmId": "vm1"}),
     f"{P}.action.attachTo.vmId", "/subscriptions/"),
    (with_policy(deleted_disk(), "action.attachTo", {"lun": 1}),
     f"{P}.action.attachTo.vmId", "is required"),
    (with_policy(deleted_disk(), "action.attachTo", {"vmId": VM, "lun": 64}),
     f"{P}.action.attachTo.lun", "0 to 63"),
    (with_policy(deleted_disk(), "action.attachTo", {"vmId": VM, "lun": True}),
     f"{P}.action.attachTo.lun", "0 to 63"),
    (with_policy(deleted_disk(), "action.attachTo", {"vmId": VM, "caching": "readonly"}),
     f"{P}.action.attachTo.caching", "None, ReadOnly, ReadWrite"),
    # action / match consistency
    (with_policy(deleted_disk(), "match.resourceTypes", ["Microsoft.Compute/virtualMachines"]),
     f"{P}.match.resourceTypes", "needs exactly [Microsoft.Compute/disks]"),
    (with_policy(deleted_disk(), "match.resourceTypes",
                 ["Microsoft.Compute/disks", "Microsoft.Compute/snapshots"]),
     f"{P}.match.resourceTypes", "needs exactly [Microsoft.Compute/disks]"),
    (with_policy(deleted_disk(), "match.eventTypes", [DELETED, WRITE]), f"{P}.match.eventTypes",
     f"not {WRITE}"),
    (with_policy(os_swap(), "match.resourceTypes", ["Microsoft.Compute/disks"]),
     f"{S}.match.resourceTypes", "needs exactly [Microsoft.Compute/virtualMachines]"),
    (with_policy(os_swap(), "match.eventTypes", [HEALTH, ARN_DELETED]), f"{S}.match.eventTypes",
     f"cannot act on deletion events ({ARN_DELETED})"),
    (with_policy(alert(), "match.eventTypes", [ALERT, DELETED.lower()]), f"{A}.match.eventTypes",
     "deletion"),
    # approval and limits
    (with_policy(deleted_disk(), "approval.required", "yes"), f"{P}.approval.required",
     "true or false"),
    (with_policy(deleted_disk(), "approval.timeoutMinutes", 4), f"{P}.approval.timeoutMinutes",
     "5 to 10080"),
    (with_policy(deleted_disk(), "approval.timeoutMinutes", 10081),
     f"{P}.approval.timeoutMinutes", "5 to 10080"),
    (with_policy(deleted_disk(), "approval", True), f"{P}.approval", "object"),
    (with_policy(deleted_disk(), "limits.runsPerResourcePerHour", 0),
     f"{P}.limits.runsPerResourcePerHour", "1 to 60"),
    (with_policy(deleted_disk(), "limits.runsPerResourcePerHour", 61),
     f"{P}.limits.runsPerResourcePerHour", "1 to 60"),
    (with_policy(deleted_disk(), "limits.cooldownMinutes", -1), f"{P}.limits.cooldownMinutes",
     "0 to 1440"),
    (with_policy(deleted_disk(), "limits.cooldownMinutes", 1441), f"{P}.limits.cooldownMinutes",
     "0 to 1440"),
    (with_policy(deleted_disk(), "limits.cooldownMinutes", 1.5), f"{P}.limits.cooldownMinutes",
     "integer"),
    # top level
    ({"policies": []}, "version", "supported versions: 1"),
    (doc(version=2), "version", "2 is not supported (supported versions: 1)"),
    (doc(version="1"), "version", "supported versions: 1"),
    (doc(version=True), "version", "supported versions: 1"),
    (doc(extra=1), "extra", "unknown field"),
    ({"version": 1}, "policies", "must be a list"),
    (doc(maxConcurrentRecoveries=0), "maxConcurrentRecoveries", "1 to 50"),
    (doc(maxConcurrentRecoveries=51), "maxConcurrentRecoveries", "1 to 50"),
    (doc(maxConcurrentRecoveries="3"), "maxConcurrentRecoveries", "1 to 50"),
    (doc("deleted-disk"), "policies[0]", "object"),
    ([], "", "JSON object"),
]


@pytest.mark.parametrize("document, path, words", BAD_PATHS)
def test_each_rule_names_the_field_it_breaks(document, path, words):
    found = problems(document)
    assert path in found, found
    assert words in found[path]


def test_duplicate_names_are_reported_on_the_later_entry():
    found = problems(doc(deleted_disk("same"), os_swap("other"), os_swap("same")))
    assert found == {"policies[2] (same).name": "duplicate name: also used by policies[0]"}


def test_every_problem_in_the_file_is_reported_at_once():
    bad_swap = os_swap("swap", tags={"env": 3}, severities=["Sev9"])
    bad_swap["limits"] = {"cooldownMinutes": 9999}
    bad_disk = deleted_disk("Disk", tags={"a": "b"})
    bad_disk["action"]["attachTo"] = {"vmId": DISK}
    found = problems({"version": 3, "maxConcurrentRecoveries": 99, "typo": 1,
                      "policies": [alert(), bad_swap, bad_disk, 7]})
    assert set(found) == {
        "version", "maxConcurrentRecoveries", "typo",
        "policies[1] (swap).match.tags.env", "policies[1] (swap).match.severities[0]",
        "policies[1] (swap).match.severities", "policies[1] (swap).limits.cooldownMinutes",
        "policies[2].name", "policies[2].match.tags", "policies[2].action.attachTo.vmId",
        "policies[3]"}


def test_the_error_is_a_restore_error_with_a_stable_code_and_data():
    with pytest.raises(PolicyError) as info:
        Policies.parse(doc(version=2, extra=1))
    error = info.value
    assert isinstance(error, RestoreError) and error.code == "InvalidPolicy"
    assert error.message == ("extra: unknown field; "
                             "version: 2 is not supported (supported versions: 1)")
    assert str(error).startswith("InvalidPolicy: extra: unknown field")
    assert error.to_dict()["errors"][0] == {"field": "extra", "message": "unknown field"}


def test_load_names_the_file_when_it_is_missing_not_json_or_invalid(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(PolicyError) as info:
        Policies.load(missing)
    assert str(missing) in str(info.value) and "not found" in str(info.value)

    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "version": 1,\n  "policies": [,]\n}\n')
    with pytest.raises(PolicyError) as info:
        Policies.load(str(broken))
    assert str(broken) in str(info.value) and "line 3, column 16" in str(info.value)

    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps(doc(version=9)))
    with pytest.raises(PolicyError) as info:
        Policies.load(invalid)
    assert [e.field for e in info.value.errors] == ["version"]
    assert info.value.hint == f"in {invalid}" and str(invalid) in str(info.value)


# --- matching --------------------------------------------------------------------------------

def disk_deleted(rg=RG, event=DELETED) -> Sig:
    return Sig(event, f"{rg}/providers/Microsoft.Compute/disks/d1", "Microsoft.Compute/disks", rg)


def vm_alert(**details) -> Sig:
    return Sig(ALERT, VM, "Microsoft.Compute/virtualMachines", RG,
               {"alertRule": "vm-data-corruption", "severity": "Sev1",
                "monitorCondition": "Fired", **details})


def test_a_deleted_disk_matches_the_example_and_the_rest_say_why_not():
    policies = Policies.load(EXAMPLE)
    found, rejected = policies.candidates(disk_deleted())
    assert [p.name for p in found] == ["prod-deleted-data-disk"]
    assert rejected == [
        Rejection("prod-vm-unavailable-os-swap", f"event type {DELETED} not in [{HEALTH}]"),
        Rejection("prod-data-corruption-alert", f"event type {DELETED} not in [{ALERT}]")]
    policy, why = policies.first_match(disk_deleted(), None)
    assert policy is found[0] and why == []


def test_ids_types_and_event_types_compare_case_insensitively():
    policies = Policies.parse(doc(deleted_disk(resourceGroups=[RG])))
    shouting = Sig(DELETED.upper(), DISK.upper(), "MICROSOFT.COMPUTE/DISKS", RG.upper() + "/")
    assert [p.name for p in policies.candidates(shouting)[0]] == ["deleted-disk"]


def test_rejection_reasons_name_the_value_and_what_was_wanted():
    policies = Policies.parse(doc(deleted_disk("by-rg", resourceGroups=[RG])))
    _, rejected = policies.candidates(disk_deleted(event=WRITE))
    assert rejected == [Rejection("by-rg", f"event type {WRITE} not in [{DELETED}]")]
    _, rejected = policies.candidates(disk_deleted(rg=RG2))
    assert rejected == [Rejection("by-rg", f"resource group {RG2} not in [{RG}]")]
    vm_deleted = Sig(DELETED, VM, "Microsoft.Compute/virtualMachines", RG)
    assert policies.candidates(vm_deleted)[1][0].reason == \
        "resource type Microsoft.Compute/virtualMachines not in [Microsoft.Compute/disks]"


def test_alert_conditions_rule_severity_and_monitor_condition():
    policies = Policies.parse(doc(alert(alertRules=["vm-data-corruption"],
                                        severities=["Sev0", "Sev1"])))
    assert policies.candidates(vm_alert())[0] == list(policies.policies)
    assert policies.candidates(vm_alert(alertRule="VM-Data-Corruption"))[0]  # ARM names
    reasons = [policies.candidates(s)[1][0].reason for s in (
        vm_alert(severity="Sev3"), vm_alert(monitorCondition="Resolved"),
        vm_alert(alertRule="cpu-high"), vm_alert(severity=None))]
    assert reasons == ["alert severity Sev3 not in [Sev0, Sev1]",
                       "monitor condition Resolved not in [Fired]",
                       "alert rule cpu-high not in [vm-data-corruption]",
                       "alert severity (missing) not in [Sev0, Sev1]"]
    resolved_too = Policies.parse(doc(alert(monitorConditions=["Fired", "Resolved"])))
    assert resolved_too.candidates(vm_alert(monitorCondition="Resolved"))[0]


def test_availability_states_are_checked_for_health_events():
    policies = Policies.parse(doc(os_swap(availabilityStates=["Unavailable"])))
    health = Sig(HEALTH, VM, "Microsoft.Compute/virtualMachines", RG,
                 {"availabilityState": "Degraded"})
    assert policies.candidates(health)[1] == [
        Rejection("os-swap", "availability state Degraded not in [Unavailable]")]
    ok = Sig(HEALTH, VM, "Microsoft.Compute/virtualMachines", RG,
             {"availabilityState": "Unavailable"})
    assert policies.candidates(ok)[0] == list(policies.policies)


def test_unknown_tags_skip_tagged_policies_and_the_first_match_wins():
    tagged = os_swap("tagged", tags={"Recovery": "auto"})
    policies = Policies.parse(doc(tagged, os_swap("untagged"), os_swap("later")))
    health = Sig(HEALTH, VM, "Microsoft.Compute/virtualMachines", RG,
                 {"availabilityState": "Unavailable"})
    assert policies.needs_tags(health)
    policy, why = policies.first_match(health, None)
    assert policy.name == "untagged" and why == [Rejection("tagged", "tags unknown")]
    policy, why = policies.first_match(health, {"recovery": "auto"})  # keys: any case
    assert policy.name == "tagged" and why == []
    policy, why = policies.first_match(health, {"RECOVERY": "Auto"})  # values: exact
    assert policy.name == "untagged"
    assert why == [Rejection("tagged", "tag Recovery is 'Auto', not 'auto'")]
    policy, why = policies.first_match(health, {"env": "prod"})
    assert why == [Rejection("tagged", "tag Recovery missing (wants 'auto')")]


def test_no_match_lists_every_reason_and_tags_are_needed_only_by_tagged_candidates():
    policies = Policies.parse(doc(os_swap("tagged", tags={"env": "prod"}), alert()))
    health = Sig(HEALTH, VM, "Microsoft.Compute/virtualMachines", RG, {})
    policy, why = policies.first_match(health, {"env": "dev"})
    assert policy is None
    assert why == [Rejection("tagged", "tag env is 'dev', not 'prod'"),
                   Rejection("alert", f"event type {HEALTH} not in [{ALERT}]")]
    assert not policies.needs_tags(vm_alert())
    assert not Policies.parse(doc(alert())).needs_tags(health)


def test_with_no_policies_nothing_matches_and_the_reason_says_so():
    policy, why = Policies.parse(doc()).first_match(disk_deleted(), {})
    assert policy is None and why == [Rejection(None, "no recovery policies are configured")]


def test_a_name_with_a_final_newline_is_refused():
    """re's "$" matches before a final newline: "os-swap\\n" was a valid name, and went into run
    ids (recover-<policy>-...) that the Durable SDK puts into URLs."""
    assert "policies[0] (os-swap\n).name" in problems(doc(os_swap("os-swap\n")))
