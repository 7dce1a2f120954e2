"""Microsoft.Authorization: role assignments (put/get/delete/list with `$filter`) and built-in
role definitions, with the service's answers for the usual mistakes.

A new assignment is listed at once but takes effect only after the scenario's propagation delay;
a deleted one keeps working for the same delay (the docs: changes take minutes to apply).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from . import roles
from .arm import RG, Ctx, Response, Route, page, router
from .auth import RoleAssignment, covers
from .errors import ArmError, bad_request, conflict, invalid_content
from .resources import group_not_found

ROUTES: list[Route] = []
route = router(ROUTES)

_NS = "Microsoft.Authorization"
_SCOPE = r"(?P<scope>(?:/[^/]+)*?)"
_ASSIGNMENT = f"{_SCOPE}/providers/Microsoft\\.Authorization/roleAssignments/(?P<name>[^/]+)"
_DEFINITION = f"{_SCOPE}/providers/Microsoft\\.Authorization/roleDefinitions/(?P<name>[^/]+)"
_PRINCIPAL_EQ = re.compile(r"principalId\s+eq\s+'([^']*)'", re.IGNORECASE)
_ASSIGNED_TO = re.compile(r"assignedTo\('([^']*)'\)", re.IGNORECASE)
_AT_SCOPE = re.compile(r"atScope\(\)", re.IGNORECASE)
_ROLE_NAME_EQ = re.compile(r"roleName\s+eq\s+'([^']*)'", re.IGNORECASE)


def _visible(ctx: Ctx) -> list[RoleAssignment]:
    return [ra for ra in ctx.state.role_assignments if not ra.deleted]


def _find(ctx: Ctx) -> RoleAssignment | None:
    name, scope = ctx.groups["name"].lower(), ctx.groups["scope"].lower().rstrip("/")
    return next((ra for ra in _visible(ctx)
                 if ra.name.lower() == name and ra.scope.lower().rstrip("/") == scope), None)


def _check_scope(ctx: Ctx, scope: str) -> None:
    """A subscription or resource group in the scope must exist (deeper resources are not
    checked: assignments on resource types the simulator does not model stay possible)."""
    parts = [p.lower() for p in scope.split("/")]
    if len(parts) < 3 or parts[1] != "subscriptions":
        return
    if ctx.state.get("/".join(parts[:3])) is None:
        raise ArmError(404, "SubscriptionNotFound",
                       f"The subscription '{parts[2]}' could not be found.")
    if len(parts) >= 5 and parts[3] == "resourcegroups" and ctx.state.get(
            "/".join(parts[:5])) is None:
        raise group_not_found(scope.split("/")[4])


@route("PUT", _ASSIGNMENT, f"{_NS}/roleAssignments/write", "authorization")
def create_assignment(ctx: Ctx) -> Response:
    scope, name = ctx.groups["scope"] or "/", ctx.groups["name"]
    try:
        uuid.UUID(name)
    except ValueError:
        raise bad_request("InvalidRoleAssignmentId", f"The role assignment ID '{name}' is not "
                          "valid. The role assignment ID must be a GUID.") from None
    _check_scope(ctx, scope)
    props = ctx.json().get("properties")
    if not isinstance(props, dict):
        raise invalid_content("Required property 'properties' not found in JSON")
    for required in ("roleDefinitionId", "principalId"):
        if not isinstance(props.get(required), str):
            raise invalid_content(f"Required property '{required}' not found in JSON")
    for optional in ("principalType", "description", "condition", "conditionVersion"):
        if not isinstance(props.get(optional, ""), str):
            raise invalid_content(f"Property '{optional}' must be a string")
    role_guid = roles.find(props["roleDefinitionId"].rstrip("/").rsplit("/", 1)[-1])
    if role_guid is None:
        raise bad_request("RoleDefinitionDoesNotExist", "The specified role definition with ID "
                          f"'{props['roleDefinitionId']}' does not exist.")
    principal_type = _principal_type(ctx, props["principalId"], props.get("principalType"))
    new = RoleAssignment(
        name=name, scope=scope, role_definition_id=props["roleDefinitionId"],
        principal_id=props["principalId"], principal_type=principal_type,
        created=ctx.state.now(), effective_from=ctx.state.now(), created_by=ctx.caller,
        description=props.get("description"), condition=props.get("condition"),
        condition_version=props.get("conditionVersion"))
    existing = _conflicting(ctx, new)
    if existing is not None:
        return Response(200, existing.body())
    delay = ctx.state.duration("rolePropagation")
    new.effective_from += delay
    ctx.state.role_assignments.append(new)
    ctx.state.critical_path.add("propagation", f"{_NS}/roleAssignments/write", new.id,
                                new.created, delay)
    return Response(201, new.body())


def _principal_type(ctx: Ctx, principal_id: str, declared: Any) -> str:
    principal = ctx.state.principals.get(principal_id.lower())
    if principal is None:
        raise bad_request(
            "PrincipalNotFound",
            f"Principal {principal_id.replace('-', '')} does not exist in the directory "
            f"{ctx.state.tenant_id}. Check that you have the correct principal ID. If you are "
            "creating this principal and then immediately assigning a role, this error might "
            "be related to a replication delay. In this case, set the role assignment "
            "principalType property to a value, such as ServicePrincipal, User, or Group. See "
            "https://aka.ms/docs-principaltype")
    if declared is not None and str(declared).lower() != principal.type.lower():
        # "PrinciaplType" is the service's own spelling.
        raise bad_request("UnmatchedPrincipalType",
                          f"The PrincipalId '{principal_id.replace('-', '')}' has type "
                          f"'{principal.type}' , which is different from specified "
                          f"PrinciaplType '{declared}'.")
    return principal.type


def _conflicting(ctx: Ctx, new: RoleAssignment) -> RoleAssignment | None:
    """The same assignment re-PUT (idempotent), or raise the service's conflict answers."""
    for ra in _visible(ctx):
        same_triple = (ra.scope.lower().rstrip("/") == new.scope.lower().rstrip("/")
                       and ra.role_guid == new.role_guid
                       and ra.principal_id.lower() == new.principal_id.lower())
        if ra.name.lower() == new.name.lower():
            if same_triple:
                return ra
            raise bad_request("RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, "
                              "principal ID, and scope are not allowed to be updated.")
        if same_triple:
            raise conflict("RoleAssignmentExists", "The role assignment already exists. The ID "
                           f"of the existing role assignment is {ra.name.replace('-', '')}.")
    return None


