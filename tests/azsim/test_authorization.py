"""Microsoft.Authorization as the real service answers it, and RBAC for the app's own identity."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from azsim.roles import DISK_RESTORE_OPERATOR, READER
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

if TYPE_CHECKING:
    from conftest import Demo

CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"


def test_role_assignment_exists_for_the_same_triple_under_another_name(demo: Demo) -> None:
    scope = demo.rg_id(demo.target_rg)
    first = demo.grant(scope, DISK_RESTORE_OPERATOR, demo.vault_principal, str(uuid.uuid4()))
    with pytest.raises(ResourceExistsError) as exists:
        demo.grant(scope, DISK_RESTORE_OPERATOR, demo.vault_principal, str(uuid.uuid4()))
    assert exists.value.status_code == 409
    assert exists.value.error.code == "RoleAssignmentExists"
    assert exists.value.error.message.endswith(
        f"The ID of the existing role assignment is {first.name.replace('-', '')}.")
    # The same name again with the same properties is an idempotent success.
    again = demo.grant(scope, DISK_RESTORE_OPERATOR, demo.vault_principal, first.name)
    assert again.name == first.name


def test_same_name_with_other_properties_is_not_an_update(demo: Demo) -> None:
    scope, name = demo.rg_id(demo.target_rg), str(uuid.uuid4())
    demo.grant(scope, DISK_RESTORE_OPERATOR, demo.vault_principal, name)
    with pytest.raises(HttpResponseError) as refused:
        demo.grant(scope, READER, demo.vault_principal, name)
    assert (refused.value.status_code, refused.value.error.code) == (
        400, "RoleAssignmentUpdateNotPermitted")


def test_principal_not_found(demo: Demo) -> None:
    with pytest.raises(HttpResponseError) as missing:
        demo.grant(demo.rg_id(demo.target_rg), DISK_RESTORE_OPERATOR, str(uuid.uuid4()),
                   str(uuid.uuid4()))
    assert (missing.value.status_code, missing.value.error.code) == (400, "PrincipalNotFound")
    assert "https://aka.ms/docs-principaltype" in missing.value.error.message


def test_sdk_default_principal_type_user_is_unmatched_for_a_managed_identity(demo: Demo) -> None:
    params = RoleAssignmentCreateParameters(role_definition_id=demo.role_id(DISK_RESTORE_OPERATOR),
                                            principal_id=demo.vault_principal)
    with pytest.raises(HttpResponseError) as unmatched:
        demo.c.authorization.role_assignments.create(demo.rg_id(demo.target_rg),
                                                     str(uuid.uuid4()), params)
    assert unmatched.value.error.code == "UnmatchedPrincipalType"
    assert "which is different from specified PrinciaplType 'User'" in \
        unmatched.value.error.message


@pytest.mark.parametrize(("name", "role", "code"), [
    ("not-a-guid", DISK_RESTORE_OPERATOR, "InvalidRoleAssignmentId"),
    (str(uuid.uuid4()), str(uuid.uuid4()), "RoleDefinitionDoesNotExist"),
])
def test_invalid_assignment_requests(demo: Demo, name: str, role: str, code: str) -> None:
    with pytest.raises(HttpResponseError) as refused:
        demo.grant(demo.rg_id(demo.target_rg), role, demo.vault_principal, name)
    assert (refused.value.status_code, refused.value.error.code) == (400, code)


def test_get_missing_assignment_and_delete_twice(demo: Demo) -> None:
    scope = demo.rg_id(demo.target_rg)
    with pytest.raises(ResourceNotFoundError) as missing:
        demo.c.authorization.role_assignments.get(scope, str(uuid.uuid4()))
    assert missing.value.error.code == "RoleAssignmentNotFound"
    assert demo.c.authorization.role_assignments.delete(scope, str(uuid.uuid4())) is None


def test_list_filters(demo: Demo) -> None:
    operator = demo.clients_as("operator")
    disk_scope = demo.disk_id(demo.app_rg, "vm-app01-data0")
    sub_scope = f"/subscriptions/{demo.sub}"
    demo.grant(sub_scope, READER, demo.vault_principal, str(uuid.uuid4()), clients=operator)
    ra = operator.authorization.role_assignments

    def names(scope: str, flt: str | None = None) -> set[str]:
        return {a.scope.rsplit("/", 1)[-1] + ":" + a.role_definition_id[-4:]
                for a in ra.list_for_scope(scope, filter=flt)}

    at_disk = names(disk_scope, "atScope()")
    assert at_disk == {f"{demo.sub}:{READER[-4:]}", "vm-app01-data0:5f24"}  # at or above
    everything = names(sub_scope)
    assert {"rg-snapshots:93ce", "vm-app01-osdisk:5f24", "rg-restore-target:" + READER[-4:]} \
        <= everything  # no filter: at, above and below
    mine = names(sub_scope, f"principalId eq '{demo.vault_principal}'")
    assert "rg-restore-target:" + READER[-4:] not in mine  # that one belongs to a group
    assert names(sub_scope, f"atScope() and assignedTo('{demo.vault_principal}')") == {
        f"{demo.sub}:{READER[-4:]}"}
    for bad in (f"principalId eq {demo.vault_principal}",
                f"atScope() and principalId eq '{demo.vault_principal}'"):
        with pytest.raises(HttpResponseError) as refused:
            names(sub_scope, bad)
        assert "Supported filters are either 'atScope()'" in refused.value.error.message
    operator.close()


def test_role_definitions_by_id_and_by_name(demo: Demo) -> None:
    definitions = demo.c.authorization.role_definitions
    dro = definitions.get_by_id(demo.role_id(DISK_RESTORE_OPERATOR))
    assert (dro.role_name, dro.role_type) == ("Disk Restore Operator", "BuiltInRole")
    assert "Microsoft.Compute/disks/write" in dro.permissions[0].actions
    found = list(definitions.list(f"/subscriptions/{demo.sub}",
                                  filter="roleName eq 'Disk Snapshot Contributor'"))
    assert [d.name for d in found] == ["7efff54f-a5b4-42b5-a1c5-5411624893ce"]


def test_app_writes_outside_its_scopes_are_refused(demo: Demo) -> None:
    with pytest.raises(HttpResponseError) as denied:
        demo.grant(f"/subscriptions/{demo.sub}", DISK_RESTORE_OPERATOR, demo.vault_principal,
                   str(uuid.uuid4()))
    error = denied.value
    assert (error.status_code, error.error.code) == (403, "AuthorizationFailed")
    assert (f"does not have authorization to perform action "
            f"'Microsoft.Authorization/roleAssignments/write' over scope "
            f"'/subscriptions/{demo.sub}'") in error.error.message
    with pytest.raises(HttpResponseError) as denied_disk:
        demo.c.compute.disks.begin_delete("rg-snapshots", "anything")
    assert denied_disk.value.status_code == 403
    # Reads are not restricted, and the refused writes are in the audit log.
    assert demo.c.compute.disks.get(demo.app_rg, "vm-app01-data0").name == "vm-app01-data0"
    refused = [(e["operation"], e["status"]) for e in demo.sim.audit(write=True)]
    assert refused == [("Microsoft.Authorization/roleAssignments/write", 403),
                       ("Microsoft.Compute/disks/delete", 403)]


def test_a_role_granted_to_the_app_applies_after_propagation(demo: Demo) -> None:
    operator = demo.clients_as("operator")
    demo.grant(demo.rg_id("rg-keys"), CONTRIBUTOR, demo.sim.app_principal_id, str(uuid.uuid4()),
               clients=operator)
    body = {"location": "westeurope",
            "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 8}}
    with pytest.raises(HttpResponseError) as early:
        demo.c.compute.disks.begin_create_or_update("rg-keys", "scratch", body)
    assert early.value.status_code == 403
    demo.clock.advance(240)
    demo.finish(demo.c.compute.disks.begin_create_or_update("rg-keys", "scratch", body), 10)
    # Contributor's NotActions still exclude role assignments.
    with pytest.raises(HttpResponseError) as still:
        demo.grant(demo.rg_id("rg-keys"), READER, demo.vault_principal, str(uuid.uuid4()))
    assert still.value.error.code == "AuthorizationFailed"
    operator.close()
