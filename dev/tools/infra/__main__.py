"""python -m tools.infra [--root infra] [--skip-checkov] [--show-skipped]: every offline check of
the Bicep.

1. every .bicep file parses (pycep-parser); a file that does not is a failure,
2. every resource body against the Bicep compiler's type data (types_check.py; the data from
   BICEP_TYPES_DIR, else <project root>/../shared/bicep-types; missing data is a failure),
3. the role assignment rules (rules.py): a role that can grant roles only with a condition on
   role-assignment writes and deletes, guid() names, descriptions,
4. app settings against settings.ENV_NAMES (app_settings.py),
5. checkov with the project's checks (checkov_run.py), its parsing errors counted as failures.

Prints one line per finding; exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import app_settings, checkov_run, rules, types_check
from .bicep import Finding, Project

DEFAULT_ROOT = Path(__file__).resolve().parents[3] / "infra"


def run(root: Path, *, checkov: bool = True, out: list[str] | None = None,
        show_skipped: bool = False) -> list[Finding]:
    lines = out if out is not None else []
    project = Project.load(root)
    findings = list(project.parse_failures)
    total = len(project.files) + len(project.parse_failures)
    lines.append(f"parse: {len(project.files)} of {total} .bicep files parse under {root}")
    types = types_check.check(project)
    findings += types.findings
    if show_skipped:
        lines += [f"  skipped: {path}: {symbol}: {where}: {why}"
                  for path, symbol, where, why in types.skipped]
    lines.append(types.summary())
    assignments = list(rules.role_assignments(project))
    role_findings = rules.check_all(project)
    findings += role_findings
    lines.append(f"role assignments: {len(assignments)} checked, {len(role_findings)} findings")
    setting_findings = app_settings.check(project)
    findings += setting_findings
    lines.append(f"app settings: {len(app_settings.bicep_settings(project).names)} set by the "
                 f"Bicep, {len(setting_findings)} findings")
    if checkov:
        report = checkov_run.run(root, role_assignments=len(assignments))
        findings += report.findings
        lines.append(f"checkov: {len(report.passed)} passed, {len(report.failed)} failed, "
                     f"{len(report.parsing_errors)} parsing errors")
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.infra", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT,
                        help="folder of .bicep files (default: infra/)")
    parser.add_argument("--skip-checkov", action="store_true",
                        help="only the checks that need no checkov")
    parser.add_argument("--show-skipped", action="store_true",
                        help="list every expression the type check could not evaluate")
    args = parser.parse_args(argv)
    summary: list[str] = []
    findings = run(args.root, checkov=not args.skip_checkov, out=summary,
                   show_skipped=args.show_skipped)
    for finding in findings:
        print(finding)
    for line in summary:
        print(line)
    print(f"{len(findings)} finding{'' if len(findings) == 1 else 's'}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
