// One of the app's custom roles (defined in main.bicep) assigned to the app's identity on one
// resource group. The roles are narrower than Virtual Machine Contributor: see main.bicep for
// their actions and docs/deploy.md for why each one exists.

targetScope = 'resourceGroup'

@description('Object (principal) id of the app\'s user-assigned managed identity.')
param principalId string

@description('Resource id of the custom role definition.')
param roleDefinitionId string

@description('Why the app holds this role here (becomes the assignment\'s description).')
param reason string

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, roleDefinitionId)
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: reason
  }
}
