"""The four azure-mgmt clients for one subscription, built once per subscription and cached.

Disks, VMs and resource groups may live in other subscriptions than the Backup vault, and the
generated operations put the client's own subscription id into their URLs, so the gateway asks
for the clients *of the subscription a resource id names*.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.core.credentials import TokenCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.dataprotection import DataProtectionMgmtClient
from azure.mgmt.resource.resources import ResourceManagementClient


@dataclass(frozen=True)
class SubscriptionClients:
    dataprotection: DataProtectionMgmtClient
    authorization: AuthorizationManagementClient
    compute: ComputeManagementClient
    resource: ResourceManagementClient

    def close(self) -> None:
        for client in (self.dataprotection, self.authorization, self.compute, self.resource):
            client.close()


ClientsFor = Callable[[str], SubscriptionClients]


class ClientCache:
    """`clients_for(subscription_id)`: the clients of that subscription, built on first use.

    `client_kwargs` go to every client (base_url, connection_verify, credential_scopes,
    retry_total, ...). `retry_policy`, if given, makes each client's retry policy: a pipeline
    links its policies together, so two clients must never share one policy instance.
    Thread-safe: activities may run on several threads of one worker."""

    def __init__(self, credential: TokenCredential, *,
                 retry_policy: Callable[[], Any] | None = None, **client_kwargs: Any) -> None:
        self._credential, self._kwargs = credential, client_kwargs
        self._retry_policy = retry_policy
        self._clients: dict[str, SubscriptionClients] = {}
        self._lock = threading.Lock()

    def __call__(self, subscription_id: str) -> SubscriptionClients:
        key = subscription_id.lower()
        with self._lock:
            clients = self._clients.get(key)
            if clients is None:
                clients = self._clients[key] = self._build(key)
            return clients

    def _build(self, subscription_id: str) -> SubscriptionClients:
        credential = self._credential

        def kwargs() -> dict[str, Any]:
            if self._retry_policy is None:
                return self._kwargs
            return {**self._kwargs, "retry_policy": self._retry_policy()}

        return SubscriptionClients(
            dataprotection=DataProtectionMgmtClient(credential, subscription_id, **kwargs()),
            authorization=AuthorizationManagementClient(credential, subscription_id, **kwargs()),
            compute=ComputeManagementClient(credential, subscription_id, **kwargs()),
            resource=ResourceManagementClient(credential, subscription_id, **kwargs()),
        )

    def close(self) -> None:
        with self._lock:
            for clients in self._clients.values():
                clients.close()
            self._clients.clear()
