"""What a Bicep expression may be, for the type check (types_check.py): every value it may take,
each with the file and loop variables its own expressions belong to.

bicep.py's evaluator answers values without their context; a type check needs it, because an
object reached through a module parameter holds expressions of the *calling* file. This follows
variables, conditional branches and module parameters (as each caller sets them, their default,
or, for a parameter set at deployment, just its declared type, as the compiler sees it); a
function whose result is always a string, an int or a bool, and an interpolated string, become
an `Opaque` value of that kind. Anything else is `Unknown`, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .bicep import BicepFile, Project, Unknown

MAX_DEPTH = 40
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ESCAPE = re.compile(r"\\(.)")

# Functions (pycep's names) whose result is always of one kind, as the compiler types them.
_RESULTS: dict[type, frozenset[str]] = {
    str: frozenset({
        "base64", "base64_to_string", "data_uri", "data_uri_to_string", "date_time_add",
        "date_time_from_epoch", "extension_resource_id", "format", "guid", "join",
        "load_file_as_base64", "load_text_content", "management_group_resource_id", "new_guid",
        "pad_left", "replace", "resource_id", "string", "subscription_resource_id", "substring",
        "tenant_resource_id", "to_lower", "to_upper", "trim", "unique_string", "uri",
        "uri_component", "uri_component_to_string", "utc_now"}),
    int: frozenset({"date_time_to_epoch", "index_of", "int", "last_index_of", "length"}),
    bool: frozenset({"bool", "contains", "empty", "ends_with", "starts_with"}),
}
_DECLARED: dict[str, type] = {"string": str, "int": int, "bool": bool, "object": dict,
                              "array": list}
KINDS = {str: "a string", int: "an int", bool: "a bool", dict: "an object", list: "an array"}
_OPERATORS = {"property_accessor": "a property access", "index_accessor": "an index access",
              "function_accessor": "a resource function call"}


@dataclass(frozen=True)
class Scope:
    """Where an expression is evaluated: its file and the loop variables around it."""
    file: BicepFile
    loops: frozenset[str]


@dataclass(frozen=True)
class Opaque:
    """A value of a known kind (str, int, bool, dict, list) whose content cannot be known
    offline: a function's result, an interpolated string, a parameter set at deployment."""
    kind: type
    why: str


@dataclass(frozen=True)
class Candidate:
    """One value an expression may take, the scope of the expressions inside it, and how it
    was reached (for messages: ` (variable v <- parameter p's default)`)."""
    value: Any
    scope: Scope
    via: str = ""


Resolved = Candidate | Unknown


