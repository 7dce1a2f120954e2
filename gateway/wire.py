"""Reading ARM JSON defensively: case-insensitive member lookup, times, SDK models as plain dicts.

ARM and the SDK models disagree on casing now and then (`resourceID` vs `resourceId`,
`Inprogress` vs `InProgress`), and optional members may be absent or null. Everything the gateway
reads from a body goes through `dig`, so a missing member is None rather than a KeyError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

_FRACTION = re.compile(r"(\.\d{6})\d+")


def as_json(value: Any) -> Any:
    """A hybrid SDK model (dataprotection, compute, resource) as its REST JSON, camelCase
    members and raw values as sent on the wire; plain JSON passes through."""
    return value.as_dict() if hasattr(value, "as_dict") else value


def as_object(value: Any) -> dict[str, Any]:
    """`as_json` of a model that is a JSON object (a VM, a vault)."""
    doc = as_json(value)
    if not isinstance(doc, dict):
        raise TypeError(f"expected a JSON object from the SDK, got {type(doc).__name__}")
    return doc


def dig(value: Any, *path: str | int) -> Any:
    """`value[path[0]][path[1]]...` with case-insensitive keys; None where anything is missing."""
    for key in path:
        if isinstance(key, int):
            if not isinstance(value, list) or not -len(value) <= key < len(value):
                return None
            value = value[key]
            continue
        if not isinstance(value, Mapping):
            return None
        if key in value:
            value = value[key]
            continue
        lowered = key.lower()
        value = next((v for k, v in value.items() if str(k).lower() == lowered), None)
    return value


def text(value: Any, *path: str | int) -> str | None:
    found = dig(value, *path)
    return found if isinstance(found, str) and found else None


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO-8601 text (any fraction length, `Z`) or a datetime."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    cleaned = _FRACTION.sub(r"\1", value.strip()).replace("Z", "+00:00").replace("z", "+00:00")
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def iso(value: Any) -> str | None:
    """Canonical ISO-8601 UTC text (`2025-01-20T02:00:00+00:00`), or None if unparseable."""
    parsed = parse_time(value)
    return parsed.isoformat() if parsed else None


def same_id(a: str | None, b: str | None) -> bool:
    """ARM ids compare case-insensitively (and a trailing slash does not matter)."""
    if not a or not b:
        return False
    return a.lower().rstrip("/") == b.lower().rstrip("/")
