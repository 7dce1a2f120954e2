"""Run checkov (from its own virtual environment: its pins conflict with this project's test
tools) on a folder of Bicep with the project's checks, and turn its JSON report into findings.

checkov alone is not enough: it exits 0 on a file it cannot parse (it only counts a "parsing
error") and has nothing to check inside registry modules. So a parsing error is a finding here,
and so is a run in which the project's checks did not see every role assignment.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bicep import Finding

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
CONFIG = HERE / "checkov.yaml"
CHECKS = HERE / "checkov_checks"
DEFAULT_CHECKOV = REPO / ".tools" / "checkov" / "bin" / "checkov"
PROJECT_CHECKS = ("CKV_DR_1", "CKV_DR_2", "CKV_DR_3")
TIMEOUT_S = 600


@dataclass
class CheckovReport:
    findings: list[Finding] = field(default_factory=list)
    passed: list[tuple[str, str]] = field(default_factory=list)  # (check id, resource)
    failed: list[tuple[str, str]] = field(default_factory=list)
    parsing_errors: list[str] = field(default_factory=list)
    exit_code: int = 0


def checkov_executable() -> Path:
    """CHECKOV_BIN, else the virtual environment `make` installs under .tools/checkov."""
    return Path(os.environ.get("CHECKOV_BIN") or DEFAULT_CHECKOV)


def command(root: Path, checkov: Path | None = None) -> list[str]:
    return [str(checkov or checkov_executable()), "--config-file", str(CONFIG),
            "--external-checks-dir", str(CHECKS), "--directory", str(root), "--output", "json"]


def run(root: Path, checkov: Path | None = None, role_assignments: int | None = None
        ) -> CheckovReport:
    """checkov on `root`; `role_assignments` (from the project model) is how many role
    assignments each project check must have judged."""
    exe = checkov or checkov_executable()
    if not exe.is_file():
        return CheckovReport(findings=[Finding(
            "checkov", str(exe), "-", "checkov is not installed there: `make test` installs it "
            "(python -m venv .tools/checkov && .tools/checkov/bin/pip install -r "
            "dev/tools/infra/checkov-requirements.txt), or set CHECKOV_BIN")], exit_code=-1)
    env = {**os.environ, "DISKRESTORE_INFRA_ROOT": str(root.resolve()),
           "LOG_LEVEL": "WARNING", "BC_SKIP_MAPPING": "TRUE", "CKV_NO_FIX": "TRUE"}
    done = subprocess.run(command(root, exe), capture_output=True, text=True, env=env,
                          timeout=TIMEOUT_S, check=False)
    report = parse_report(done.stdout, root)
    report.exit_code = done.returncode
    if done.returncode not in (0, 1):
        report.findings.append(Finding("checkov", str(root), "-",
                                       f"checkov exited {done.returncode}: "
                                       f"{(done.stderr or done.stdout).strip()[-2000:]}"))
    if role_assignments:
        for check in PROJECT_CHECKS:
            judged = sum(1 for cid, _ in report.passed + report.failed if cid == check)
            if judged < role_assignments:
                report.findings.append(Finding(
                    "checkov", str(CHECKS), check,
                    f"judged {judged} of the {role_assignments} role assignments: the project "
                    "checks did not load or did not see every file"))
    return report


def parse_report(stdout: str, root: Path) -> CheckovReport:
    report = CheckovReport()
    start = stdout.find("{") if stdout.lstrip()[:1] != "[" else stdout.find("[")
    try:
        data: Any = json.loads(stdout[start:]) if start >= 0 else None
    except json.JSONDecodeError as exc:
        report.findings.append(Finding("checkov", str(root), "-",
                                       f"unreadable checkov output ({exc}): {stdout[:500]}"))
        return report
    blocks = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    for block in blocks:
        results = block.get("results") or {}
        for item in results.get("passed_checks") or []:
            report.passed.append((item.get("check_id", "?"), item.get("resource", "?")))
        for item in results.get("failed_checks") or []:
            report.failed.append((item.get("check_id", "?"), item.get("resource", "?")))
            lines = item.get("file_line_range") or []
            where = item.get("resource", "?") + (f" (lines {lines[0]}-{lines[-1]})"
                                                 if lines else "")
            details = "; ".join(item.get("details") or [])
            report.findings.append(Finding(
                "checkov", _relative(item.get("file_abs_path") or item.get("file_path", "?"),
                                     root), where,
                f"{item.get('check_id')} {item.get('check_name')}"
                + (f": {details}" if details else "")))
        for path in results.get("parsing_errors") or []:
            report.parsing_errors.append(path)
            report.findings.append(Finding(
                "checkov", _relative(path, root), "file",
                "checkov could not parse this file and checked nothing in it (checkov itself "
                "exits 0 on that)"))
        count = (block.get("summary") or {}).get("parsing_errors") or 0
        if count and not results.get("parsing_errors"):
            report.findings.append(Finding("checkov", str(root), "-",
                                           f"checkov reports {count} parsing errors"))
    return report


def _relative(path: str, root: Path) -> str:
    """A path as the other checks print it (from the folder above `root`). checkov reports
    absolute paths (file_abs_path, parsing errors) and `/x.bicep` relative to `root`."""
    candidate = Path(path)
    if not candidate.exists() and path.startswith("/"):
        candidate = root / path.lstrip("/")
    try:
        return candidate.resolve().relative_to(root.resolve().parent).as_posix()
    except ValueError:
        return path
