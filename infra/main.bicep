// diskrestore: the Azure Functions app that restores managed disks from Azure Backup, with the
// least privilege it needs. Deployed by `azd up` (azure.yaml); see docs/deploy.md.
//
// Subscription scope: the app's resource group, the app's custom roles, the activity log
// diagnostic setting, and role assignments in the resource groups the app works in.
// Every role assignment is named with guid() of stable inputs and says in its description why
// it exists. Offline checks: python -m tools.infra (docs/deploy.md says what they prove).

targetScope = 'subscription'

// ---- environment -----------------------------------------------------------------------------

@minLength(1)
@maxLength(40)
@description('azd environment name: names the resource group and goes into every resource name.')
param environmentName string

@minLength(1)
@description('Azure region of the app (a region that offers Flex Consumption).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Name of the app\'s resource group; empty: rg-<environmentName>.')
param resourceGroupName string = ''

@description('Tags for every resource.')
param tags object = {}

// ---- the app -------------------------------------------------------------------------------

@description('Python version of the Function App.')
@allowed([
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'

@description('Upper bound of Flex Consumption instances.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of each instance (MB).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Always-ready instances of the durable group (1 keeps durable timers and queues polled; 0 scales to zero).')
@minValue(0)
param alwaysReadyDurableInstances int = 1

@description('Durable Functions task hub (letters and digits; one per environment).')
param taskHubName string = 'DiskRestoreHub'

@description('RECOVERY_POLICIES_PATH: recovery policy file, relative to the app directory and deployed with the app. Empty: alert-driven recovery is off.')
param recoveryPoliciesPath string = ''

@description('DRILL_PLANS_PATH: drill plan file, relative to the app directory and deployed with the app. Empty: no drills.')
param drillPlansPath string = ''

@description('ACCESS_POLICY_PATH: who may restore what (docs/security.md), relative to the app directory and deployed with the app. Empty: every self-service request is denied.')
param accessPolicyPath string = ''

@description('Client id of the Entra ID app registration for App Service authentication (docs/security.md). Empty: authentication off, so self-service requests are refused.')
param authClientId string = ''

@description('READINESS_SCHEDULE: when the readiness checks run (six-field NCRONTAB; default hourly at minute 17).')
param readinessSchedule string = '0 17 * * * *'

@description('READINESS_RPO_HOURS: the RPO (hours) of a disk no drill plan\'s objectives cover; 26 fits a daily backup.')
param readinessRpoHours string = '26'

@description('RESTORE_PROPAGATION_TIMEOUT_MINUTES: how long a restore waits for granted roles to take effect.')
@minValue(1)
@maxValue(240)
param restorePropagationTimeoutMinutes int = 30

@description('RESTORE_JOB_TIMEOUT_MINUTES: how long a restore job may run.')
@minValue(1)
@maxValue(1440)
param restoreJobTimeoutMinutes int = 240

@description('DRILL_RESTORE_RESERVE: of Azure Backup\'s 10 restores per disk a day, how many drills leave for incidents (a drill skips a disk with no more left).')
@minValue(0)
@maxValue(9)
param drillRestoreReserve int = 2

@description('RESTORE_PROBE_INTERVAL_SECONDS: time between validation probes.')
@minValue(1)
@maxValue(600)
param restoreProbeIntervalSeconds int = 20

@description('RESTORE_POLL_INTERVAL_SECONDS: time between restore job polls.')
@minValue(1)
@maxValue(600)
param restorePollIntervalSeconds int = 10

@description('ARM_OPERATION_POLL_SECONDS: time between polls of ARM operations.')
@minValue(1)
@maxValue(600)
param armOperationPollSeconds int = 5

// ---- what the app may touch ------------------------------------------------------------------

@minLength(1)
@description('Backup vaults (resource ids) the app restores from: Backup Reader on each; BACKUP_VAULT_IDS.')
param backupVaultIds array

@minLength(1)
@description('Resource groups (ids) the app restores disks into, drill sandboxes included: delegated RBAC Administrator (Disk Restore Operator only) and the restore target operator role on each.')
param targetResourceGroupIds array

@description('Resource groups (ids) whose deleted disks are recovered in place: disk deletions there reach recovery_event, and they get the same roles as target resource groups.')
param recoveryResourceGroupIds array = []

@description('Disk Encryption Sets (ids) of customer-managed-key disks the app restores: delegated RBAC Administrator (Reader only) on each.')
param diskEncryptionSetIds array = []

@description('Resource groups (ids) of VMs the app attaches to or swaps OS disks of, when they are not target resource groups: the VM operator role on each (no disk delete).')
param vmResourceGroupIds array = []

@description('Resource groups (ids) of the protected source disks and of the vaults\' snapshot resource groups: the source reader role on each (read disks and role assignments).')
param sourceResourceGroupIds array = []

@description('Only the Backup vaults\' identities may receive the roles the app grants (recommended). False: any service principal.')
param restrictGrantsToVaultIdentities bool = true

@description('Object ids of the identities the vaults restore with. Empty: the system-assigned identity of each vault in backupVaultIds.')
param vaultPrincipalIds array = []

@description('Create the Event Grid subscription to recovery_event. Needs the code deployed first: the postdeploy hook sets it after the first deploy.')
param recoveryEventsEnabled bool = false

// ---- monitoring ----------------------------------------------------------------------------

@minLength(3)
@description('E-mail address that receives the alerts (failed restore, failed drill, stale role assignment).')
param alertEmailAddress string

@minValue(1)
@maxValue(40)
@description('Alert on a role assignment made by the app that is older than this many hours.')
param staleRoleAssignmentHours int = 12

@description('Send the subscription activity log (Administrative) to the app\'s workspace; the stale role assignment alert reads it there.')
param activityLogToWorkspace bool = true

@minValue(30)
@maxValue(730)
@description('Days the Log Analytics workspace keeps data.')
param logRetentionInDays int = 30

// ---- names ---------------------------------------------------------------------------------

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var allTags = union(tags, {
  'azd-env-name': environmentName
})
var restoreQueueName = 'restore-requests'
var restorePoisonQueueName = 'restore-requests-poison'
var ledgerTableName = 'recoveryledger'
var drillReportsContainerName = 'drill-reports'
var deadLetterContainerName = 'recovery-deadletter'
var deploymentContainerName = 'app-package-${take(resourceToken, 8)}'
var appTargetGroupIds = union(targetResourceGroupIds, recoveryResourceGroupIds)

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
  location: location
  tags: allTags
}

// ---- the app's resource group ------------------------------------------------------------------

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-diskrestore-${resourceToken}'
    location: location
    tags: allTags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    workspaceName: 'log-diskrestore-${resourceToken}'
    appInsightsName: 'appi-diskrestore-${resourceToken}'
    location: location
    retentionInDays: logRetentionInDays
    tags: allTags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    deploymentContainerName: deploymentContainerName
    restoreQueueName: restoreQueueName
    restorePoisonQueueName: restorePoisonQueueName
    ledgerTableName: ledgerTableName
    drillReportsContainerName: drillReportsContainerName
    deadLetterContainerName: deadLetterContainerName
    tags: allTags
  }
}

