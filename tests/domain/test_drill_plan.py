"""Restore-drill plans: every problem in the file is named by its path; selection and the choice
of recovery point explain themselves and are deterministic."""

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.drills.drill_plan import (
    DAILY_RESTORE_LIMIT,
    SCHEMA_VERSION,
    Candidate,
    DrillPlan,
    DrillPlanError,
    DrillPlans,
    Notify,
    PointChoice,
    Selection,
    Verification,
    choose_point,
    schedule_problem,
    select,
    within_daily_limit,
)
from domain.errors import RestoreError
from domain.model import RecoveryPoint
from domain.objectives import Objectives

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "drill-plans.example.json"
SUB = "00000000-0000-0000-0000-000000000001"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-prod"
RG2 = f"/subscriptions/{SUB}/resourceGroups/rg-data"
RG_OTHER = f"/subscriptions/{SUB}/resourceGroups/rg-other"
SANDBOX = f"/subscriptions/{SUB}/resourceGroups/rg-drill-sandbox"
VAULTS = f"/subscriptions/{SUB}/resourceGroups/rg-backup/providers/Microsoft.DataProtection"
VAULT, VAULT2 = f"{VAULTS}/backupVaults/bv1", f"{VAULTS}/backupVaults/bv2"
VM = f"{RG}/providers/Microsoft.Compute/virtualMachines/vm1"
NOW = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)


def disk(name: str, rg: str = RG) -> str:
    return f"{rg}/providers/Microsoft.Compute/disks/{name}"


def plan_doc(name="nightly", **fields) -> dict:
    doc = {"name": name, "schedule": "0 30 2 * * *", "selection": {"vaults": [VAULT]},
           "sandboxResourceGroupId": SANDBOX}
    doc.update(fields)
    return doc


def doc(*plans, **top) -> dict:
    return {"version": 1, "plans": list(plans), **top}


def with_plan(plan: dict, path: str, value) -> dict:
    """A file with one plan whose value at a dotted path is set (None deletes it)."""
    plan = copy.deepcopy(plan)
    *parents, last = path.split(".")
    node = plan
    for key in parents:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return doc(plan)


def problems(document) -> dict[str, str]:
    with pytest.raises(DrillPlanError) as info:
        DrillPlans.parse(document)
    errors = info.value.errors
    assert info.value.message == "; ".join(f"{e.field}: {e.message}" for e in errors)
    return {e.field: e.message for e in errors}


# --- the file --------------------------------------------------------------------------------

def test_the_example_file_loads_with_its_two_plans():
    plans = DrillPlans.load(EXAMPLE)
    assert plans.version == SCHEMA_VERSION == 1
    nightly, weekly = plans.plans
    assert nightly.name == "nightly-prod" and nightly.schedule == "0 30 2 * * *"
    assert nightly.selection.resource_groups == (
        f"/subscriptions/{SUB}/resourceGroups/rg-prod",
        f"/subscriptions/{SUB}/resourceGroups/rg-prod-data")
    assert nightly.selection.tags == {"backup-drill": "true"}
    assert nightly.recovery_point == PointChoice("latest")
    assert nightly.sandbox_resource_group_id == SANDBOX and nightly.max_parallel == 4
    assert nightly.verification == Verification("https://probe.contoso.com/check", 300)
    assert nightly.notify == Notify(queue="drill-failures")
    assert weekly.recovery_point == PointChoice("random", 30)
    assert schedule_problem(weekly.schedule) is None and "Sun" in weekly.schedule
    assert len(weekly.selection.include) == 2
    assert all(d.startswith(f"/subscriptions/{SUB}/") for d in weekly.selection.include)
    assert plans.plan("weekly-random-sql") is weekly and plans.plan("Nightly-Prod") is nightly
    assert plans.plan("monthly") is None
    assert nightly.objectives.for_tags({"tier": "gold"}) == Objectives(30, 4.0)
    assert nightly.objectives.for_tags({}) == Objectives(120, 26.0)
    assert weekly.objectives.for_tags({"tier": "gold"}) == Objectives(240, None)


def test_plans_round_trip_through_to_dict_and_back_into_a_file():
    plans = DrillPlans.load(EXAMPLE)
    for plan in plans.plans:
        assert DrillPlan.from_dict(plan.to_dict()) == plan
        assert DrillPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    assert DrillPlans.parse(doc(*(p.to_dict() for p in plans.plans))) == plans
    raw = json.loads(EXAMPLE.read_text())["plans"]
    assert [p.to_dict() for p in plans.plans] == raw  # the same shape as the file entries


