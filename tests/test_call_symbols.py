"""Activities and orchestrators are named once, where they are declared, and called by symbol:
a string that names one anywhere else is a call tools cannot follow (and a typo nothing checks).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from activities.activity import Activity
from activities.registry import ACTIVITIES
from orchestrations.calls import Orchestrator
from orchestrations.orchestrators import ORCHESTRATORS

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("triggers", "orchestrations", "activities")
# Where the names are registered: the declarations derive them from the handlers' own names, so
# no literal is needed there either; these files may still hold one.
REGISTRATION = {ROOT / "activities" / "registry.py", ROOT / "orchestrations" / "orchestrators.py"}


def _registered() -> set[str]:
    return {d.name for d in ACTIVITIES} | {d.name for d in ORCHESTRATORS}


def test_no_string_literal_names_an_activity_or_orchestrator_outside_its_registration():
    names = _registered()
    found = []
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path in REGISTRATION:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and node.value in names:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not found, "use the declared symbol (its .name), not a string: " + "; ".join(found)


def test_the_scan_sees_what_it_must_find(tmp_path):
    """The scan would find a name spelled as a string (the test above is not vacuous)."""
    names = _registered()
    assert {"grant_role", "restore_managed_disk", "drill"} <= names
    tree = ast.parse('yield context.call_activity("grant_role", grant)')
    assert [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and n.value in names] == ["grant_role"]


@pytest.mark.parametrize("declaration", [*ACTIVITIES, *ORCHESTRATORS],
                         ids=lambda d: d.name)
def test_each_name_is_its_handlers_own_name(declaration):
    """Go to definition on a call leads to the function of the same name, and a rename of the
    function is a rename on the wire (the running instances' histories name the old one)."""
    function = declaration.handler if isinstance(declaration, Activity) else declaration.body
    assert function.__name__ == declaration.name
    assert declaration.name.islower() and " " not in declaration.name


def test_every_declared_activity_and_orchestrator_is_registered():
    """A declaration in a module the registry does not list would never reach the host."""
    import importlib
    declared: set[str] = set()
    for package, kind in (("activities", Activity), ("orchestrations", Orchestrator)):
        for path in sorted((ROOT / package).glob("*.py")):
            module = importlib.import_module(f"{package}.{path.stem}")
            declared |= {v.name for v in vars(module).values() if isinstance(v, kind)}
    assert declared == _registered()