module appAccess 'app/app-access.bicep' = {
  name: 'app-access'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

module functionApp 'app/function.bicep' = {
  name: 'function'
  scope: rg
  dependsOn: [
    appAccess
  ]
  params: {
    name: 'func-diskrestore-${resourceToken}'
    planName: 'plan-diskrestore-${resourceToken}'
    location: location
    tags: allTags
    pythonVersion: pythonVersion
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    alwaysReadyDurableInstances: alwaysReadyDurableInstances
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    identityPrincipalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    appInsightsConnectionString: monitoring.outputs.connectionString
    taskHubName: taskHubName
    backupVaultIds: backupVaultIds
    restorePropagationTimeoutMinutes: restorePropagationTimeoutMinutes
    restoreJobTimeoutMinutes: restoreJobTimeoutMinutes
    restoreProbeIntervalSeconds: restoreProbeIntervalSeconds
    restorePollIntervalSeconds: restorePollIntervalSeconds
    armOperationPollSeconds: armOperationPollSeconds
    restoreQueueName: restoreQueueName
    ledgerTableName: ledgerTableName
    recoveryPoliciesPath: recoveryPoliciesPath
    drillPlansPath: drillPlansPath
    accessPolicyPath: accessPolicyPath
    authClientId: authClientId
    drillReportsContainerName: drillReportsContainerName
    readinessSchedule: readinessSchedule
    readinessRpoHours: readinessRpoHours
    drillRestoreReserve: drillRestoreReserve
  }
}

module events 'app/events.bicep' = {
  name: 'events'
  scope: rg
  params: {
    systemTopicName: 'evgst-diskrestore-${resourceToken}'
    recoveryEventsEnabled: recoveryEventsEnabled
    recoveryResourceGroupIds: recoveryResourceGroupIds
    functionAppId: functionApp.outputs.id
    storageAccountName: storage.outputs.name
    deadLetterContainerName: deadLetterContainerName
    tags: allTags
  }
}

module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    workspaceId: monitoring.outputs.workspaceId
    actionGroupName: 'ag-diskrestore-${resourceToken}'
    alertEmailAddress: alertEmailAddress
    appPrincipalId: identity.outputs.principalId
    appClientId: identity.outputs.clientId
    staleRoleAssignmentHours: staleRoleAssignmentHours
    namePrefix: 'diskrestore-${resourceToken}'
    tags: allTags
  }
}

