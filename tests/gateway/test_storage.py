"""The app's own storage clients reach storage exactly as the host does (issue 19), and every
storage failure reaches a caller as one domain error naming what, where and what to check."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.credentials import AccessToken
from azure.data.tables import TableClient
from azure.storage.blob import (
    AccountSasPermissions,
    BlobServiceClient,
    ResourceTypes,
    generate_account_sas,
)
from azure.storage.queue import QueueClient
from demo import APP_IDENTITY
from devhost import identity
from devhost.azurite import Azurite
from devhost.config import AZURITE_ACCOUNT, AZURITE_KEY

from domain import errors
from gateway.ledger import Ledger
from gateway.reports import ReportStore
from settings import Settings

pytestmark = pytest.mark.azurite



@pytest.fixture(scope="module")
def http_azurite() -> Iterator[Azurite]:
    with Azurite() as instance:  # no skip: without Azurite these tests must fail
        yield instance


@pytest.fixture(scope="module")
def oauth_azurite() -> Iterator[Azurite]:
    with Azurite(oauth=True) as instance:
        yield instance


@pytest.fixture
def identity_env(oauth_azurite: Azurite, monkeypatch: pytest.MonkeyPatch
                 ) -> Iterator[tuple[dict[str, str], identity.IdentityEndpoint]]:
    """Production's settings shape pointed at the OAuth Azurite, the app's identity served as
    App Service serves it, and Azurite's CA trusted (REQUESTS_CA_BUNDLE) for this test."""
    lease = identity.acquire(env := {"DEVHOST_MANAGED_IDENTITIES": APP_IDENTITY})
    assert lease is not None
    for key in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER"):
        monkeypatch.setenv(key, env[key])
    for key, value in oauth_azurite.trust_env().items():
        monkeypatch.setenv(key, value)
    yield ({**oauth_azurite.identity_settings(APP_IDENTITY), **names()}, lease.endpoint)
    lease.release()


def names() -> dict[str, str]:
    return {"DRILL_REPORTS_CONTAINER": f"r-{uuid.uuid4().hex[:12]}",
            "RECOVERY_LEDGER_TABLE": f"t{uuid.uuid4().hex[:12]}"}


def round_trip(config: Settings) -> None:
    store = ReportStore.from_settings(config)
    store.check_writable()
    store.write("plan", "drill-1", {"summary": {"passed": 1}}, "<p>ok</p>")
    assert store.read("plan", "drill-1", "html") == b"<p>ok</p>"
    ledger = Ledger.from_settings(config)
    ledger.record_drilled("/bi/1", "rp-1")
    assert ledger.drilled(["/bi/1"]) == {"/bi/1": {"rp-1"}}


def test_use_development_storage_reaches_the_azurite_the_host_uses(http_azurite: Azurite):
    """devhost resolves UseDevelopmentStorage=true to the Azurite it was given (on ports the OS
    picked); the app's clients must reach the same one, not the SDK's default ports 10000-10002
    (the bug: `diskrestore drill start` failed after minutes with a raw ServiceRequestError)."""
    env = {"AzureWebJobsStorage": "UseDevelopmentStorage=true", **http_azurite.env(), **names()}
    round_trip(Settings.from_env(env))


def test_identity_based_settings_reach_storage_with_the_apps_managed_identity(identity_env,
                                                                              oauth_azurite):
    env, endpoint = identity_env
    assert not any("AccountKey" in v or "SharedAccessSignature" in v for v in env.values())
    before = len(endpoint.issued)
    config = Settings.from_env(env)
    round_trip(config)
    assert (APP_IDENTITY, "https://storage.azure.com") in endpoint.issued[before:]
    # a drill's failure notice, on a queue, by identity too
    queue = f"notices-{uuid.uuid4().hex[:8]}"
    ReportStore.from_settings(config).notify_queue(queue, {"event": "RestoreDrillFailed"})
    reader = QueueClient.from_connection_string(oauth_azurite.connection_string, queue,
                                                connection_verify=oauth_azurite.ca_bundle)
    (message,) = reader.peek_messages()
    assert json.loads(base64.b64decode(message.content)) == {"event": "RestoreDrillFailed"}


