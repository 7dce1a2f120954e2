"""Who is calling an HTTP route (App Service authentication's X-MS-CLIENT-PRINCIPAL), and the
access checks of triggers/services/authorization.py asked for that caller with the real gate."""

from __future__ import annotations

import logging
from typing import Any

import azure.functions as func

from domain.access.access_policy import Caller
from domain.errors import Unauthenticated
from settings import Settings, settings

# Names, not `from .services import authorization`: a package attribute can outlive a reload of
# its module (devhost reloads the app's modules per host), and two Denied classes then meet.
from .services.authorization import Allowed, Denied
from .services.authorization import authorize as policy_allows
from .services.authorization import reader as policy_reader
from .services.authorization import record_action as audit_action
from .wiring import access_gate

log = logging.getLogger(__name__)
PRINCIPAL = "x-ms-client-principal"


def caller(req: func.HttpRequest, config: Settings | None = None) -> Caller | None:
    """The signed-in caller, or None when nobody is signed in. The X-MS-CLIENT-PRINCIPAL*
    headers are the platform's only when App Service authentication is on (WEBSITE_AUTH_ENABLED,
    which then strips callers' own); otherwise anyone could send them, so they are ignored
    (and the attempt logged). Raises Unauthenticated for a malformed principal."""
    config = config or settings()
    encoded = req.headers.get(PRINCIPAL)
    name = req.headers.get(f"{PRINCIPAL}-name")
    if not (encoded or name):
        return None
    if not config.app_service_auth:
        log.warning("ignored X-MS-CLIENT-PRINCIPAL headers (name %r): App Service "
                    "authentication is not enabled, so they come from the caller",
                    (name or "")[:200])
        return None
    if not encoded:  # the platform always sends the full principal with the name
        raise Unauthenticated("X-MS-CLIENT-PRINCIPAL is missing (only its -NAME was sent)")
    return Caller.from_client_principal(encoded, req.headers.get(f"{PRINCIPAL}-id"), name)


def signed_in(req: func.HttpRequest) -> Caller | None:
    """caller(req); a malformed principal is a Denied 401."""
    try:
        return caller(req)
    except Unauthenticated as exc:
        raise Denied(401, "Unauthenticated", exc.message) from None


def authorize(req: func.HttpRequest, action: str, resources: dict[str, str | None],
              **checks: Any) -> Allowed:
    """The caller of `req`, if allowed (services.authorization.authorize); raises Denied."""
    who = signed_in(req)
    return policy_allows(access_gate(), who, action, resources, **checks)


def reader(req: func.HttpRequest) -> Caller:
    """The caller of `req`, if they may read runs; raises Denied."""
    who = signed_in(req)
    return policy_reader(access_gate(), who)


def record_action(action: str, allowed: Allowed, what: dict[str, Any], **where: Any) -> None:
    audit_action(access_gate(), action, allowed, what, **where)
