"""The four real azure-mgmt clients pointed at a simulator, and a credential for any identity.

    clients = mgmt_clients(sim)                          # acting as the app's own identity
    clients = mgmt_clients(sim, credential=FakeTokenCredential(oid, sim.tenant_id))

A dev/test tool: it imports azure.mgmt.*; the simulator itself does not need it.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

from azure.core.credentials import AccessToken
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.dataprotection import DataProtectionMgmtClient
from azure.mgmt.resource.resources import ResourceManagementClient


class SimulatorInfo(Protocol):
    """A running simulator: an in-process `Simulator` or a `ServedSimulator`."""

    endpoint: str
    ca_bundle: str

    @property
    def subscription_id(self) -> str: ...

    @property
    def tenant_id(self) -> str: ...

    @property
    def app_principal_id(self) -> str: ...


@dataclass(frozen=True)
class ServedSimulator:
    """A simulator in another process, from the JSON line `python -m azsim serve` prints."""

    endpoint: str
    ca_bundle: str
    subscription_id: str
    tenant_id: str
    app_principal_id: str

    @classmethod
    def from_ready_line(cls, line: str | dict[str, str]) -> ServedSimulator:
        info = json.loads(line) if isinstance(line, str) else line
        return cls(info["endpoint"], info["caBundle"], info["subscriptionId"], info["tenantId"],
                   info["appPrincipalId"])


class FakeTokenCredential:
    """A `TokenCredential` minting unsigned JWTs whose `oid` is the identity to act as."""

    def __init__(self, oid: str, tenant_id: str, lifetime: int = 3600) -> None:
        self.oid, self.tenant_id, self.lifetime = oid, tenant_id, lifetime

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        expires = int(time.time()) + self.lifetime
        claims = {"oid": self.oid, "tid": self.tenant_id, "aud": "https://management.azure.com",
                  "iss": f"https://sts.windows.net/{self.tenant_id}/", "exp": expires}
        return AccessToken(f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.", expires)


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@dataclass
class MgmtClients:
    resource: ResourceManagementClient
    dataprotection: DataProtectionMgmtClient
    authorization: AuthorizationManagementClient
    compute: ComputeManagementClient

    def close(self) -> None:
        for client in (self.resource, self.dataprotection, self.authorization, self.compute):
            client.close()

    def __enter__(self) -> MgmtClients:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def client_kwargs(sim: SimulatorInfo, **overrides: Any) -> dict[str, Any]:
    """What any azure-mgmt client needs to talk to the simulator (plus `overrides`)."""
    return {"base_url": sim.endpoint, "connection_verify": sim.ca_bundle,
            "credential_scopes": ["https://management.azure.com/.default"], **overrides}


def mgmt_clients(sim: SimulatorInfo, credential: Any = None, **overrides: Any) -> MgmtClients:
    """Clients for `sim`, acting as `credential` (default: the app's identity). `overrides`
    go to every client, e.g. `polling_interval=0.05` or `retry_backoff_factor=0.01`."""
    credential = credential or FakeTokenCredential(sim.app_principal_id, sim.tenant_id)
    kwargs = client_kwargs(sim, **overrides)
    sub = sim.subscription_id
    return MgmtClients(
        resource=ResourceManagementClient(credential, sub, **kwargs),
        dataprotection=DataProtectionMgmtClient(credential, sub, **kwargs),
        authorization=AuthorizationManagementClient(credential, sub, **kwargs),
        compute=ComputeManagementClient(credential, sub, **kwargs),
    )
