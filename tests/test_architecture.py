"""The module boundaries of docs/architecture.md, enforced: a violation fails the build, not a
review."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP_PACKAGES = ("domain", "orchestrations", "activities", "triggers", "gateway")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", APP_PACKAGES)
def test_only_the_gateway_imports_azure_mgmt_or_identity(package):
    if package == "gateway":
        return
    for path in _files(package):
        bad = {n for n in _imports(path) if n.startswith(("azure.mgmt", "azure.identity",
                                                          "azure.core"))}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}: only gateway/ may"


def test_the_domain_imports_nothing_from_azure_or_the_app():
    for path in _files("domain"):
        bad = {n for n in _imports(path)
               if n.split(".")[0] in ("azure", "gateway", "activities", "orchestrations",
                                      "triggers", "settings")}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_orchestrations_do_no_io_and_read_no_settings():
    banned = {"os", "time", "random", "requests", "socket", "settings", "gateway", "logging",
              "datetime.datetime.now"}
    for path in _files("orchestrations"):
        bad = {n for n in _imports(path) if n.split(".")[0] in banned}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}: orchestrations are replayed"
        text = path.read_text(encoding="utf-8")
        assert "datetime.now" not in text and "utcnow" not in text, path


def test_orchestrations_take_only_activity_declarations_from_activities():
    """An orchestration names the activities it calls by their declared symbol (so tools follow
    the call to the handler) and the declaration type, nothing else of the activity layer: it
    never calls a handler, a gateway or a blueprint itself."""
    from activities.activity import Activity
    for path in _files("orchestrations"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                bad = [a.name for a in node.names if a.name.split(".")[0] == "activities"]
                assert not bad, f"{path.relative_to(ROOT)} imports {bad}: import the activities"
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("activities"):
                module = importlib.import_module(str(node.module))
                for alias in node.names:
                    value = getattr(module, alias.name, None)
                    assert isinstance(value, Activity) or value is Activity, \
                        f"{path.relative_to(ROOT)} imports {node.module}.{alias.name}, which is " \
                        "not an activity declaration"


def test_environment_is_read_only_in_settings():
    for package in (*APP_PACKAGES, "function_app.py"):
        paths = [ROOT / package] if package.endswith(".py") else _files(package)
        for path in paths:
            text = path.read_text(encoding="utf-8")
            assert "os.environ" not in text and "getenv" not in text, \
                f"{path.relative_to(ROOT)} reads the environment: use settings.py"


def test_function_app_only_registers_blueprints():
    tree = ast.parse((ROOT / "function_app.py").read_text(encoding="utf-8"))
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef |
                                               ast.ClassDef)]
    assert defs == [], "function_app.py must only register blueprints"


def test_no_module_name_repeats_across_layers():
    """One `drills.py` per codebase, not three: a name says which layer and capability it is."""
    seen: dict[str, Path] = {}
    repeated = []
    for package in APP_PACKAGES:
        for path in _files(package):
            if path.name == "__init__.py":
                continue
            if path.name in seen:
                repeated.append(f"{seen[path.name].relative_to(ROOT)} and {path.relative_to(ROOT)}")
            seen.setdefault(path.name, path)
    assert not repeated, repeated


def test_html_rendering_stays_out_of_the_domain():
    for path in _files("domain"):
        text = path.read_text(encoding="utf-8")
        assert "<html" not in text.lower() and "<svg" not in text.lower(), path
