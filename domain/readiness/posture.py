"""What the readiness checks read from Azure beyond what a restore reads: a vault as it is (its
identity may be gone), locks, every role assignment at a scope, role definitions and the app's
own permissions. Records, as the gateway's port (gateway/port.py) returns them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.model import OMITTED_WHEN_NONE, Record


@dataclass(frozen=True)
class ProtectedInstance(Record):
    """A backup instance of a vault, read without requiring an identity."""

    id: str
    datasource_id: str
    snapshot_resource_group_id: str
    protection_state: str
    # The identity the vault restores this disk with (its user-assigned one if the instance names
    # one, else the vault's system-assigned one); None: that identity does not exist.
    principal_id: str | None = None


@dataclass(frozen=True)
class VaultState(Record):
    id: str
    location: str
    identity_type: str | None  # SystemAssigned | UserAssigned | ... | None (no identity)
    principal_id: str | None  # the system-assigned identity's; None: none
    resource_guards: list[str] = field(default_factory=list)  # the proxies' resource guard ids
    instances: list[ProtectedInstance] = field(default_factory=list)


@dataclass(frozen=True)
class ManagementLock(Record):
    id: str
    level: str  # CanNotDelete | ReadOnly | NotSpecified

    @property
    def scope(self) -> str:
        """Where the lock is: its id up to /providers/Microsoft.Authorization/locks/."""
        at = self.id.lower().find("/providers/microsoft.authorization/locks/")
        return self.id[:at] if at >= 0 else ""

    @property
    def prevents_delete(self) -> bool:
        return self.level.lower() in ("cannotdelete", "readonly")


@dataclass(frozen=True)
class ScopeAssignment(Record):
    """A role assignment that applies at a scope (at it or above), whoever holds it."""

    id: str
    scope: str
    role_definition_guid: str
    principal_id: str
    principal_type: str | None = field(default=None, metadata=OMITTED_WHEN_NONE)


@dataclass(frozen=True)
class PermissionBlock(Record):
    """One `permissions` entry of a role definition, or of the Permissions API's answer."""

    actions: list[str] = field(default_factory=list)
    not_actions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RoleDefinitionInfo(Record):
    id: str
    name: str  # roleName
    permissions: list[PermissionBlock] = field(default_factory=list)