def test_a_minimal_plan_gets_the_defaults_and_round_trips():
    plan = DrillPlans.parse(doc(plan_doc())).plans[0]
    assert plan == DrillPlan("nightly", "0 30 2 * * *", Selection((VAULT,)), SANDBOX)
    assert plan.description == "" and plan.recovery_point == PointChoice("latest")
    assert (plan.max_parallel, plan.time_budget_minutes, plan.keep_failed, plan.expiry_hours) \
        == (4, 240, True, 24)
    assert plan.verification == Verification(None, 300) and plan.notify == Notify(None, None)
    assert plan.to_dict()["selection"] == {"vaults": [VAULT]}
    assert plan.to_dict()["verification"] == {"timeoutSeconds": 300}
    assert plan.to_dict()["notify"] == {}
    assert DrillPlan.from_dict(plan.to_dict()) == plan
    oldest = DrillPlan.from_dict(plan_doc(recoveryPoint="oldestNotDrilled"))
    assert oldest.recovery_point == PointChoice("oldestNotDrilled")
    assert oldest.to_dict()["recoveryPoint"] == "oldestNotDrilled"
    assert DrillPlan.from_dict(oldest.to_dict()) == oldest
    assert DrillPlans.parse(doc()).plans == ()


def test_ids_are_canonicalised():
    guid = "abcdef00-0000-0000-0000-00000000000a"
    shouting = VAULT.replace("/subscriptions/", "/SUBSCRIPTIONS/").replace(SUB, guid.upper())
    group = f"/SUBSCRIPTIONS/{guid.upper()}/RESOURCEGROUPS/Rg-Prod/"
    named = "/subscriptions/s/resourceGroups/x"  # a subscription name, as policy files allow
    plan = DrillPlan.from_dict(plan_doc(
        selection={"vaults": [shouting], "resourceGroups": [group, named],
                   "include": [disk("d1").upper()]},
        sandboxResourceGroupId=SANDBOX.upper()))
    assert plan.selection.vaults == (VAULT.replace(SUB, guid),)
    assert plan.selection.resource_groups == (f"/subscriptions/{guid}/resourceGroups/Rg-Prod",
                                              named)
    assert plan.selection.include == (  # ARM keeps names' case; the keywords are canonical
        f"/subscriptions/{SUB}/resourceGroups/RG-PROD/providers/MICROSOFT.COMPUTE/DISKS/D1",)
    assert plan.sandbox_resource_group_id == \
        f"/subscriptions/{SUB}/resourceGroups/RG-DRILL-SANDBOX"


# --- validation: each rule names its field ----------------------------------------------------

