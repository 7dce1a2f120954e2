// The app's one user-assigned managed identity: host storage, the queue trigger, Application
// Insights, the deployment package and every ARM call the app makes. A user-assigned identity
// outlives the Function App and can be granted its roles before the app exists.

@description('Name of the user-assigned managed identity.')
param name string

@description('Azure region.')
param location string

@description('Tags for the identity.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
