"""Validating a JSON document (a configuration file): every problem reported at once, each named
by its path ("plans[1] (nightly).selection.vaults[0]"). Shared by the recovery policies and the
drill plans: the error type, reading the file, and the checks both make.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

from domain.errors import FieldError, RestoreError

T = TypeVar("T")


@dataclass
class InvalidDocument(RestoreError):
    """The document cannot be used; `source` (the file path, if any) becomes the hint."""

    errors: list[FieldError] = field(default_factory=list)
    source: str | None = None
    code: ClassVar[str] = "InvalidDocument"
    what: ClassVar[str] = "invalid document"

    def __post_init__(self) -> None:
        summary = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        RestoreError.__init__(self, summary or self.what,
                              hint=f"in {self.source}" if self.source else None)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(),
                "errors": [{"field": e.field, "message": e.message} for e in self.errors]}


def load(path: str | Path, parse: Callable[[Any], T], error: type[InvalidDocument]) -> T:
    """Read and parse a JSON file; every problem (or why it cannot be read) as `error`."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        problem = "file not found"
    except json.JSONDecodeError as exc:
        problem = f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"cannot be read: {exc}"
    else:
        try:
            return parse(doc)
        except error as exc:
            raise error(errors=exc.errors, source=str(path)) from None
    raise error(errors=[FieldError(str(path), problem)])


class Checks:
    """Collects problems by path; the checks both documents make."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def bad(self, at: str, message: str) -> None:
        self.errors.append(FieldError(at, message))

    def obj(self, at: str, value: Any, allowed: set[str], required: bool = False) -> dict[str, Any]:
        """The object at `at`, its unknown keys reported; {} if it is missing or not an object."""
        if value is None or not isinstance(value, dict):
            if value is not None or required:
                self.bad(at, "must be an object" if value is not None else "is required")
            return {}
        for key in sorted(set(value) - allowed, key=str):
            self.bad(f"{at}.{key}", "unknown field")
        return value

    def integer(self, at: str, value: Any, default: int, low: int, high: int) -> int:
        if value is None:
            return default
        if type(value) is not int or not low <= value <= high:
            self.bad(at, f"must be an integer from {low} to {high}")
            return default
        return value

    def tags(self, at: str, value: Any) -> dict[str, str]:
        """Tag name to value; names are case-insensitive in Azure, so a repeat is a problem."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.bad(at, "must be an object of tag name to value")
            return {}
        found: dict[str, str] = {}
        for key, want in value.items():
            same = [k for k in found if k.lower() == key.lower()]
            if not key.strip() or not isinstance(want, str):
                self.bad(f"{at}.{key}", "must be a string" if key.strip() else "empty tag name")
            elif same:
                self.bad(f"{at}.{key}", f"repeats tag {same[0]}: tag names are case-insensitive")
            else:
                found[key] = want
        return found

    def version(self, doc: dict[str, Any], supported: int) -> None:
        version = doc.get("version")
        if type(version) is not int or version != supported:
            said = "is required" if version is None else f"{version!r} is not supported"
            self.bad("version", f"{said} (supported versions: {supported})")

    def named(self, doc: dict[str, Any], key: str, name: re.Pattern[str],
              entry: Callable[[str, Any], T | None], empty: str) -> list[T]:
        """The list at `key` of named entries, each parsed by `entry(path, value)`; paths carry
        the entry's name once it is valid ("plans[1] (nightly)"), and names must be unique."""
        entries = doc.get(key)
        if not isinstance(entries, list):
            self.bad(key, f"must be a list ([] {empty})")
            entries = []
        parsed: list[T] = []
        names: dict[str, int] = {}
        for i, value in enumerate(entries):
            label = value.get("name") if isinstance(value, dict) else None
            at = f"{key}[{i}]"
            if isinstance(label, str) and name.match(label):
                at = f"{key}[{i}] ({label})"
                if label in names:
                    self.bad(f"{at}.name", f"duplicate name: also used by {key}[{names[label]}]")
                names.setdefault(label, i)
            item = entry(at, value)
            if item is not None:
                parsed.append(item)
        return parsed


class DocumentUnavailable(RuntimeError):
    """No usable document: the setting naming it is unset, or the file is invalid (the message
    names every problem). Whatever depends on it is refused, never judged against nothing."""


def load_configured(setting: str, path: str | None, load: Callable[[str], T],
                    nothing: str) -> T:
    """The document at the path an app setting names, validated once per path and loader."""
    if not path:
        raise DocumentUnavailable(f"{setting} is not set: {nothing}")
    try:
        return cast(T, _loaded(load, path))
    except InvalidDocument as exc:
        raise DocumentUnavailable(f"{path}: {exc.message}") from exc


@functools.lru_cache(maxsize=8)
def _loaded(load: Callable[[str], Any], path: str) -> Any:
    return load(path)
