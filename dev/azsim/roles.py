"""Built-in role definitions (real GUIDs and names; action lists from the built-in-roles docs).

Only the roles a disk restore touches are here. Virtual Machine Contributor's and Contributor's
lists are trimmed to the Compute/Authorization entries that matter to this simulator.
"""

from __future__ import annotations

from typing import Any

DISK_RESTORE_OPERATOR = "b50d9833-a0cb-478e-945f-707fcc997c13"
DISK_SNAPSHOT_CONTRIBUTOR = "7efff54f-a5b4-42b5-a1c5-5411624893ce"
DISK_BACKUP_READER = "3e5e47e6-65f7-47ef-90b5-e5dd4d455f24"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"

_AUTHZ_READ = "Microsoft.Authorization/*/read"
_RG_READ = "Microsoft.Resources/subscriptions/resourceGroups/read"

BUILT_IN: dict[str, dict[str, Any]] = {
    DISK_RESTORE_OPERATOR: {
        "roleName": "Disk Restore Operator",
        "description": "Provides permission to backup vault to perform disk restore.",
        "actions": [_AUTHZ_READ, _RG_READ, "Microsoft.Compute/disks/write",
                    "Microsoft.Compute/disks/read"],
    },
    DISK_SNAPSHOT_CONTRIBUTOR: {
        "roleName": "Disk Snapshot Contributor",
        "description": "Provides permission to backup vault to manage disk snapshots.",
        "actions": [_AUTHZ_READ, _RG_READ, "Microsoft.Compute/snapshots/delete",
                    "Microsoft.Compute/snapshots/write", "Microsoft.Compute/snapshots/read",
                    "Microsoft.Compute/snapshots/beginGetAccess/action",
                    "Microsoft.Compute/snapshots/endGetAccess/action",
                    "Microsoft.Compute/disks/beginGetAccess/action",
                    "Microsoft.Storage/storageAccounts/listkeys/action",
                    "Microsoft.Storage/storageAccounts/write",
                    "Microsoft.Storage/storageAccounts/read",
                    "Microsoft.Storage/storageAccounts/delete"],
    },
    DISK_BACKUP_READER: {
        "roleName": "Disk Backup Reader",
        "description": "Provides permission to backup vault to perform disk backup.",
        "actions": [_AUTHZ_READ, "Microsoft.Compute/disks/read",
                    "Microsoft.Compute/disks/beginGetAccess/action"],
    },
    READER: {
        "roleName": "Reader",
        "description": "View all resources, but does not allow you to make any changes.",
        "actions": ["*/read"],
    },
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": {
        "roleName": "Owner",
        "description": "Grants full access to manage all resources, including the ability to "
        "assign roles in Azure RBAC.",
        "actions": ["*"],
    },
    "b24988ac-6180-42a0-ab88-20f7382dd24c": {
        "roleName": "Contributor",
        "description": "Grants full access to manage all resources, but does not allow you to "
        "assign roles in Azure RBAC.",
        "actions": ["*"],
        "notActions": ["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
                       "Microsoft.Authorization/elevateAccess/Action"],
    },
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": {
        "roleName": "User Access Administrator",
        "description": "Lets you manage user access to Azure resources.",
        "actions": ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
    },
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": {
        "roleName": "Role Based Access Control Administrator",
        "description": "Manage access to Azure resources by assigning roles using Azure RBAC.",
        "actions": ["Microsoft.Authorization/roleAssignments/write",
                    "Microsoft.Authorization/roleAssignments/delete", "*/read",
                    "Microsoft.Support/*"],
    },
    "9980e02c-c2be-4d73-94e8-173b1dc7cf3c": {
        "roleName": "Virtual Machine Contributor",
        "description": "Create and manage virtual machines, manage disks, install and run "
        "software, reset password of the root user of the virtual machine using VM "
        "extensions, and connect to Linux virtual machine using SSH public keys.",
        "actions": [_AUTHZ_READ, "Microsoft.Compute/availabilitySets/*",
                    "Microsoft.Compute/locations/*", "Microsoft.Compute/virtualMachines/*",
                    "Microsoft.Compute/virtualMachineScaleSets/*",
                    "Microsoft.Compute/disks/write", "Microsoft.Compute/disks/read",
                    "Microsoft.Compute/disks/delete", _RG_READ,
                    "Microsoft.Resources/deployments/*"],
    },
}


def find(guid_or_name: str) -> str | None:
    """The GUID of a built-in role given its GUID or its name (case-insensitive)."""
    key = guid_or_name.lower()
    if key in BUILT_IN:
        return key
    return next((g for g, r in BUILT_IN.items() if r["roleName"].lower() == key), None)


def definition_body(guid: str, subscription_id: str) -> dict[str, Any]:
    role = BUILT_IN[guid]
    return {
        "id": f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/"
        f"roleDefinitions/{guid}",
        "name": guid,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": role["roleName"],
            "type": "BuiltInRole",
            "description": role["description"],
            "assignableScopes": ["/"],
            "permissions": [{
                "actions": list(role["actions"]),
                "notActions": list(role.get("notActions", [])),
                "dataActions": [],
                "notDataActions": [],
            }],
            "createdOn": "2021-02-05T00:00:00.0000000Z",
            "updatedOn": "2021-06-30T00:00:00.0000000Z",
            "createdBy": None,
            "updatedBy": None,
        },
    }