P = "plans[0] (nightly)"
BAD_PATHS = [
    # name and description
    (with_plan(plan_doc(), "name", "Nightly"), "plans[0].name", "lowercase"),
    (with_plan(plan_doc(), "name", "-nightly"), "plans[0].name", "starting with"),
    (with_plan(plan_doc(), "name", "a" * 41), "plans[0].name", "1-40"),
    (with_plan(plan_doc(), "name", None), "plans[0].name", "lowercase"),
    (with_plan(plan_doc(), "description", 5), f"{P}.description", "string"),
    # unknown fields anywhere
    (with_plan(plan_doc(), "colour", "red"), f"{P}.colour", "unknown field"),
    (with_plan(plan_doc(), "selection.vault", [VAULT]), f"{P}.selection.vault", "unknown field"),
    (with_plan(plan_doc(), "verification.url", "https://x"), f"{P}.verification.url",
     "unknown field"),
    (with_plan(plan_doc(), "notify.email", "a@b"), f"{P}.notify.email", "unknown field"),
    (with_plan(plan_doc(), "recoveryPoint", {"randomWithinDays": 7, "seed": 1}),
     f"{P}.recoveryPoint.seed", "unknown field"),
    # schedule
    (with_plan(plan_doc(), "schedule", None), f"{P}.schedule", "is required"),
    (with_plan(plan_doc(), "schedule", 5), f"{P}.schedule", "six-field NCRONTAB"),
    (with_plan(plan_doc(), "schedule", "30 2 * * *"), f"{P}.schedule",
     "use a six-field NCRONTAB expression"),
    (with_plan(plan_doc(), "schedule", "01:00:00"), f"{P}.schedule",
     "use a six-field NCRONTAB expression"),
    (with_plan(plan_doc(), "schedule", "0 60 * * * *"), f"{P}.schedule",
     "minute 60 is out of range 0-59"),
    # selection
    (with_plan(plan_doc(), "selection", None), f"{P}.selection", "is required"),
    (with_plan(plan_doc(), "selection", [VAULT]), f"{P}.selection", "object"),
    (with_plan(plan_doc(), "selection.vaults", None), f"{P}.selection.vaults", "non-empty list"),
    (with_plan(plan_doc(), "selection.vaults", []), f"{P}.selection.vaults", "non-empty list"),
    (with_plan(plan_doc(), "selection.vaults", VAULT), f"{P}.selection.vaults", "list"),
    (with_plan(plan_doc(), "selection.vaults", [VAULT, ""]), f"{P}.selection.vaults[1]",
     "non-empty string"),
    (with_plan(plan_doc(), "selection.vaults", ["bv1"]), f"{P}.selection.vaults[0]",
     "/subscriptions/"),
    (with_plan(plan_doc(), "selection.vaults", [VAULT, disk("d1")]), f"{P}.selection.vaults[1]",
     "must be a Microsoft.DataProtection/backupVaults id, got a Microsoft.Compute/disks id"),
    (with_plan(plan_doc(), "selection.vaults", [VAULT, VAULT.upper()]),
     f"{P}.selection.vaults[1]", "repeats vaults[0]"),
    (with_plan(plan_doc(), "selection.resourceGroups", [RG, "rg-prod"]),
     f"{P}.selection.resourceGroups[1]", "resource group id"),
    (with_plan(plan_doc(), "selection.resourceGroups", [disk("d1")]),
     f"{P}.selection.resourceGroups[0]", "resource group id"),
    (with_plan(plan_doc(), "selection.resourceGroups", RG), f"{P}.selection.resourceGroups",
     "list"),
    (with_plan(plan_doc(), "selection.tags", ["env"]), f"{P}.selection.tags", "object"),
    (with_plan(plan_doc(), "selection.tags", {"env": 1}), f"{P}.selection.tags.env", "string"),
    (with_plan(plan_doc(), "selection.tags", {"Env": "a", "env": "b"}),
     f"{P}.selection.tags.env", "case-insensitive"),
    (with_plan(plan_doc(), "selection.include", [VM]), f"{P}.selection.include[0]",
     "must be a Microsoft.Compute/disks id"),
    (with_plan(plan_doc(), "selection.include", disk("d1")), f"{P}.selection.include", "list"),
    (with_plan(plan_doc(), "selection.exclude", [disk("d1"), "d2"]),
     f"{P}.selection.exclude[1]", "/subscriptions/"),
    (with_plan(plan_doc(), "selection.exclude", [disk("d1"), disk("D1")]),
     f"{P}.selection.exclude[1]", "repeats exclude[0]"),
    # recovery point
    (with_plan(plan_doc(), "recoveryPoint", "random"), f"{P}.recoveryPoint",
     '{"randomWithinDays": <1-365>}'),
    (with_plan(plan_doc(), "recoveryPoint", "Latest"), f"{P}.recoveryPoint", '"latest"'),
    (with_plan(plan_doc(), "recoveryPoint", {"random": 7}), f"{P}.recoveryPoint",
     "oldestNotDrilled"),
    (with_plan(plan_doc(), "recoveryPoint", {"randomWithinDays": 0}),
     f"{P}.recoveryPoint.randomWithinDays", "1 to 365"),
    (with_plan(plan_doc(), "recoveryPoint", {"randomWithinDays": 366}),
     f"{P}.recoveryPoint.randomWithinDays", "1 to 365"),
    (with_plan(plan_doc(), "recoveryPoint", {"randomWithinDays": "7"}),
     f"{P}.recoveryPoint.randomWithinDays", "integer"),
    # sandbox
    (with_plan(plan_doc(), "sandboxResourceGroupId", None), f"{P}.sandboxResourceGroupId",
     "is required"),
    (with_plan(plan_doc(), "sandboxResourceGroupId", "rg-drill-sandbox"),
     f"{P}.sandboxResourceGroupId", "/subscriptions/"),
    (with_plan(plan_doc(), "sandboxResourceGroupId", disk("d1")),
     f"{P}.sandboxResourceGroupId", "must be a resource group id"),
    (with_plan(plan_doc(selection={"vaults": [VAULT], "resourceGroups": [RG, SANDBOX]}),
               "sandboxResourceGroupId", SANDBOX.upper() + "/"),
     f"{P}.sandboxResourceGroupId", "the sandbox must not be a source resource group"),
    # numbers and flags
    (with_plan(plan_doc(), "maxParallel", 0), f"{P}.maxParallel", "1 to 50"),
    (with_plan(plan_doc(), "maxParallel", 51), f"{P}.maxParallel", "1 to 50"),
    (with_plan(plan_doc(), "maxParallel", True), f"{P}.maxParallel", "1 to 50"),
    (with_plan(plan_doc(), "timeBudgetMinutes", 9), f"{P}.timeBudgetMinutes", "10 to 1440"),
    (with_plan(plan_doc(), "timeBudgetMinutes", 1441), f"{P}.timeBudgetMinutes", "10 to 1440"),
    (with_plan(plan_doc(), "timeBudgetMinutes", 60.0), f"{P}.timeBudgetMinutes", "integer"),
    (with_plan(plan_doc(), "expiryHours", 0), f"{P}.expiryHours", "1 to 168"),
    (with_plan(plan_doc(), "expiryHours", 169), f"{P}.expiryHours", "1 to 168"),
    (with_plan(plan_doc(), "keepFailed", "yes"), f"{P}.keepFailed", "true or false"),
    # verification
    (with_plan(plan_doc(), "verification", "https://x"), f"{P}.verification", "object"),
    (with_plan(plan_doc(), "verification.timeoutSeconds", 9), f"{P}.verification.timeoutSeconds",
     "10 to 3600"),
    (with_plan(plan_doc(), "verification.timeoutSeconds", 3601),
     f"{P}.verification.timeoutSeconds", "10 to 3600"),
    (with_plan(plan_doc(), "verification.webhook", "http://probe.contoso.com/check"),
     f"{P}.verification.webhook", "probe.contoso.com is not a loopback host"),
    (with_plan(plan_doc(), "verification.webhook", "ftp://probe.contoso.com/check"),
     f"{P}.verification.webhook", "https://"),
    (with_plan(plan_doc(), "verification.webhook", "probe.contoso.com/check"),
     f"{P}.verification.webhook", "https://"),
    (with_plan(plan_doc(), "verification.webhook", "https:///check"),
     f"{P}.verification.webhook", "has no host"),
    (with_plan(plan_doc(), "verification.webhook", "https://probe.contoso.com:99999/"),
     f"{P}.verification.webhook", "not a valid URL"),
    (with_plan(plan_doc(), "verification.webhook", "https://probe.contoso.com/a b"),
     f"{P}.verification.webhook", "without spaces"),
    (with_plan(plan_doc(), "verification.webhook", "https://me:secret@probe.contoso.com/"),
     f"{P}.verification.webhook", "without credentials"),
    (with_plan(plan_doc(), "verification.webhook", 443), f"{P}.verification.webhook",
     "https://"),
    # notify
    (with_plan(plan_doc(), "notify", ["q"]), f"{P}.notify", "object"),
    (with_plan(plan_doc(), "notify.queue", "ab"), f"{P}.notify.queue", "3-63"),
    (with_plan(plan_doc(), "notify.queue", "a" * 64), f"{P}.notify.queue", "3-63"),
    (with_plan(plan_doc(), "notify.queue", "Drill-Failures"), f"{P}.notify.queue", "lowercase"),
    (with_plan(plan_doc(), "notify.queue", "drill--failures"), f"{P}.notify.queue",
     "single hyphens"),
    (with_plan(plan_doc(), "notify.queue", "-drills"), f"{P}.notify.queue", "starting"),
    (with_plan(plan_doc(), "notify.queue", "drills-"), f"{P}.notify.queue", "ending"),
    (with_plan(plan_doc(), "notify.queue", "drill_failures"), f"{P}.notify.queue", "queue name"),
    (with_plan(plan_doc(), "notify.webhook", "http://hooks.contoso.com/x"), f"{P}.notify.webhook",
     "not a loopback host"),
    # top level
    ({"plans": []}, "version", "is required (supported versions: 1)"),
    (doc(version=2), "version", "2 is not supported (supported versions: 1)"),
    (doc(version="1"), "version", "supported versions: 1"),
    (doc(version=True), "version", "supported versions: 1"),
    (doc(extra=1), "extra", "unknown field"),
    ({"version": 1}, "plans", "must be a list"),
    (doc("nightly"), "plans[0]", "object"),
    ([], "", "JSON object"),
]


