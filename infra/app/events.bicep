// Disk deletions in the subscription, delivered to the function `recovery_event` (Event Grid
// trigger, endpoint type AzureFunction; see docs/recovery.md). The system topic is created with
// the rest; the subscription only once `recoveryEventsEnabled` is true, because Event Grid
// refuses an AzureFunction endpoint whose function is not deployed yet (azure.yaml's postdeploy
// hook turns it on after the first deploy). Events Event Grid cannot deliver within 24 hours are
// dead-lettered to a blob container with the topic's own identity, never dropped.

@description('Name of the Event Grid system topic for the subscription (Microsoft.Resources.Subscriptions).')
param systemTopicName string

@description('Create the event subscription (the function recovery_event must be deployed).')
param recoveryEventsEnabled bool

@description('Resource groups whose deleted disks are delivered (resource ids).')
param recoveryResourceGroupIds array

@description('Resource id of the Function App.')
param functionAppId string

@description('Name of the app\'s storage account (dead letters).')
param storageAccountName string

@description('Blob container for dead-lettered events.')
param deadLetterContainerName string

@description('Tags for the topic.')
param tags object = {}

var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: deadLetterContainerName
}

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: 'global'
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetterContainer.id, topic.id, storageBlobDataContributor)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: topic.identity.principalId
    principalType: 'ServicePrincipal'
    description: 'diskrestore: the Event Grid system topic writes events it could not deliver to recovery_event into this one dead-letter container (not the rest of the account).'
  }
}

resource diskDeletions 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (recoveryEventsEnabled && !empty(recoveryResourceGroupIds)) {
  parent: topic
  name: 'disk-deletions-to-recovery-event'
  dependsOn: [
    deadLetterWriter
  ]
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/recovery_event'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.Resources.ResourceDeleteSuccess'
      ]
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.operationName'
          values: [
            'Microsoft.Compute/disks/delete'
          ]
        }
        {
          operatorType: 'StringBeginsWith'
          key: 'subject'
          values: [for id in recoveryResourceGroupIds: '${id}/providers/Microsoft.Compute/disks/']
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: storage.id
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output systemTopicId string = topic.id
