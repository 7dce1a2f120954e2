"""The composition root: Settings → credential → per-subscription clients → control plane."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING

import pytest
from azsim.sdk import mgmt_clients
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from azure.mgmt.compute.operations._operations import (
    build_disks_delete_request,
    build_virtual_machines_start_request,
)
from azure.mgmt.dataprotection import DataProtectionMgmtClient

from gateway import factory
from gateway.azure_sdk import AzureControlPlane
from gateway.clients import SubscriptionClients
from gateway.lro import DATAPROTECTION_API, DISK_API, VM_API
from settings import Settings, SettingsError

if TYPE_CHECKING:
    from conftest import Env


def test_settings_from_the_environment_build_a_working_control_plane(env: Env) -> None:
    settings = Settings.from_env({
        "ARM_ENDPOINT": env.sim.endpoint, "ARM_CA_BUNDLE": env.sim.ca_bundle,
        "ARM_CREDENTIAL": "dev-unsigned", "DEV_PRINCIPAL_ID": env.sim.app_principal_id,
        "DEV_TENANT_ID": env.sim.tenant_id, "BACKUP_VAULT_IDS": env.vault})

    plane = factory.control_plane(settings)

    bi = plane.find_backup_instance(env.disk("vm-app01-osdisk"))
    assert bi.vault_id.lower() == env.vault.lower()
    assert plane.get_resource_group_location(env.target_rg) == "westeurope"
    callers = {e["caller"] for e in env.sim.audit()}
    assert callers == {env.sim.app_principal_id}  # the dev token names DEV_PRINCIPAL_ID


def test_the_dev_credential_mints_an_unsigned_token_for_the_principal() -> None:
    token = factory.DevUnsignedCredential("oid-1", "tenant-1").get_token(
        "https://127.0.0.1:8443/.default").token
    header, claims, signature = token.split(".")

    def decode(part: str) -> dict[str, str]:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))

    assert decode(header)["alg"] == "none" and signature == ""
    assert (decode(claims)["oid"], decode(claims)["tid"]) == ("oid-1", "tenant-1")


def test_dev_unsigned_is_refused_off_loopback_by_settings_and_by_the_factory() -> None:
    with pytest.raises(SettingsError, match="loopback"):
        Settings.from_env({"ARM_ENDPOINT": "https://management.azure.com",
                           "ARM_CREDENTIAL": "dev-unsigned", "DEV_PRINCIPAL_ID": "x"})
    built_by_hand = Settings(credential="dev-unsigned", dev_principal_id="x")
    with pytest.raises(ValueError, match="loopback"):
        factory.control_plane(built_by_hand)


def test_the_configured_credential_kinds() -> None:
    managed = factory.credential(Settings(managed_identity_client_id="11111111-1111-4111-8111-"
                                                                     "111111111111"))
    assert isinstance(managed, ManagedIdentityCredential)
    assert isinstance(factory.credential(Settings(credential="default")), DefaultAzureCredential)


def test_client_settings_for_public_and_private_endpoints(env: Env) -> None:
    public = factory.client_kwargs(Settings())
    assert public["base_url"] == "https://management.azure.com"
    assert "credential_scopes" not in public and "connection_verify" not in public

    local = factory.client_kwargs(env.settings)
    assert local["base_url"] == env.sim.endpoint
    assert local["credential_scopes"] == [f"{env.sim.endpoint}/.default"]
    assert local["connection_verify"] == env.sim.ca_bundle


def test_the_retry_policy_is_sized_for_activities() -> None:
    policy = factory.ActivityRetry()
    assert policy.total_retries == 3 and policy.max_retry_after == 20


def test_clients_are_built_once_per_subscription(env: Env) -> None:
    cache = factory.ClientCache(factory.credential(env.settings),
                                **factory.client_kwargs(env.settings))
    first = cache(env.sub)
    assert cache(env.sub.upper()) is first
    other = cache("11111111-2222-4333-8444-555555555555")
    assert other is not first
    assert other.compute._config.subscription_id == "11111111-2222-4333-8444-555555555555"
    cache.close()


def test_one_set_of_clients_can_be_injected_directly(env: Env) -> None:
    with mgmt_clients(env.sim) as sdk:
        plane = AzureControlPlane(SubscriptionClients(
            dataprotection=sdk.dataprotection, authorization=sdk.authorization,
            compute=sdk.compute, resource=sdk.resource), backup_vault_ids=(env.vault,))

        assert plane.find_backup_instance(env.disk("vm-app01-data0")).vault_principal_id == \
            env.principal("vault")
        assert plane.get_disk(env.disk("vm-app01-data0")) is not None


def test_the_api_versions_sent_by_hand_are_the_sdks_defaults() -> None:
    client = DataProtectionMgmtClient(factory.DevUnsignedCredential("x"), "sub")
    assert client._config.api_version == DATAPROTECTION_API
    assert f"api-version={VM_API}" in build_virtual_machines_start_request("rg", "vm", "sub").url
    assert f"api-version={DISK_API}" in build_disks_delete_request("rg", "d", "sub").url



def test_azure_control_plane_implements_every_port_method_with_its_signature() -> None:
    import inspect

    from gateway.port import ControlPlane

    def port_methods(cls: type) -> dict[str, inspect.Signature]:
        return {name: inspect.signature(member) for name, member in vars(cls).items()
                if inspect.isfunction(member) and not name.startswith("_")}

    port = port_methods(ControlPlane)
    assert port  # the Protocol's methods
    for name, signature in port.items():
        ours = inspect.signature(getattr(AzureControlPlane, name))
        assert list(ours.parameters) == list(signature.parameters), name
        assert ours.return_annotation == signature.return_annotation, name
