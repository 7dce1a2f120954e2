"""Request validation from JSON Schema: the schemas the OpenAPI document publishes are the ones
the app validates with, so the document cannot accept what the app refuses, or the reverse.

Why JSON Schema (jsonschema, pinned) and not pydantic models: the OpenAPI 3.1 document *is* JSON
Schema (2020-12). Validating with the document's own schema objects keeps one source, where
pydantic would generate a schema from models whose custom validators (exactly one source, attach
or swap, ARM ids, 3.0 as the integer 3) the generated schema cannot see: two sources again. And
the app's records stay the plain frozen dataclasses the rest of the code uses.

Every bad field is named at once, with the app's own words. A schema object says them:

* `x-error`: the message for any failure of this object (`{got}`: the value, cut, as repr). A
  failure inside an object without one is reported at the nearest enclosing object that has one.
* `x-check`: the name of a check function (CHECKS) that is the app's whole reading of a string
  the schema can only describe (an ARM id, a time): the object's other assertions are the
  document's rendering of the same rule (tests/api holds the two in line) and are skipped.
* `x-unknown`: the message for a member `additionalProperties: false` refuses ("unknown field").

In `oneOf`/`anyOf` a failure is reported inside the one alternative that matched the value's
shape (its errors all lie deeper than the value itself), otherwise at the value. The `x-` keys
are stripped from the published document (`published`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import ValidationError as _Error
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from domain.errors import FieldError

BASE = "urn:diskrestore:schemas"
# A check reads the value (and its schema object) and says what is wrong, or None.
Check = Callable[[Any, Mapping[str, Any]], str | None]
CHECKS: dict[str, Check] = {}
_DEEPER = {"properties", "patternProperties", "prefixItems"}  # followed by a name or index
_DEEPER_NOW = {"items", "additionalProperties", "contains"}
_SHAPE = {"type", "const", "enum"}


def check(name: str) -> Callable[[Check], Check]:
    """Register a check function under `name` (for `x-check`)."""
    def register(function: Check) -> Check:
        CHECKS[name] = function
        return function
    return register


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[_Error]:
    """"pattern" as ECMA-262 (and the document's readers) take it: "$" is the end of the text.
    Python's "$" also matches before a final newline: "ticket-1\\n" was a valid requestId."""
    if isinstance(instance, str) and not re.search(re.sub(r"(?<!\\)\$", r"\\Z", pattern),
                                                   instance):
        yield ValidationError(f"{instance[:100]!r} does not match {pattern!r}")


def _x_check(validator: Any, name: str, instance: Any, schema: Any) -> Iterator[_Error]:
    message = CHECKS[name](instance, schema)
    if message:
        yield ValidationError(message)


def _deferring(keyword: str, function: Any) -> Any:
    """A keyword that gives way to `x-check` on the same schema object."""
    def run(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[_Error]:
        if isinstance(schema, dict) and "x-check" in schema:
            return
        yield from function(validator, value, instance, schema)
    run.__name__ = keyword
    return run


def _validator_class() -> Any:
    keywords = dict(Draft202012Validator.VALIDATORS, pattern=_pattern)
    assertions = {k: _deferring(k, f) for k, f in keywords.items()
                  if k not in ("$ref", "$dynamicRef", "properties")}
    return validators.extend(Draft202012Validator, {**assertions, "x-check": _x_check})


_Validator = _validator_class()


class Schemas:
    """Named schema objects (as components/schemas in the document) and their validators."""

    def __init__(self, schemas: Mapping[str, Mapping[str, Any]]) -> None:
        self.schemas = dict(schemas)
        root = {"components": {"schemas": self.schemas}}
        self.registry = Registry().with_resource(
            BASE, DRAFT202012.create_resource(root))
        self._resolver = self.registry.resolver(base_uri=BASE)
        self._validators: dict[str, Any] = {}

    def errors(self, name: str, instance: Any) -> list[FieldError]:
        """Every problem of `instance` against the schema `name`, in the app's words; [] if none."""
        validator = self._validators.get(name)
        if validator is None:
            validator = _Validator({"$ref": f"{BASE}#/components/schemas/{name}"},
                                   registry=self.registry)
            self._validators[name] = validator
        found: list[FieldError] = []
        for error in validator.iter_errors(instance):
            for leaf in _leaves(error):
                for item in self._field_errors(validator.schema, leaf, instance):
                    if item not in found:
                        found.append(item)
        return found

    def _lookup(self, reference: str) -> Any:
        return self._resolver.lookup(_absolute(reference)).contents

    def _field_errors(self, root: Any, error: _Error, instance: Any) -> list[FieldError]:
        path = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = set(error.schema.get("properties", {}))
            message = error.schema.get("x-unknown", "unknown field")
            return [FieldError(_field([*path, key]), message.replace("{key}", repr(key)))
                    for key in sorted(map(str, set(error.instance) - known))]
        if error.validator == "required" and isinstance(error.instance, dict):
            return [self._missing(error.schema, path, key) for key in error.validator_value
                    if key not in error.instance]
        if error.validator == "x-check":
            return [FieldError(_field(path), error.message)]
        node, depth = self._nearest_message(root, error)
        if node is None:
            return [FieldError(_field(path), error.message)]
        return [FieldError(_field(path[:depth]),
                           message_for(node["x-error"], _at(instance, path[:depth])))]

    def _missing(self, schema: Mapping[str, Any], path: list[Any], key: str) -> FieldError:
        """A required member that is absent: its own check or message says what it must be."""
        node = schema.get("properties", {}).get(key, {})
        while "x-check" not in node and "x-error" not in node and "$ref" in node:
            node = self._lookup(node["$ref"])
        if "x-check" in node:
            message = CHECKS[node["x-check"]](None, node) or "is required"
        else:
            message = message_for(node.get("x-error", "is required"), None)
        return FieldError(_field([*path, key]), message)

    def _nearest_message(self, root: Any, error: _Error) -> tuple[Any, int]:
        """The innermost schema object on the error's schema path that has `x-error`, and the
        depth of the value it describes."""
        tokens = list(error.absolute_schema_path)[:-1]  # the last one is the failing keyword
        node, depth, i = root, 0, 0
        found: tuple[Any, int] = (None, 0)
        while True:
            if isinstance(node, dict) and "x-error" in node:
                found = (node, depth)
            if i >= len(tokens):
                if isinstance(node, dict) and "$ref" in node:
                    node = self._lookup(node["$ref"])  # the failing keyword is in there
                    continue
                return found
            token = tokens[i]
            if isinstance(node, dict) and token not in node and "$ref" in node:
                node = self._lookup(node["$ref"])  # schema paths step through "$ref" unnamed
            elif token in _DEEPER:
                node, depth, i = node[token][tokens[i + 1]], depth + 1, i + 2
            elif token in _DEEPER_NOW:
                node, depth, i = node[token], depth + 1, i + 1
            else:
                node, i = node[token], i + 1


def _absolute(reference: str) -> str:
    return f"{BASE}{reference}" if reference.startswith("#") else reference


def _leaves(error: _Error) -> Iterator[_Error]:
    """The errors to report. For a oneOf/anyOf: those inside the one alternative the value was
    meant for, if one stands out (every error of it lies deeper than the value: its shape fits;
    else the only one whose type, const or enum the value has); otherwise the oneOf/anyOf."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        depth = len(error.absolute_path)
        branches: dict[int, list[_Error]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        deeper = [subs for subs in branches.values()
                  if all(len(s.absolute_path) > depth for s in subs)]
        typed = [subs for subs in branches.values()
                 if not any(len(s.absolute_path) == depth and s.validator in _SHAPE
                            for s in subs)]
        chosen = deeper if len(deeper) == 1 else typed if len(typed) == 1 else []
        if chosen:
            for sub in chosen[0]:
                yield from _leaves(sub)
            return
    yield error


def _field(path: list[Any]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def _at(instance: Any, path: list[Any]) -> Any:
    for step in path:
        instance = instance[step]
    return instance


def message_for(template: str, value: Any) -> str:
    """`template` with `{got}` replaced by the value (a string cut to 100 characters), as repr."""
    if "{got}" not in template:
        return template
    shown = value[:100] if isinstance(value, str) else value
    return template.replace("{got}", repr(shown))


def published(schema: Any) -> Any:
    """The schema as the OpenAPI document shows it: without the app's `x-` keys."""
    if isinstance(schema, dict):
        return {k: published(v) for k, v in schema.items()
                if not (isinstance(k, str) and k.startswith("x-"))}
    if isinstance(schema, list):
        return [published(v) for v in schema]
    return schema
