"""The Bicep files of a folder, parsed with pycep-parser, and a small evaluator over them.

pycep turns a file into JSON-like data. It does not compile: it knows nothing of types, and it
writes an identifier and a string literal the same way (`principalId` and `'principalId'` are
both "principalId"). The evaluator reads a string as a reference when it names a variable,
parameter, resource or module of its file (or a loop variable), and as a literal otherwise.

`Project.values(expr, file)` answers every value an expression may take: a variable's value, a
module parameter as each caller sets it (or its default), a module output, both branches of a
conditional, and `Unknown` (with the reason) for whatever it cannot follow. Checks built on it
fail closed: an `Unknown` where a fact is needed is a finding, not a pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycep import BicepParser

MAX_VALUES = 64  # candidates an expression may take before the evaluator gives up
MAX_DEPTH = 40  # references followed from one expression
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INTERPOLATION = re.compile(r"(?<!\\)\$\{([^{}]*)\}")
_ESCAPES = {"\\'": "'", "\\\\": "\\", "\\n": "\n", "\\r": "\r", "\\t": "\t", "\\$": "$"}
_ESCAPE = re.compile(r"\\['\\nrt$]")
_RESOURCE_ID_FUNCTIONS = ("resource_id", "subscription_resource_id", "tenant_resource_id",
                          "extension_resource_id", "management_group_resource_id")


@dataclass(frozen=True)
class Finding:
    """One problem: which check, which file, where in it, and what is wrong."""
    check: str
    path: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: [{self.check}] {self.message}"


@dataclass(frozen=True)
class Unknown:
    """A value the evaluator cannot know offline, and why."""
    why: str


@dataclass(frozen=True)
class ResourceRef:
    """A resource declared in a Bicep file (its `.id`, or the symbol itself)."""
    file: BicepFile
    symbol: str

    @property
    def type(self) -> str:
        return str(self.file.resources[self.symbol]["type"])

    @property
    def config(self) -> dict[str, Any]:
        return unwrap(self.file.resources[self.symbol]["config"])[0]


Value = Any  # str | int | bool | None | list | dict | Unknown | ResourceRef


@dataclass(eq=False)
class BicepFile:
    path: Path
    relpath: str
    tree: dict[str, Any]

    def section(self, name: str) -> dict[str, Any]:
        found = self.tree.get(name)
        return found if isinstance(found, dict) else {}

    @property
    def parameters(self) -> dict[str, Any]:
        return self.section("parameters")

    @property
    def variables(self) -> dict[str, Any]:
        return self.section("variables")

    @property
    def resources(self) -> dict[str, Any]:
        return self.section("resources")

    @property
    def modules(self) -> dict[str, Any]:
        return self.section("modules")

    @property
    def outputs(self) -> dict[str, Any]:
        return self.section("outputs")

    def __repr__(self) -> str:
        return f"BicepFile({self.relpath})"


@dataclass(frozen=True)
class Declaration:
    """A resource or module declaration with its loop and `if` wrappers taken off."""
    file: BicepFile
    symbol: str
    type: str
    existing: bool
    config: dict[str, Any]
    loop_names: frozenset[str]
    line: int | None

    @property
    def where(self) -> str:
        return f"{self.symbol}" + (f" (line {self.line})" if self.line else "")


def unwrap(config: Any) -> tuple[dict[str, Any], frozenset[str]]:
    """A declaration's body without its `[for ...]` and `if (...)` wrappers, and the loop's
    item and index names."""
    names: set[str] = set()
    while isinstance(config, dict) and "config" in config and (
            "loop_type" in config or "condition" in config):
        detail = (config.get("loop_type") or {}).get("detail") or {}
        names.update(v for k, v in detail.items() if k in ("item_name", "index_name") and v)
        config = config["config"]
    return (config if isinstance(config, dict) else {}), frozenset(names)


def bicep_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.bicep") if p.is_file())


def parse_file(path: Path, root: Path, parser: BicepParser | None = None) -> BicepFile:
    """Parse one file; pycep's (lark's) exception on a syntax error, with line and column.
    Building a parser compiles pycep's grammar: pass one to parse many files."""
    parser = parser or BicepParser(add_line_numbers=True)
    tree: dict[str, Any] = dict(parser.parse(text=path.read_text(encoding="utf-8")))
    return BicepFile(path=path, relpath=_rel(path, root), tree=tree)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve().parent).as_posix()
    except ValueError:
        return path.as_posix()


def describe_parse_error(exc: Exception) -> tuple[str, str]:
    """(where, message) for a pycep/lark exception."""
    line, column = getattr(exc, "line", None), getattr(exc, "column", None)
    where = f"line {line}, column {column}" if line else "file"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return where, f"does not parse: {message}"


