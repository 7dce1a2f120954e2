// Alerts, all evaluated on the Log Analytics workspace and sent to one action group by e-mail:
// - a restore drill with failed disks (the app logs `restore drill completed: {json}`),
// - a restore that failed (the app logs `restore finished: {json}`),
// - a readiness check that found something that would make a restore fail (the app logs
//   `readiness finding: {json}` once per error finding and run; docs/readiness.md),
// - a role assignment the app made that is still there after N hours (AzureActivity, from the
//   subscription activity log that main.bicep sends to this workspace). The app revokes what it
//   grants, and the sweeper revokes what stopped runs left; an old one means both failed.

@description('Azure region of the alert rules.')
param location string

@description('Resource id of the Log Analytics workspace the rules query.')
param workspaceId string

@description('Name of the action group.')
param actionGroupName string

@description('E-mail address that receives the alerts.')
param alertEmailAddress string

@description('Object (principal) id of the app\'s identity: the Caller of its role assignments.')
param appPrincipalId string

@description('Client (application) id of the app\'s identity (some activity log records name the caller by it).')
param appClientId string

@description('Alert on a role assignment made by the app that is older than this many hours.')
@minValue(1)
@maxValue(40)
param staleRoleAssignmentHours int

@description('Prefix of the alert rule names.')
param namePrefix string

@description('Tags for the resources.')
param tags object = {}

var failedDrillQuery = '''
AppTraces
| where Message startswith "restore drill completed: "
| extend drill = parse_json(substring(Message, strlen("restore drill completed: ")))
| where tostring(drill.event) == "RestoreDrillCompleted" and toint(drill.failed) > 0
| project TimeGenerated, DrillId = tostring(drill.drillId), Plan = tostring(drill.plan), Failed = toint(drill.failed), Disks = toint(drill.disks), FailedDisks = tostring(drill.failedDisks)
'''

var missedObjectivesQuery = '''
AppTraces
| where Message startswith "restore drill completed: "
| extend drill = parse_json(substring(Message, strlen("restore drill completed: ")))
| where tostring(drill.event) == "RestoreDrillCompleted" and toint(drill.objectivesMissed) > 0
| project TimeGenerated, DrillId = tostring(drill.drillId), Plan = tostring(drill.plan), Missed = toint(drill.objectivesMissed), MissedDisks = tostring(drill.missedObjectiveDisks)
'''

var failedRestoreQuery = '''
AppTraces
| where Message startswith "restore finished: "
| extend restore = parse_json(substring(Message, strlen("restore finished: ")))
| where tostring(restore.event) == "RestoreFinished" and tostring(restore.outcome) == "Failed"
| project TimeGenerated, RestoreId = tostring(restore.id), ErrorCode = tostring(restore.errorCode)
'''

var readinessQuery = '''
AppTraces
| where Message startswith "readiness finding: "
| extend finding = parse_json(substring(Message, strlen("readiness finding: ")))
| where tostring(finding.event) == "ReadinessFinding" and tostring(finding.severity) == "error"
| summarize LastSeen = max(TimeGenerated), Message = take_any(tostring(finding.message)) by Code = tostring(finding.code), DiskId = tostring(finding.diskId), Scope = tostring(finding.scope)
'''

// Placeholders __PRINCIPAL_ID__, __CLIENT_ID__ and __HOURS__ are replaced below.
var staleAssignmentQueryTemplate = '''
let granted = AzureActivity
| where OperationNameValue =~ "Microsoft.Authorization/roleAssignments/write"
| where ActivityStatusValue in~ ("Success", "Succeeded")
| where Caller in~ ("__PRINCIPAL_ID__", "__CLIENT_ID__")
| summarize GrantedAt = max(TimeGenerated) by Assignment = tolower(_ResourceId);
let revoked = AzureActivity
| where OperationNameValue =~ "Microsoft.Authorization/roleAssignments/delete"
| where ActivityStatusValue in~ ("Success", "Succeeded")
| summarize RevokedAt = max(TimeGenerated) by Assignment = tolower(_ResourceId);
granted
| join kind=leftouter revoked on Assignment
| where isnull(RevokedAt) or RevokedAt < GrantedAt
| where GrantedAt < ago(__HOURS__h)
| project Assignment, GrantedAt, AgeHours = datetime_diff("hour", now(), GrantedAt)
'''

var staleAssignmentQuery = replace(replace(replace(staleAssignmentQueryTemplate, '__PRINCIPAL_ID__', appPrincipalId), '__CLIENT_ID__', appClientId), '__HOURS__', string(staleRoleAssignmentHours))

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'diskrestore'
    enabled: true
    emailReceivers: [
      {
        name: 'operators'
        emailAddress: alertEmailAddress
        useCommonAlertSchema: true
      }
    ]
  }
}

resource failedDrill 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: '${namePrefix}-failed-drill'
  location: location
  tags: tags
  properties: {
    displayName: 'diskrestore: a restore drill had failed disks'
    description: 'A drill logged RestoreDrillCompleted with failed > 0: a backup that could not be restored or did not verify. The report is in the drill-reports container.'
    severity: 2
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT30M'
    criteria: {
      allOf: [
        {
          query: failedDrillQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'DrillId'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource missedObjectives 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: '${namePrefix}-missed-objectives'
  location: location
  tags: tags
  properties: {
    displayName: 'diskrestore: a restore drill missed its recovery objectives'
    description: 'A drill logged RestoreDrillCompleted with objectivesMissed > 0: a disk restored slower than its RTO, or its newest recovery point was older than its RPO (docs/drills.md, Objectives). The report names the disks.'
    severity: 3
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT30M'
    criteria: {
      allOf: [
        {
          query: missedObjectivesQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'DrillId'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource failedRestore 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: '${namePrefix}-failed-restore'
  location: location
  tags: tags
  properties: {
    displayName: 'diskrestore: a restore failed'
    description: 'A restore run logged RestoreFinished with outcome Failed. GET /api/restores/{id} gives the error code and hint.'
    severity: 1
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: failedRestoreQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'RestoreId'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource readinessFinding 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: '${namePrefix}-readiness-finding'
  location: location
  tags: tags
  properties: {
    displayName: 'diskrestore: a restore would fail (readiness)'
    description: 'A readiness run logged a ReadinessFinding of severity error: a stale or missing recovery point, deleted snapshots, the vault\'s role or identity gone, no restores left today, or a target group the app cannot grant in. GET /api/readiness has the report; docs/readiness.md says what to do for each code.'
    severity: 2
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: readinessQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'Code'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'DiskId'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource staleRoleAssignment 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: '${namePrefix}-stale-role-assignment'
  location: location
  tags: tags
  properties: {
    displayName: 'diskrestore: a role assignment made by the app is older than ${staleRoleAssignmentHours} h'
    description: 'The app grants Disk Restore Operator or Reader to a Backup vault identity for one restore or drill and revokes it afterwards; the sweeper revokes what stopped runs left. An assignment the app made more than ${staleRoleAssignmentHours} hours ago and nobody deleted means both failed: find it by the Assignment id and delete it.'
    severity: 2
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    overrideQueryTimeRange: 'P2D'
    criteria: {
      allOf: [
        {
          query: staleAssignmentQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'Assignment'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output actionGroupId string = actionGroup.id
