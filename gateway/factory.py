"""The gateway's composition root: Settings → credential → cached clients → control plane.

    from settings import settings
    plane = control_plane(settings())       # build once per worker process and reuse

Credentials (ARM_CREDENTIAL):
* managed-identity: `ManagedIdentityCredential(client_id=AZURE_CLIENT_ID)` (None: system-assigned)
* default: `DefaultAzureCredential` (local development against real Azure)
* dev-unsigned: `DevUnsignedCredential`, unsigned JWTs whose `oid` is DEV_PRINCIPAL_ID, for the
  local simulator only; refused unless ARM_ENDPOINT is a loopback address (Settings checks this
  too).

Clients: `base_url` = ARM_ENDPOINT, `connection_verify` = ARM_CA_BUNDLE when set, token scope
`{endpoint}/.default` for non-public clouds, and retries sized for activities (`ActivityRetry`):
3 retries with short backoff, no in-process wait for a long Retry-After. An activity then fails
within seconds and the orchestrator's durable retry/poll loop takes over.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.pipeline.policies import RetryPolicy
from azure.core.pipeline.transport import HttpRequest, HttpResponse

from settings import PUBLIC_ARM, Settings

from .azure_sdk import AzureControlPlane
from .clients import ClientCache

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class ActivityRetry(RetryPolicy[HttpRequest, HttpResponse]):
    """azure-core's RetryPolicy with activity-sized limits, except that a throttled or busy answer
    whose Retry-After exceeds `max_retry_after` seconds is not slept through inside the activity:
    it surfaces at once (→ AzureThrottled / AzureUnavailable), and the orchestrator waits on a
    durable timer instead of holding a worker."""

    def __init__(self, *, max_retry_after: float = 20.0, **kwargs: Any) -> None:
        kwargs.setdefault("retry_total", 3)
        kwargs.setdefault("retry_backoff_factor", 0.8)
        kwargs.setdefault("retry_backoff_max", 10)
        kwargs.setdefault("timeout", 120)  # all attempts of one call together
        super().__init__(**kwargs)
        self.max_retry_after = max_retry_after

    def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
        retry_after = self.get_retry_after(response)
        if retry_after is not None and retry_after > self.max_retry_after:
            return False
        return super().is_retry(settings, response)


class DevUnsignedCredential:
    """A `TokenCredential` minting unsigned JWTs (`alg: none`) that name `oid` as the caller.

    Only for the local simulator, which reads the `oid` (and `tid`) claims and checks no
    signature. Real ARM rejects these tokens."""

    def __init__(self, oid: str, tenant_id: str | None = None, lifetime: int = 3600) -> None:
        self.oid, self.tenant_id, self.lifetime = oid, tenant_id, lifetime

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        expires = int(time.time()) + self.lifetime
        claims: dict[str, Any] = {"oid": self.oid, "exp": expires,
                                  "aud": scopes[0].removesuffix("/.default") if scopes else ""}
        if self.tenant_id:
            claims["tid"] = self.tenant_id
            claims["iss"] = f"https://sts.windows.net/{self.tenant_id}/"
        header = {"alg": "none", "typ": "JWT"}
        return AccessToken(f"{_b64(header)}.{_b64(claims)}.", expires)

    def close(self) -> None:
        return None


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def credential(settings: Settings) -> TokenCredential:
    if settings.credential == "managed-identity":
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=settings.managed_identity_client_id)
    if settings.credential == "default":
        from azure.identity import DefaultAzureCredential

        return DefaultAzureCredential(
            managed_identity_client_id=settings.managed_identity_client_id)
    if settings.credential == "dev-unsigned":
        if urlsplit(settings.arm_endpoint).hostname not in LOOPBACK:
            raise ValueError("ARM_CREDENTIAL=dev-unsigned is only allowed with a loopback "
                             f"ARM_ENDPOINT, not {settings.arm_endpoint}: it sends unsigned "
                             "tokens")
        if not settings.dev_principal_id:
            raise ValueError("ARM_CREDENTIAL=dev-unsigned needs DEV_PRINCIPAL_ID")
        return DevUnsignedCredential(settings.dev_principal_id, settings.dev_tenant_id)
    raise ValueError(f"unknown ARM_CREDENTIAL {settings.credential!r}")


def client_kwargs(settings: Settings) -> dict[str, Any]:
    """What every azure-mgmt client gets from Settings."""
    endpoint = settings.arm_endpoint.rstrip("/")
    kwargs: dict[str, Any] = {"base_url": endpoint, "connection_timeout": 10,
                              "read_timeout": 60}
    if endpoint.lower() != PUBLIC_ARM:
        kwargs["credential_scopes"] = [f"{endpoint}/.default"]
    if settings.arm_ca_bundle:
        kwargs["connection_verify"] = settings.arm_ca_bundle
    return kwargs


def control_plane(settings: Settings, *, credential_override: TokenCredential | None = None,
                  **retry: Any) -> AzureControlPlane:
    """A control plane for `settings`. `retry` tunes `ActivityRetry` (e.g. tests pass
    `retry_backoff_factor=0.01`); `credential_override` replaces the configured credential."""
    clients = ClientCache(credential_override or credential(settings),
                          retry_policy=lambda: ActivityRetry(**retry), **client_kwargs(settings))
    return AzureControlPlane(clients, backup_vault_ids=settings.backup_vault_ids,
                             arm_endpoint=settings.arm_endpoint)