@pytest.mark.parametrize("document, path, words", BAD_PATHS)
def test_each_rule_names_the_field_it_breaks(document, path, words):
    found = problems(document)
    assert path in found, found
    assert words in found[path]


@pytest.mark.parametrize("field, value", [
    ("verification.webhook", "http://127.0.0.1:7071/api/check"),
    ("verification.webhook", "http://localhost/check"),
    ("verification.webhook", "http://LOCALHOST:8080/check"),
    ("verification.webhook", "http://[::1]:8080/check"),
    ("verification.webhook", "https://probe.contoso.com/check?code=abc&x=1"),
    ("notify.webhook", "https://hooks.contoso.com/drills"),
    ("notify.queue", "abc"),
    ("notify.queue", "a" * 63),
    ("notify.queue", "drill-failures-2"),
    ("recoveryPoint", {"randomWithinDays": 1}),
    ("recoveryPoint", {"randomWithinDays": 365}),
    ("maxParallel", 50),
    ("timeBudgetMinutes", 10),
    ("expiryHours", 168),
    ("keepFailed", False),
    ("verification.timeoutSeconds", 3600),
])
def test_values_at_the_edges_of_each_rule_are_accepted(field, value):
    plan = DrillPlans.parse(with_plan(plan_doc(), field, value)).plans[0]
    assert DrillPlan.from_dict(plan.to_dict()) == plan


