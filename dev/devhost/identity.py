"""The managed identity endpoint App Service (and so Azure Functions) gives an app's processes.

On App Service the platform serves a loopback endpoint and sets two environment variables in the
worker: IDENTITY_ENDPOINT (its URL) and IDENTITY_HEADER (a secret every request must carry, an SSRF
guard). azure-identity's `ManagedIdentityCredential` finds them and asks, per api-version
2019-08-01:

    GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<resource>&client_id=<uami client id>
    X-IDENTITY-HEADER: {IDENTITY_HEADER}

and gets 200 `{"access_token", "expires_on" (epoch seconds, a string), "resource",
"token_type": "Bearer", "client_id"}`. devhost serves the same protocol, so the app's and the
host's `ManagedIdentityCredential(client_id=...)` work unchanged.

What it refuses, as App Service does: a missing or wrong X-IDENTITY-HEADER, an api-version other
than 2019-08-01 (2017-09-01's `secret` header and `clientid` are not served), no `resource`, and an
identity the app does not have: a `client_id` (or `principal_id`/`object_id`) not among the app's
user-assigned identities, or no selector at all (the app has no system-assigned identity; neither
has the deployed one, infra/app/function.bicep) - App Service's 400 "Unable to load the proper
Managed Identity.". App Service does not document the status for a bad header; devhost answers 401.

The app's identities are DEVHOST_MANAGED_IDENTITIES: comma-separated `clientId` or
`clientId=principalId` (the principal appears as the token's `oid`; derived from the client id when
not given), as the Bicep assigns `userAssignedIdentities` to the site. DEVHOST_TENANT_ID names the
tenant (a fixed one otherwise). Without DEVHOST_MANAGED_IDENTITIES there is no endpoint, like an
app without identities.

The tokens are for Azurite's OAuth mode (`--oauth basic`, dev/devhost/azurite.py), which checks no
signature: unsigned JWTs (`alg: none`) with the claims basic mode does check - `iat`, `nbf`, `exp`
(lifetime), `iss` starting with https://sts.windows.net/, `aud` the storage audience (the resource
asked for). Real storage would refuse them; they never leave loopback.

One endpoint per process, as on App Service: devhost runs the app in its own process, and tests
run several hosts one after another in one process, whose storage clients (cached per settings)
keep the endpoint's URL. So the endpoint starts with the first host and keeps serving until the
process ends; each host adds its identities while it runs (`acquire` / `Lease.release`).
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .config import ConfigError, is_guid

log = logging.getLogger("devhost")

API_VERSION = "2019-08-01"
PATH = "/msi/token"
TOKEN_LIFETIME = 24 * 3600  # seconds; managed identity tokens live about a day
CLOCK_SKEW = 300  # iat/nbf five minutes back, as Entra ID issues them
DEFAULT_TENANT = "72f988bf-0000-4000-8000-00000000d3e1"
_NAMESPACE = uuid.UUID("8f3c9a52-7d1e-4c55-9a63-0c8f2b1d4e77")
UNKNOWN_IDENTITY = "Unable to load the proper Managed Identity."


class IdentityConfigError(ConfigError):
    """DEVHOST_MANAGED_IDENTITIES is malformed."""


@dataclass(frozen=True)
class Identity:
    client_id: str
    principal_id: str


def identities_from_env(env: Mapping[str, str] | None = None) -> tuple[Identity, ...]:
    """DEVHOST_MANAGED_IDENTITIES: `clientId[=principalId]`, comma-separated."""
    env = os.environ if env is None else env
    found = []
    for entry in (env.get("DEVHOST_MANAGED_IDENTITIES") or "").split(","):
        client_id, _, principal = (part.strip() for part in entry.partition("="))
        if not entry.strip():
            continue
        for what, value in (("client id", client_id), ("principal id", principal)):
            if value and not is_guid(value):
                raise IdentityConfigError(f"DEVHOST_MANAGED_IDENTITIES: {value!r} is not a GUID "
                                          f"({what}; entries are clientId or clientId=principalId)")
        if not client_id:
            raise IdentityConfigError(f"DEVHOST_MANAGED_IDENTITIES: {entry!r} has no client id")
        found.append(Identity(client_id.lower(), (principal or
                                                  str(uuid.uuid5(_NAMESPACE, client_id))).lower()))
    return tuple(found)


def unsigned_token(identity: Identity, resource: str, tenant: str, now: float) -> tuple[str, int]:
    """(token, expires_on): an app-only Entra ID access token's claims, unsigned."""
    issued = int(now) - CLOCK_SKEW
    expires = int(now) + TOKEN_LIFETIME
    claims = {"aud": resource, "iss": f"https://sts.windows.net/{tenant}/", "iat": issued,
              "nbf": issued, "exp": expires, "appid": identity.client_id, "appidacr": "2",
              "idp": f"https://sts.windows.net/{tenant}/", "idtyp": "app",
              "oid": identity.principal_id, "sub": identity.principal_id, "tid": tenant,
              "ver": "1.0"}
    header = {"alg": "none", "typ": "JWT"}
    return f"{_b64(header)}.{_b64(claims)}.", expires


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


