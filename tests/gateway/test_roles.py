"""Contract: role assignments — grant (idempotent, deterministic name), pre-existing equivalents,
revoke twice, what applies at a scope."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

from domain import errors

if TYPE_CHECKING:
    from conftest import Env

DISK_RESTORE_OPERATOR = "b50d9833-a0cb-478e-945f-707fcc997c13"
DISK_SNAPSHOT_CONTRIBUTOR = "7efff54f-a5b4-42b5-a1c5-5411624893ce"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def _operator_assigns(env: Env, scope: str, role: str, principal: str = "vault") -> str:
    """An assignment someone else made (the operator), under its own name."""
    made = env.operator.authorization.role_assignments.create(
        scope, str(uuid.uuid4()), RoleAssignmentCreateParameters(
            role_definition_id=f"/subscriptions/{env.sub}/providers/Microsoft.Authorization/"
                               f"roleDefinitions/{role}",
            principal_id=env.principal(principal), principal_type="ServicePrincipal"))
    return made.id


def test_grant_creates_ours_and_a_repeat_is_idempotent(env: Env) -> None:
    grant = env.grant(env.target_rg)

    first = env.plane.grant_role(grant)
    again = env.plane.grant_role(grant)

    assert first.id.lower() == (f"{env.target_rg}/providers/Microsoft.Authorization/"
                                f"roleAssignments/{grant.assignment_name}").lower()
    assert (first.role_definition_guid, first.principal_id, first.pre_existing) == (
        DISK_RESTORE_OPERATOR, env.principal("vault"), False)
    assert first.scope.lower() == env.target_rg.lower()
    assert again == first  # the same assignment, still ours
    created = [e for e in env.sim.audit(write=True)
               if e["operation"] == "Microsoft.Authorization/roleAssignments/write"]
    assert [e["status"] for e in created] == [201, 200]
    ours = [a for a in env.sim.snapshot()["roleAssignments"]
            if a["name"] == grant.assignment_name]
    assert [a["properties"]["principalType"] for a in ours] == ["ServicePrincipal"]


def test_an_equivalent_assignment_made_by_someone_else_is_pre_existing(env: Env) -> None:
    theirs = _operator_assigns(env, env.target_rg, DISK_RESTORE_OPERATOR)

    found = env.plane.grant_role(env.grant(env.target_rg))

    assert found.pre_existing is True
    assert found.id.lower() == theirs.lower()
    assert found.role_definition_guid == DISK_RESTORE_OPERATOR


def test_revoke_is_true_once_then_false(env: Env) -> None:
    assignment = env.plane.grant_role(env.grant(env.target_rg))

    assert env.plane.revoke_role(assignment.id) is True
    assert env.plane.revoke_role(assignment.id) is False
    assert all(a.id.lower() != assignment.id.lower() for a in env.plane.find_role_assignments(
        env.target_rg, env.principal("vault")))


def test_find_role_assignments_includes_inherited_ones(env: Env) -> None:
    inherited = _operator_assigns(env, f"/subscriptions/{env.sub}", READER)
    snapshots = env.rg("rg-snapshots")

    found = env.plane.find_role_assignments(snapshots, env.principal("vault"))

    by_role = {a.role_definition_guid: a for a in found}
    assert set(by_role) == {DISK_SNAPSHOT_CONTRIBUTOR, READER}
    assert by_role[READER].id.lower() == inherited.lower()
    assert by_role[DISK_SNAPSHOT_CONTRIBUTOR].scope.lower() == snapshots.lower()
    assert all(a.pre_existing and a.principal_id == env.principal("vault") for a in found)
    # Only the inherited one applies at the target RG; child scopes' assignments never do.
    assert [a.role_definition_guid for a in env.plane.find_role_assignments(
        env.target_rg, env.principal("vault"))] == [READER]


def test_nothing_is_found_for_a_principal_without_assignments(env: Env) -> None:
    assert env.plane.find_role_assignments(env.target_rg, env.principal("vault")) == []


def test_granting_where_the_app_may_not_is_app_not_authorized(env: Env) -> None:
    scope = env.rg("rg-app")  # the app manages VMs and disks there, not role assignments

    with pytest.raises(errors.AppNotAuthorized) as raised:
        env.plane.grant_role(env.grant(scope))

    text = str(raised.value)
    assert errors.code_of(text) == "AppNotAuthorized"
    assert "'Microsoft.Authorization/roleAssignments/write'" in text
    assert f"'{scope}'" in text
    assert isinstance(raised.value.__cause__, Exception)  # chained to the SDK error
