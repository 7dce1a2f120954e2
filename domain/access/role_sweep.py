"""What the sweep of role assignments left behind (sweep_role_assignments) takes and gives back,
and how the sweeper finds the leftovers. JSON as domain/model.py's Record writes it (camelCase).

A leftover is keyed by the execution that left it (its holder, `instance@start`), not by the
instance id: a run restarted under the same instance id is another execution, whose leftovers
are swept too. Two sources: ended runs' custom status (each run publishes its leases and the
assignment ids it may create before the hold and the PUT), and the lease rows in the ledger,
whose holders that are not a live execution any more (terminated, ended, or replaced by a
restart, whose custom status no longer shows them) are released.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.access.grant_lease import GrantLease, LeaseKey, holder_of
from domain.model import OMITTED_WHEN_NONE, Record, json_object


@dataclass(frozen=True)
class Leftover(Record):
    """An execution that ended holding leases (released by the sweep: the last holder's revoke
    is the sweep's), or, from before leases, the assignment ids it created and never revoked."""

    run: str  # the execution: instance@start (domain/access/grant_lease.py holder_of)
    assignments: list[str]
    leases: list[LeaseKey] = field(default_factory=list)


@dataclass(frozen=True)
class RoleSweep(Record):
    leftovers: list[Leftover]
    swept: list[str] = field(default_factory=list)  # runs an earlier sweep finished


@dataclass(frozen=True)
class LeftoverRevocation(Record):
    run: str
    assignment: str
    revoked: bool
    was_present: bool | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    error: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)
    held_by: int | None = field(default=None, metadata=OMITTED_WHEN_NONE)  # kept: live holders


@dataclass(frozen=True)
class RoleSweepReport(Record):
    swept: list[str]  # the next sweep skips these executions
    report: list[LeftoverRevocation]


def ended_run_leftover(instance_id: str, created: str, custom_status: Any) -> Leftover | None:
    """What an ended run's custom status says it left; None if nothing. Its leases, if it took
    any (their rows decide what to revoke: never the ids directly, others may hold them);
    otherwise the assignment ids a run from before leases published."""
    custom = json_object(custom_status)
    holder = custom.get("holder") or holder_of(instance_id, created)
    leases = [LeaseKey.from_dict(doc) for doc in custom.get("leases") or []]
    assignments = [] if leases else list(custom.get("assignments") or [])
    return Leftover(holder, assignments, leases) if leases or assignments else None


def stale_holders(leases: list[GrantLease], live: set[str]) -> list[Leftover]:
    """Holders of lease rows that are not a live execution, and rows whose retired generations
    an earlier releaser did not finish revoking (released by no one: the release is a no-op
    that answers what is still to revoke)."""
    found: dict[str, list[LeaseKey]] = {}
    for lease in leases:
        stale = [h for h in lease.holders if h not in live]
        for holder in stale:
            found.setdefault(holder, []).append(lease.key)
        if lease.retired and not lease.holders:
            found.setdefault(f"retired@{lease.key.text}", []).append(lease.key)
    return [Leftover(holder, [], keys) for holder, keys in sorted(found.items())]
