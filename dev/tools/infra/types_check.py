"""An offline Bicep type check: every resource declaration body against the compiler's type data.

No Bicep compiler can be installed here. This reproduces the part of `bicep build` that compares
a resource body with its type (Azure/bicep `TypeValidator`, `AzResourceTypeProvider`), from the
compiler's own data (bicep_types.py) and pycep's parse tree. Each finding names its BCP code:

- BCP081  the type@version is not in the data. The compiler only warns and deploys unchecked;
          here it fails, by name: the data is a partial copy, and a type it lacks was not checked.
- BCP037  a property the type does not have; BCP089 when one is spelled alike (`Location`).
          Names match case-sensitively, as in the compiler (an ordinal comparison): a property
          that differs only in case is BCP089, not a pass.
- BCP035  a required property missing (not checked in an object with an interpolated key, which
          may supply it; read-only "required" properties are outputs and are not asked for).
- BCP073  a read-only property set; BCP173 any property but name, scope, parent and dependsOn
          on an `existing` resource (whose body is otherwise not checked).
- BCP036  a value of the wrong type, or outside a closed enum; BCP088 when an allowed value is
          spelled alike. Enum values match case-sensitively, as the compiler's do. An extensible
          enum (`'a' | 'b' | string`) accepts any string, as the compiler does.
- BCP078  a discriminated object without its discriminator; a discriminator value outside the
          variants is BCP036/BCP088. Each variant is checked with its own properties.
- BCP040  an interpolated key (`'${x}': ...`) on an object that takes no additional properties.
- BCP245  a read-only resource type (no writable scope) declared without `existing`.

It follows objects, arrays of objects and discriminated objects (when the discriminator is
known) to any depth, and values through variables, conditional branches and module parameters
(bicep_values.py), in loops, `if` resources and nested resource declarations. What it cannot
evaluate (most function calls, property accesses, loop variables, for-expressions, operators) is
skipped and listed in the report's `skipped` with the reason, never counted as a pass. pycep
writes `name` and `'name'` alike: when a string names a symbol of its file, both readings are
tried, and a finding needs both to fail.

Out of reach: module parameter and output types, string lengths and patterns, integer bounds,
deploy-time constants (BCP120), resource scopes (BCP135), child resource names, and the linter
rules. Inside a resource body the compiler reports most of these findings as warnings (the type
data may be inaccurate); this check fails on all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bicep import Declaration, Finding, Project, Unknown
from .bicep_types import (
    EXTENSION,
    TENANT,
    Node,
    Property,
    TypeData,
    TypeDataMissing,
    configured_dir,
)
from .bicep_values import KINDS, Candidate, Opaque, Resolved, Resolver, Scope, dunder, key

CHECK = "types"
# What a resource body takes besides its type's properties (AzResourceTypeProvider): dependsOn
# always, parent on a child type not nested in its parent, scope on extension (and tenant) types
# (ScopeHelper), asserts. Their values are resource references, not data: not checked.
_DEPENDS_ON, _PARENT, _SCOPE, _ASSERTS = "dependsOn", "parent", "scope", "asserts"
_EXISTING_SETTABLE = frozenset({"name", _SCOPE, _PARENT, _DEPENDS_ON})
_PYCEP_DEPENDS_ON = "depends_on"  # pycep adds it to a nested declaration (its parent)
_PRIMITIVES: dict[str, type] = {"StringType": str, "IntegerType": int, "BooleanType": bool}
_CONTAINERS = {("ObjectType", dict), ("DiscriminatedObjectType", dict), ("ArrayType", list)}


@dataclass(frozen=True)
class TypeIssue:
    """One finding, with its BCP code and the property path it is about ("" for the body)."""
    file: str
    symbol: str  # `parent::child` for a nested declaration
    where: str
    code: str
    path: str
    message: str

    def finding(self) -> Finding:
        return Finding(CHECK, self.file, self.where,
                       f"{self.code}: {f'{self.path}: ' if self.path else ''}{self.message}")


@dataclass
class TypeReport:
    """What the check found, and how much it saw (so that a pass is never vacuous)."""
    data_dir: Path
    issues: list[TypeIssue] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # the issues, and missing data
    declarations: int = 0
    existing: int = 0
    type_versions: set[str] = field(default_factory=set)
    files_loaded: list[Path] = field(default_factory=list)
    checked: set[tuple[str, str, str]] = field(default_factory=set)  # file, symbol, path
    skipped: list[tuple[str, str, str, str]] = field(default_factory=list)  # ..., and why
    data_found: bool = True

    def summary(self) -> str:
        if not self.data_found:
            return f"bicep types: no type data at {self.data_dir}, {len(self.findings)} finding"
        return (f"bicep types: {self.declarations} resource declarations ({self.existing} "
                f"existing) of {len(self.type_versions)} type@versions, {len(self.files_loaded)} "
                f"types.json files read; {len(self.checked)} values checked, "
                f"{len(self.skipped)} expressions skipped, {len(self.findings)} findings")


def check(project: Project, data_dir: Path | None = None) -> TypeReport:
    """Every resource declaration of the project against the type data (see the module doc).
    `data_dir` defaults to BICEP_TYPES_DIR, else <project root>/../shared/bicep-types."""
    root, how = (data_dir.resolve(), "the caller's choice") if data_dir else configured_dir()
    report = TypeReport(data_dir=root)
    try:
        data = TypeData.open(root, how)
    except TypeDataMissing as exc:
        report.findings.append(Finding(CHECK, str(root), "type data", str(exc)))
        report.data_found = False
        return report
    for decl in project.declarations():
        _check_declaration(project, data, decl, report)
    report.files_loaded = data.loaded
    report.issues = sorted(set(report.issues), key=lambda i: (i.file, i.where, i.path, i.code))
    report.findings = [issue.finding() for issue in report.issues]
    return report


@dataclass
class _Sink:
    """One walk's findings (code, path, message), checked paths and skips (path, why)."""
    findings: list[tuple[str, str, str]] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def fail(self, code: str, path: str, message: str) -> None:
        self.findings.append((code, path, message))

    def skip(self, path: str, why: str) -> None:
        self.skipped.append((path, why))

    def add(self, other: _Sink) -> None:
        self.findings += other.findings
        self.checked += other.checked
        self.skipped += other.skipped


