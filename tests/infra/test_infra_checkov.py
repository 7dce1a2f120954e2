"""checkov with the project's checks (dev/tools/infra/checkov_checks), run from its own venv
(.tools/checkov, or CHECKOV_BIN). It passes on infra/, fails on the seeded RBAC-admin grant
without a condition exactly where the in-house rules do, and a file checkov cannot parse is a
finding even though checkov itself exits 0."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tools.infra import checkov_run, rules
from tools.infra.bicep import Project

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_checkov_passes_on_infra_and_the_project_checks_judged_every_assignment(
        infra: Project, infra_checkov: checkov_run.CheckovReport) -> None:
    assert infra_checkov.findings == []
    assert infra_checkov.parsing_errors == []
    assignments = len(list(rules.role_assignments(infra)))
    for check in checkov_run.PROJECT_CHECKS:
        assert sum(1 for cid, _ in infra_checkov.passed if cid == check) == assignments


def test_checkov_fails_the_seeded_grants_where_the_rules_do(seeded: Project) -> None:
    report = checkov_run.run(FIXTURES / "privileged_without_condition")
    assert report.exit_code == 1
    by_checkov = sorted((cid, resource.split(".")[-1]) for cid, resource in report.failed
                        if cid.startswith("CKV_DR_"))
    by_rules = sorted({(f.check, f.where.split(" ")[0]) for f in rules.check_all(seeded)})
    assert by_checkov == by_rules
    assert ("CKV_DR_1", "adminWithoutCondition") in by_checkov
    assert {resource.split(".")[-1] for cid, resource in report.passed if cid == "CKV_DR_1"} \
        == {"adminWithCondition", "reader", "readerFixedName"}


def test_checkov_alone_exits_0_on_a_file_it_cannot_parse_so_the_run_counts_it() -> None:
    root = FIXTURES / "syntax_error"
    bare = subprocess.run([str(checkov_run.checkov_executable()), "--directory", str(root),
                           "--framework", "bicep", "--skip-download", "--quiet"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert bare.returncode == 0 and "Parsing errors: 1" in bare.stdout
    report = checkov_run.run(root)
    assert [(f.path, f.where) for f in report.findings] == [("syntax_error/main.bicep", "file")]