// The subscription's activity log in the app's workspace (role assignment writes and deletes
// are Administrative records): the stale role assignment alert reads AzureActivity.
resource activityLog 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (activityLogToWorkspace) {
  name: 'diskrestore-${environmentName}-activity-log'
  properties: {
    workspaceId: monitoring.outputs.workspaceId
    logs: [
      {
        category: 'Administrative'
        enabled: true
      }
    ]
  }
}

// ---- custom roles: narrower than Virtual Machine Contributor -------------------------------------

// Restore target resource groups (drill sandboxes, in-place recovery): tag and delete the disks
// the app restored (drill disks, restores nobody approved), copy a restored disk into a zonal
// VM's zone (a snapshot, a disk from it, both deleted after), and attach or swap them on VMs there.
resource targetOperatorRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, environmentName, 'diskrestore-target-operator')
  properties: {
    roleName: 'diskrestore restore target operator (${environmentName}, ${resourceToken})'
    description: 'Restore target resource groups: read, tag and delete restored disks, copy one into a zonal VM\'s zone through a snapshot, attach a restored disk to a VM or swap it in as the OS disk (power off or deallocate, update the storage profile, start).'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Resources/subscriptions/resourceGroups/read'
          'Microsoft.Compute/disks/read'
          'Microsoft.Compute/disks/write'
          'Microsoft.Compute/disks/delete'
          'Microsoft.Compute/snapshots/read'
          'Microsoft.Compute/snapshots/write'
          'Microsoft.Compute/snapshots/delete'
          'Microsoft.Compute/virtualMachines/read'
          'Microsoft.Compute/virtualMachines/instanceView/read'
          'Microsoft.Compute/virtualMachines/write'
          'Microsoft.Compute/virtualMachines/attachDetachDataDisks/action'
          'Microsoft.Compute/virtualMachines/powerOff/action'
          'Microsoft.Compute/virtualMachines/deallocate/action'
          'Microsoft.Compute/virtualMachines/start/action'
          'Microsoft.Compute/locations/operations/read'
        ]
        notActions: []
      }
    ]
    assignableScopes: appTargetGroupIds
  }
}

// Resource groups of VMs outside the target groups: attach and swap only; no disk delete.
resource vmOperatorRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (!empty(vmResourceGroupIds)) {
  name: guid(subscription().id, environmentName, 'diskrestore-vm-operator')
  properties: {
    roleName: 'diskrestore VM disk operator (${environmentName}, ${resourceToken})'
    description: 'Resource groups of VMs the app attaches restored disks to or swaps OS disks of: read VMs and their disks, power off or deallocate, update the storage profile, start. No disk delete.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Resources/subscriptions/resourceGroups/read'
          'Microsoft.Compute/disks/read'
          'Microsoft.Compute/disks/write'
          'Microsoft.Compute/virtualMachines/read'
          'Microsoft.Compute/virtualMachines/instanceView/read'
          'Microsoft.Compute/virtualMachines/write'
          'Microsoft.Compute/virtualMachines/attachDetachDataDisks/action'
          'Microsoft.Compute/virtualMachines/powerOff/action'
          'Microsoft.Compute/virtualMachines/deallocate/action'
          'Microsoft.Compute/virtualMachines/start/action'
          'Microsoft.Compute/locations/operations/read'
        ]
        notActions: []
      }
    ]
    assignableScopes: vmResourceGroupIds
  }
}

// Source and snapshot resource groups: read the protected disks (size, SKU, encryption), check
// that the vault's identity holds Disk Snapshot Contributor on the snapshot resource group, and
// read the snapshots Backup keeps there (a deleted disk's Disk Encryption Set is on them). The
// readiness checks (docs/readiness.md) also read the group's locks and the definitions of the
// roles assigned there (who could delete the snapshots).
resource sourceReaderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (!empty(sourceResourceGroupIds)) {
  name: guid(subscription().id, environmentName, 'diskrestore-source-reader')
  properties: {
    roleName: 'diskrestore source reader (${environmentName}, ${resourceToken})'
    description: 'Source disk and snapshot resource groups: read disks, snapshots, role assignments, role definitions and management locks. Nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Resources/subscriptions/resourceGroups/read'
          'Microsoft.Compute/disks/read'
          'Microsoft.Compute/snapshots/read'
          'Microsoft.Authorization/roleAssignments/read'
          'Microsoft.Authorization/roleDefinitions/read'
          'Microsoft.Authorization/locks/read'
        ]
        notActions: []
      }
    ]
    assignableScopes: sourceResourceGroupIds
  }
}