def test_a_random_choice_and_a_sandbox_outside_the_sources_are_accepted():
    plan = DrillPlan.from_dict(plan_doc(
        recoveryPoint={"randomWithinDays": 7}, keepFailed=False,
        selection={"vaults": [VAULT], "resourceGroups": [RG, RG2]}))
    assert plan.recovery_point == PointChoice("random", 7) and plan.keep_failed is False
    assert plan.to_dict()["recoveryPoint"] == {"randomWithinDays": 7}


def test_duplicate_names_are_reported_on_the_later_entry():
    found = problems(doc(plan_doc("same"), plan_doc("other"), plan_doc("same")))
    assert found == {"plans[2] (same).name": "duplicate name: also used by plans[0]"}


def test_every_problem_in_the_file_is_reported_at_once():
    bad = plan_doc("bad", schedule="30 2 * * *", maxParallel=99, notify={"queue": "Q"},
                   selection={"vaults": ["bv1"], "tags": {"env": 1}},
                   recoveryPoint={"randomWithinDays": 0})
    worse = plan_doc("Worse", verification={"webhook": "http://x.example"})
    del worse["sandboxResourceGroupId"]
    found = problems({"version": 3, "typo": 1, "plans": [plan_doc(), bad, worse, 7]})
    assert set(found) == {
        "version", "typo",
        "plans[1] (bad).schedule", "plans[1] (bad).maxParallel", "plans[1] (bad).notify.queue",
        "plans[1] (bad).selection.vaults[0]", "plans[1] (bad).selection.tags.env",
        "plans[1] (bad).recoveryPoint.randomWithinDays",
        "plans[2].name", "plans[2].sandboxResourceGroupId", "plans[2].verification.webhook",
        "plans[3]"}


def test_the_error_is_a_restore_error_with_a_stable_code_and_data():
    with pytest.raises(DrillPlanError) as info:
        DrillPlans.parse(doc(version=2, extra=1))
    error = info.value
    assert isinstance(error, RestoreError) and error.code == "InvalidDrillPlan"
    assert error.message == ("extra: unknown field; "
                             "version: 2 is not supported (supported versions: 1)")
    assert str(error).startswith("InvalidDrillPlan: extra: unknown field")
    assert error.to_dict()["errors"][0] == {"field": "extra", "message": "unknown field"}


def test_from_dict_reports_paths_under_plan():
    with pytest.raises(DrillPlanError) as info:
        DrillPlan.from_dict(plan_doc(maxParallel=0, selection={"vaults": [VAULT, "x"]}))
    assert {e.field for e in info.value.errors} == {"plan.maxParallel", "plan.selection.vaults[1]"}
    with pytest.raises(DrillPlanError) as info:
        DrillPlan.from_dict("nightly")
    assert [e.field for e in info.value.errors] == ["plan"]


def test_load_names_the_file_when_it_is_missing_not_json_or_invalid(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(DrillPlanError) as info:
        DrillPlans.load(missing)
    assert str(missing) in str(info.value) and "not found" in str(info.value)

    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "version": 1,\n  "plans": [,]\n}\n')
    with pytest.raises(DrillPlanError) as info:
        DrillPlans.load(str(broken))
    assert str(broken) in str(info.value) and "line 3, column 13" in str(info.value)

    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps(doc(version=9)))
    with pytest.raises(DrillPlanError) as info:
        DrillPlans.load(invalid)
    assert [e.field for e in info.value.errors] == ["version"]
    assert info.value.hint == f"in {invalid}" and str(invalid) in str(info.value)


# --- the schedule -----------------------------------------------------------------------------

@pytest.mark.parametrize("expression", [
    "0 30 2 * * *", "0 0 */6 * * Mon-Fri", "0 0 3 * * SUN", "0 0 3 * * sun", "*/30 * * * * *",
    "0 0 0 1,15 * *", "0 5-55/10 8-18 * * 1-5", "0 0 0 1 Jan,Jul *", "59 59 23 31 12 6",
    "0 0 0 * dec *", "  0 30 2 * * *  ", "0 0 0 1-31/2 * *", "0 0 0 * * 0",
])
def test_ncrontab_expressions_that_are_accepted(expression):
    assert schedule_problem(expression) is None
    assert DrillPlan.from_dict(plan_doc(schedule=expression)).schedule == expression