class IdentityEndpoint:
    """The endpoint on 127.0.0.1 (an OS-picked port), serving the identities `add`ed to it."""

    def __init__(self, tenant: str = DEFAULT_TENANT) -> None:
        self.tenant = tenant
        self.secret = secrets.token_urlsafe(24)
        self._identities: dict[int, tuple[Identity, ...]] = {}  # per lease
        self.issued: list[tuple[str, str]] = []  # (client id, resource) of every token served
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{PATH}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="devhost-identity")
        self._thread.start()

    def env(self) -> dict[str, str]:
        return {"IDENTITY_ENDPOINT": self.url, "IDENTITY_HEADER": self.secret}

    def identities(self) -> dict[str, Identity]:
        with self._lock:
            return {i.client_id: i for group in self._identities.values() for i in group}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ---- one request ------------------------------------------------------------------------
    def answer(self, path: str, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(path)
        if parts.path != PATH:
            return 404, _error(404, f"no such endpoint {parts.path!r} (the token endpoint is "
                                    f"{PATH})")
        if headers.get("X-IDENTITY-HEADER") != self.secret:
            return 401, _error(401, "the X-IDENTITY-HEADER header is missing or wrong (send the "
                                    "value of IDENTITY_HEADER)")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if query.get("api-version") != API_VERSION:
            return 400, _error(400, f"api-version {query.get('api-version')!r} is not supported "
                                    f"here; use {API_VERSION}")
        resource = query.get("resource")
        if not resource:
            return 400, _error(400, "the resource parameter is required")
        identity = self._select(query)
        if identity is None:
            return 400, _error(400, UNKNOWN_IDENTITY)
        token, expires = unsigned_token(identity, resource, self.tenant, time.time())
        self.issued.append((identity.client_id, resource))
        return 200, {"access_token": token, "expires_on": str(expires), "resource": resource,
                     "token_type": "Bearer", "client_id": identity.client_id}

    def _select(self, query: Mapping[str, str]) -> Identity | None:
        known = self.identities()
        chosen = [k for k in ("client_id", "principal_id", "object_id", "mi_res_id") if k in query]
        if len(chosen) != 1:  # none: the system-assigned identity, which the app does not have
            return None
        key, value = chosen[0], query[chosen[0]].lower()
        if key == "client_id":
            return known.get(value)
        if key in ("principal_id", "object_id"):
            return next((i for i in known.values() if i.principal_id == value), None)
        return None  # mi_res_id: devhost knows its identities by client id only


def _error(status: int, message: str) -> dict[str, Any]:
    return {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())}


def _handler(endpoint: IdentityEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = endpoint.answer(self.path, self.headers)
            if status != 200:
                log.warning("managed identity endpoint refused a token request: %s",
                            body["message"])
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self.send_error(405)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


# ---- one endpoint per process --------------------------------------------------------------
_shared: IdentityEndpoint | None = None
_shared_lock = threading.Lock()
_next_lease = itertools.count(1)


class Lease:
    """A host's identities on the process's endpoint, until `release()`."""

    def __init__(self, endpoint: IdentityEndpoint, number: int) -> None:
        self.endpoint, self._number = endpoint, number

    def release(self) -> None:
        with self.endpoint._lock:
            self.endpoint._identities.pop(self._number, None)


def acquire(env: MutableMapping[str, str] | None = None) -> Lease | None:
    """Serve the identities DEVHOST_MANAGED_IDENTITIES names (None if it names none) and set
    IDENTITY_ENDPOINT / IDENTITY_HEADER in `env` (the process environment), as App Service sets
    them for the worker."""
    global _shared
    env = os.environ if env is None else env
    identities = identities_from_env(env)
    if not identities:
        return None
    with _shared_lock:
        if _shared is None:
            _shared = IdentityEndpoint(env.get("DEVHOST_TENANT_ID") or DEFAULT_TENANT)
        endpoint = _shared
    number = next(_next_lease)
    with endpoint._lock:
        endpoint._identities[number] = identities
    env.update(endpoint.env())
    return Lease(endpoint, number)