def _check_declaration(project: Project, data: TypeData, decl: Declaration,
                       report: TypeReport) -> None:
    nested = _nested(decl)
    symbol = decl.symbol.replace("__", "::") if nested else decl.symbol
    raw = decl.file.resources[decl.symbol]
    line = decl.line or raw.get("__start_line__")  # pycep puts it beside the body, not in it
    where = symbol + (f" (line {line})" if isinstance(line, int) else "")
    api_version = raw.get("api_version")
    name = f"{decl.type}@{api_version or '(no API version)'}"
    report.declarations += 1
    report.existing += int(decl.existing)
    report.type_versions.add(name.lower())
    resource = data.resource(decl.type, str(api_version)) if api_version else None
    if resource is None:
        namespace = decl.type.split("/")[0]
        held = ", ".join(data.versions(namespace)) or "none"
        report.issues.append(TypeIssue(decl.file.relpath, symbol, where, "BCP081", "", (
            f"{name} is not in the type data ({data.root / 'generated'}; API versions held for "
            f"{namespace}: {held}). The compiler would only warn and deploy it unchecked: add "
            "the type@version to the data, or use one it holds")))
        return
    sink = _Sink()
    walker = _Walker(Resolver(project), data)
    if decl.existing:
        walker.existing(decl, resource.body, sink)
    elif resource.writable_scopes == 0:
        sink.fail("BCP245", "", f"{resource.name} can only be used with the 'existing' "
                                "keyword (the type has no writable scope)")
    else:
        walker.body(decl, resource.body, resource.readable_scopes | resource.writable_scopes,
                    nested, sink)
    report.issues += [TypeIssue(decl.file.relpath, symbol, where, code, path, message)
                      for code, path, message in sink.findings]
    report.checked.update((decl.file.relpath, symbol, p) for p in sink.checked)
    for path, why in dict.fromkeys(sink.skipped):  # a value reached twice is one skip
        report.skipped.append((decl.file.relpath, symbol, path, why))


