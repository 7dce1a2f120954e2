"""One decorator for the HTTP routes' shared opening and endings, instead of each route
repeating them:

* `reads=True`: the caller must be one who may read runs (401/403 otherwise), checked first;
* `run="restore"` (or "drill"): the route's `{id}` must be an id one of this app's runs can have,
  else a 404 naming it, before anything reaches the Durable client (triggers/views.py says why);
* a Denied (401/403/503 from triggers/services/authorization.py) raised anywhere in the route is
  answered with its problem details; a RequestIdReused with a 409 naming every field that
  differs from the run the requestId started; an InvalidRequest with a 400 naming every bad
  field; an UnreadableBody (not JSON) with a 400 saying why.

The wrapper keeps the route's own signature (functools.wraps): the Functions worker reads the
binding parameters (`req: func.HttpRequest`, `client: ...`) from it, so they stay exactly the
route's. The worker passes them by name.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import azure.functions as func

from domain.errors import InvalidRequest, RequestIdReused
from domain.restore.request import parse_json

from .callers import reader
from .problems import problem
from .services.authorization import Denied
from .views import is_instance_id

Route = Callable[..., Awaitable[func.HttpResponse]]


class UnreadableBody(ValueError):
    """The request body is not JSON."""


def body_json(req: func.HttpRequest, empty: bytes = b"") -> Any:
    """The body as JSON (`empty` stands for an empty body); raises UnreadableBody."""
    try:
        return parse_json(req.get_body() or empty)
    except ValueError as exc:
        raise UnreadableBody(f"the body is not valid JSON: {exc}") from None


def api(*, reads: bool = False, run: str | None = None) -> Callable[[Route], Route]:
    def wrap(handler: Route) -> Route:
        @functools.wraps(handler)
        async def route(*args: Any, **kwargs: Any) -> func.HttpResponse:
            req = kwargs["req"] if "req" in kwargs else args[0]
            try:
                if reads:
                    reader(req)
                if run is not None and not is_instance_id(req.route_params["id"]):
                    return problem(404, "Not found",
                                   f"no {run} with id {req.route_params['id']!r}")
                return await handler(*args, **kwargs)
            except Denied as denied:
                return problem(denied.status, denied.title, denied.detail,
                               headers=denied.headers)
            except RequestIdReused as reused:
                return problem(409, "Request id reused", reused.message, errors=[
                    {"field": e.field, "message": e.message} for e in reused.errors])
            except InvalidRequest as invalid:
                title = getattr(invalid, "title", "Invalid request")
                return problem(400, title, invalid.message, errors=[
                    {"field": e.field, "message": e.message} for e in invalid.errors])
            except UnreadableBody as unreadable:
                return problem(400, "Invalid request", str(unreadable))
        return route
    return wrap