@pytest.mark.parametrize("expression, words", [
    ("30 2 * * *", "has 5 fields: use a six-field NCRONTAB expression"),
    ("30 2 * * *", 'put "0 " first'),
    ("0 0 0 1 * * 2024", "has 7 fields"),
    ("01:00:00", "is a TimeSpan"),
    ("01:00:00", "use a six-field NCRONTAB expression"),
    ("1.00:00:00", "TimeSpan"),
    ("0 60 * * * *", "minute 60 is out of range 0-59"),
    ("60 0 * * * *", "second 60 is out of range 0-59"),
    ("0 0 24 * * *", "hour 24 is out of range 0-23"),
    ("0 0 0 32 * *", "day 32 is out of range 1-31"),
    ("0 0 0 0 * *", "day 0 is out of range 1-31"),
    ("0 0 0 * 13 *", "month 13 is out of range 1-12"),
    ("0 0 0 * * 7", "day-of-week 7 is out of range 0-6"),
    ("0 0 0 * * Sunday", "day-of-week 'Sunday' is not a number from 0 to 6 or a name like Sun"),
    ("0 0 0 * Mon *", "month 'Mon' is not a number from 1 to 12 or a name like Jan"),
    ("0 0 Mon * * *", "hour 'Mon' is not a number from 0 to 23"),
    ("0 0 */0 * * *", "hour step '0' in '*/0' must be a number from 1 to 23"),
    ("0 0 */x * * *", "hour step 'x'"),
    ("0 0 5/2 * * *", "hour '5/2' is not *"),
    ("0 0 1,,2 * * *", "hour '' is not *"),
    ("0 0 9-5 * * *", "hour range '9-5' runs backwards"),
    ("0 0 * * * Fri-Mon", "day-of-week range 'Fri-Mon' runs backwards"),
    ("0 0 ? * * *", "hour '?' is not a number"),
    ("0 0 0 L * *", "day 'L' is not a number"),
])
def test_ncrontab_expressions_that_are_rejected(expression, words):
    problem = schedule_problem(expression)
    assert problem is not None and words in problem, problem
    found = problems(with_plan(plan_doc(), "schedule", expression))
    assert words in found[f"{P}.schedule"]


def test_an_empty_schedule_is_a_missing_one():
    assert schedule_problem("") == schedule_problem("  ") == (
        'has 0 fields: use a six-field NCRONTAB expression '
        '"{second} {minute} {hour} {day} {month} {day-of-week}"')
    found = problems(with_plan(plan_doc(), "schedule", " "))
    assert found[f"{P}.schedule"].startswith("is required: a six-field NCRONTAB expression")


def test_every_bad_field_of_a_schedule_is_named():
    assert schedule_problem("60 60 24 * * *") == ("second 60 is out of range 0-59, "
                                                  "minute 60 is out of range 0-59, "
                                                  "hour 24 is out of range 0-23")


# --- selecting disks --------------------------------------------------------------------------

def plan_with(**selection) -> DrillPlan:
    return DrillPlan.from_dict(plan_doc(selection={"vaults": [VAULT], **selection}))


def cand(name: str, rg: str = RG, vault: str = VAULT, bi: str = "bi", **tags) -> Candidate:
    return Candidate(disk(name, rg), f"{vault}/backupInstances/{bi}-{name}", vault, tags)


def test_no_filters_select_every_disk_of_the_plans_vaults_sorted_by_id():
    plan = plan_with()
    chosen, skipped = select(plan, [cand("b"), cand("C"), cand("z", rg=RG2), cand("a"),
                                    cand("x", vault=VAULT2)])
    assert [c.disk_id for c in chosen] == [disk("z", RG2), disk("a"), disk("b"), disk("C")]
    assert skipped == [(disk("x"), f"vault {VAULT2} is not in the plan")]


def test_resource_groups_and_tags_filter_and_say_why():
    plan = plan_with(resourceGroups=[RG], tags={"Env": "prod", "backup-drill": "true"})
    good = cand("good", env="prod", **{"Backup-Drill": "true"})  # tag names ignore case
    chosen, skipped = select(plan, [
        good, cand("dev", env="dev", **{"backup-drill": "true"}), cand("untagged"),
        cand("elsewhere", rg=RG_OTHER, env="prod", **{"backup-drill": "true"}),
        cand("shouty", env="PROD", **{"backup-drill": "true"})])  # tag values are exact
    assert chosen == [good]
    assert skipped == [
        (disk("dev"), "tag Env is 'dev', not 'prod'"),
        (disk("untagged"), "tag Env missing (wants 'prod')"),
        (disk("elsewhere", RG_OTHER),
         f"resource group {RG_OTHER} not in the plan's resource groups"),
        (disk("shouty"), "tag Env is 'PROD', not 'prod'")]


