"""Microsoft.Resources: resource groups (get, check existence, create or update, list)."""

from __future__ import annotations

import re
from typing import Any

from .arm import RG, SUB, Ctx, Response, Route, page, rg_id, router
from .errors import ArmError, bad_request

ROUTES: list[Route] = []
route = router(ROUTES)

RG_TYPE = "Microsoft.Resources/resourceGroups"
_READ = "Microsoft.Resources/subscriptions/resourceGroups/read"
_WRITE = "Microsoft.Resources/subscriptions/resourceGroups/write"
_NAME = re.compile(r"[-\w._()]{1,90}")


def new_body(sub: str, name: str, location: str, tags: dict[str, str] | None = None
             ) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": rg_id(sub, name), "name": name, "type": RG_TYPE, "location": location,
        "properties": {"provisioningState": "Succeeded"},
    }
    if tags:
        body["tags"] = tags
    return body


def group_not_found(name: str) -> ArmError:
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")


@route("GET", f"(?P<scope>{RG})", _READ, "resources")
def get_group(ctx: Ctx) -> Response:
    body = ctx.state.get(ctx.groups["scope"])
    if body is None:
        raise group_not_found(ctx.groups["rg"])
    return Response(200, body)


@route("HEAD", f"(?P<scope>{RG})", _READ, "resources")
def check_group(ctx: Ctx) -> Response:
    return Response(204 if ctx.state.get(ctx.groups["scope"]) else 404)


@route("GET", f"(?P<scope>{SUB})/resourceGroups", _READ, "resources")
def list_groups(ctx: Ctx) -> Response:
    return page(ctx, ctx.state.children(ctx.groups["scope"], RG_TYPE))


@route("PUT", f"(?P<scope>{RG})", _WRITE, "resources")
def put_group(ctx: Ctx) -> Response:
    name, request = ctx.groups["rg"], ctx.json()
    if not _NAME.fullmatch(name) or name.endswith("."):
        raise bad_request("InvalidResourceGroup",
                          f"The provided resource group name '{name}' has these invalid "
                          "characters or length.")
    location = request.get("location")
    if not isinstance(location, str) or not location:
        raise bad_request("LocationRequired", "The location property is required for this "
                          "definition.")
    existing = ctx.state.get(ctx.groups["scope"])
    if existing and existing["location"].lower() != location.lower():
        raise ArmError(409, "InvalidResourceGroupLocation",
                       f"Invalid resource group location '{location}'. The Resource group already "
                       f"exists in location '{existing['location']}'.")
    body = new_body(ctx.groups["sub"], existing["name"] if existing else name, location,
                    ctx.tags(request))
    ctx.state.put(body)
    return Response(200 if existing else 201, body)
