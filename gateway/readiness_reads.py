"""The readiness checks' reads (domain/readiness/posture.py): a Backup vault as it is (its
identity, its Resource Guard proxies, its backup instances even without an identity), the
management locks of a resource group, every role assignment at a scope, role definitions, and the
app's own permissions at a resource group (the Permissions API).

Locks are read with a plain GET through the resource client's pipeline (its authentication,
retries and logging): azure-mgmt-resource 26 no longer ships the locks client (it moved to
azure-mgmt-resource-locks), and one list call does not justify another package.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest

from domain import errors
from domain.readiness.posture import (
    ManagementLock,
    PermissionBlock,
    ProtectedInstance,
    RoleDefinitionInfo,
    ScopeAssignment,
    VaultState,
)
from domain.resource_id import InvalidResourceId, ResourceId

from .clients import ClientsFor
from .sdk_errors import ArmFailure, domain_error, is_not_found, translated
from .wire import as_json, as_object, dig, same_id, text

LOCKS_API = "2020-05-01"
_VAULTS = "Microsoft.DataProtection/backupVaults"
_AUTHZ = "Microsoft.Authorization"


class ReadinessReads:
    def __init__(self, clients_for: ClientsFor) -> None:
        self._clients_for = clients_for

    def read_vault(self, vault_id: str) -> VaultState:
        rid = _parse(vault_id)
        client = self._clients_for(rid.subscription).dataprotection
        with translated(f"{_VAULTS}/read", vault_id):
            try:
                vault = as_object(client.backup_vaults.get(rid.resource_group, rid.name))
            except HttpResponseError as exc:
                if is_not_found(exc):
                    raise errors.BackupInstanceNotFound(
                        f"the Backup vault {vault_id} does not exist") from exc
                raise
        with translated(f"{_VAULTS}/backupResourceGuardProxies/read", vault_id):
            guards = [g for p in client.dpp_resource_guard_proxy.list(rid.resource_group,
                                                                       rid.name)
                      if (g := text(as_json(p), "properties", "resourceGuardResourceId"))]
        with translated(f"{_VAULTS}/backupInstances/read", vault_id):
            items = [as_json(i) for i in client.backup_instances.list(rid.resource_group,
                                                                       rid.name)]
        identity = dig(vault, "identity")
        return VaultState(
            id=text(vault, "id") or vault_id, location=text(vault, "location") or "",
            identity_type=text(identity, "type"), principal_id=text(identity, "principalId"),
            resource_guards=sorted(guards), instances=[_instance(bi, identity) for bi in items])

    def list_locks(self, resource_group_id: str) -> list[ManagementLock]:
        """Every management lock of the group (at it, above it, on its resources); [] when the
        group does not exist."""
        rid = _parse(resource_group_id)
        client = self._clients_for(rid.subscription).resource
        path = f"{rid.resource_group_id}/providers/{_AUTHZ}/locks"
        return [ManagementLock(id=text(item, "id") or "",
                               level=text(item, "properties", "level") or "NotSpecified")
                for item in _pages(client, path, LOCKS_API, f"{_AUTHZ}/locks/read",
                                   resource_group_id)]

    def list_scope_assignments(self, scope: str) -> list[ScopeAssignment]:
        """`atScope()`: every assignment at the scope or above it, whoever holds it."""
        client = self._clients_for(_subscription(scope)).authorization
        with translated(f"{_AUTHZ}/roleAssignments/read", scope):
            return [ScopeAssignment(
                id=item.id or "", scope=item.scope or scope,
                role_definition_guid=(item.role_definition_id or "").rstrip("/")
                .rsplit("/", 1)[-1].lower(),
                principal_id=item.principal_id or "",
                principal_type=str(item.principal_type) if item.principal_type else None)
                for item in client.role_assignments.list_for_scope(scope, filter="atScope()")]

    def get_role_definition(self, scope: str, role_guid: str) -> RoleDefinitionInfo | None:
        """A role definition (built-in or custom) as seen from `scope`; None when there is none."""
        client = self._clients_for(_subscription(scope)).authorization
        with translated(f"{_AUTHZ}/roleDefinitions/read", scope):
            try:
                found = client.role_definitions.get(scope, role_guid)
            except HttpResponseError as exc:
                if is_not_found(exc):
                    return None
                raise
        return RoleDefinitionInfo(
            id=found.id or role_guid, name=found.role_name or role_guid,
            permissions=[PermissionBlock(list(p.actions or []), list(p.not_actions or []))
                         for p in found.permissions or []])

    def list_own_permissions(self, resource_group_id: str) -> list[PermissionBlock] | None:
        """What the caller (the app) may do at the group, from the Permissions API; None when the
        group does not exist."""
        rid = _parse(resource_group_id)
        client = self._clients_for(rid.subscription).authorization
        with translated(f"{_AUTHZ}/permissions/read", resource_group_id):
            try:
                return [PermissionBlock(list(p.actions or []), list(p.not_actions or []))
                        for p in client.permissions.list_for_resource_group(rid.resource_group)]
            except HttpResponseError as exc:
                if is_not_found(exc):
                    return None
                raise


def _instance(bi: Any, identity: Any) -> ProtectedInstance:
    props = dig(bi, "properties")
    details = dig(props, "identityDetails")
    uami = text(details, "userAssignedIdentityArmUrl") \
        if dig(details, "useSystemAssignedIdentity") is False else None
    if uami is not None:
        principal = next((text(v, "principalId")
                          for k, v in (dig(identity, "userAssignedIdentities") or {}).items()
                          if same_id(k, uami)), None)
    else:
        principal = text(identity, "principalId")
    return ProtectedInstance(
        id=text(bi, "id") or "", datasource_id=text(props, "dataSourceInfo", "resourceID") or "",
        snapshot_resource_group_id=_snapshot_group(props),
        protection_state=text(props, "currentProtectionState")
        or text(props, "protectionStatus", "status") or "Unknown",
        principal_id=principal)


def _snapshot_group(props: Any) -> str:
    """As gateway/backup.py reads it: the operational store's resource group."""
    for params in dig(props, "policyInfo", "policyParameters", "dataStoreParametersList") or []:
        if (text(params, "objectType") or "").lower() == "azureoperationalstoreparameters":
            return text(params, "resourceGroupId") or ""
    return ""


def _pages(client: Any, path: str, api_version: str, action: str, scope: str
           ) -> Iterator[Any]:
    """The `value` items of a list GET, every page (`nextLink` followed as given); nothing for a
    404 (the group does not exist). Other failures map as everywhere (sdk_errors)."""
    request: HttpRequest | None = HttpRequest("GET", quote(path, safe="/()-._~"),
                                              params={"api-version": api_version})
    while request is not None:
        with translated(action, scope):
            response = client.send_request(request)
        if response.status_code == 404:
            return
        if response.status_code >= 400:
            failure = ArmFailure.of_response(response)
            mapped = domain_error(failure, action, scope)
            raise mapped or errors.AzureUnavailable(
                f"'{action}' on '{scope}' answered {failure.status}: {failure.code}: "
                f"{failure.message}")
        body = response.json()
        yield from dig(body, "value") or []
        link = text(body, "nextLink")
        request = HttpRequest("GET", link) if link else None


def _parse(rid: str) -> ResourceId:
    try:
        return ResourceId.parse(rid)
    except InvalidResourceId as exc:
        raise errors.ValidationFailed(f"{rid!r} {exc}") from exc


def _subscription(scope: str) -> str:
    parts = scope.strip("/").split("/")
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        raise errors.ValidationFailed(f"scope {scope!r} names no subscription")
    return parts[1].lower()