def test_include_overrides_filters_exclude_beats_include_and_the_vault_still_counts():
    plan = plan_with(resourceGroups=[RG], tags={"env": "prod"},
                     include=[disk("pinned", RG_OTHER), disk("both"), disk("gone"),
                              disk("foreign")],
                     exclude=[disk("both"), disk("noisy")])
    chosen, skipped = select(plan, [
        cand("pinned", rg=RG_OTHER), cand("both", env="prod"), cand("noisy", env="prod"),
        cand("tagged", env="prod"), cand("foreign", vault=VAULT2)])
    assert [c.disk_id for c in chosen] == [disk("pinned", RG_OTHER), disk("tagged")]
    assert skipped == [
        (disk("both"), "excluded by the plan"),
        (disk("noisy"), "excluded by the plan"),
        (disk("foreign"), f"vault {VAULT2} is not in the plan"),
        (disk("gone"), "included but not protected by a vault of the plan"),
        (disk("foreign"), "included but not protected by a vault of the plan")]


def test_ids_compare_case_insensitively():
    plan = plan_with(resourceGroups=[RG], include=[disk("Pinned", RG_OTHER)],
                     exclude=[disk("NOISY")])
    pinned = Candidate(disk("pinned", RG_OTHER).upper(), "bi1", VAULT.upper())
    noisy = Candidate(disk("noisy").lower(), "bi2", VAULT.lower())
    plain = Candidate(disk("plain").replace("rg-prod", "RG-PROD"), "bi3", VAULT)
    chosen, skipped = select(plan, [pinned, noisy, plain])
    assert chosen == [pinned, plain]
    assert skipped == [(noisy.disk_id, "excluded by the plan")]


def test_a_disk_protected_twice_is_drilled_once_whatever_the_order():
    plan = DrillPlan.from_dict(plan_doc(selection={"vaults": [VAULT, VAULT2]}))
    first, second = cand("d", vault=VAULT, bi="one"), cand("d", vault=VAULT2, bi="two")
    for order in ([first, second], [second, first]):
        chosen, skipped = select(plan, order)
        assert chosen == [first]
        assert skipped == [(disk("d"), f"drilled once, from backup instance "
                                       f"{first.backup_instance_id}, not "
                                       f"{second.backup_instance_id}")]
    chosen, skipped = select(plan, [first, first])
    assert chosen == [first] and skipped == []


def test_candidates_cross_the_activity_boundary_as_json():
    c = cand("d", env="prod")
    assert Candidate.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    assert c.to_dict() == {"diskId": disk("d"), "backupInstanceId": c.backup_instance_id,
                           "vaultId": VAULT, "tags": {"env": "prod"}}  # camelCase on the wire
    assert Candidate(disk("e"), "bi", VAULT).tags == {}


def test_nothing_to_select():
    assert select(plan_with(), []) == ([], [])
    chosen, skipped = select(plan_with(include=[disk("d")]), [])
    assert chosen == [] and skipped == [(disk("d"),
                                         "included but not protected by a vault of the plan")]


# --- choosing a recovery point ----------------------------------------------------------------

def point(days_ago: float, name: str | None = None, z: bool = True) -> RecoveryPoint:
    when = NOW - timedelta(days=days_ago)
    text = when.isoformat().replace("+00:00", "Z") if z else when.isoformat()
    return RecoveryPoint(name or f"rp-{days_ago}", text)


POINTS = [point(3), point(0.5, z=False), point(20), point(1), point(10, z=False), point(40)]


def choose(choice: PointChoice, points=POINTS, drilled=frozenset(), seed="drill-1|disk-1"):
    return choose_point(choice, list(points), drilled=set(drilled), seed=seed, now=NOW)


def test_latest_is_the_newest_point_whatever_the_order_or_zone_suffix():
    assert choose(PointChoice("latest")) == (point(0.5, z=False), "")
    assert choose(PointChoice("latest"), reversed(POINTS))[0].id == "rp-0.5"
    mixed = [RecoveryPoint("a", "2024-06-01T10:00:00Z"),
             RecoveryPoint("b", "2024-06-01T11:00:00+00:00"),
             RecoveryPoint("c", "2024-06-01T12:30:00+02:00")]  # 10:30 UTC
    assert choose(PointChoice("latest"), mixed)[0].id == "b"


def test_no_points_at_all():
    for kind in (PointChoice("latest"), PointChoice("random", 7),
                 PointChoice("oldestNotDrilled")):
        assert choose(kind, []) == (None, "no recovery points")


