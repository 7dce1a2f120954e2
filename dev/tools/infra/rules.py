"""Rules for every role assignment in the Bicep (also run inside checkov: checkov_checks/).

CKV_DR_1  A role that can grant roles (Role Based Access Control Administrator, User Access
          Administrator, Owner, or a custom role with roleAssignments/write or /delete or
          roleDefinitions/write) is assigned only with an ABAC condition, version 2.0, that
          constrains both role-assignment writes (@Request) and deletes (@Resource) to named
          role definitions. A role the evaluator cannot identify fails: write the role GUID
          literally, in a variable, in a module parameter set literally by its callers, or as a
          roleDefinitions resource of the project.
CKV_DR_2  Every role assignment is named with guid(...), so redeployments update it in place.
CKV_DR_3  Every role assignment has a description saying why it exists.
CKV_DR_0  No registry modules (br:, ts:): nothing inside them can be checked offline.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .bicep import Declaration, Finding, Project, ResourceRef, Unknown

ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
ROLE_DEFINITION = "Microsoft.Authorization/roleDefinitions"

# Built-in roles that can grant any role (A7 of the authorization reference).
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
PRIVILEGED_BUILT_IN = {
    RBAC_ADMINISTRATOR: "Role Based Access Control Administrator",
    USER_ACCESS_ADMINISTRATOR: "User Access Administrator",
    OWNER: "Owner",
}
# Actions that let a principal hand out access; a custom role holding one is privileged too.
PRIVILEGED_ACTIONS = ("Microsoft.Authorization/roleAssignments/write",
                      "Microsoft.Authorization/roleAssignments/delete",
                      "Microsoft.Authorization/roleDefinitions/write")
# A condition must contain each of these (compared without whitespace, case-insensitively).
REQUIRED_CONDITION_PARTS = (
    "ActionMatches{'Microsoft.Authorization/roleAssignments/write'}",
    "ActionMatches{'Microsoft.Authorization/roleAssignments/delete'}",
    "@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId]",
    "@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId]",
)
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class Role:
    """What one candidate value of roleDefinitionId turned out to be."""
    label: str
    privileged: bool
    problem: str | None = None  # set when the role cannot be identified


def role_assignments(project: Project) -> Iterator[Declaration]:
    for decl in project.declarations(ROLE_ASSIGNMENT):
        if not decl.existing:
            yield decl


def check_all(project: Project) -> list[Finding]:
    findings = [Finding("CKV_DR_0", bicep.relpath, symbol,
                        f"registry module {source}: the offline checks cannot see inside it; "
                        "write plain resources")
                for bicep, symbol, source in project.registry_modules()]
    for decl in role_assignments(project):
        findings += check_assignment(project, decl)
    return findings


def check_assignment(project: Project, decl: Declaration) -> list[Finding]:
    return [*privileged_needs_condition(project, decl), *named_with_guid(decl),
            *has_description(project, decl)]


def _finding(check: str, decl: Declaration, message: str) -> Finding:
    return Finding(check, decl.file.relpath, decl.where, message)


def _properties(decl: Declaration) -> dict[str, object]:
    props = decl.config.get("properties")
    return props if isinstance(props, dict) else {}


# ---- CKV_DR_1 ----------------------------------------------------------------------------------
def roles_of(project: Project, decl: Declaration) -> list[Role]:
    props = _properties(decl)
    if "roleDefinitionId" not in props:
        return [Role("?", False, "has no roleDefinitionId")]
    return [_role(project, value)
            for value in project.values(props["roleDefinitionId"], decl.file, decl.loop_names)]


def _role(project: Project, value: object) -> Role:
    if isinstance(value, Unknown):
        return Role("?", False, f"cannot tell which role it assigns ({value.why})")
    if isinstance(value, ResourceRef):
        if value.type.lower() != ROLE_DEFINITION.lower():
            return Role("?", False, f"roleDefinitionId names a {value.type}, not a role")
        return _custom_role(project, value)
    if isinstance(value, str):
        guids = _GUID.findall(value)
        if not guids:
            return Role(value, False, f"roleDefinitionId {value!r} holds no role GUID")
        guid = guids[-1].lower()
        name = PRIVILEGED_BUILT_IN.get(guid)
        return Role(name or guid, name is not None)
    return Role("?", False, f"cannot tell which role it assigns ({value!r})")


def _custom_role(project: Project, ref: ResourceRef) -> Role:
    label = f"custom role {ref.symbol} ({ref.file.relpath})"
    if ref.file.resources[ref.symbol].get("existing"):
        return Role(label, False, f"{label} is an existing role: its actions cannot be read")
    props = ref.config.get("properties")
    permissions = props.get("permissions") if isinstance(props, dict) else None
    actions: list[str] = []
    for permission in project.values(permissions, ref.file):
        if not isinstance(permission, list):
            return Role(label, False, f"cannot read the permissions of {label}")
        for entry in permission:
            for block in project.values(entry, ref.file):
                listed = block.get("actions") if isinstance(block, dict) else None
                for action_list in project.values(listed, ref.file):
                    if not isinstance(action_list, list):
                        return Role(label, False, f"cannot read the actions of {label}")
                    for action in action_list:
                        for text in project.strings(action, ref.file):
                            if isinstance(text, Unknown):
                                return Role(label, False,
                                            f"cannot read an action of {label} ({text.why})")
                            actions.append(text)
    privileged = any(fnmatch.fnmatchcase(wanted.lower(), pattern.lower())
                     for pattern in actions for wanted in PRIVILEGED_ACTIONS)
    return Role(label, privileged)


def condition_problems(condition: str) -> list[str]:
    """What a condition on a privileged assignment lacks (empty: acceptable)."""
    if not condition.strip():
        return ["its condition is empty"]
    squashed = re.sub(r"\s+", "", condition).lower()
    return [f"its condition does not contain {part}" for part in REQUIRED_CONDITION_PARTS
            if re.sub(r"\s+", "", part).lower() not in squashed]


def privileged_needs_condition(project: Project, decl: Declaration) -> list[Finding]:
    roles = roles_of(project, decl)
    findings = [_finding("CKV_DR_1", decl, role.problem) for role in roles if role.problem]
    privileged = sorted({role.label for role in roles if role.privileged})
    if not privileged:
        return findings
    who = " / ".join(privileged)
    props = _properties(decl)
    if "condition" not in props:
        return [*findings, _finding("CKV_DR_1", decl, f"assigns {who} without a condition")]
    for value in project.strings(props["condition"], decl.file, decl.loop_names):
        if isinstance(value, Unknown):
            findings.append(_finding("CKV_DR_1", decl,
                                     f"assigns {who}; its condition cannot be read ({value.why})"))
            continue
        for problem in condition_problems(value):
            findings.append(_finding("CKV_DR_1", decl, f"assigns {who}; {problem}"))
    versions = project.strings(props.get("conditionVersion"), decl.file, decl.loop_names) \
        if "conditionVersion" in props else []
    if not versions or any(v != "2.0" for v in versions):
        findings.append(_finding("CKV_DR_1", decl,
                                 f"assigns {who}; conditionVersion must be '2.0'"))
    return _unique(findings)


# ---- CKV_DR_2, CKV_DR_3 --------------------------------------------------------------------------
def named_with_guid(decl: Declaration) -> list[Finding]:
    name = decl.config.get("name")
    function = name.get("function") if isinstance(name, dict) else None
    if isinstance(function, dict) and function.get("type") == "guid":
        return []
    return [_finding("CKV_DR_2", decl, "is not named with guid(...) of stable inputs")]


def has_description(project: Project, decl: Declaration) -> list[Finding]:
    props = _properties(decl)
    if "description" not in props:
        return [_finding("CKV_DR_3", decl, "has no description saying why it exists")]
    findings = []
    for value in project.strings(props["description"], decl.file, decl.loop_names):
        if isinstance(value, Unknown):
            findings.append(_finding("CKV_DR_3", decl,
                                     f"its description cannot be read ({value.why})"))
        elif len(value.strip()) < 10:
            findings.append(_finding("CKV_DR_3", decl,
                                     f"its description {value!r} does not say why it exists"))
    return findings


def _unique(findings: list[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))
