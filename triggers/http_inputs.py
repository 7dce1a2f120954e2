"""What the HTTP routes read besides a restore request: the decision and drill bodies and the
query parameters, as JSON Schema (domain/validation.py). The OpenAPI document shows these very
schemas (dev/tools/openapi_document.py): the bodies as components, each query's properties as its
parameters (`x-host`: the host's own `code`, a known parameter the document does not list).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df

from domain.errors import InvalidRequest, RestoreError
from domain.restore.request import zulu
from domain.validation import Schemas, check, message_for

MAX_TOP, MAX_LIMIT = 500, 1000
STATUSES = {s.value.lower(): s for s in df.OrchestrationRuntimeStatus}
_SINCE = {"type": "string", "anyOf": [{"maxLength": 0}, {"format": "date-time"}]}
_UNKNOWN = "unknown query parameter {key}"
_KEY = {"x-host": "the function key, read by the Functions host"}
_FORMAT_QUERY = {  # a report's route: JSON or the self-contained HTML page
    "type": "object",
    "properties": {
        "format": {"enum": ["json", "html"], "default": "json",
                   "description": "`json` (default) or `html`."},
        "code": _KEY,
    },
    "additionalProperties": False, "x-unknown": _UNKNOWN,
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "DecisionRequest": {
        "type": "object",
        "description": "A person's decision. The body is optional when the caller is signed in.",
        "properties": {
            "approver": {
                "type": "string",
                "description": "Who decides; required unless the caller is signed in with App "
                               "Service authentication (`X-MS-CLIENT-PRINCIPAL-NAME`), which then "
                               "wins. Recorded with `authenticated: false`.",
                "minLength": 1, "maxLength": 200, "pattern": "\\S",
                "examples": ["oncall@contoso.com"],
                "x-error": "name the approver: a non-blank string of at most 200 characters (or "
                           "sign in with App Service authentication)"},
            "comment": {
                "type": ["string", "null"], "maxLength": 2000,
                "description": "Why, recorded with the decision (and in the error of a rejected "
                               "restore).",
                "x-error": "must be a string of at most 2000 characters"},
        },
        "additionalProperties": False,
        "x-unknown": 'unknown field: the body may hold only "approver" and "comment"',
        "x-error": 'the body must be a JSON object: {"approver": "<who>", "comment": "<why>"}, '
                   "both optional",
    },
    "UndoRequest": {
        "type": "object",
        "description": "Why the undo (optional): kept in the audit trail.",
        "properties": {
            "reason": {
                "type": ["string", "null"], "pattern": "\\S", "maxLength": 500,
                "description": "Why (a ticket, an incident).",
                "examples": ["INC-4711: the restored data is older than we thought"],
                "x-error": "must be a non-empty string of at most 500 characters"},
        },
        "additionalProperties": False,
        "x-unknown": 'unknown field: the body may hold only "reason"',
        "x-error": 'the body must be a JSON object: {"reason": "<why>"}, optional',
    },
    "DrillRequest": {
        "type": "object",
        "required": ["plan"],
        "properties": {
            "plan": {"type": "string", "description": "The plan's name in the drill plan file.",
                     "examples": ["nightly"], "x-error": "must be a plan's name (a string)"},
        },
        "additionalProperties": False,
        "x-error": 'the body must be {"plan": "<plan name>"}',
    },
    "RestoreListQuery": {
        "type": "object",
        "properties": {
            "since": {**_SINCE,
                      "description": "Only runs created at or after this time: ISO 8601 with a "
                                     "zone (`Z`; encode `+` as `%2B`). Default: 7 days ago.",
                      "example": "2026-11-20T00:00:00Z", "x-check": "since-1970"},
            "status": {
                "type": "string",
                "description": "Comma-separated runtime statuses (case-insensitive): "
                               f"{', '.join(s.value for s in STATUSES.values())}.",
                "pattern": None,  # filled in below, from the statuses
                "example": "Running,Pending", "x-check": "runtime-statuses"},
            "top": {"type": "integer", "minimum": 1, "maximum": MAX_TOP, "default": 50,
                    "description": "At most this many runs (default 50).",
                    "x-check": "whole-number",
                    "x-error": f"top must be a whole number from 1 to {MAX_TOP} (got {{got}})"},
            "code": _KEY,
        },
        "additionalProperties": False, "x-unknown": _UNKNOWN,
    },
    "RecoveryEventsQuery": {
        "type": "object",
        "properties": {
            "since": {**_SINCE,
                      "description": "Only events received at or after this time (ISO 8601). "
                                     "It is compared as text with the UTC receive times, so "
                                     "give it in UTC (`Z`); a date, or a time without a zone, "
                                     "reads as UTC.",
                      "example": "2026-11-24T00:00:00Z", "x-check": "since-utc"},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 100,
                      "description": "At most this many events (default 100).",
                      "x-check": "whole-number",
                      "x-error": f"limit must be a whole number from 1 to {MAX_LIMIT} "
                                 "(got {got})"},
            "code": _KEY,
        },
        "additionalProperties": False, "x-unknown": _UNKNOWN,
    },
    "ReadinessQuery": _FORMAT_QUERY,
    "DrillReportQuery": _FORMAT_QUERY,
}


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" for c in word)


def _status_pattern() -> str:
    """Comma-separated statuses, any case, blanks around them allowed, empty items skipped."""
    name = "(?:" + "|".join(_any_case(s.value) for s in STATUSES.values()) + ")"
    return f"^$|^(?:\\s*{name}?\\s*,)*\\s*{name}\\s*(?:,\\s*{name}?\\s*)*$"


SCHEMAS["RestoreListQuery"]["properties"]["status"]["pattern"] = _status_pattern()
INPUTS = Schemas(SCHEMAS)


def read(name: str, instance: Any) -> None:
    """Raise InvalidRequest naming every problem of `instance` (a body, or a query's parameters
    as a dict) against the schema `name`."""
    errors = INPUTS.errors(name, instance)
    if errors:
        raise InvalidRequest(errors=errors)


class InvalidQuery(InvalidRequest):
    """Bad query parameters: each message names its parameter itself."""

    title = "Invalid request"

    def __post_init__(self) -> None:
        RestoreError.__init__(self, "; ".join(e.message for e in self.errors))


def read_query(name: str, params: dict[str, str], title: str = "Invalid request") -> None:
    """Raise InvalidQuery (a 400 titled `title`) naming every bad parameter in `params`."""
    errors = INPUTS.errors(name, params)
    if errors:
        invalid = InvalidQuery(errors=errors)
        invalid.title = title
        raise invalid


def query(params: Any) -> dict[str, str]:
    """A request's query parameters as a plain dict (the last of a repeated one)."""
    return {str(k): str(v) for k, v in dict(params).items()}


