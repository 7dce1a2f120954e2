"""The root holds the deployed app and little else: development code lives under dev/, and
.funcignore keeps everything that is not the app out of a deployment.

A new top-level folder must be either app code (and then it is deployed) or ignored; this test
fails otherwise, so a tool cannot slip into the Functions package, and the app cannot lose a
folder to an ignore line.
"""

from __future__ import annotations

import fnmatch
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What Azure Functions runs: the composition root, its settings, its layers, its dependencies.
APP = {"function_app.py", "host.json", "settings.py", "requirements.txt",
       "triggers", "orchestrations", "activities", "domain", "gateway"}
# Everything else the repository may hold at its root.
OTHERS = {"dev", "infra", "tests", "docs", ".ci", "Makefile", "pyproject.toml", "README.md",
          "requirements-dev.txt", "requirements-infra.txt", "requirements-worker.txt",
          "azure.yaml", ".funcignore", ".gitignore"}


def _top_level() -> set[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.split()
    return {path.split("/", 1)[0] for path in listed}


def _ignored(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, p.rstrip("/")) for p in patterns)


def _funcignore() -> list[str]:
    lines = (ROOT / ".funcignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_root_holds_the_app_the_dev_folder_and_build_files_only():
    unexpected = _top_level() - APP - OTHERS
    assert not unexpected, (f"{sorted(unexpected)} at the root: app code belongs to one of "
                            f"{sorted(APP)}, development code under dev/")


def test_everything_but_the_app_is_kept_out_of_a_deployment():
    patterns = _funcignore()
    deployed_by_mistake = {n for n in _top_level() - APP if not _ignored(n, patterns)}
    assert not deployed_by_mistake, f"add {sorted(deployed_by_mistake)} to .funcignore"


def test_no_app_code_is_ignored_for_deployment():
    patterns = _funcignore()
    lost = {n for n in APP if _ignored(n, patterns)}
    assert not lost, f".funcignore would leave {sorted(lost)} out of the deployed app"


def test_the_ignore_file_stays_short():
    """One line for all development code, not one per tool."""
    assert len(_funcignore()) <= 25
    assert "dev/" in _funcignore()
