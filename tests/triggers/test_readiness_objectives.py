"""Where readiness takes each disk's objectives from (triggers/readiness_routes.py): the drill
plans' and the recovery policies' `objectives`, each with the disks it covers, the strictest
winning (domain/readiness); a disk neither covers falls back to READINESS_RPO_HOURS."""

from __future__ import annotations

from pathlib import Path

from domain.drills.drill_plan import DrillPlans
from domain.objectives import Objectives, strictest
from domain.recovery.policy import Policies
from triggers.readiness_routes import objective_scopes

DOCS = Path(__file__).resolve().parents[2] / "docs"
PROD = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-prod"


def scopes() -> list:
    return objective_scopes(DrillPlans.load(DOCS / "drill-plans.example.json"),
                            Policies.load(DOCS / "recovery-policies.example.json"))


def test_every_plan_and_policy_with_objectives_gives_a_scope_and_no_other() -> None:
    assert [s.source for s in scopes()] == [
        "drill plan nightly-prod", "drill plan weekly-random-sql",
        "recovery policy prod-deleted-data-disk", "recovery policy prod-data-corruption-alert"]


def test_a_policy_covers_the_disks_of_its_resource_groups_and_its_tags_override() -> None:
    policy = next(s for s in scopes() if s.source.endswith("prod-data-corruption-alert"))
    disk = f"{PROD}/providers/Microsoft.Compute/disks/sql-data0"
    elsewhere = disk.replace("rg-prod", "rg-test")
    vault = "/subscriptions/x/resourceGroups/rg-backup/providers/Microsoft.DataProtection/" \
            "backupVaults/any"
    assert policy.covers(disk, vault, {}) and not policy.covers(elsewhere, vault, {})
    assert policy.rules.for_tags({"Tier": "gold"}) == Objectives(90, 4.0)
    covering = {s.source: s.rules.for_tags({"tier": "gold"}) for s in scopes()
                if s.covers(disk, vault, {}) and s.source.startswith("recovery policy")}
    assert strictest(list(covering.values())) == Objectives(30, 4.0), covering


def test_without_plans_or_policies_there_are_no_scopes() -> None:
    assert objective_scopes(None, None) == []
