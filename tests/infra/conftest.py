"""Shared fixtures of the offline infrastructure checks' tests (dev/tools/infra).

The seeded bad files are under fixtures/: privileged_without_condition/ (role assignments the
rules must reject next to ones they must accept), syntax_error/ (a file that does not parse next
to one that does), missing_setting/ (a Function App whose settings do not match the code) and
bad_types/ (one resource per type mistake the type check must report, with its BCP code).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tools.infra import checkov_run, rules
from tools.infra.bicep import Project

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def infra() -> Project:
    return Project.load(INFRA)


@pytest.fixture(scope="session")
def seeded() -> Project:
    return Project.load(FIXTURES / "privileged_without_condition")


@pytest.fixture(scope="session")
def infra_checkov(infra: Project) -> checkov_run.CheckovReport:
    return checkov_run.run(INFRA, role_assignments=len(list(rules.role_assignments(infra))))
