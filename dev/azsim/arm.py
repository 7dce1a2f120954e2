"""The ARM plumbing shared by the resource providers: routes, request context, responses, paging.

Each provider module exports `ROUTES`. A route's regex names the resource id (or scope) it acts on
as the group `scope`; its `action` is the ARM action name, used for RBAC, audit and faults.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from .errors import bad_request, invalid_content, resource_not_found
from .state import SimState

# Versions each provider accepts: the SDK defaults, the official examples' and a few recent ones.
API_VERSIONS: dict[str, tuple[str, ...]] = {
    "resources": ("2021-04-01", "2022-09-01", "2024-03-01", "2024-11-01", "2025-03-01",
                  "2025-04-01"),
    "dataprotection": ("2021-01-01", "2023-01-01", "2023-05-01", "2024-04-01", "2025-01-01",
                       "2025-07-01", "2026-06-01"),
    "authorization": ("2015-07-01", "2018-01-01-preview", "2020-04-01-preview",
                      "2020-10-01-preview", "2022-04-01"),
    "compute": ("2024-03-01", "2024-07-01", "2024-11-01", "2025-04-01", "2025-11-01",
                "2026-03-01", "2026-04-01"),
    "disks": ("2024-03-02", "2025-01-02", "2026-03-02"),
    # Management locks (Microsoft.Authorization/locks, specified with the resources RP).
    "locks": ("2016-09-01", "2020-05-01"),
    # Resource SKUs keep their own version (azure-mgmt-compute 39.0.0 sends 2021-07-01).
    "skus": ("2017-09-01", "2019-04-01", "2021-07-01"),
}
# Compute's operation-status URLs serve VM and disk operations alike.
API_VERSIONS["compute-operations"] = API_VERSIONS["compute"] + API_VERSIONS["disks"]
_API_VERSION_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}(-preview|-beta|-alpha)?")

# Stored request members are rendered back later: bound their nesting so rendering cannot fail.
MAX_DEPTH = 32

SUB = r"/subscriptions/(?P<sub>[^/]+)"
RG = SUB + r"/resourceGroups/(?P<rg>[^/]+)"


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Ctx:
    state: SimState
    method: str
    path: str
    query: dict[str, str]
    headers: Any
    raw_body: bytes
    caller: str
    request_id: str
    base_url: str
    groups: dict[str, str] = field(default_factory=dict)

    @property
    def api_version(self) -> str:
        return self.query["api-version"]

    def json(self) -> dict[str, Any]:
        """The request body as a JSON object, or the 400 ARM sends for unreadable content."""
        if not self.raw_body.strip():
            raise invalid_content("The request body is empty")
        try:
            body = json.loads(self.raw_body)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise invalid_content(str(exc)) from exc
        if not isinstance(body, dict):
            raise invalid_content("The request body must be a JSON object")
        if _depth(body) > MAX_DEPTH:
            raise invalid_content(f"The request body is nested deeper than {MAX_DEPTH} levels")
        return body

    def tags(self, body: dict[str, Any]) -> dict[str, str] | None:
        """The request's `tags`, which ARM only accepts as a map of strings."""
        tags = body.get("tags")
        if tags is None:
            return None
        if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
            raise invalid_content("Tags must be an object of string values")
        return tags


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        children = item.values() if isinstance(item, dict) else item if isinstance(
            item, list) else ()
        stack.extend((child, level + 1) for child in children)
    return deepest


Handler = Callable[[Ctx], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    action: str
    api: str

    @property
    def write(self) -> bool:
        return not self.action.lower().endswith("/read")


def router(routes: list[Route]) -> Callable[[str, str, str, str], Callable[[Handler], Handler]]:
    """A decorator factory that appends each decorated handler to `routes`."""

    def route(method: str, regex: str, action: str, api: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            routes.append(Route(method, re.compile(regex, re.IGNORECASE), handler, action, api))
            return handler

        return register

    return route


def check_api_version(query: dict[str, str], api: str) -> None:
    version = query.get("api-version")
    if not version:
        raise bad_request("MissingApiVersionParameter",
                          "The api-version query parameter (?api-version=) is required for all "
                          "requests.")
    supported = API_VERSIONS[api]
    if not _API_VERSION_FORMAT.fullmatch(version):
        raise bad_request("InvalidApiVersionParameter",
                          f"The api-version '{version}' is invalid. The supported versions are "
                          f"'{','.join(supported)}'.")
    if version not in supported:
        raise bad_request("NoRegisteredProviderFound",
                          f"No registered resource provider found for API version '{version}'. "
                          f"The supported api-versions are '{', '.join(supported)}'.")


def page(ctx: Ctx, items: list[dict[str, Any]], size: int | None = None) -> Response:
    """One page of `items` (`size` of them, the scenario's `pageSize` by default); `nextLink`
    repeats the query, api-version included, with an opaque `$skipToken` offset."""
    offset = _skip_offset(ctx.query.get("$skipToken"))
    size = size or ctx.state.page_size
    body: dict[str, Any] = {"value": items[offset:offset + size]}
    if offset + size < len(items):
        token = base64.urlsafe_b64encode(str(offset + size).encode()).decode().rstrip("=")
        query = {k: v for k, v in ctx.query.items() if k != "$skipToken"}
        query["$skipToken"] = token
        body["nextLink"] = f"{ctx.base_url}{ctx.path}?{urlencode(query)}"
    return Response(200, body)


def _skip_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError as exc:
        raise bad_request("InvalidSkipToken", "The skip token is invalid.") from exc
    if offset < 0:
        raise bad_request("InvalidSkipToken", "The skip token is invalid.")
    return offset


def as_object(value: Any, name: str) -> dict[str, Any]:
    """`value` if it is a JSON object, else the 400 Compute answers for a malformed member."""
    if not isinstance(value, dict):
        raise bad_request("InvalidParameter", f"'{name}' must be an object.", name)
    return value


def as_list(value: Any, name: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request("InvalidParameter", f"'{name}' must be an array.", name)
    return value


def rg_id(sub: str, rg: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


def provider_id(sub: str, rg: str, namespace_type: str, name: str) -> str:
    return f"{rg_id(sub, rg)}/providers/{namespace_type}/{name}"


def require(state: SimState, rid: str, rtype: str) -> dict[str, Any]:
    """The stored body at `rid`, or ARM's 404 for a missing resource of that type."""
    body = state.get(rid)
    if body is None:
        parts = rid.split("/")
        raise resource_not_found(rtype, parts[-1], parts[4])
    return body
