"""Role assignments for the Backup vault's identity: granted for a run, revoked after it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from domain.access.grant_lease import (
    GrantLease,
    Lease,
    LeaseKey,
    LeaseRelease,
    LeaseReleased,
    LeaseRequest,
    LeaseSettle,
    LeaseSettled,
    generations,
)
from domain.model import Revocation, Revoked, RoleAssignment, RoleGrant
from gateway.port import ControlPlane

from .activity import Audited, activity, ledger


def _granted(grant: RoleGrant, assignment: RoleAssignment | None) -> dict[str, Any]:
    return {"scope": grant.scope, "role": grant.role_name,
            "roleDefinitionId": grant.role_definition_guid, "principalId": grant.principal_id,
            "assignmentId": assignment.id if assignment else None,
            "preExisting": assignment.pre_existing if assignment else None}


def _revoked(revocation: Revocation, revoked: Revoked | None) -> dict[str, Any]:
    return {"assignmentId": revocation.assignment_id,
            "wasPresent": revoked.was_present if revoked else None}


@activity(audited=Audited("grant", _granted))
def grant_role(grant: RoleGrant, azure: ControlPlane) -> RoleAssignment:
    return azure.grant_role(grant)


@activity(audited=Audited("revoke", _revoked))
def revoke_role(revocation: Revocation, azure: ControlPlane) -> Revoked:
    return Revoked(azure.revoke_role(revocation.assignment_id))


# ---- leases on shared assignments (domain/access/grant_lease.py), in the ledger -----------------
@activity(errors_as_data=False)
def hold_grant(request: LeaseRequest, _: ControlPlane) -> Lease:
    """Take (or keep) `request.holder`'s lease on the grant's assignment: the grant to PUT, named
    for the lease's current generation."""
    key = LeaseKey.of(request.grant)
    lease = ledger().change_lease(key, lambda now: now.held_by(request.holder, request.at))
    return Lease(replace(request.grant, assignment_name=key.name(lease.generation)),
                 lease.generation, len(lease.holders))


@activity(errors_as_data=False)
def release_grant(release: LeaseRelease, _: ControlPlane) -> LeaseReleased:
    """Give back `release.holder`'s lease: what is left, and the assignments to revoke now."""
    lease = ledger().change_lease(release.key,
                                  lambda now: now.released_by(release.holder, release.made))
    return LeaseReleased(len(lease.holders), lease.to_revoke, lease.generation)


@activity(errors_as_data=False)
def settle_grant(settle: LeaseSettle, _: ControlPlane) -> LeaseSettled:
    """Strike the retired generations whose assignments are revoked from the lease."""
    def settled(now: GrantLease) -> GrantLease:
        return now.settled(generations(settle.key, settle.revoked, now.generation))
    return LeaseSettled(len(ledger().change_lease(settle.key, settled).retired))