@dataclass
class Project:
    """Every Bicep file under a folder, and what can be known statically about their values."""
    root: Path
    files: dict[Path, BicepFile] = field(default_factory=dict)
    parse_failures: list[Finding] = field(default_factory=list)

    @classmethod
    def load(cls, root: Path) -> Project:
        project = cls(root=root)
        parser = BicepParser(add_line_numbers=True)
        for path in bicep_files(root):
            try:
                project.files[path.resolve()] = parse_file(path, root, parser)
            except Exception as exc:  # noqa: BLE001 - any parser failure is a finding
                where, message = describe_parse_error(exc)
                project.parse_failures.append(Finding("parse", _rel(path, root), where, message))
        return project

    def file(self, path: Path) -> BicepFile | None:
        return self.files.get(path.resolve())

    # ---- declarations ------------------------------------------------------------------------
    def declarations(self, resource_type: str | None = None) -> Iterator[Declaration]:
        """Resources (not modules) of every file, optionally of one type (case-insensitive)."""
        for bicep in self.files.values():
            for symbol, decl in bicep.resources.items():
                if resource_type and str(decl.get("type", "")).lower() != resource_type.lower():
                    continue
                config, loops = unwrap(decl.get("config"))
                raw = decl.get("config")
                line = raw.get("__start_line__") if isinstance(raw, dict) else None
                yield Declaration(bicep, symbol, str(decl.get("type", "")),
                                  bool(decl.get("existing")), config, loops,
                                  line if isinstance(line, int) else config.get("__start_line__"))

    def module_target(self, bicep: BicepFile, module: Mapping[str, Any]) -> BicepFile | None:
        """The local file a module declaration points at (None for registry modules)."""
        if module.get("type") != "local":
            return None
        path = (module.get("detail") or {}).get("path")
        return self.file(bicep.path.parent / path) if isinstance(path, str) else None

    def registry_modules(self) -> Iterator[tuple[BicepFile, str, str]]:
        for bicep in self.files.values():
            for symbol, module in bicep.modules.items():
                if module.get("type") != "local":
                    detail = module.get("detail") or {}
                    yield bicep, symbol, str(detail.get("full") or detail.get("path") or "?")

    def callers(self, target: BicepFile) -> list[tuple[BicepFile, dict[str, Any], frozenset[str]]]:
        """(calling file, module body, loop names) of every module declaration using `target`."""
        found = []
        for bicep in self.files.values():
            for module in bicep.modules.values():
                if self.module_target(bicep, module) is target:
                    config, loops = unwrap(module.get("config"))
                    found.append((bicep, config, loops))
        return found

    # ---- the evaluator -------------------------------------------------------------------------
    def values(self, expr: Any, bicep: BicepFile, loops: frozenset[str] = frozenset()
               ) -> list[Value]:
        """Every value `expr` (in `bicep`) may take; `Unknown` for what cannot be followed."""
        return _dedupe(self._values(expr, bicep, loops, 0))[:MAX_VALUES]

    def strings(self, expr: Any, bicep: BicepFile, loops: frozenset[str] = frozenset()
                ) -> list[str | Unknown]:
        """Like values(), with every candidate that is not a string (or a number) as Unknown."""
        out: list[str | Unknown] = []
        for value in self.values(expr, bicep, loops):
            if isinstance(value, Unknown):
                out.append(value)
            elif isinstance(value, bool) or value is None:
                out.append(Unknown(f"{value!r} is not a string"))
            elif isinstance(value, str | int):
                out.append(str(value))
            else:
                out.append(Unknown(f"not a string: {type(value).__name__}"))
        return out

    def _values(self, expr: Any, bicep: BicepFile, loops: frozenset[str], depth: int
                ) -> list[Value]:
        if depth > MAX_DEPTH:
            return [Unknown("references nested too deeply")]
        if isinstance(expr, str):
            return self._identifier_or_string(expr, bicep, loops, depth)
        if isinstance(expr, bool | int) or expr is None:
            return [expr]
        if isinstance(expr, list):
            return [expr]
        if isinstance(expr, dict):
            if "function" in expr and len(_plain(expr)) == 1:
                return self._function(expr["function"], bicep, loops, depth)
            if "operator" in expr and len(_plain(expr)) == 1:
                return self._operator(expr["operator"], bicep, loops, depth)
            if "loop_type" in expr:
                return [Unknown("a for-expression")]
            return [expr]
        return [Unknown(f"unexpected {type(expr).__name__}")]

    def _identifier_or_string(self, text: str, bicep: BicepFile, loops: frozenset[str],
                              depth: int) -> list[Value]:
        if _IDENTIFIER.match(text):
            if text in loops:
                return [Unknown(f"loop variable {text}")]
            if text in bicep.variables:
                return self._values(bicep.variables[text].get("value"), bicep, frozenset(),
                                    depth + 1)
            if text in bicep.parameters:
                return self._parameter(text, bicep, depth + 1)
            if text in bicep.resources:
                return [ResourceRef(bicep, text)]
            if text in bicep.modules:
                return [Unknown(f"module {text}")]
        return self._interpolate(text, bicep, loops, depth)

    def _interpolate(self, raw: str, bicep: BicepFile, loops: frozenset[str], depth: int
                     ) -> list[Value]:
        """A string literal: escapes undone, `${name}` replaced by every value of `name`
        (anything else inside `${...}` stays as `${?}`)."""
        results = [""]
        position = 0
        for match in _INTERPOLATION.finditer(raw):
            literal = _unescape(raw[position:match.start()])
            results = [r + literal for r in results]
            inner = match.group(1).strip()
            pieces: list[str] = []
            if _IDENTIFIER.match(inner):
                for value in self._identifier_or_string(inner, bicep, loops, depth + 1):
                    pieces.append(str(value) if isinstance(value, str | int) and
                                  not isinstance(value, bool) else "${?}")
            else:
                pieces.append("${?}")
            results = [r + p for r in results for p in _dedupe(pieces)][:MAX_VALUES]
            position = match.end()
        tail = _unescape(raw[position:])
        return [r + tail for r in results]

    def _parameter(self, name: str, bicep: BicepFile, depth: int) -> list[Value]:
        decl = bicep.parameters[name]
        has_default = "default" in decl and decl.get("default") is not None
        callers = self.callers(bicep)
        if not callers:
            out: list[Value] = [Unknown(f"parameter {name} of {bicep.relpath}: set at deployment")]
            if has_default:
                out = self._values(decl["default"], bicep, frozenset(), depth + 1) + out
            return out
        found: list[Value] = []
        for caller, config, loops in callers:
            given = config.get("params")
            params: dict[str, Any] = given if isinstance(given, dict) else {}
            if name in params:
                found += self._values(params[name], caller, loops, depth + 1)
            elif has_default:
                found += self._values(decl["default"], bicep, frozenset(), depth + 1)
            else:
                found.append(Unknown(f"{caller.relpath} does not set parameter {name}"))
        return found

    def _function(self, function: dict[str, Any], bicep: BicepFile, loops: frozenset[str],
                  depth: int) -> list[Value]:
        kind = function.get("type")
        params = function.get("parameters") or {}
        if kind in _RESOURCE_ID_FUNCTIONS and "property_name" not in function:
            resource_type = params.get("resource_type")
            names = [params[k] for k in sorted(params) if k.startswith("resource_name_")
                     and params[k] is not None]
            if not names:
                return [Unknown(f"{kind}() without a name")]
            out: list[Value] = []
            for value in self._values(names[-1], bicep, loops, depth + 1):
                if isinstance(value, str):
                    out.append(f"{resource_type}/{value}")
                else:
                    out.append(value if isinstance(value, Unknown) else Unknown(f"{kind}()"))
            return out
        return [Unknown(f"{kind}()")]

    def _operator(self, operator: dict[str, Any], bicep: BicepFile, loops: frozenset[str],
                  depth: int) -> list[Value]:
        kind = operator.get("type")
        operands = operator.get("operands") or {}
        if kind == "conditional":
            return (self._values(operands.get("true_value"), bicep, loops, depth + 1)
                    + self._values(operands.get("false_value"), bicep, loops, depth + 1))
        if kind == "property_accessor":
            return self._accessor(_chain(operator), bicep, loops, depth)
        return [Unknown(f"operator {kind}")]

    def _accessor(self, chain: list[Any] | None, bicep: BicepFile, loops: frozenset[str],
                  depth: int) -> list[Value]:
        if not chain or not isinstance(chain[0], str):
            return [Unknown("a property of an expression")]
        base, path = chain[0], chain[1:]
        if base in loops:
            return [Unknown(f"loop variable {base}")]
        if base in bicep.resources and path == ["id"]:
            return [ResourceRef(bicep, base)]
        if base in bicep.modules and len(path) == 2 and path[0] == "outputs":
            target = self.module_target(bicep, bicep.modules[base])
            if target is None:
                return [Unknown(f"output of registry module {base}")]
            output = target.outputs.get(str(path[1]))
            if output is None:
                return [Unknown(f"{target.relpath} has no output {path[1]}")]
            return self._values(output.get("value"), target, frozenset(), depth + 1)
        return [Unknown(f"{base}.{'.'.join(map(str, path))}")]


def _plain(node: dict[str, Any]) -> list[str]:
    return [k for k in node if not (k.startswith("__") and k.endswith("__"))]


def _chain(operator: dict[str, Any]) -> list[Any] | None:
    """`a.b.c` (pycep nests property accessors either way) as [a, 'b', 'c']; `a[i].b` as
    [a, 'b']."""
    operands = operator.get("operands") or {}
    left, right = operands.get("operand_1"), operands.get("operand_2")
    head = _flatten(left)
    tail = _flatten(right)
    return None if head is None or tail is None else head + tail


def _flatten(node: Any) -> list[Any] | None:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict) and "operator" in node:
        operator = node["operator"]
        if operator.get("type") == "property_accessor":
            return _chain(operator)
        if operator.get("type") == "index_accessor":
            return _flatten((operator.get("operands") or {}).get("operand_1"))
    return None


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: _ESCAPES[m.group(0)], text)


def _dedupe(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if not any(value is v or (type(value) is type(v) and value == v) for v in out):
            out.append(value)
    return out
