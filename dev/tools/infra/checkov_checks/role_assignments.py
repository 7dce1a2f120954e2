"""checkov adapters for dev/tools/infra/rules.py: CKV_DR_1 (a role that can grant roles only with a
condition on role-assignment writes and deletes), CKV_DR_2 (named with guid()), CKV_DR_3 (a
description). checkov hands a check one resource at a time; the rules follow variables, module
parameters and custom role definitions across files, so each check looks its resource up in
the project (every .bicep file under the scanned folder) and applies the same rule as
`python -m tools.infra`.

Loaded by checkov from its own virtual environment (.tools/checkov), with checkov's pycep.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from checkov.bicep.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult

_REPO = Path(__file__).resolve().parents[3]
if str(_REPO) not in sys.path:
    sys.path.append(str(_REPO))

# Imported after the repository is on sys.path (checkov loads this file by path).
from tools.infra import rules  # noqa: E402 - after sys.path is set
from tools.infra.bicep import Declaration, Finding, Project  # noqa: E402 - after sys.path is set

ROOT_ENV = "DISKRESTORE_INFRA_ROOT"
_PROJECTS: dict[Path, Project] = {}


def _project_root(file: Path) -> Path:
    """The folder checkov scans (set by dev/tools/infra/checkov_run.py), else the file's folder."""
    configured = os.environ.get(ROOT_ENV)
    if configured:
        root = Path(configured).resolve()
        if root == file or root in file.parents:
            return root
    return file.parent


def _declaration(entity_path: str) -> tuple[Project, Declaration] | None:
    # checkov sets entity_path to "<file>:<resource type>:<symbol>" before scanning.
    file_part, _, rest = entity_path.partition(":" + rules.ROLE_ASSIGNMENT + ":")
    if not rest:
        return None
    file = Path(file_part).resolve()
    root = _project_root(file)
    project = _PROJECTS.get(root)
    if project is None:
        project = _PROJECTS[root] = Project.load(root)
    for decl in rules.role_assignments(project):
        if decl.file.path == file and decl.symbol == rest:
            return project, decl
    return None


class _RoleAssignmentCheck(BaseResourceCheck):  # type: ignore[misc]  # checkov is untyped here
    rule: Callable[[Project, Declaration], list[Finding]]

    def __init__(self, check_id: str, name: str) -> None:
        super().__init__(name=name, id=check_id, categories=(CheckCategories.IAM,),
                         supported_resources=(rules.ROLE_ASSIGNMENT,))

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        found = _declaration(self.entity_path)
        if found is None:
            self.details.append("the project model does not have this resource")
            return CheckResult.FAILED
        findings = type(self).rule(*found)
        self.details.extend(f.message for f in findings)
        return CheckResult.FAILED if findings else CheckResult.PASSED


class PrivilegedRoleNeedsCondition(_RoleAssignmentCheck):
    rule = staticmethod(rules.privileged_needs_condition)

    def __init__(self) -> None:
        super().__init__("CKV_DR_1", "A role that can grant roles is assigned only with a "
                                     "condition on role-assignment writes and deletes")


class NamedWithGuid(_RoleAssignmentCheck):
    rule = staticmethod(lambda _project, decl: rules.named_with_guid(decl))

    def __init__(self) -> None:
        super().__init__("CKV_DR_2", "A role assignment is named with guid() of stable inputs")


class HasDescription(_RoleAssignmentCheck):
    rule = staticmethod(rules.has_description)

    def __init__(self) -> None:
        super().__init__("CKV_DR_3", "A role assignment says in its description why it exists")


PrivilegedRoleNeedsCondition()
NamedWithGuid()
HasDescription()