class Resolver:
    def __init__(self, project: Project) -> None:
        self.project = project

    def resolve(self, expr: Any, scope: Scope, depth: int = 0) -> list[Resolved]:
        """Every value `expr` may take; a dict or list comes back as written (its items are
        resolved by whoever walks into it, in the candidate's scope)."""
        if depth > MAX_DEPTH:
            return [Unknown("references nested too deeply")]
        if isinstance(expr, str):
            if self.is_symbol(expr, scope):
                return self.symbol(expr, scope, depth)
            return self._string(expr, scope)
        if isinstance(expr, dict):
            plain = [k for k in expr if not dunder(k)]
            # Only pycep's own shapes: an object literal may have a key named `operator`.
            if plain == ["function"] and isinstance(expr["function"], dict):
                return [_function(expr["function"], scope)]
            if plain == ["operator"] and isinstance(expr["operator"], dict):
                return self._operator(expr["operator"], scope, depth)
            if "loop_type" in expr:
                return [Unknown("a for-expression")]
        return [Candidate(expr, scope)]

    def is_symbol(self, text: str, scope: Scope) -> bool:
        """Whether a string pycep gives could be a reference: it names a symbol of its file.
        (pycep writes `name` and `'name'` alike.)"""
        bicep = scope.file
        return bool(IDENTIFIER.match(text)) and (text in scope.loops or any(
            text in section for section in (bicep.variables, bicep.parameters, bicep.resources,
                                            bicep.modules)))

    def symbol(self, name: str, scope: Scope, depth: int = 0) -> list[Resolved]:
        """The values of `name` read as a reference."""
        bicep = scope.file
        if name in scope.loops:
            return [Unknown(f"loop variable {name}")]
        if name in bicep.variables:
            found = self.resolve(bicep.variables[name].get("value"),
                                 Scope(bicep, frozenset()), depth + 1)
            return [_via(v, f"variable {name}") for v in found]
        if name in bicep.parameters:
            return self._parameter(name, bicep, depth)
        return [Unknown(f"{name}: the resource or module {name}, or the string '{name}' "
                        "(pycep cannot tell)")]

    def _parameter(self, name: str, bicep: BicepFile, depth: int) -> list[Resolved]:
        decl = bicep.parameters[name]
        home = Scope(bicep, frozenset())
        allowed = next((d.get("argument") for d in decl.get("decorators") or []
                        if isinstance(d, dict) and d.get("type") == "allowed"), None)
        if isinstance(allowed, list):
            # The compiler types such a parameter as the union of its allowed values.
            return [Candidate(unescape(v) if isinstance(v, str) else v, home,
                              f" (parameter {name}, @allowed)") for v in allowed]
        default = decl.get("default")
        callers = self.project.callers(bicep)
        out: list[Resolved] = []
        if not callers:
            if default is not None:
                out += [_via(v, f"parameter {name}'s default")
                        for v in self.resolve(default, home, depth + 1)]
            # Set at deployment: only its declared type is known, as it is to the compiler.
            kind = _DECLARED.get(str(decl.get("type")))
            why = f"parameter {name} of {bicep.relpath}, set at deployment"
            out.append(Candidate(Opaque(kind, f"{why} ({KINDS[kind]})"), home) if kind
                       else Unknown(why))
            return out
        for caller, config, loops in callers:
            given = config.get("params")
            if isinstance(given, dict) and name in given:
                out += [_via(v, f"parameter {name} as {caller.relpath} sets it")
                        for v in self.resolve(given[name], Scope(caller, loops), depth + 1)]
            elif default is not None:
                out += [_via(v, f"parameter {name}'s default")
                        for v in self.resolve(default, home, depth + 1)]
            else:
                out.append(Unknown(f"{caller.relpath} does not set parameter {name}"))
        return out

    def _operator(self, operator: Mapping[str, Any], scope: Scope, depth: int
                  ) -> list[Resolved]:
        kind = str(operator.get("type"))
        operands = operator.get("operands") or {}
        if kind == "conditional":
            return (self.resolve(operands.get("true_value"), scope, depth + 1)
                    + self.resolve(operands.get("false_value"), scope, depth + 1))
        if kind == "minus" and isinstance(operands.get("integer_value"), int):
            return [Candidate(-operands["integer_value"], scope)]  # pycep's negative literal
        # Why no arithmetic or comparisons: pycep parses `a > 0 ? x : y` as `a > (0 ? x : y)`,
        # so an operator's operands cannot be trusted.
        return [Unknown(_OPERATORS.get(kind, f"an expression (operator {kind})"))]

    def _string(self, text: str, scope: Scope) -> list[Resolved]:
        out: list[Resolved] = []
        for value in self.project.values(text, scope.file, scope.loops):
            if isinstance(value, str) and "${?}" not in value:
                out.append(Candidate(value, scope))
            else:
                out.append(Candidate(Opaque(str, "an interpolated string"), scope))
        return out


def _function(function: Mapping[str, Any], scope: Scope) -> Resolved:
    name = str(function.get("type"))
    for kind, names in _RESULTS.items():
        if name in names:
            return Candidate(Opaque(kind, f"{name}() ({KINDS[kind]})"), scope)
    return Unknown(f"{name}(): a function call")


def _via(value: Resolved, how: str) -> Resolved:
    if isinstance(value, Unknown):
        return value
    inner = f" <- {value.via.strip()[1:-1]}" if value.via else ""
    return Candidate(value.value, value.scope, f" ({how}{inner})")


def key(raw: str) -> str | None:
    """An object key as written: pycep keeps the quotes of `'x-y': ...`; None when the key is
    interpolated (`'${name}': ...`)."""
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        text = raw[1:-1]
        return None if re.search(r"(?<!\\)\$\{", text) else unescape(text)
    return raw


def unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(m.group(1), m.group(1)),
                       text)


def dunder(name: str) -> bool:
    """pycep's own keys (`__start_line__`)."""
    return name.startswith("__") and name.endswith("__")
