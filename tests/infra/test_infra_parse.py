"""The parse gate: every .bicep file parses with pycep-parser, and one that does not fails the
check with its file and line (checkov alone would exit 0: see test_infra_checkov.py)."""

from __future__ import annotations

from pathlib import Path

from tools.infra import __main__ as cli
from tools.infra.bicep import Project, bicep_files

INFRA = Path(__file__).resolve().parents[2] / "infra"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_every_bicep_file_under_infra_parses(infra: Project) -> None:
    assert infra.parse_failures == []
    assert len(infra.files) == len(bicep_files(INFRA)) >= 10


def test_a_file_that_does_not_parse_is_a_finding_with_its_line() -> None:
    project = Project.load(FIXTURES / "syntax_error")
    assert [(f.check, f.path, f.where) for f in project.parse_failures] == [
        ("parse", "syntax_error/main.bicep", "line 8, column 29")]
    assert "does not parse" in project.parse_failures[0].message
    assert [f.relpath for f in project.files.values()] == ["syntax_error/fine.bicep"]


def test_the_command_fails_on_a_syntax_error_and_passes_on_infra(capsys) -> None:
    assert cli.main(["--root", str(FIXTURES / "syntax_error"), "--skip-checkov"]) == 1
    assert "syntax_error/main.bicep: line 8, column 29: [parse]" in capsys.readouterr().out
    assert cli.main(["--root", str(INFRA), "--skip-checkov"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0 findings"