def _nested(decl: Declaration) -> bool:
    """Whether pycep flattened this from a `resource child` inside its parent's body (it names
    it `parent__child` and gives it the full type)."""
    head, sep, _ = decl.symbol.rpartition("__")
    parent = decl.file.resources.get(head) if sep else None
    return isinstance(parent, dict) and decl.type.lower().startswith(
        f"{parent.get('type', '')}/".lower())


class _Walker:
    """Walks a declaration's body against its type into a _Sink."""

    def __init__(self, resolver: Resolver, data: TypeData) -> None:
        self.resolver = resolver
        self.data = data

    def body(self, decl: Declaration, node: Node, scopes: int, nested: bool,
             sink: _Sink) -> None:
        child = decl.type.count("/") >= 2
        accepted = {_DEPENDS_ON, _ASSERTS}
        accepted |= {_PYCEP_DEPENDS_ON} if nested else ({_PARENT} if child else set())
        if scopes & (EXTENSION | TENANT):
            accepted.add(_SCOPE)
        if node.data.get("discriminator") == "name" and child and not nested \
                and _PARENT not in decl.config:
            # A child declared at the top (`name: 'site/web'`): the compiler has no literal
            # name to pick a variant by, and checks a generic body instead.
            sink.skip("", "a child resource declared without parent: the compiler checks it "
                          "against a generic body")
            return
        self.literal(decl.config, Scope(decl.file, decl.loop_names), node, "", sink,
                     accepted=frozenset(accepted))

    def existing(self, decl: Declaration, node: Node, sink: _Sink) -> None:
        known = set(self.data.properties(node)) if node.kind == "ObjectType" else set()
        for raw in decl.config:
            name = key(raw)
            if name is None or dunder(raw) or name in _EXISTING_SETTABLE | {_PYCEP_DEPENDS_ON}:
                continue
            if known and name not in known:
                sink.fail("BCP037", name, f"not a property of {node.name}")
            else:
                sink.fail("BCP173", name, "cannot be used in an existing resource declaration "
                                          "(only name, scope, parent, dependsOn)")

    # ---- an expression, and the values it may take ---------------------------------------------
    def value(self, expr: Any, scope: Scope, node: Node, path: str, sink: _Sink, *,
              nullable: bool = False) -> None:
        """Every value `expr` may take against `node`; what cannot be known is skipped."""
        if isinstance(expr, str) and self.resolver.is_symbol(expr, scope):
            self._symbol_or_string(expr, scope, node, path, sink, nullable)
            return
        for candidate in self.resolver.resolve(expr, scope):
            if isinstance(candidate, Unknown):
                sink.skip(path, candidate.why)
            else:
                self.literal(candidate.value, candidate.scope, node, path, sink,
                             nullable=nullable, via=candidate.via)

    def _symbol_or_string(self, name: str, scope: Scope, node: Node, path: str, sink: _Sink,
                          nullable: bool) -> None:
        # Why: pycep gives `location` and `'location'` as the same string. Bicep reads exactly
        # one of them, so a finding needs both readings to fail.
        as_string, as_reference = _Sink(), _Sink()
        self.literal(name, scope, node, path, as_string, nullable=nullable)
        for candidate in self.resolver.symbol(name, scope):
            if isinstance(candidate, Unknown):
                as_reference.skip(path, candidate.why)
            else:
                self.literal(candidate.value, candidate.scope, node, path, as_reference,
                             nullable=nullable, via=candidate.via)
        if as_string.findings or not as_reference.findings:
            sink.add(as_reference)
        else:
            sink.skip(path, f"{name}: the symbol or the string '{name}' (pycep cannot tell); "
                            "as a string it passes")

    def literal(self, value: Any, scope: Scope, node: Node, path: str, sink: _Sink, *,
                nullable: bool = False, via: str = "",
                accepted: frozenset[str] = frozenset()) -> None:
        """One value (as written, or Opaque) against one type."""
        kind = node.kind
        if kind == "AnyType" or (value is None and nullable):
            sink.checked.append(path)  # an optional property may be null (AllowImplicitNull)
        elif isinstance(value, Opaque):
            self._opaque(value, node, path, sink, via)
        elif (allowed := self.data.literals(node)) is not None:
            self._enum(value, allowed, node, path, sink, via)
        elif kind == "UnionType":
            self._union(value, scope, node, path, sink, via)
        elif kind == "ObjectType" and isinstance(value, dict):
            self._object(value, scope, self.data.properties(node),
                         self.data.additional_properties(node), node.name, path, sink, accepted)
        elif kind == "DiscriminatedObjectType" and isinstance(value, dict):
            self._discriminated(value, scope, node, path, sink, accepted)
        elif kind == "ArrayType" and isinstance(value, list):
            sink.checked.append(path)
            item = self.data.deref(node.file, node.data["itemType"])
            for i, element in enumerate(value):
                self.value(element, scope, item, f"{path}[{i}]", sink)
        elif kind in _PRIMITIVES and _is(value, _PRIMITIVES[kind]):
            sink.checked.append(path)
        elif kind in _PRIMITIVES or kind in {k for k, _ in _CONTAINERS}:
            sink.fail("BCP036", path, f"expects {self.data.describe(node)}, not "
                                      f"{_describe(value)}{via}")
        else:
            sink.skip(path, f"a {kind} in the type data, which this check does not read")

    def _opaque(self, value: Opaque, node: Node, path: str, sink: _Sink, via: str) -> None:
        accepts = self._accepts(node, value.kind)
        if accepts:
            sink.checked.append(path)
        elif accepts is None and value.kind in (dict, list):
            sink.skip(path, f"{value.why}: its content cannot be known offline")
        elif accepts is None:
            sink.skip(path, f"{value.why}: its value cannot be known offline, and "
                            f"{self.data.describe(node)} is a closed enum")
        else:
            sink.fail("BCP036", path, f"expects {self.data.describe(node)}, not "
                                      f"{value.why}{via}")

    def _accepts(self, node: Node, kind: type) -> bool | None:
        """Whether every value of a kind fits the type; None when only some may (a string
        against a closed enum, an object of unknown content against an object type)."""
        if node.kind == "AnyType" or _PRIMITIVES.get(node.kind) is kind:
            return True
        if (node.kind, kind) in _CONTAINERS or (node.kind == "StringLiteralType"
                                                 and kind is str):
            return None
        if node.kind == "UnionType":
            answers = [self._accepts(member, kind) for member in self.data.members(node)]
            return True if True in answers else (None if None in answers else False)
        return False

    def _enum(self, value: Any, allowed: list[str], node: Node, path: str, sink: _Sink,
              via: str) -> None:
        if isinstance(value, str) and value in allowed:
            sink.checked.append(path)
        elif isinstance(value, str):
            hint = suggest(value, allowed)
            sink.fail("BCP088" if hint else "BCP036", path,
                      f"'{value}'{via} is not one of {self.data.describe(node)} (a closed enum)"
                      + (f"; did you mean '{hint}'?" if hint else ""))
        else:
            sink.fail("BCP036", path, f"expects {self.data.describe(node)}, not "
                                      f"{_describe(value)}{via}")

    def _union(self, value: Any, scope: Scope, node: Node, path: str, sink: _Sink,
               via: str) -> None:
        """A union that is not a closed enum: the value fits if it fits a member."""
        for member in self.data.members(node):
            attempt = _Sink()
            self.literal(value, scope, member, path, attempt, via=via)
            if not attempt.findings:
                sink.add(attempt)
                return
        sink.fail("BCP036", path, f"expects {self.data.describe(node)}, not "
                                  f"{_describe(value)}{via}")

    def _object(self, value: Mapping[str, Any], scope: Scope, props: dict[str, Property],
                extra: Node | None, type_name: str, path: str, sink: _Sink,
                accepted: frozenset[str] = frozenset()) -> None:
        sink.checked.append(path)
        present = {k for k in (key(raw) for raw in value if not dunder(raw)) if k is not None}
        interpolated = False
        for raw, expr in value.items():
            name = key(raw)
            if dunder(raw) or name in accepted:
                continue
            if name is None:
                interpolated = True
                if extra is None:
                    sink.fail("BCP040", _join(path, raw), "string interpolation is not "
                                                          f"supported for keys of {type_name}")
                else:
                    self.value(expr, scope, extra, _join(path, raw), sink, nullable=True)
                continue
            prop = props.get(name)
            if prop is not None and prop.read_only:
                sink.fail("BCP073", _join(path, name), "is read-only")
            elif prop is not None:
                self.value(expr, scope, prop.type, _join(path, name), sink,
                           nullable=not prop.required)
            elif extra is not None:
                self.value(expr, scope, extra, _join(path, name), sink, nullable=True)
            else:
                sink.fail(*_disallowed(name, props, present, type_name, path))
        missing = sorted(n for n, p in props.items()
                         if p.required and not p.read_only and n not in present)
        if missing and not interpolated:
            sink.fail("BCP035", path, f"{type_name} is missing required "
                                      f"{'property' if len(missing) == 1 else 'properties'} "
                                      f"{_quoted(missing)}")

    def _discriminated(self, value: Mapping[str, Any], scope: Scope, node: Node, path: str,
                       sink: _Sink, accepted: frozenset[str]) -> None:
        discriminator = str(node.data["discriminator"])
        variants = sorted(node.data.get("elements") or {})
        raw = next((r for r in value if key(r) == discriminator), None)
        at = _join(path, discriminator)
        if raw is None:
            sink.fail("BCP078", path, f"{node.name} needs its discriminator '{discriminator}' "
                                      f"(one of {_quoted(variants)})")
            return
        expr = value[raw]
        candidates: list[Resolved] = [Candidate(expr, scope)]
        if not (isinstance(expr, str) and expr in variants):
            # (A string naming a variant is taken as the string even when it also names a
            # symbol: see _symbol_or_string.)
            candidates = self.resolver.resolve(expr, scope)
        for candidate in candidates:
            if isinstance(candidate, Unknown):
                sink.skip(at, f"{candidate.why}: which {node.name} variant cannot be known")
                continue
            variant, via = candidate.value, candidate.via
            if isinstance(variant, str) and variant in variants:
                props, extra = self.data.variant(node, variant)
                self._object(value, scope, props, extra, f"{node.name} ({discriminator} "
                                                         f"'{variant}')", path, sink, accepted)
            elif isinstance(variant, str):
                hint = suggest(variant, variants)
                sink.fail("BCP088" if hint else "BCP036", at,
                          f"'{variant}'{via} is none of {node.name}'s variants "
                          f"{_quoted(variants)}" + (f"; did you mean '{hint}'?" if hint else ""))
            elif isinstance(variant, Opaque):
                sink.skip(at, f"{variant.why}: which {node.name} variant cannot be known")
            else:
                sink.fail("BCP036", at, f"expects a string, not {_describe(variant)}{via}")


