"""docs/architecture.md cannot go stale silently: every file it names exists, and every `symbol`
its "Where does X happen" table names after a file is defined in that file.

In a table row, a backticked path (`orchestrations/steps.py`) names the file the following
backticked identifiers (`grant_roles`, `Run.approval`) must be defined in: at its top level (a
function, class or assignment), or `Class.member` in that class. Other backticked text (an HTTP
route, a call with arguments, a Python keyword) is prose and not checked.
"""

from __future__ import annotations

import ast
import keyword
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
TABLE = "## Where does X happen"

CODE = re.compile(r"`([^`]+)`")
PATH = re.compile(r"[\w.-]+/(?:[\w.-]+/?)*|[\w-]+\.(?:py|md|json)")
SYMBOL = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?")
TOP_LEVEL = {path.split("/", 1)[0] for path in (p.relative_to(ROOT).as_posix()
                                                for p in ROOT.iterdir())}


def _names(body: list[ast.stmt]) -> set[str]:
    """Functions, classes and assigned names defined directly in `body`."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def defines(path: Path, symbol: str) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    head, _, member = symbol.partition(".")
    if not member:
        return head in _names(tree.body)
    return any(isinstance(node, ast.ClassDef) and node.name == head and member in _names(node.body)
               for node in tree.body)


def table_rows(text: str) -> list[str]:
    """The rows of the first table after the TABLE heading (not its header or rule)."""
    section = text.split(TABLE, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return rows[2:]


def references(row: str) -> tuple[list[tuple[str, str]], list[str]]:
    """((file, symbol) pairs, problems) of one table row."""
    pairs, problems, current = [], [], None
    for token in CODE.findall(row.split("|", 2)[2]):  # the answer column, not the question
        if PATH.fullmatch(token):
            current = token
        elif SYMBOL.fullmatch(token) and not keyword.iskeyword(token):
            if current is None:
                problems.append(f"`{token}` names no file before it: {row}")
            else:
                pairs.append((current, token))
    if current is None:
        problems.append(f"the row names no file: {row}")
    return pairs, problems


def check(text: str) -> list[str]:
    """Every problem with the doc's references; empty when the map is true."""
    problems = []
    for token in CODE.findall(text):  # every repository path anywhere in the doc
        if PATH.fullmatch(token) and token.split("/", 1)[0] in TOP_LEVEL and \
                not (ROOT / token).exists():
            problems.append(f"{token} does not exist")
    rows = table_rows(text)
    if len(rows) < 4:
        problems.append(f"the table has {len(rows)} rows: the parse found no map")
    for row in rows:
        pairs, found = references(row)
        problems += found
        for file, symbol in pairs:
            path = ROOT / file
            if not file.endswith(".py"):
                problems.append(f"`{symbol}` follows {file}, which is not a Python file")
            elif not path.is_file():
                problems.append(f"{file} does not exist")
            elif not defines(path, symbol):
                problems.append(f"{file} does not define {symbol}")
    return list(dict.fromkeys(problems))  # a missing file is named once


def test_every_file_and_symbol_the_map_names_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert check(text) == []
    # the map names the symbols the brief asks for (the parse really reaches the table)
    named = {pair for row in table_rows(text) for pair in references(row)[0]}
    assert {("gateway/rbac.py", "Rbac.grant_role"),
            ("domain/restore/planning.py", "DISK_RESTORE_OPERATOR"),
            ("orchestrations/polls.py", "await_propagation")} <= named


def test_the_check_finds_a_stale_reference() -> None:
    """A renamed file, a removed function or a method of the wrong class fails the check."""
    text = (f"`docs/gone.md`\n\n{TABLE}\n\n| q | where |\n| --- | --- |\n"
            "| a | `activities/handlers.py` `grant_role` |\n"
            "| b | `activities/role_activities.py` `grant_roles` |\n"
            "| c | `gateway/rbac.py` `Rbac.grant_role` `Compute.grant_role` |\n"
            "| d | `orphan` |\n")
    assert check(text) == [
        "docs/gone.md does not exist",
        "activities/handlers.py does not exist",
        "activities/role_activities.py does not define grant_roles",
        "gateway/rbac.py does not define Compute.grant_role",
        "`orphan` names no file before it: | d | `orphan` |",
        "the row names no file: | d | `orphan` |",
    ]
