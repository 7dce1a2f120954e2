"""Recovery objectives (domain/objectives.py): the `objectives` object of drill plans and recovery
policies (every bad field named by its path, round-tripped through to_dict/from_dict), per-tag
overrides, and the verdicts a measure gets against them."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.document import Checks
from domain.drills.drill_plan import DrillPlan, DrillPlanError, DrillPlans
from domain.objectives import (
    MET,
    MISSED,
    UNKNOWN,
    ObjectiveRules,
    Objectives,
    TagObjectives,
    Verdict,
    overall,
    parse_objectives,
    rpo_verdict,
    rto_verdict,
    strictest,
    tally,
)
from domain.recovery.policy import Policies, Policy, PolicyError

SUB = "00000000-0000-0000-0000-000000000001"
VAULT = (f"/subscriptions/{SUB}/resourceGroups/rg-backup/providers/Microsoft.DataProtection/"
         "backupVaults/bv1")
SANDBOX = f"/subscriptions/{SUB}/resourceGroups/rg-drill-sandbox"
NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
FULL = {"rtoMinutes": 120, "rpoHours": 26,
        "byTag": [{"tag": "tier", "value": "gold", "rtoMinutes": 30, "rpoHours": 4},
                  {"tag": "Tier", "value": "silver", "rpoHours": 12.5}]}


def plan_doc(objectives: Any) -> dict[str, Any]:
    return {"name": "nightly", "schedule": "0 30 2 * * *", "selection": {"vaults": [VAULT]},
            "sandboxResourceGroupId": SANDBOX, "objectives": objectives}


def policy_doc(objectives: Any) -> dict[str, Any]:
    return {"name": "deleted-disk", "match": {
        "eventTypes": ["Microsoft.Resources.ResourceDeleteSuccess"],
        "resourceTypes": ["Microsoft.Compute/disks"]},
        "action": {"type": "restoreDeletedDisk"}, "objectives": objectives}


def parsed(value: Any) -> tuple[ObjectiveRules, dict[str, str]]:
    checks = Checks()
    rules = parse_objectives(checks, "o", value)
    return rules, {e.field: e.message for e in checks.errors}


# ---- parsing ------------------------------------------------------------------------------------
def test_a_full_objectives_object_parses_in_plans_and_policies():
    expected = ObjectiveRules(Objectives(120, 26.0), [
        TagObjectives("tier", "gold", Objectives(30, 4.0)),
        TagObjectives("Tier", "silver", Objectives(None, 12.5))])
    plan = DrillPlans.parse({"version": 1, "plans": [plan_doc(FULL)]}).plans[0]
    policy = Policies.parse({"version": 1, "policies": [policy_doc(FULL)]}).policies[0]
    assert plan.objectives == expected and policy.objectives == expected


def test_absent_objectives_are_empty_and_leave_the_documents_as_they_were():
    doc = plan_doc(None)
    del doc["objectives"]
    plan = DrillPlan.from_dict(doc)
    assert plan.objectives.empty and "objectives" not in plan.to_dict()
    policy = Policy.from_dict({k: v for k, v in policy_doc(None).items() if k != "objectives"})
    assert policy.objectives.empty and "objectives" not in policy.to_dict()


@pytest.mark.parametrize("value", [FULL, {"rpoHours": 0.25}, {"rtoMinutes": 10080},
                                   {"byTag": [{"tag": "t", "value": "", "rtoMinutes": 1}]}])
def test_objectives_round_trip_through_the_plan_and_policy_dicts(value):
    plan = DrillPlan.from_dict(plan_doc(value))
    assert DrillPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    policy = Policy.from_dict(policy_doc(value))
    assert Policy.from_dict(json.loads(json.dumps(policy.to_dict()))) == policy
    assert plan.to_dict()["objectives"] == policy.to_dict()["objectives"] == value


def test_every_bad_field_is_named_by_its_path():
    checks = Checks()
    parse_objectives(checks, "o", {
        "rtoMinutes": 0, "rpoHours": "26", "extra": 1,
        "byTag": [
            {"tag": "", "value": 3, "rtoMinutes": 1.5, "rpoHours": 0.1, "colour": "red"},
            "gold",
            {"tag": "tier", "value": "gold"},
            {"tag": "tier", "value": "gold", "rtoMinutes": 10081},
            {"tag": "TIER", "value": "gold", "rpoHours": 8761},
            {"value": "x", "rtoMinutes": 5}]})
    rto, rpo = "must be an integer from 1 to 10080", "must be a number of hours from 0.25 to 8760"
    neither = "sets neither rtoMinutes nor rpoHours"
    assert sorted((e.field, e.message) for e in checks.errors) == sorted([
        ("o.extra", "unknown field"), ("o.rtoMinutes", rto), ("o.rpoHours", rpo),
        ("o.byTag[0].colour", "unknown field"), ("o.byTag[0].tag", "is required: a tag name"),
        ("o.byTag[0].value", "is required: the tag's value (a string)"),
        ("o.byTag[0].rtoMinutes", rto), ("o.byTag[0].rpoHours", rpo), ("o.byTag[0]", neither),
        ("o.byTag[1]", "must be an object"),
        ("o.byTag[2]", neither),
        ("o.byTag[3].rtoMinutes", rto), ("o.byTag[3]", neither),
        ("o.byTag[3]", "repeats byTag[2] (tier=gold): the first matching entry wins"),
        ("o.byTag[4].rpoHours", rpo), ("o.byTag[4]", neither),  # tag names: case-insensitive
        ("o.byTag[4]", "repeats byTag[2] (TIER=gold): the first matching entry wins"),
        ("o.byTag[5].tag", "is required: a tag name")])


def test_each_kind_of_bad_value_is_refused_once_with_its_path():
    cases = {"rtoMinutes": [0, 10081, 1.5, "30", True],
             "rpoHours": [0.2, 8761, "4", True, math.nan, math.inf]}
    for name, values in cases.items():
        for value in values:
            _, bad = parsed({name: value})
            assert list(bad) == [f"o.{name}"], (name, value, bad)
    assert parsed("fast")[1] == {"o": "must be an object"}
    assert parsed({"byTag": {"tier": "gold"}})[1] == {"o.byTag": (
        'must be a list of {"tag", "value", "rtoMinutes", "rpoHours"} objects')}


def test_a_repeated_tag_rule_is_named_on_the_later_entry():
    _, bad = parsed({"byTag": [{"tag": "tier", "value": "gold", "rtoMinutes": 30},
                               {"tag": "TIER", "value": "gold", "rtoMinutes": 10},
                               {"tag": "tier", "value": "Gold", "rtoMinutes": 10}]})
    assert bad == {"o.byTag[1]": "repeats byTag[0] (TIER=gold): the first matching entry wins"}


def test_bad_objectives_name_the_plan_and_the_policy():
    with pytest.raises(DrillPlanError) as plan:
        DrillPlans.parse({"version": 1, "plans": [plan_doc({"rtoMinutes": -1, "byTag": [{}]})]})
    assert {e.field for e in plan.value.errors} == {
        "plans[0] (nightly).objectives.rtoMinutes", "plans[0] (nightly).objectives.byTag[0]",
        "plans[0] (nightly).objectives.byTag[0].tag",
        "plans[0] (nightly).objectives.byTag[0].value"}
    with pytest.raises(PolicyError) as policy:
        Policies.parse({"version": 1, "policies": [policy_doc({"rpoHours": 0})]})
    assert [e.field for e in policy.value.errors] == \
        ["policies[0] (deleted-disk).objectives.rpoHours"]
    with pytest.raises(DrillPlanError) as single:
        DrillPlan.from_dict(plan_doc([]))
    assert [e.field for e in single.value.errors] == ["plan.objectives"]


# ---- per-tag objectives -------------------------------------------------------------------------
def test_tag_rules_match_names_case_insensitively_values_exactly_first_wins_and_fall_back():
    rules, _ = parsed({"rtoMinutes": 120, "rpoHours": 26, "byTag": [
        {"tag": "tier", "value": "gold", "rtoMinutes": 30},
        {"tag": "env", "value": "prod", "rtoMinutes": 60, "rpoHours": 8}]})
    assert rules.for_tags({"TIER": "gold", "env": "prod"}) == Objectives(30, 26.0)  # first wins
    assert rules.for_tags({"tier": "Gold", "env": "prod"}) == Objectives(60, 8.0)
    assert rules.for_tags({"tier": "silver"}) == rules.for_tags(None) == Objectives(120, 26.0)
    bare, _ = parsed({"byTag": [{"tag": "tier", "value": "gold", "rpoHours": 4}]})
    assert bare.for_tags({"tier": "gold"}) == Objectives(None, 4.0)
    assert bare.for_tags({}).empty and not bare.empty


def test_strictest_takes_the_tightest_of_each():
    assert strictest([Objectives(60, None), Objectives(120, 4.0), Objectives(None, 26.0)]) == \
        Objectives(60, 4.0)
    assert strictest([]) == Objectives()


# ---- verdicts -----------------------------------------------------------------------------------
def test_rto_verdicts():
    goal = Objectives(30, None)
    assert rto_verdict(30.0, goal) == Verdict("rto", MET, 30, 30.0)  # at the target is met
    assert rto_verdict(30.04, goal) == Verdict("rto", MISSED, 30, 30.0)
    assert rto_verdict(12.345, Objectives()) == Verdict("rto", UNKNOWN, None, 12.3)
    assert rto_verdict(None, goal).to_dict() == {"objective": "rto", "verdict": "unknown",
                                                 "target": 30}


def test_rpo_verdicts_from_a_points_age():
    goal = Objectives(None, 4.0)
    assert rpo_verdict(NOW - timedelta(hours=4), NOW, goal) == Verdict("rpo", MET, 4.0, 4.0)
    assert rpo_verdict(NOW - timedelta(hours=4, minutes=1), NOW, goal).verdict == MISSED
    assert rpo_verdict(None, NOW, goal) == Verdict("rpo", MISSED, 4.0)  # nothing to restore
    assert rpo_verdict(None, NOW, Objectives()) == Verdict("rpo", UNKNOWN)
    assert rpo_verdict(NOW - timedelta(hours=30), NOW, Objectives()) == \
        Verdict("rpo", UNKNOWN, None, 30.0)


def test_overall_and_tally():
    met, missed, unknown = (Verdict("rto", w) for w in (MET, MISSED, UNKNOWN))
    assert overall(met, met) == MET
    assert overall(met, unknown) == UNKNOWN
    assert overall(unknown, missed) == MISSED
    assert tally([MET, MISSED, MET, UNKNOWN]) == {"met": 2, "missed": 1, "unknown": 1}
    assert tally([]) == {"met": 0, "missed": 0, "unknown": 0}
