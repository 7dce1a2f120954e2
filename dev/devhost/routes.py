"""HTTP trigger route templates, as ASP.NET Core routing reads them in the Functions host.

Supported: literal segments, `{name}`, `{name?}`, `{*catchall}`, `{name=default}` and the inline
constraints int, long, bool, alpha, guid, datetime, decimal, double, float, length(n[,m]),
minlength(n), maxlength(n), min(n), max(n), range(a,b), regex(expr), chained with `:`.
Matching is case-insensitive, like the host's.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

_PARAM = re.compile(r"^\{(?P<star>\*)?(?P<name>\w+)(?P<cons>(?::[^:?=}]+(?:\([^)]*\))?)*)"
                    r"(?:=(?P<default>[^}?]*))?(?P<opt>\?)?\}$")
_CONSTRAINT = re.compile(r":(\w+)(?:\(([^)]*)\))?")


class RouteError(ValueError):
    """A route template devhost cannot read."""


def _parses(parse: Callable[[str], object]) -> Callable[[str], bool]:
    """A constraint that holds when `parse` accepts the value."""
    def check(v: str) -> bool:
        try:
            parse(v)
        except ValueError:
            return False
        return True
    return check


_SIMPLE: dict[str, Callable[[str], bool]] = {
    "int": lambda v: bool(re.fullmatch(r"-?\d+", v)) and -2**31 <= int(v) < 2**31,
    "long": lambda v: bool(re.fullmatch(r"-?\d+", v)) and -2**63 <= int(v) < 2**63,
    "bool": lambda v: v.lower() in ("true", "false"),
    "alpha": lambda v: bool(re.fullmatch(r"[A-Za-z]+", v)),
    "guid": _parses(uuid.UUID),
    "datetime": _parses(datetime.fromisoformat),
    "decimal": _parses(float), "double": _parses(float), "float": _parses(float),
}


def _constraint(name: str, arg: str | None) -> Callable[[str], bool]:
    if name in _SIMPLE and arg is None:
        return _SIMPLE[name]
    args = [a.strip() for a in (arg or "").split(",")] if name != "regex" else [arg or ""]
    if name == "regex":
        rx = re.compile(args[0], re.IGNORECASE)
        return lambda v: rx.search(v) is not None
    nums = [int(a) for a in args if a]
    table: dict[str, Callable[[str], bool]] = {
        "length": lambda v: (len(v) == nums[0]) if len(nums) == 1 else nums[0] <= len(v) <= nums[1],
        "minlength": lambda v: len(v) >= nums[0],
        "maxlength": lambda v: len(v) <= nums[0],
        "min": lambda v: _SIMPLE["long"](v) and int(v) >= nums[0],
        "max": lambda v: _SIMPLE["long"](v) and int(v) <= nums[0],
        "range": lambda v: _SIMPLE["long"](v) and nums[0] <= int(v) <= nums[1],
    }
    if name not in table:
        raise RouteError(f"unknown route constraint {name!r}")
    return table[name]


@dataclass
class Route:
    template: str
    pattern: re.Pattern[str]
    checks: dict[str, list[Callable[[str], bool]]]
    defaults: dict[str, str]

    def match(self, path: str) -> dict[str, str] | None:
        m = self.pattern.match(path)
        if m is None:
            return None
        params = {k: v for k, v in m.groupdict().items() if v is not None}
        for name, checks in self.checks.items():
            if name in params and not all(check(params[name]) for check in checks):
                return None
        return {**self.defaults, **params}


def compile_route(template: str) -> Route:
    parts, checks, defaults = [], {}, {}
    for segment in template.strip("/").split("/"):
        m = _PARAM.match(segment)
        if m is None:
            if "{" in segment or "}" in segment:
                raise RouteError(f"route {template!r}: cannot read segment {segment!r}")
            parts.append("/" + re.escape(segment))
            continue
        name = m.group("name")
        checks[name] = [_constraint(c, a or None)
                        for c, a in _CONSTRAINT.findall(m.group("cons") or "")]
        if m.group("default") is not None:
            defaults[name] = m.group("default")
        if m.group("star"):
            parts.append(rf"(?:/(?P<{name}>.*))?")
        else:
            optional = m.group("opt") or m.group("default") is not None
            parts.append(rf"(?:/(?P<{name}>[^/]+))" + ("?" if optional else ""))
    # \Z, not $: "$" also matches before a final newline, so "/restores/%0A" would be "/restores"
    pattern = re.compile("^" + "".join(parts) + r"/?\Z", re.IGNORECASE)
    return Route(template, pattern, checks, defaults)
