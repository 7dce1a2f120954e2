"""devhost's managed identity endpoint (App Service's protocol, api-version 2019-08-01), through
azure-identity's own ManagedIdentityCredential, and its tokens against Azurite's OAuth mode: what
basic mode accepts, and that it really refuses what it must (so the acceptance is not vacuous)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.data.tables import TableServiceClient
from azure.identity import ManagedIdentityCredential
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient
from devhost import identity
from devhost.azurite import Azurite

CLIENT_ID = "0b5e6f7a-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
PRINCIPAL = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
TENANT = "6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6"
STORAGE = "https://storage.azure.com"


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[identity.IdentityEndpoint]:
    """The process's endpoint serving CLIENT_ID, with IDENTITY_ENDPOINT/HEADER set (as App
    Service sets them) for this test only."""
    env = {"DEVHOST_MANAGED_IDENTITIES": f"{CLIENT_ID}={PRINCIPAL}", "DEVHOST_TENANT_ID": TENANT}
    lease = identity.acquire(env)
    assert lease is not None
    for key in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.delenv("IDENTITY_SERVER_THUMBPRINT", raising=False)  # not Service Fabric
    yield lease.endpoint
    lease.release()


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_managed_identity_credential_gets_a_token_unchanged(endpoint):
    before = len(endpoint.issued)
    token = ManagedIdentityCredential(client_id=CLIENT_ID).get_token(f"{STORAGE}/.default")
    body = claims(token.token)
    assert body["aud"] == STORAGE and body["appid"] == CLIENT_ID and body["oid"] == PRINCIPAL
    assert body["iss"].startswith("https://sts.windows.net/") and body["tid"]
    assert body["nbf"] <= time.time() < body["exp"] == token.expires_on
    assert endpoint.issued[before:] == [(CLIENT_ID, STORAGE)]


def test_the_wire_format_is_app_services(endpoint):
    answer = requests.get(endpoint.url, params={"api-version": "2019-08-01", "resource": STORAGE,
                                                "client_id": CLIENT_ID},
                          headers={"X-IDENTITY-HEADER": endpoint.secret}, timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert isinstance(body["expires_on"], str) and int(body["expires_on"]) > time.time()
    assert (body["resource"], body["token_type"], body["client_id"]) == (STORAGE, "Bearer",
                                                                         CLIENT_ID)


@pytest.mark.parametrize(("params", "headers", "status", "says"), [
    ({"client_id": CLIENT_ID}, {}, 401, "X-IDENTITY-HEADER"),
    ({"client_id": CLIENT_ID}, {"X-IDENTITY-HEADER": "guess"}, 401, "X-IDENTITY-HEADER"),
    ({"client_id": CLIENT_ID, "api-version": "2017-09-01"}, None, 400, "api-version"),
    ({"client_id": CLIENT_ID, "resource": ""}, None, 400, "resource"),
    ({"client_id": str(uuid.uuid4())}, None, 400, identity.UNKNOWN_IDENTITY),
    ({}, None, 400, identity.UNKNOWN_IDENTITY),  # system-assigned: the app has none
    ({"mi_res_id": "/subscriptions/x/resourceGroups/y/providers/Microsoft.ManagedIdentity/"
                   "userAssignedIdentities/z"}, None, 400, identity.UNKNOWN_IDENTITY),
])
def test_it_refuses_what_app_service_refuses(endpoint, params, headers, status, says):
    query = {"api-version": "2019-08-01", "resource": STORAGE, **params}
    sent = {"X-IDENTITY-HEADER": endpoint.secret} if headers is None else headers
    answer = requests.get(endpoint.url, params=query, headers=sent, timeout=10)
    assert answer.status_code == status
    assert says in answer.json()["message"] and answer.json()["statusCode"] == status


def test_an_identity_the_app_lacks_fails_the_credential_with_app_services_message(endpoint):
    with pytest.raises(ClientAuthenticationError, match="Unable to load the proper Managed"):
        ManagedIdentityCredential(client_id=str(uuid.uuid4())).get_token(f"{STORAGE}/.default")


def test_identities_come_only_from_running_hosts(endpoint):
    other = str(uuid.uuid4())
    lease = identity.acquire({"DEVHOST_MANAGED_IDENTITIES": other})
    assert lease is not None and lease.endpoint is endpoint  # one endpoint per process
    assert set(endpoint.identities()) == {CLIENT_ID, other}
    lease.release()
    assert set(endpoint.identities()) == {CLIENT_ID}
    assert identity.acquire({}) is None  # no identities: no endpoint, as on App Service


@pytest.mark.parametrize("value", ["not-a-guid", f"{CLIENT_ID}=nope", f"={CLIENT_ID}"])
def test_malformed_identities_are_named(value):
    with pytest.raises(identity.IdentityConfigError, match="DEVHOST_MANAGED_IDENTITIES"):
        identity.identities_from_env({"DEVHOST_MANAGED_IDENTITIES": value})


# ---- the tokens against Azurite's OAuth mode -------------------------------------------------
@pytest.fixture(scope="module")
def oauth_azurite() -> Iterator[Azurite]:
    with Azurite(oauth=True) as instance:  # no skip: without Azurite these tests must fail
        yield instance


@pytest.mark.azurite
def test_azurite_accepts_the_tokens_for_blobs_queues_and_tables(endpoint, oauth_azurite):
    uris, verify = oauth_azurite.service_uris(), oauth_azurite.ca_bundle
    credential = ManagedIdentityCredential(client_id=CLIENT_ID)
    name = f"id{uuid.uuid4().hex[:10]}"
    before = len(endpoint.issued)
    BlobServiceClient(uris["blob"], credential=credential,
                      connection_verify=verify).create_container(name)
    QueueServiceClient(uris["queue"], credential=credential,
                       connection_verify=verify).create_queue(name)
    TableServiceClient(uris["table"], credential=credential,
                       connection_verify=verify).create_table(name)
    assert endpoint.issued[before:] == [(CLIENT_ID, STORAGE)]  # one token, cached, for all three


class _Fixed:
    """A credential handing out one hand-made token (to show what Azurite refuses)."""

    def __init__(self, **changes: object) -> None:
        now = int(time.time())
        body = {"aud": STORAGE, "iss": f"https://sts.windows.net/{TENANT}/", "iat": now - 60,
                "nbf": now - 60, "exp": now + 3600, **changes}
        body = {k: v for k, v in body.items() if v is not None}

        def part(doc: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

        self.token = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(body)}."

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


@pytest.mark.azurite
@pytest.mark.parametrize(("changes", "why"), [
    ({"exp": int(time.time()) - 10}, "Lifetime validation failed"),
    ({"nbf": int(time.time()) + 3600}, "Lifetime validation failed"),
    ({"iat": None}, "Bearer is not supported"),
    ({"iss": f"https://login.microsoftonline.com/{TENANT}/v2.0"}, "Invalid token issuer"),
    ({"aud": "https://management.azure.com"}, "Invalid token audience"),
    ({"aud": "https://otheraccount.blob.core.windows.net"}, "Invalid token audience"),
])
def test_azurite_basic_oauth_really_checks_lifetime_issuer_and_audience(oauth_azurite, changes,
                                                                        why):
    service = BlobServiceClient(oauth_azurite.service_uris()["blob"],
                                credential=_Fixed(**changes),
                                connection_verify=oauth_azurite.ca_bundle)
    with pytest.raises(ClientAuthenticationError, match=why):
        service.create_container(f"no{uuid.uuid4().hex[:10]}")
