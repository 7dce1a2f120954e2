"""Leases on shared role assignments.

Runs that restore into one resource group, or use one Disk Encryption Set, need the same role
for the same principal at the same scope. Azure keeps one such assignment: a second PUT under
another name is refused (409 RoleAssignmentExists). So the runs share it, and each holds a lease
on it in the ledger (gateway/ledger.py, one row per scope + role + principal, replaced only if
unchanged since read). The last holder to leave revokes.

Generations: the assignment's name is derived from scope, role, principal and the lease's
generation. When the last holder leaves, the generation is retired (queued for revocation) and
the next one begins, so a revoke that arrives late (the last holder's DELETE, or the sweeper's)
names the retired generation and can never remove the assignment a newer holder made.

A holder is one execution of a run (`instance@start`): a run restarted with the same instance
id is another holder, so what the old execution left is still released and revoked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace

from domain.model import Record, RoleAssignment, RoleGrant

_NAMESPACE = uuid.UUID("9f3c2d1a-6b4e-4c7a-8e15-2a7d0b6c4f91")  # ours: leased assignment names
_ASSIGNMENTS = "/providers/Microsoft.Authorization/roleAssignments/"


@dataclass(frozen=True)
class LeaseKey(Record):
    """What one shared assignment is: its scope, role and principal (compared as ARM compares
    them, case-insensitively)."""

    scope: str
    role_definition_guid: str
    principal_id: str

    @classmethod
    def of(cls, grant: RoleGrant) -> LeaseKey:
        return cls(grant.scope, grant.role_definition_guid.lower(), grant.principal_id.lower())

    @classmethod
    def of_assignment(cls, assignment: RoleAssignment) -> LeaseKey:
        return cls(assignment.scope, assignment.role_definition_guid.lower(),
                   assignment.principal_id.lower())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LeaseKey) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    @property
    def text(self) -> str:
        """The row's readable key (scopes compare case-insensitively in ARM)."""
        return f"{self.scope.lower().rstrip('/')}|{self.role_definition_guid.lower()}|" \
               f"{self.principal_id.lower()}"

    def name(self, generation: int) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{self.text}|{generation}"))

    def assignment_id(self, generation: int) -> str:
        return f"{self.scope.rstrip('/')}{_ASSIGNMENTS}{self.name(generation)}"

    def generation_of(self, assignment_id: str, below: int) -> int | None:
        """The generation (< `below`) whose assignment `assignment_id` is, if it is one of ours."""
        name = assignment_id.rstrip("/").rsplit("/", 1)[-1].lower()
        return next((g for g in range(below - 1, -1, -1) if self.name(g) == name), None)


@dataclass(frozen=True)
class GrantLease(Record):
    """The ledger row: the current generation, who holds it, and the retired generations whose
    assignments are still to be revoked."""

    key: LeaseKey
    generation: int = 0
    holders: dict[str, str] = field(default_factory=dict)  # holder -> when it took the lease
    retired: list[int] = field(default_factory=list)
    made: bool = False  # a holder may have created the current generation's assignment

    def held_by(self, holder: str, at: str) -> GrantLease:
        """With `holder` among the holders (idempotent: a retried hold changes nothing)."""
        if holder in self.holders:
            return self
        return replace(self, holders={**self.holders, holder: at})

    def released_by(self, holder: str, made: bool = True) -> GrantLease:
        """Without `holder`; `made`: the holder may have created the assignment (its PUT was
        not refused; unknown counts as made). The last holder out retires the generation, if
        anyone made its assignment, and starts the next. Idempotent: releasing a lease not held
        changes nothing."""
        if holder not in self.holders:
            return self
        holders = {h: t for h, t in self.holders.items() if h != holder}
        made = self.made or made
        if holders:
            return replace(self, holders=holders, made=made)
        if not made:  # nothing to revoke, and no late revoke to guard against
            return replace(self, holders={}, made=False)
        return replace(self, holders={}, generation=self.generation + 1, made=False,
                       retired=sorted({*self.retired, self.generation}))

    def settled(self, generations: list[int]) -> GrantLease:
        """Without the retired generations whose assignments are revoked now."""
        return replace(self, retired=[g for g in self.retired if g not in generations])

    @property
    def to_revoke(self) -> list[str]:
        return [self.key.assignment_id(g) for g in self.retired]


# ---- what the lease activities take and give back ------------------------------------------------
@dataclass(frozen=True)
class LeaseRequest(Record):
    """Hold (or release) the lease on `grant`'s assignment for `holder`, at `at` (ISO-8601)."""

    grant: RoleGrant
    holder: str
    at: str = ""


@dataclass(frozen=True)
class Lease(Record):
    """A held lease: the grant to PUT, named for the lease's current generation."""

    grant: RoleGrant
    generation: int
    holders: int  # how many hold it, this holder included

    @property
    def assignment_id(self) -> str:
        return LeaseKey.of(self.grant).assignment_id(self.generation)


@dataclass(frozen=True)
class LeaseRelease(Record):
    """Release `holder`'s lease on `key`. `made`: whether the holder may have created the
    assignment (False only when Azure refused its PUT or answered with a foreign equivalent)."""

    key: LeaseKey
    holder: str
    made: bool = True


@dataclass(frozen=True)
class LeaseReleased(Record):
    """What the release leaves: the holders still there, and the assignments of retired
    generations to revoke now (the releaser's own, and any an earlier releaser did not finish)."""

    holders: int
    to_revoke: list[str]
    generation: int  # the lease's current generation (the next to be granted)


@dataclass(frozen=True)
class LeaseSettle(Record):
    """The retired assignments of `key` that are revoked now (or were never ours)."""

    key: LeaseKey
    revoked: list[str]


@dataclass(frozen=True)
class LeaseSettled(Record):
    retired: int  # generations still waiting for their revoke


def generations(key: LeaseKey, assignment_ids: list[str], below: int) -> list[int]:
    found = [key.generation_of(a, below) for a in assignment_ids]
    return [g for g in found if g is not None]


def holder_of(instance_id: str, started: str) -> str:
    """One execution of a run: a run restarted under the same instance id is another holder."""
    return f"{instance_id}@{started}"


def instance_of(holder: str) -> str:
    return holder.rsplit("@", 1)[0]
