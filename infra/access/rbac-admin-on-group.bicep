// Role Based Access Control Administrator for the app on one restore target resource group,
// constrained by an ABAC condition: the app may create and delete only Disk Restore Operator
// assignments, only for service principals, and (by default) only for the Backup vaults'
// identities. That is exactly what a restore needs: the vault's identity must hold Disk Restore
// Operator on the target resource group while it writes the restored disk, and the app revokes
// it afterwards. Without the condition this role could grant Owner to anyone.
//
// The condition limits which role and to whom, not the scope: the scope is limited by where this
// assignment sits (each target resource group, never the subscription).

targetScope = 'resourceGroup'

@description('Object (principal) id of the app\'s user-assigned managed identity.')
param principalId string

@description('Object ids the app may grant to (the Backup vaults\' identities). Empty: any service principal.')
param grantablePrincipalIds array

var rbacAdministrator = 'f58310d9-a9f6-439a-9e8d-f62e7b41a168'
var diskRestoreOperator = 'b50d9833-a0cb-478e-945f-707fcc997c13'

var principals = join(grantablePrincipalIds, ', ')
var writePrincipals = empty(grantablePrincipalIds) ? '' : ' AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${principals}}'
var deletePrincipals = empty(grantablePrincipalIds) ? '' : ' AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${principals}}'
var writeClause = '(!(ActionMatches{\'Microsoft.Authorization/roleAssignments/write\'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${diskRestoreOperator}} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] StringEqualsIgnoreCase \'ServicePrincipal\'${writePrincipals})'
var deleteClause = '(!(ActionMatches{\'Microsoft.Authorization/roleAssignments/delete\'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${diskRestoreOperator}} AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalType] StringEqualsIgnoreCase \'ServicePrincipal\'${deletePrincipals})'

resource delegatedAdmin 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, rbacAdministrator)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', rbacAdministrator)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'diskrestore: grant a Backup vault identity Disk Restore Operator on this restore target resource group for one restore or drill, and revoke it afterwards. The condition allows nothing else.'
    conditionVersion: '2.0'
    condition: '(${writeClause}) AND (${deleteClause})'
  }
}
