// Role Based Access Control Administrator for the app on one Disk Encryption Set, constrained by
// an ABAC condition: the app may create and delete only Reader assignments, only for service
// principals, and (by default) only for the Backup vaults' identities. Restoring a disk
// encrypted with a customer-managed key needs the vault's identity to read the Disk Encryption
// Set; the app grants that Reader at the set itself (not its resource group) and revokes it
// afterwards. The role's own read permission also gives the app the read of the set that
// attaching such a disk needs (linked authorization).

targetScope = 'resourceGroup'

@description('Object (principal) id of the app\'s user-assigned managed identity.')
param principalId string

@description('Object ids the app may grant to (the Backup vaults\' identities). Empty: any service principal.')
param grantablePrincipalIds array

@description('Name of the Disk Encryption Set (in this resource group).')
param diskEncryptionSetName string

var rbacAdministrator = 'f58310d9-a9f6-439a-9e8d-f62e7b41a168'
var reader = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'

var principals = join(grantablePrincipalIds, ', ')
var writePrincipals = empty(grantablePrincipalIds) ? '' : ' AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${principals}}'
var deletePrincipals = empty(grantablePrincipalIds) ? '' : ' AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${principals}}'
var writeClause = '(!(ActionMatches{\'Microsoft.Authorization/roleAssignments/write\'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${reader}} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] StringEqualsIgnoreCase \'ServicePrincipal\'${writePrincipals})'
var deleteClause = '(!(ActionMatches{\'Microsoft.Authorization/roleAssignments/delete\'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${reader}} AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalType] StringEqualsIgnoreCase \'ServicePrincipal\'${deletePrincipals})'

resource diskEncryptionSet 'Microsoft.Compute/diskEncryptionSets@2024-03-02' existing = {
  name: diskEncryptionSetName
}

resource delegatedAdmin 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(diskEncryptionSet.id, principalId, rbacAdministrator)
  scope: diskEncryptionSet
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', rbacAdministrator)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'diskrestore: grant a Backup vault identity Reader on this Disk Encryption Set while it restores a customer-managed-key disk, and revoke it afterwards. The condition allows nothing else.'
    conditionVersion: '2.0'
    condition: '(${writeClause}) AND (${deleteClause})'
  }
}
