"""Role assignments (Microsoft.Authorization 2022-04-01, via azure-mgmt-authorization 4.0.0):
grant with a deterministic GUID name, revoke by id, list what applies at a scope.
"""

from __future__ import annotations

import re
import uuid

from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization.v2022_04_01.models import (
    PrincipalType,
    RoleAssignmentCreateParameters,
)
from azure.mgmt.authorization.v2022_04_01.models import (
    RoleAssignment as SdkRoleAssignment,
)

from domain.model import RoleAssignment, RoleGrant
from domain.resource_id import InvalidResourceId, ResourceId

from .clients import ClientsFor, SubscriptionClients
from .sdk_errors import ArmFailure, is_not_found, translated
from .wire import same_id

_NS = "Microsoft.Authorization/roleAssignments"
_EXISTING_ID = re.compile(r"existing role assignment is ([0-9a-fA-F]{32})")


class Rbac:
    def __init__(self, clients_for: ClientsFor, default_subscription: str | None = None) -> None:
        self._clients_for = clients_for
        self._default_subscription = default_subscription

    def grant_role(self, grant: RoleGrant) -> RoleAssignment:
        """PUT with the grant's name. 200/201: ours (a re-run PUTs the same name and gets its own
        assignment back). 409 RoleAssignmentExists: someone else's equivalent assignment (same
        scope, role, principal under another name) — returned with pre_existing=True."""
        sub = _subscription_of(grant.scope)
        parameters = RoleAssignmentCreateParameters(
            role_definition_id=(f"/subscriptions/{sub}" if sub else "")
            + f"/providers/Microsoft.Authorization/roleDefinitions/{grant.role_definition_guid}",
            principal_id=grant.principal_id,
            principal_type=PrincipalType.SERVICE_PRINCIPAL,  # the SDK's default is "User"
            description=f"Temporary {grant.role_name} for a disk restore (removed afterwards)",
        )
        clients = self._clients(grant.scope)
        with translated(f"{_NS}/write", grant.scope):
            try:
                created = clients.authorization.role_assignments.create(
                    grant.scope, grant.assignment_name, parameters)
            except HttpResponseError as exc:
                failure = ArmFailure.of_exception(exc)
                if exc.status_code != 409 or failure.code != "RoleAssignmentExists":
                    raise
                return self._existing(clients, grant, failure.message)
        return _assignment(created, pre_existing=False, scope=grant.scope)

    def _existing(self, clients: SubscriptionClients, grant: RoleGrant, message: str
                  ) -> RoleAssignment:
        """The equivalent assignment a 409 RoleAssignmentExists refers to."""
        found = clients.authorization.role_assignments.list_for_scope(
            grant.scope, filter=f"principalId eq '{grant.principal_id}'")
        for item in found:
            if same_id(item.scope, grant.scope) and \
                    _role_guid(item.role_definition_id) == grant.role_definition_guid.lower():
                return _assignment(item, pre_existing=True, scope=grant.scope)
        # Not listed yet (reads can lag): newer answers name it, as 32 hex digits.
        match = _EXISTING_ID.search(message)
        name = str(uuid.UUID(match.group(1))) if match else "unknown"
        return RoleAssignment(
            id=f"{grant.scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/"
               f"{name}",
            scope=grant.scope, role_definition_guid=grant.role_definition_guid.lower(),
            principal_id=grant.principal_id, pre_existing=True)

    def revoke_role(self, assignment_id: str) -> bool:
        """DELETE by id: 200 → True; 204 (already deleted) or 404 → False."""
        scope = assignment_id.split("/providers/Microsoft.Authorization/", 1)[0] or "/"
        clients = self._clients(scope)
        with translated(f"{_NS}/delete", scope):
            try:
                deleted = clients.authorization.role_assignments.delete_by_id(assignment_id)
            except HttpResponseError as exc:
                if is_not_found(exc):
                    return False
                raise
        return deleted is not None

    def find_role_assignments(self, scope: str, principal_id: str) -> list[RoleAssignment]:
        """`atScope() and assignedTo(principal)`: assignments at the scope or inherited from
        above (assignedTo also follows group membership on real Azure). Each comes back with
        pre_existing=True: a found assignment is never ours to revoke; our own grants are known
        by name (the id's last segment is the grant's assignment_name)."""
        clients = self._clients(scope)
        with translated(f"{_NS}/read", scope):
            return [_assignment(item, pre_existing=True, scope=scope)
                    for item in clients.authorization.role_assignments.list_for_scope(
                        scope, filter=f"atScope() and assignedTo('{principal_id}')")]

    def _clients(self, scope: str) -> SubscriptionClients:
        sub = _subscription_of(scope) or self._default_subscription
        if sub is None:
            raise ValueError(f"scope {scope!r} names no subscription")
        return self._clients_for(sub)


def _subscription_of(scope: str) -> str | None:
    try:
        return ResourceId.parse(scope).subscription
    except InvalidResourceId:
        parts = scope.strip("/").split("/")
        return parts[1].lower() if len(parts) >= 2 and parts[0].lower() == "subscriptions" \
            else None


def _role_guid(role_definition_id: str | None) -> str:
    return (role_definition_id or "").rstrip("/").rsplit("/", 1)[-1].lower()


def _assignment(item: SdkRoleAssignment, *, pre_existing: bool, scope: str) -> RoleAssignment:
    return RoleAssignment(id=item.id or "", scope=item.scope or scope,
                          role_definition_guid=_role_guid(item.role_definition_id),
                          principal_id=item.principal_id or "", pre_existing=pre_existing)
