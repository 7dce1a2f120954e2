"""Microsoft.Authorization/locks (api-version 2016-09-01, 2020-05-01): management locks at a
subscription, a resource group or a resource; list, get, create or update and delete at a
resource group, and their effect on deletes.

Shapes follow ManagementLocks_ListAtResourceGroupLevel.json (`{"value": [{"properties":
{"level"}, "id", "type", "name"}]}`; `notes` and `owners` only when set). What the list at a
resource group holds beyond the group's own locks is not documented ("Gets all the management
locks for a resource group"): azsim lists the group's, its resources' and the subscription's
(inherited) locks, which `lockListing: "ownOnly"` narrows to the group's and its resources'.

A CanNotDelete or ReadOnly lock at a scope or above it refuses deleting a disk or a snapshot
there with 409 `ScopeLocked` (Azure's message), before anything changes. ReadOnly's refusal of
other writes is not modelled.
"""

from __future__ import annotations

from typing import Any

from .arm import RG, SUB, Ctx, Response, Route, page, router
from .auth import covers
from .errors import ArmError, bad_request, invalid_content
from .state import SimState

ROUTES: list[Route] = []
route = router(ROUTES)

LOCK_TYPE = "Microsoft.Authorization/locks"
LEVELS = ("CanNotDelete", "ReadOnly", "NotSpecified")
_ACTION = "Microsoft.Authorization/locks"
_LOCK = f"(?P<scope>{RG}/providers/Microsoft\\.Authorization/locks/(?P<name>[^/]+))"
LOCK_LISTINGS = ("withInherited", "ownOnly")


def new_lock(scope: str, name: str, level: str, notes: str | None = None) -> dict[str, Any]:
    if level not in LEVELS:
        raise ValueError(f"lock level must be one of {LEVELS}, not {level!r}")
    props: dict[str, Any] = {"level": level}
    if notes:
        props["notes"] = notes
    return {"id": f"{scope.rstrip('/')}/providers/{LOCK_TYPE}/{name}", "name": name,
            "type": LOCK_TYPE, "properties": props}


def _scope_of(lock: dict[str, Any]) -> str:
    at = lock["id"].lower().find(f"/providers/{LOCK_TYPE.lower()}/")
    return lock["id"][:at]


def _locks(state: SimState) -> list[dict[str, Any]]:
    return [b for b in state.resources.values() if b.get("type") == LOCK_TYPE]


def check_not_locked(state: SimState, resource_id: str) -> None:
    """409 ScopeLocked when a lock that forbids deletes covers `resource_id`."""
    held = [lk for lk in _locks(state) if lk["properties"]["level"] in ("CanNotDelete", "ReadOnly")
            and covers(_scope_of(lk), resource_id)]
    if held:
        scopes = ",".join(f"'{_scope_of(lk)}'" for lk in held)
        raise ArmError(409, "ScopeLocked",
                       f"The scope '{resource_id}' cannot perform delete operation because "
                       f"following scope(s) are locked: {scopes}. Please remove the lock and "
                       "try again.")


@route("GET", f"(?P<scope>{RG})/providers/Microsoft\\.Authorization/locks", f"{_ACTION}/read",
       "locks")
def list_group_locks(ctx: Ctx) -> Response:
    group = ctx.groups["scope"]
    sub = f"/subscriptions/{ctx.groups['sub']}"
    inherited = ctx.state.lock_listing == "withInherited"
    found = [lk for lk in _locks(ctx.state)
             if covers(group, _scope_of(lk))
             or (inherited and _scope_of(lk).lower() == sub.lower())]
    return page(ctx, sorted(found, key=lambda lk: lk["id"].lower()))


@route("GET", f"(?P<scope>{SUB})/providers/Microsoft\\.Authorization/locks", f"{_ACTION}/read",
       "locks")
def list_subscription_locks(ctx: Ctx) -> Response:
    return page(ctx, sorted((lk for lk in _locks(ctx.state)
                             if covers(ctx.groups["scope"], _scope_of(lk))),
                            key=lambda lk: lk["id"].lower()))


@route("GET", _LOCK, f"{_ACTION}/read", "locks")
def get_lock(ctx: Ctx) -> Response:
    found = ctx.state.get(ctx.groups["scope"])
    if found is None:
        raise ArmError(404, "LockNotFound",
                       f"The lock '{ctx.groups['name']}' could not be found.")
    return Response(200, found)


@route("PUT", _LOCK, f"{_ACTION}/write", "locks")
def put_lock(ctx: Ctx) -> Response:
    props = ctx.json().get("properties")
    if not isinstance(props, dict) or props.get("level") not in LEVELS:
        raise invalid_content(f"properties.level must be one of {', '.join(LEVELS)}")
    notes = props.get("notes")
    if notes is not None and not isinstance(notes, str):
        raise bad_request("InvalidRequestContent", "properties.notes must be a string")
    existed = ctx.state.get(ctx.groups["scope"]) is not None
    body = ctx.state.put(new_lock(ctx.groups["scope"].rsplit("/providers/", 1)[0],
                                  ctx.groups["name"], props["level"], notes))
    return Response(200 if existed else 201, body)


@route("DELETE", _LOCK, f"{_ACTION}/delete", "locks")
def delete_lock(ctx: Ctx) -> Response:
    return Response(200 if ctx.state.remove(ctx.groups["scope"]) is not None else 204)