def test_an_identity_the_app_does_not_have_is_one_line_naming_the_setting(identity_env):
    env, _ = identity_env
    stranger = str(uuid.uuid4())
    config = Settings.from_env({**env, "AzureWebJobsStorage__clientId": stranger})
    with pytest.raises(errors.AppNotAuthorized) as info:
        ReportStore.from_settings(config)
    text = str(info.value)
    assert text.startswith(f"AppNotAuthorized: the drill report store (container "
                           f"{config.drill_reports_container}) cannot be used: the app's managed "
                           "identity could not get a token for storage at https://127.0.0.1:")
    assert "Unable to load the proper Managed Identity" in text
    assert "AzureWebJobsStorage__clientId" in info.value.hint and "\n" not in text


class _Expired:
    """A token past its `exp`: Azurite refuses it with 403 AuthenticationFailed."""

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        now = int(time.time())
        body = {"aud": "https://storage.azure.com", "iss": "https://sts.windows.net/t/",
                "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}
        part = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
        return AccessToken(f"eyJhbGciOiJub25lIn0.{part}.", now + 3600)


def test_storage_refusing_the_app_names_the_data_role(oauth_azurite, identity_env):
    """Real 403s from Azurite, through the real clients: AuthenticationFailed (a token it
    refuses) and AuthorizationPermissionMismatch (what Azure answers when a data role is
    missing; here a read-only SAS)."""
    uris, verify = oauth_azurite.service_uris(), oauth_azurite.ca_bundle
    config = Settings.from_env(identity_env[0])
    container = BlobServiceClient(uris["blob"], credential=_Expired(), connection_verify=verify
                                  ).get_container_client(config.drill_reports_container)
    with pytest.raises(errors.AppNotAuthorized) as info:
        ReportStore(container, config).check_writable()
    assert f"storage at {container.url} refused the app (AuthenticationFailed" in str(info.value)
    assert "Storage Blob Data Contributor" in info.value.hint

    ledger = Ledger(TableClient(uris["table"], "ledger", credential=_Expired(),
                                connection_verify=verify))
    with pytest.raises(errors.AppNotAuthorized) as info:
        ledger.events()
    assert "the recovery ledger (table ledger) cannot be used" in str(info.value)
    assert "Storage Table Data Contributor" in info.value.hint

    read_only = generate_account_sas(AZURITE_ACCOUNT, AZURITE_KEY,
                                     ResourceTypes(service=True, container=True, object=True),
                                     AccountSasPermissions(read=True, list=True),
                                     datetime.now(UTC) + timedelta(hours=1))
    sas = {"AzureWebJobsStorage": f"BlobEndpoint={uris['blob']};SharedAccessSignature={read_only}",
           **names()}
    store = ReportStore(BlobServiceClient(uris["blob"], credential=read_only,
                                          connection_verify=verify).get_container_client(
        sas["DRILL_REPORTS_CONTAINER"]), Settings.from_env(sas))
    with pytest.raises(errors.AppNotAuthorized, match="AuthorizationPermissionMismatch"):
        store.check_writable()


def test_unreachable_storage_is_one_retryable_line(identity_env):
    env, _ = identity_env
    down = "https://127.0.0.1:9/devstoreaccount1"  # nothing listens on port 9
    config = Settings.from_env({**env, "AzureWebJobsStorage__blobServiceUri": down})
    with pytest.raises(errors.AzureUnavailable) as info:
        ReportStore.from_settings(config)
    assert str(info.value).startswith(
        f"AzureUnavailable: the drill report store (container {config.drill_reports_container}) "
        f"cannot be used now: storage at {down}/{config.drill_reports_container} could not be "
        "reached (ServiceRequestError: Connection refused)")
    assert info.value.retryable and "\n" not in str(info.value)


def test_an_untrusted_certificate_is_refused_not_ignored(identity_env, monkeypatch):
    """Verification stays on: without Azurite's CA in REQUESTS_CA_BUNDLE the app cannot connect,
    and the line says what to set."""
    env, _ = identity_env
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(errors.AzureUnavailable) as info:
        ReportStore.from_settings(Settings.from_env(env))
    assert "certificate verify failed" in str(info.value)
    assert "REQUESTS_CA_BUNDLE" in info.value.hint


def test_no_storage_configured_is_named():
    with pytest.raises(errors.StorageNotConfigured, match="AzureWebJobsStorage is not set"):
        ReportStore.from_settings(Settings.from_env({}))