@route("GET", _ASSIGNMENT, f"{_NS}/roleAssignments/read", "authorization")
def get_assignment(ctx: Ctx) -> Response:
    found = _find(ctx)
    if found is None:
        raise ArmError(404, "RoleAssignmentNotFound",
                       f"The role assignment '{ctx.groups['name']}' is not found.")
    return Response(200, found.body())


@route("DELETE", _ASSIGNMENT, f"{_NS}/roleAssignments/delete", "authorization")
def delete_assignment(ctx: Ctx) -> Response:
    found = _find(ctx)
    if found is None:
        return Response(204)  # "Role assignment already deleted or does not exist."
    found.deleted, found.deleted_at = True, ctx.state.now()
    found.effective_until = ctx.state.now() + ctx.state.duration("rolePropagation")
    return Response(200, found.body())


@route("GET", f"{_SCOPE}/providers/Microsoft\\.Authorization/roleAssignments",
       f"{_NS}/roleAssignments/read", "authorization")
def list_assignments(ctx: Ctx) -> Response:
    scope = ctx.groups["scope"] or "/"
    _check_scope(ctx, scope)
    at_scope_only, principal = _parse_filter(ctx.query.get("$filter", ""))
    chosen = [
        ra for ra in _visible(ctx)
        if (covers(ra.scope, scope) or (not at_scope_only and covers(scope, ra.scope)))
        and (principal is None or ra.principal_id.lower() == principal.lower())
    ]
    return page(ctx, [ra.body() for ra in chosen])


def _parse_filter(text: str) -> tuple[bool, str | None]:
    """(at-or-above only?, principal id) for the filters the service supports."""
    parts = [p.strip() for p in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE) if p]
    at_scope = any(_AT_SCOPE.fullmatch(p) for p in parts)
    equals = [m.group(1) for p in parts if (m := _PRINCIPAL_EQ.fullmatch(p))]
    assigned = [m.group(1) for p in parts if (m := _ASSIGNED_TO.fullmatch(p))]
    recognised = sum(map(len, (equals, assigned))) + int(at_scope)
    valid = recognised == len(parts) and len(equals) + len(assigned) <= 1
    if not valid or (at_scope and equals):
        raise bad_request("BadRequest", f"The filter '{text}' is not supported. Supported filters "
                          "are either 'atScope()' or 'principalId eq '{value}' or "
                          "assignedTo('{value}')'.")
    return at_scope, (equals + assigned or [None])[0]


@route("GET", _DEFINITION, f"{_NS}/roleDefinitions/read", "authorization")
def get_definition(ctx: Ctx) -> Response:
    guid = ctx.groups["name"].lower()
    if guid not in roles.BUILT_IN:
        raise ArmError(404, "RoleDefinitionDoesNotExist",
                       f"The role definition '{ctx.groups['name']}' could not be found.")
    return Response(200, roles.definition_body(guid, ctx.state.subscription_id))


@route("GET", f"{_SCOPE}/providers/Microsoft\\.Authorization/roleDefinitions",
       f"{_NS}/roleDefinitions/read", "authorization")
def list_definitions(ctx: Ctx) -> Response:
    text = ctx.query.get("$filter", "").strip()
    match = _ROLE_NAME_EQ.fullmatch(text)
    if text and not match:
        raise bad_request("BadRequest", f"The filter '{text}' is not supported.")
    guids = [g for g, r in roles.BUILT_IN.items()
             if not match or r["roleName"].lower() == match.group(1).lower()]
    return page(ctx, [roles.definition_body(g, ctx.state.subscription_id) for g in guids])


@route("GET", f"(?P<scope>{RG})/providers/Microsoft\\.Authorization/permissions",
       f"{_NS}/permissions/read", "authorization")
def list_permissions(ctx: Ctx) -> Response:
    """Permissions_ListForResourceGroup: what the caller may do at the group, one entry per role
    it holds there (an effective assignment at the group or above it) with that role's actions
    and notActions; a scenario grant covering the group counts as a role of its own. Assignments
    on resources inside the group do not apply to the group and are not listed. The answer
    carries no ABAC condition (the 2022-04-01 `Permission` has no such member)."""
    group, now = ctx.groups["scope"], ctx.state.now()
    blocks: list[dict[str, Any]] = []
    principal = ctx.state.principals.get(ctx.caller.lower())
    for grant in principal.grants if principal else []:
        if covers(grant["scope"], group):
            blocks.append(_permission(grant.get("actions", ["*"]), []))
    for ra in ctx.state.role_assignments:
        role = roles.BUILT_IN.get(ra.role_guid)
        if role and ra.principal_id.lower() == ctx.caller.lower() and covers(ra.scope, group) \
                and ra.effective(now):
            blocks.append(_permission(role["actions"], role.get("notActions", [])))
    return page(ctx, blocks)


def _permission(actions: list[str], not_actions: list[str]) -> dict[str, Any]:
    return {"actions": list(actions), "notActions": list(not_actions), "dataActions": [],
            "notDataActions": []}
