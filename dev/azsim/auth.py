"""Who is calling, and may they: bearer tokens, the directory, role assignments, RBAC checks.

Tokens are unsigned JWTs; only the `oid` claim (and `tid`, if present) is read. A caller may
write when a scenario grant or an effective role assignment allows the ARM action at the scope.
Most reads are not authorization-checked (a simplification: every test caller may read); the
list operations a catalog depends on are (`readable`): disks and VMs by subscription or resource
group need `<type>/read` as Azure's RBAC requires.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import math
from dataclasses import dataclass, field
from typing import Any

from . import roles
from .clock import iso
from .errors import ArmError
from .state import SimState


@dataclass
class Principal:
    id: str
    type: str  # User | Group | ServicePrincipal
    display_name: str
    grants: list[dict[str, Any]] = field(default_factory=list)  # [{"scope", "actions": [...]}]


@dataclass
class RoleAssignment:
    name: str
    scope: str
    role_definition_id: str
    principal_id: str
    principal_type: str
    created: float
    effective_from: float
    created_by: str | None = None
    description: str | None = None
    condition: str | None = None
    condition_version: str | None = None
    deleted: bool = False
    effective_until: float = math.inf  # a deleted grant lingers for the propagation delay
    deleted_at: float | None = None  # when the DELETE took it off the list (the snapshot's)

    @property
    def role_guid(self) -> str:
        return self.role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()

    @property
    def id(self) -> str:
        scope = self.scope.rstrip("/")
        return f"{scope}/providers/Microsoft.Authorization/roleAssignments/{self.name}"

    def body(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {
                "roleDefinitionId": self.role_definition_id,
                "principalId": self.principal_id,
                "principalType": self.principal_type,
                "scope": self.scope,
                "condition": self.condition,
                "conditionVersion": self.condition_version,
                "createdOn": iso(self.created),
                "updatedOn": iso(self.created),
                "createdBy": self.created_by,
                "updatedBy": self.created_by,
                "delegatedManagedIdentityResourceId": None,
                "description": self.description,
            },
        }

    def effective(self, at: float) -> bool:
        return self.effective_from <= at < self.effective_until


def caller(headers: Any, tenant_id: str) -> str:
    """The `oid` of the bearer token, or a 401 as ARM answers it."""
    value = headers.get("Authorization")
    if not value:
        raise ArmError(401, "AuthenticationFailed",
                       "Authentication failed. The 'Authorization' header is missing.")
    scheme, _, token = value.partition(" ")
    claims = _claims(token) if scheme.lower() == "bearer" else None
    if not isinstance(claims, dict) or not isinstance(claims.get("oid"), str):
        raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.")
    if claims.get("tid") not in (None, tenant_id):
        raise ArmError(401, "InvalidAuthenticationTokenTenant",
                       f"The access token is from the wrong issuer. It must match the tenant "
                       f"'https://sts.windows.net/{tenant_id}/' associated with this subscription.")
    return claims["oid"]


def _claims(token: str) -> Any:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None


def covers(outer: str, inner: str) -> bool:
    """True if scope `outer` is `inner` or an ancestor of it (ARM scopes are case-insensitive)."""
    outer, inner = outer.lower().rstrip("/"), inner.lower().rstrip("/")
    return outer == "" or inner == outer or inner.startswith(outer + "/")


def has_role(state: SimState, principal_id: str, role_guid: str, scope: str, at: float) -> bool:
    """Whether an assignment of `role_guid` to the principal at or above `scope` is in effect."""
    return any(
        ra.principal_id.lower() == principal_id.lower() and ra.role_guid == role_guid
        and covers(ra.scope, scope) and ra.effective(at)
        for ra in state.role_assignments
    )


def authorize(state: SimState, oid: str, action: str, scope: str) -> None:
    """403 `AuthorizationFailed` unless the caller may perform the (write) `action` on `scope`."""
    if action.lower().endswith("/read"):
        return
    if not permits(state, oid, action, scope):
        raise denied(oid, action, scope)


def permits(state: SimState, oid: str, action: str, scope: str) -> bool:
    """Whether a scenario grant or an effective role assignment allows `action` at `scope`."""
    principal = state.principals.get(oid.lower())
    grants = principal.grants if principal else []
    return any(covers(g["scope"], scope) and _allows(g.get("actions", ["*"]), [], action)
               for g in grants) or _allowed_by_roles(state, oid, action, scope)


def denied(oid: str, action: str, scope: str) -> ArmError:
    return ArmError(
        403, "AuthorizationFailed",
        f"The client '{oid}' with object id '{oid}' does not have authorization to perform "
        f"action '{action}' over scope '{scope}' or the scope is invalid. If access was "
        "recently granted, please refresh your credentials.")


LIST_AUTHORIZATION = ("deny", "filter")


def readable(state: SimState, oid: str, action: str, scope: str,
             items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items of a list at `scope` the caller may see. A caller allowed `action` (a
    `.../read`) at the scope sees them all. One allowed it only below the scope (on some
    resource groups or resources) meets what the scenario's `listAuthorization` says, because
    Azure does not document which ARM does for a collection GET: `deny` (the default, the
    stricter for a client) answers 403 `AuthorizationFailed`; `filter` lists only the items the
    caller may read."""
    if permits(state, oid, action, scope):
        return items
    if state.list_authorization == "filter":
        return [item for item in items if permits(state, oid, action, item["id"])]
    raise denied(oid, action, scope)


def _allowed_by_roles(state: SimState, oid: str, action: str, scope: str) -> bool:
    now = state.now()
    for ra in state.role_assignments:
        role = roles.BUILT_IN.get(ra.role_guid)
        if (role and ra.principal_id.lower() == oid.lower() and covers(ra.scope, scope)
                and ra.effective(now)
                and _allows(role["actions"], role.get("notActions", []), action)):
            return True
    return False


def _allows(actions: list[str], not_actions: list[str], action: str) -> bool:
    def match(patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)

    return match(actions) and not match(not_actions)
