// Backup Reader for the app on one Backup vault: read backup instances, recovery points and
// jobs, validate a restore and trigger it (the role includes validateRestore/action and
// restore/action on backup instances). Scoped to the vault, not its resource group.

targetScope = 'resourceGroup'

@description('Object (principal) id of the app\'s user-assigned managed identity.')
param principalId string

@description('Name of the Backup vault (in this resource group).')
param vaultName string

@description('Resource id of the custom role that reads the vault\'s Resource Guard proxies (main.bicep).')
param postureReaderRoleId string

var backupReader = 'a795c7a0-d4a2-40c1-ae25-d81f01202912'

resource vault 'Microsoft.DataProtection/backupVaults@2024-04-01' existing = {
  name: vaultName
}

resource backupReaderOnVault 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, backupReader)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', backupReader)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'diskrestore: find the backup instance of a disk, list recovery points and restore jobs, validate and trigger restores from this Backup vault.'
  }
}

resource postureReaderOnVault 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, postureReaderRoleId)
  scope: vault
  properties: {
    roleDefinitionId: postureReaderRoleId
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'diskrestore: readiness checks: read whether a Resource Guard (Multi-User Authorization) protects this Backup vault.'
  }
}
