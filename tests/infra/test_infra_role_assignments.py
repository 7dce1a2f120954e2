"""The role assignment rules (dev/tools/infra/rules.py): a role that can grant roles only with a
condition on role-assignment writes and deletes, guid() names, descriptions. They pass on infra/
and fail on the seeded file, resource by resource."""

from __future__ import annotations

import ast
from pathlib import Path

from tools.infra import rules
from tools.infra.bicep import Project

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DISK_RESTORE_OPERATOR = "b50d9833-a0cb-478e-945f-707fcc997c13"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"

# The condition of A8 in the authorization reference, as the portal writes it.
REFERENCE_CONDITION = (
    "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
    "(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] "
    "ForAnyOfAnyValues:GuidEquals "
    "{b50d9833-a0cb-478e-945f-707fcc997c13, acdd72a7-3385-48ef-bd42-f606fba81ae7} AND "
    "@Request[Microsoft.Authorization/roleAssignments:PrincipalType] StringEqualsIgnoreCase "
    "'ServicePrincipal')) AND "
    "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) "
    "OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] "
    "ForAnyOfAnyValues:GuidEquals {b50d9833-a0cb-478e-945f-707fcc997c13, "
    "acdd72a7-3385-48ef-bd42-f606fba81ae7} AND @Resource[Microsoft.Authorization/roleAssignments:"
    "PrincipalType] StringEqualsIgnoreCase 'ServicePrincipal'))")


def test_infra_passes_every_rule(infra: Project) -> None:
    assert rules.check_all(infra) == []


def test_the_rules_see_every_assignment_and_know_every_role(infra: Project) -> None:
    """Guards against passing vacuously: the two delegated RBAC Administrator assignments are
    found and recognised as privileged, and no role is left unidentified."""
    seen = {(d.file.relpath, d.symbol): rules.roles_of(infra, d)
            for d in rules.role_assignments(infra)}
    assert len(seen) >= 9
    assert all(r.problem is None for roles in seen.values() for r in roles)
    privileged = sorted(key for key, roles in seen.items() if any(r.privileged for r in roles))
    assert privileged == [("infra/access/rbac-admin-on-des.bicep", "delegatedAdmin"),
                          ("infra/access/rbac-admin-on-group.bicep", "delegatedAdmin")]
    custom = {r.label for r in seen[("infra/access/role-on-group.bicep", "assignment")]}
    assert custom == {f"custom role {name} (infra/main.bicep)" for name in
                      ("targetOperatorRole", "vmOperatorRole", "sourceReaderRole")}


def _conditions(infra: Project, relpath: str) -> list[str]:
    (decl,) = [d for d in rules.role_assignments(infra) if d.file.relpath == relpath]
    values = infra.strings(decl.config["properties"]["condition"], decl.file)
    assert values and all(isinstance(v, str) for v in values)
    return [str(v) for v in values]


def test_target_groups_may_grant_only_disk_restore_operator_to_service_principals(
        infra: Project) -> None:
    for condition in _conditions(infra, "infra/access/rbac-admin-on-group.bicep"):
        assert rules.condition_problems(condition) == []
        assert condition.count(f"GuidEquals {{{DISK_RESTORE_OPERATOR}}}") == 2
        assert READER not in condition
        assert condition.count("PrincipalType] StringEqualsIgnoreCase 'ServicePrincipal'") == 2


def test_encryption_sets_may_grant_only_reader_to_service_principals(infra: Project) -> None:
    for condition in _conditions(infra, "infra/access/rbac-admin-on-des.bicep"):
        assert rules.condition_problems(condition) == []
        assert condition.count(f"GuidEquals {{{READER}}}") == 2
        assert DISK_RESTORE_OPERATOR not in condition
        assert condition.count("PrincipalType] StringEqualsIgnoreCase 'ServicePrincipal'") == 2


def test_the_vault_identities_clause_is_there_when_grants_are_restricted(infra: Project) -> None:
    conditions = _conditions(infra, "infra/access/rbac-admin-on-group.bicep")
    both = [c for c in conditions if c.count("roleAssignments:PrincipalId] ForAnyOfAnyValues") == 2]
    neither = [c for c in conditions if "PrincipalId]" not in c]
    assert both and neither  # restricted to the vaults' identities, or (opted out) not


def test_condition_problems() -> None:
    assert rules.condition_problems(REFERENCE_CONDITION) == []
    write_only = REFERENCE_CONDITION.split(" AND ((!")[0]
    lacks = "its condition does not contain "
    assert rules.condition_problems(write_only) == [
        lacks + "ActionMatches{'Microsoft.Authorization/roleAssignments/delete'}",
        lacks + "@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId]"]
    assert rules.condition_problems("  ") == ["its condition is empty"]


def test_the_seeded_file_fails_where_it_should(seeded: Project) -> None:
    findings = rules.check_all(seeded)
    got = sorted({(f.path.split("/")[-1], f.where.split(" ")[0], f.check) for f in findings})
    assert got == [
        ("grant.bicep", "grant", "CKV_DR_1"),  # Owner, passed in by one of two callers
        ("main.bicep", "adminWithoutCondition", "CKV_DR_1"),
        ("main.bicep", "adminWriteOnlyCondition", "CKV_DR_1"),
        ("main.bicep", "customAssignerWithoutCondition", "CKV_DR_1"),
        ("main.bicep", "readerFixedName", "CKV_DR_2"),
        ("main.bicep", "readerFixedName", "CKV_DR_3"),
        ("main.bicep", "roleFromParameter", "CKV_DR_1"),
        ("main.bicep", "uaaWithoutCondition", "CKV_DR_1"),
    ]
    messages: dict[str, list[str]] = {}
    for f in findings:
        if f.check == "CKV_DR_1":
            messages.setdefault(f.where.split(" ")[0], []).append(f.message)
    assert messages["adminWithoutCondition"] == [
        "assigns Role Based Access Control Administrator without a condition"]
    assert messages["uaaWithoutCondition"] == [
        "assigns User Access Administrator without a condition"]
    assert messages["grant"] == ["assigns Owner without a condition"]
    assert messages["customAssignerWithoutCondition"] == [
        ("assigns custom role assigner (privileged_without_condition/main.bicep) without a "
         "condition")]
    assert messages["roleFromParameter"][0].startswith("cannot tell which role it assigns")
    assert any("roleAssignments/delete" in m for m in messages["adminWriteOnlyCondition"])


def test_registry_modules_are_refused(tmp_path: Path) -> None:
    (tmp_path / "main.bicep").write_text(
        "module id 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {\n"
        "  name: 'id'\n  params: {\n    name: 'x'\n  }\n}\n", encoding="utf-8")
    findings = rules.check_all(Project.load(tmp_path))
    assert [(f.check, f.where) for f in findings] == [("CKV_DR_0", "id")]


def test_the_conditions_allow_the_roles_the_app_grants(infra: Project) -> None:
    """domain/restore/planning.py grants Disk Restore Operator on target resource groups and
    Reader on Disk Encryption Sets: the conditions must name those GUIDs (a changed constant
    fails here)."""
    source = (Path(__file__).resolve().parents[2] / "domain" / "restore" / "planning.py").read_text(
        encoding="utf-8")
    constants = {t.id: n.value.value for n in ast.parse(source).body if isinstance(n, ast.Assign)
                 for t in n.targets
                 if isinstance(t, ast.Name) and isinstance(n.value, ast.Constant)}
    assert constants["DISK_RESTORE_OPERATOR"] == DISK_RESTORE_OPERATOR
    assert constants["READER"] == READER