def test_random_is_the_same_for_the_same_seed_and_varies_across_seeds():
    choice = PointChoice("random", 7)
    picked = choose(choice, seed="drill-42|disk-a")
    assert picked[1] == "" and picked[0] is not None
    for _ in range(5):
        assert choose(choice, seed="drill-42|disk-a") == picked
        assert choose(choice, reversed(POINTS), seed="drill-42|disk-a") == picked  # any order
    seen = {choose(choice, seed=f"drill-{i}|disk-a")[0].id for i in range(40)}
    assert len(seen) > 1
    assert seen == {"rp-3", "rp-0.5", "rp-1"}  # only points of the last 7 days


def test_random_window_edges_and_an_empty_window():
    edge = [point(7, "edge"), point(7.001, "outside")]
    assert {choose(PointChoice("random", 7), edge, seed=str(i))[0].id
            for i in range(20)} == {"edge"}  # time >= now - 7 days
    assert choose(PointChoice("random", 7), [point(8), point(30)]) == \
        (None, "no recovery point in the last 7 days")
    assert choose(PointChoice("random", 1), [point(2)]) == \
        (None, "no recovery point in the last 1 day")
    assert choose(PointChoice("random", 30), [point(8), point(31)])[0].id == "rp-8"


def test_oldest_not_drilled_walks_forward_then_starts_again():
    choice = PointChoice("oldestNotDrilled")
    assert choose(choice)[0].id == "rp-40"
    assert choose(choice, drilled={"rp-40", "RP-20"})[0].id == "rp-10"  # ids ignore case
    assert choose(choice, drilled={"rp-40", "rp-20", "rp-10", "rp-3"})[0].id == "rp-1"
    everything = {p.id for p in POINTS}
    assert choose(choice, drilled=everything) == (point(40), "")  # all drilled: the oldest


def test_naive_times_are_utc():
    naive_now = NOW.replace(tzinfo=None)
    points = [RecoveryPoint("old", "2024-06-01T00:00:00"),
              RecoveryPoint("new", "2024-06-09T12:00:00")]
    found = choose_point(PointChoice("random", 2), points, drilled=set(), seed="s", now=naive_now)
    assert found[0].id == "new"


def test_bad_choices_and_times_are_programming_errors():
    with pytest.raises(ValueError, match="within_days"):
        choose(PointChoice("random"))
    with pytest.raises(ValueError, match="unknown"):
        choose(PointChoice("newest"))
    with pytest.raises(ValueError, match="rp-x"):
        choose(PointChoice("latest"), [RecoveryPoint("rp-x", "yesterday")])


# --- Azure's daily restore limit --------------------------------------------------------------

def test_the_daily_restore_limit():
    assert DAILY_RESTORE_LIMIT == 10
    assert within_daily_limit(0) == (True, "")
    assert within_daily_limit(9) == (True, "")
    assert within_daily_limit(10) == (
        False, "10 restores of this backup instance in the last 24 h: Azure allows 10 a day")
    assert within_daily_limit(12)[0] is False and within_daily_limit(12)[1].startswith("12 ")


def test_a_drill_leaves_the_incidents_reserve():
    """DRILL_RESTORE_RESERVE (0-9): a drill skips a disk whose restores left would drop into
    the reserve; the reason says so. Incidents (restores, recoveries) may use it all."""
    assert within_daily_limit(7, 2) == (True, "")
    assert within_daily_limit(8, 2) == (
        False, "8 restores of this backup instance in the last 24 h: Azure allows 10 a day and "
               "the 2 left are kept for incidents (DRILL_RESTORE_RESERVE=2)")
    assert within_daily_limit(9, 1)[1].endswith("the 1 left is kept for incidents "
                                                 "(DRILL_RESTORE_RESERVE=1)")
    assert within_daily_limit(9, 0) == (True, "")
    assert within_daily_limit(0, 9) == (True, "") and within_daily_limit(1, 9)[0] is False
    assert within_daily_limit(10, 2)[1].endswith("Azure allows 10 a day")  # none left at all


def test_a_name_or_queue_with_a_final_newline_is_refused():
    """re's "$" matches before a final newline: "nightly\\n" was a valid plan name (it goes into
    drill ids) and "drill-failures\\n" a valid queue name."""
    with pytest.raises(DrillPlanError) as info:
        DrillPlans.parse(doc(plan_doc("nightly\n")))
    assert any(e.field.endswith(".name") for e in info.value.errors), info.value.errors
    with pytest.raises(DrillPlanError) as info:
        DrillPlans.parse(doc(plan_doc(notify={"queue": "drill-failures\n"})))
    assert any(e.field.endswith("notify.queue") for e in info.value.errors), info.value.errors
