// The Function App: Flex Consumption (FC1, Linux), Python, one user-assigned identity for
// everything, identity-based host storage. Runtime and package come from functionAppConfig, so
// FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION and WEBSITE_RUN_FROM_PACKAGE are not
// app settings on Flex.
//
// appSettings below is the complete list: tools/infra checks it against settings.ENV_NAMES
// (every setting the code reads is set here; everything set here is read by the code or is a
// listed host setting).

@description('Name of the Function App.')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Azure region.')
param location string

@description('Tags for the plan and the app (the app also gets azd-service-name).')
param tags object = {}

@description('azd service name in azure.yaml; azd finds the app by this tag.')
param azdServiceName string = 'api'

@description('Python version of the Flex runtime.')
@allowed([
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'

@description('Upper bound of instances Flex may scale out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of each instance.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Always-ready instances for the durable scale group (orchestrations, activities, timers). 1 is what the Durable Functions Azure Storage provider recommends on Flex; 0 scales to zero.')
@minValue(0)
param alwaysReadyDurableInstances int = 1

@description('Resource id of the app\'s user-assigned managed identity.')
param identityId string

@description('Client id of the app\'s user-assigned managed identity.')
param identityClientId string

@description('Object (principal) id of that identity: events it caused are not recovered.')
param identityPrincipalId string

@description('Name of the app\'s storage account (identity-based AzureWebJobsStorage).')
param storageAccountName string

@description('Blob endpoint of the app\'s storage account.')
param storageBlobEndpoint string

@description('Blob container that holds the deployment package.')
param deploymentContainerName string

@description('Application Insights connection string (not a secret: it holds no key).')
param appInsightsConnectionString string

@description('Durable Functions task hub name (letters and digits).')
param taskHubName string

@description('Backup vault resource ids the app searches (BACKUP_VAULT_IDS).')
param backupVaultIds array

@description('RESTORE_PROPAGATION_TIMEOUT_MINUTES')
param restorePropagationTimeoutMinutes int

@description('RESTORE_JOB_TIMEOUT_MINUTES')
param restoreJobTimeoutMinutes int

@description('RESTORE_PROBE_INTERVAL_SECONDS')
param restoreProbeIntervalSeconds int

@description('RESTORE_POLL_INTERVAL_SECONDS')
param restorePollIntervalSeconds int

@description('ARM_OPERATION_POLL_SECONDS')
param armOperationPollSeconds int

@description('RESTORE_QUEUE_NAME')
param restoreQueueName string

@description('RECOVERY_LEDGER_TABLE')
param ledgerTableName string

@description('RECOVERY_POLICIES_PATH: relative to the app directory; empty turns alert-driven recovery off.')
param recoveryPoliciesPath string

@description('DRILL_PLANS_PATH: relative to the app directory; empty turns drills off.')
param drillPlansPath string

@description('ACCESS_POLICY_PATH: who may restore what (docs/security.md), relative to the app directory; empty denies every self-service request.')
param accessPolicyPath string

@description('Client id of the Entra ID app registration that App Service authentication signs callers in for; empty leaves authentication off (and every self-service request is refused: CALLER_AUTHORIZATION=policy needs a signed-in caller).')
param authClientId string

@description('DRILL_REPORTS_CONTAINER')
param drillReportsContainerName string

@description('READINESS_SCHEDULE: when the readiness checks run (six-field NCRONTAB).')
param readinessSchedule string

@description('READINESS_RPO_HOURS: the RPO of a disk no objective covers, hours.')
param readinessRpoHours string

@description('DRILL_RESTORE_RESERVE: restores a day per disk that drills leave to incidents.')
@minValue(0)
@maxValue(9)
param drillRestoreReserve int

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': azdServiceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        // Functions host: identity-based AzureWebJobsStorage (no connection string, no keys).
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storageAccountName
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identityClientId
        }
        // Application Insights with Entra ID authentication.
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsightsConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identityClientId};Authorization=AAD'
        }
        // Durable Functions: task hub per environment. The queue polling settings live in
        // host.json only (docs/deploy.md, "Durable queue polling"): an override here would be
        // invisible to devhost and to the benchmark that chose them.
        {
          name: 'AzureFunctionsJobHost__extensions__durableTask__hubName'
          value: taskHubName
        }
        // The app's own settings (settings.py).
        {
          name: 'ARM_ENDPOINT'
          value: environment().resourceManager
        }
        {
          name: 'ARM_CREDENTIAL'
          value: 'managed-identity'
        }
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
        {
          // deletions this identity makes are never recovered (no recovery loop)
          name: 'APP_PRINCIPAL_ID'
          value: identityPrincipalId
        }
        {
          name: 'BACKUP_VAULT_IDS'
          value: join(backupVaultIds, ',')
        }
        {
          name: 'RESTORE_PROPAGATION_TIMEOUT_MINUTES'
          value: string(restorePropagationTimeoutMinutes)
        }
        {
          name: 'RESTORE_JOB_TIMEOUT_MINUTES'
          value: string(restoreJobTimeoutMinutes)
        }
        {
          name: 'RESTORE_PROBE_INTERVAL_SECONDS'
          value: string(restoreProbeIntervalSeconds)
        }
        {
          name: 'RESTORE_POLL_INTERVAL_SECONDS'
          value: string(restorePollIntervalSeconds)
        }
        {
          name: 'ARM_OPERATION_POLL_SECONDS'
          value: string(armOperationPollSeconds)
        }
        {
          name: 'RESTORE_QUEUE_NAME'
          value: restoreQueueName
        }
        {
          name: 'RECOVERY_LEDGER_TABLE'
          value: ledgerTableName
        }
        {
          name: 'RECOVERY_POLICIES_PATH'
          value: recoveryPoliciesPath
        }
        {
          name: 'DRILL_PLANS_PATH'
          value: drillPlansPath
        }
        {
          name: 'CALLER_AUTHORIZATION'
          value: 'policy'
        }
        {
          name: 'ACCESS_POLICY_PATH'
          value: accessPolicyPath
        }
        {
          name: 'DRILL_REPORTS_CONTAINER'
          value: drillReportsContainerName
        }
        {
          name: 'READINESS_SCHEDULE'
          value: readinessSchedule
        }
        {
          name: 'READINESS_RPO_HOURS'
          value: readinessRpoHours
        }
        {
          name: 'DRILL_RESTORE_RESERVE'
          value: string(drillRestoreReserve)
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: alwaysReadyDurableInstances > 0 ? [
          {
            name: 'durable'
            instanceCount: alwaysReadyDurableInstances
          }
        ] : []
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

// App Service authentication (Entra ID): signs callers in and hands the app their claims in
// X-MS-CLIENT-PRINCIPAL, stripping any a caller sends. Machine callers keep their keys: Azure
// Monitor's webhook (/api/alerts, function key), Event Grid (system key) and the anonymous
// OpenAPI document are excluded from sign-in.
resource authentication 'Microsoft.Web/sites/config@2024-04-01' = if (!empty(authClientId)) {
  // checkov reads every sites/config resource as the site's web config; these are not about authentication:
  // checkov:skip=CKV_AZURE_63: HTTP logging is the site's logs config, not authsettingsV2
  // checkov:skip=CKV_AZURE_65: detailed error messages: likewise a logs setting
  // checkov:skip=CKV_AZURE_66: failed request tracing: likewise a logs setting
  // checkov:skip=CKV_AZURE_80: .NET Framework version: a Python app, and not an auth setting
  // checkov:skip=CKV_AZURE_88: Azure Files mounts: a site setting, not an auth one
  // checkov:skip=CKV_AZURE_13: looks for authsettings (v1) "enabled"; this is authsettingsV2 with platform.enabled true
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: [
        '/api/alerts'
        '/api/openapi.json'
        '/runtime/webhooks/eventgrid'
      ]
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${authClientId}'
            authClientId
          ]
        }
      }
    }
  }
}

// No publishing passwords: azd deploys to Flex with Entra ID tokens.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
