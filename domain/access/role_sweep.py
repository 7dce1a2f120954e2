"""What the sweep of role assignments left behind (sweep_role_assignments) takes and gives back.
JSON as domain/model.py's Record writes it (camelCase).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.model import OMITTED_WHEN_NONE, Record


@dataclass(frozen=True)
class Leftover(Record):
    """An ended run and the role assignments it created and never revoked."""

    run: str
    assignments: list[str]


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


@dataclass(frozen=True)
class RoleSweepReport(Record):
    swept: list[str]  # the next sweep skips these runs
    report: list[LeftoverRevocation]
