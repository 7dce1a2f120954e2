"""Role assignments for the Backup vault's identity: granted for a run, revoked after it."""

from __future__ import annotations

from typing import Any

from domain.model import Revocation, Revoked, RoleAssignment, RoleGrant
from gateway.port import ControlPlane

from .activity import Audited, activity


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
