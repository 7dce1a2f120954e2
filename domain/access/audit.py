"""The audit trail: one structured record per privileged action, with who, what, when, why and
the run id. Records are plain JSON written as one log line each ("audit: {...}") to the
`diskrestore.audit` logger, which Application Insights keeps as a trace (query: traces | where
message startswith "audit: ").

Privileged actions: grant and revoke (role assignments for the vault), restore (the restore job),
attach, swap (deallocate, set the OS disk, start), delete (a restored disk nobody approved),
approve and reject (a person's decision), deny (a request refused by the access policy), and
request (a self-service run accepted, with the rule that allowed it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from domain.access.access_policy import Caller
from domain.model import Record

LOGGER = "diskrestore.audit"
PREFIX = "audit: "
SCHEMA = 1

# The audited actions. Which activity performs which is declared with the activity itself
# (activities/*_activities.py, `@activity(audited=Audited("grant", ...))`).
ACTIONS = ("request", "deny", "approve", "reject", "cancel", "attach", "delete", "grant", "plan",
           "restore", "revoke", "swap", "update", "zone-copy")


@dataclass(frozen=True)
class AuditContext(Record):
    """Who a run acts for and why: passed with every audited activity call, so each records it."""

    run_id: str
    who: Caller
    why: str | None = None
    authorization: str | None = None  # the RunAccess mode, when a caller started the run


def outcome(result: Any, exc: BaseException | None) -> tuple[str, str | None]:
    """(outcome, reason) of an audited activity: its result, an error it reported as data, or
    the exception it raised (the orchestration's retry policy may try again)."""
    if exc is not None:
        return "failed", str(exc).split("\n")[0][:500]
    if isinstance(result, dict) and isinstance(result.get("error"), dict):
        error = result["error"]
        return ("denied" if error.get("code") == "AccessDenied" else "failed",
                f"{error.get('code')}: {error.get('message')}")
    return "succeeded", None


def context(run_id: str, who: Caller | None, why: str | None,
            authorization: str | None = None) -> AuditContext:
    """What a run passes to its audited activities."""
    return AuditContext(run_id, who or Caller("unknown"), why, authorization)


def wrap(payload: Any, audit: AuditContext | None) -> Any:
    """An audited activity's payload with the run's audit context (none: the payload as it is)."""
    if audit is None:
        return payload
    return {"audit": audit.to_dict(), "input": payload}


def unwrap(payload: Any) -> tuple[Any, AuditContext | None]:
    """(the activity's own payload, the audit context or None)."""
    if isinstance(payload, dict) and set(payload) == {"audit", "input"}:
        return payload["input"], AuditContext.from_dict(payload["audit"])
    return payload, None


def record(action: str, outcome: str, *, when: str, who: dict[str, Any] | None,
           what: dict[str, Any], why: str | None, run_id: str | None,
           authorization: str | None = None, reason: str | None = None) -> dict[str, Any]:
    """One audit record. `outcome`: succeeded (done, or for a long-running operation: accepted
    by Azure), failed, or denied; `reason` says why it failed or was denied."""
    doc: dict[str, Any] = {"event": "Audit", "schema": SCHEMA, "action": action,
                           "outcome": outcome, "when": when, "who": who or {"kind": "unknown"},
                           "what": what, "why": why, "runId": run_id}
    if authorization:
        doc["authorization"] = authorization
    if reason:
        doc["reason"] = reason
    return doc


def line(doc: dict[str, Any]) -> str:
    return PREFIX + json.dumps(doc, sort_keys=True, default=str)


def parse(text: str) -> dict[str, Any] | None:
    """The record in a log line, or None if the line is not an audit record."""
    at = text.find(PREFIX)
    if at < 0:
        return None
    try:
        doc = json.loads(text[at + len(PREFIX):])
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and doc.get("event") == "Audit" else None