// Backup vaults: read their Resource Guard proxies (Multi-User Authorization), which the readiness
// checks report; Backup Reader does not list that action.
resource vaultPostureReaderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, environmentName, 'diskrestore-vault-posture-reader')
  properties: {
    roleName: 'diskrestore vault posture reader (${environmentName}, ${resourceToken})'
    description: 'Backup vaults: read their Resource Guard proxies (whether Multi-User Authorization protects them). Nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.DataProtection/backupVaults/backupResourceGuardProxies/read'
        ]
        notActions: []
      }
    ]
    assignableScopes: backupVaultIds
  }
}

// What each VM size allows (data disks, Premium storage, Hyper-V generations): Compute's resource
// SKUs, listed per subscription. The checks made before a VM changes read them; without this role
// those checks are left to Compute (the plan still checks the rest).
resource sizeReaderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, environmentName, 'diskrestore-size-reader')
  properties: {
    roleName: 'diskrestore VM size reader (${environmentName}, ${resourceToken})'
    description: 'Read the subscription\'s Compute resource SKUs (what each VM size allows). Nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Compute/skus/read'
        ]
        notActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}

resource sizeReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, environmentName, 'diskrestore-size-reader', 'app')
  properties: {
    principalId: identity.outputs.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: sizeReaderRole.id
    description: 'diskrestore: read what each VM size allows, checked before a restored disk goes onto a VM'
  }
}

// ---- role assignments outside the app's resource group -------------------------------------------

module vaultIdentities 'access/vault-identities.bicep' = if (restrictGrantsToVaultIdentities && empty(vaultPrincipalIds)) {
  name: take('${environmentName}-vault-identities', 64)
  params: {
    backupVaultIds: backupVaultIds
  }
}

var grantablePrincipalIds = restrictGrantsToVaultIdentities ? (empty(vaultPrincipalIds) ? vaultIdentities.outputs.principalIds : vaultPrincipalIds) : []

module vaultAccess 'access/backup-reader-on-vault.bicep' = [for id in backupVaultIds: {
  name: take('${environmentName}-vault-${uniqueString(id)}', 64)
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    principalId: identity.outputs.principalId
    vaultName: last(split(id, '/'))
    postureReaderRoleId: vaultPostureReaderRole.id
  }
}]

module targetAdmin 'access/rbac-admin-on-group.bicep' = [for id in appTargetGroupIds: {
  name: take('${environmentName}-target-admin-${uniqueString(id)}', 64)
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    principalId: identity.outputs.principalId
    grantablePrincipalIds: grantablePrincipalIds
  }
}]

module targetOperator 'access/role-on-group.bicep' = [for id in appTargetGroupIds: {
  name: take('${environmentName}-target-operator-${uniqueString(id)}', 64)
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    principalId: identity.outputs.principalId
    roleDefinitionId: targetOperatorRole.id
    reason: 'diskrestore: restore target resource group: tag and delete the disks the app restored here (drill disks, restores nobody approved), and attach or swap them on VMs here.'
  }
}]

module desAdmin 'access/rbac-admin-on-des.bicep' = [for id in diskEncryptionSetIds: {
  name: take('${environmentName}-des-admin-${uniqueString(id)}', 64)
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    principalId: identity.outputs.principalId
    grantablePrincipalIds: grantablePrincipalIds
    diskEncryptionSetName: last(split(id, '/'))
  }
}]

module vmOperator 'access/role-on-group.bicep' = [for id in vmResourceGroupIds: {
  name: take('${environmentName}-vm-operator-${uniqueString(id)}', 64)
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    principalId: identity.outputs.principalId
    roleDefinitionId: vmOperatorRole.id
    reason: 'diskrestore: VMs here receive restored disks (attach) or restored OS disks (swap: deallocate, update the storage profile, start). No disk delete.'
  }
}]

module sourceReader 'access/role-on-group.bicep' = [for id in sourceResourceGroupIds: {
  name: take('${environmentName}-source-reader-${uniqueString(id)}', 64)
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    principalId: identity.outputs.principalId
    roleDefinitionId: sourceReaderRole.id
    reason: 'diskrestore: read the protected source disks here, check that the vault identity holds Disk Snapshot Contributor on its snapshot resource group, and read the snapshots Backup keeps there (the Disk Encryption Set of a deleted disk).'
  }
}]

// ---- outputs (azd stores them in the environment) ------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = 'https://${functionApp.outputs.defaultHostName}'
output APP_PRINCIPAL_ID string = identity.outputs.principalId
output APP_CLIENT_ID string = identity.outputs.clientId
output APP_STORAGE_ACCOUNT string = storage.outputs.name