def _is(value: Any, kind: type) -> bool:
    # bool is an int in Python, never in Bicep.
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def _disallowed(name: str, props: dict[str, Property], present: set[str], type_name: str,
                path: str) -> tuple[str, str, str]:
    settable = sorted(n for n, p in props.items() if not p.read_only and n not in present)
    hint = suggest(name, settable)
    if hint:
        return ("BCP089", _join(path, name),
                f"not a property of {type_name}; did you mean '{hint}'?")
    listed = _quoted(settable[:12]) + (", ..." if len(settable) > 12 else "")
    return ("BCP037", _join(path, name),
            f"not a property of {type_name} (settable: {listed or 'nothing else'})")


def suggest(name: str, candidates: list[str]) -> str | None:
    """The candidate spelled like `name`, as the compiler's SpellChecker picks one: the same
    letters in another case first, else the nearest within one edit per three letters."""
    limit = int(len(name) * 0.34)
    best: str | None = None
    best_distance = limit + 1
    for candidate in candidates:
        if not candidate or abs(len(name) - len(candidate)) > min(limit, 2):
            continue
        if candidate.upper() == name.upper():
            return candidate
        if len(candidate) < 3:
            continue
        distance = _levenshtein(name.upper(), candidate.upper())
        if distance < best_distance:
            best, best_distance = candidate, distance
    return best


def _levenshtein(first: str, second: str) -> int:
    previous = list(range(len(second) + 1))
    for i, a in enumerate(first, 1):
        current = [i]
        for j, b in enumerate(second, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1]


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _quoted(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the bool {str(value).lower()}"
    if isinstance(value, int):
        return f"the int {value}"
    if isinstance(value, str):
        return f"the string '{value}'"
    return next((label for kind, label in KINDS.items() if isinstance(value, kind)),
                type(value).__name__)
