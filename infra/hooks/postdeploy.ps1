# azd postdeploy hook (Windows): see postdeploy.sh, which this mirrors.
$ErrorActionPreference = 'Stop'

$groups = if ($env:RECOVERY_RESOURCE_GROUP_IDS) { $env:RECOVERY_RESOURCE_GROUP_IDS } else { '[]' }
$enabled = if ($env:RECOVERY_EVENTS_ENABLED) { $env:RECOVERY_EVENTS_ENABLED } else { 'false' }

if ($groups -eq '[]') {
  Write-Host 'postdeploy: no RECOVERY_RESOURCE_GROUP_IDS: no disk-deletion events to subscribe to'
  exit 0
}
if ($enabled -eq 'true') {
  Write-Host 'postdeploy: the Event Grid subscription to recovery_event is on'
  exit 0
}
Write-Host 'postdeploy: recovery_event is deployed; creating its Event Grid subscription'
azd env set RECOVERY_EVENTS_ENABLED true
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
azd provision --no-prompt
exit $LASTEXITCODE