# ---- the checks (x-check): what the schema can only describe -------------------------------------
@check("whole-number")
def _whole_number(value: Any, schema: Any) -> str | None:
    text = str(value)
    digits = len(str(schema["maximum"]))  # "0050" is 4 digits: 1-4 for a limit up to 1000
    if text.isascii() and text.isdigit() and len(text) <= digits and \
            schema["minimum"] <= int(text) <= schema["maximum"]:
        return None
    return message_for(schema["x-error"], text)


def since_1970(text: str | None) -> datetime | None:
    """A time with a zone from 1970 on, or None (absent, empty, or not one)."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(zulu(text))
    except ValueError:
        return None
    return value if value.tzinfo is not None and value.year >= 1970 else None


@check("since-1970")
def _since_1970(value: Any, schema: Any) -> str | None:
    if not value or since_1970(value) is not None:
        return None
    return ("since must be an ISO 8601 time with a zone from 1970 on, like "
            f"2026-11-20T00:00:00Z (got {value[:100]!r})")


def since_utc(text: str | None) -> datetime | None:
    """ISO 8601; a date or a time without a zone reads as UTC (the ledger's times are UTC).
    Raises ValueError or OverflowError (year 1 at +01:00, say) for anything else."""
    if not text:
        return None
    value = datetime.fromisoformat(zulu(text))
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


@check("since-utc")
def _since_utc(value: Any, schema: Any) -> str | None:
    try:
        since_utc(value)
    except (ValueError, OverflowError) as exc:
        return (f"since must be an ISO 8601 time, like 2026-11-20T00:00:00Z ({exc}; got "
                f"{value[:100]!r})")
    return None


def statuses(text: str | None) -> list[df.OrchestrationRuntimeStatus] | None:
    """The runtime statuses a (valid) status parameter names; None: any."""
    if not text:
        return None
    return [STATUSES[n.strip().lower()] for n in text.split(",") if n.strip()]


@check("runtime-statuses")
def _runtime_statuses(value: Any, schema: Any) -> str | None:
    if not value:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n.lower() not in STATUSES]
    if unknown or not names:
        return (f"unknown status {', '.join(unknown)!r}: use "
                f"{', '.join(s.value for s in STATUSES.values())}")
    return None
