#!/bin/sh
# azd postdeploy hook: create the Event Grid subscription to the function recovery_event once the
# code is deployed (Event Grid refuses an AzureFunction endpoint whose function does not exist).
# Runs `azd provision` once, the first time the app has been deployed with recovery resource
# groups configured; later deploys find RECOVERY_EVENTS_ENABLED already true and do nothing.
set -eu

groups="${RECOVERY_RESOURCE_GROUP_IDS:-[]}"
enabled="${RECOVERY_EVENTS_ENABLED:-false}"

if [ "$groups" = "[]" ] || [ -z "$groups" ]; then
  echo "postdeploy: no RECOVERY_RESOURCE_GROUP_IDS: no disk-deletion events to subscribe to"
  exit 0
fi
if [ "$enabled" = "true" ]; then
  echo "postdeploy: the Event Grid subscription to recovery_event is on"
  exit 0
fi
echo "postdeploy: recovery_event is deployed; creating its Event Grid subscription"
azd env set RECOVERY_EVENTS_ENABLED true
azd provision --no-prompt
