"""Event Grid, CloudEvents and common-schema alerts become one Signal; bad input names its field."""

import copy
import json

import pytest

from domain.recovery.signals import (
    ALERT_EVENT_TYPE,
    ARN_DELETED,
    HEALTH_CHANGED,
    RESOURCE_DELETED,
    MalformedEvent,
    Signal,
    is_alert,
    parse_alert,
    parse_cloud_event,
    parse_event,
    parse_event_grid,
)
from domain.resource_id import ResourceId

SUB = "5f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-app"
DISK = f"{RG}/providers/Microsoft.Compute/disks/d1"
VM = f"{RG}/providers/Microsoft.Compute/virtualMachines/vm1"
VM1_LOWER = f"/subscriptions/{SUB}/resourcegroups/rg-app/providers/microsoft.compute/" \
    "virtualmachines/vm1"
VM2_LOWER = VM1_LOWER[:-1] + "2"
HEALTH_PROPS = "data.resourceInfo.properties"
ALERT_ID = f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/" \
    "b9569717-bc32-442f-add5-83a997729330"

# Modelled on Microsoft's ResourceDeleteSuccess sample (event-schema-resource-groups), for a disk.
DISK_DELETED = {
    "subject": f"/subscriptions/{SUB}/resourcegroups/rg-app/providers/Microsoft.Compute/disks/d1",
    "eventType": RESOURCE_DELETED,
    "eventTime": "2018-07-19T19:24:12.7638810Z",
    "id": "5f2e9c8a-3b1d-4e6f-9a7c-1d2e3f4a5b6c",
    "data": {
        "authorization": {
            "scope": DISK,
            "action": "Microsoft.Compute/disks/delete",
            "evidence": {"role": "Contributor", "roleAssignmentScope": f"/subscriptions/{SUB}",
                         "roleAssignmentId": "8a2b6c1d9e0f4a3b8c7d6e5f4a3b2c1d",
                         "roleDefinitionId": "b24988ac618042a0ab8820f7382dd24c",
                         "principalId": "e1d2c3b4a5f64e7d8c9b0a1f2e3d4c5b",
                         "principalType": "User"},
        },
        "claims": {
            "aud": "https://management.core.windows.net/",
            "iss": f"https://sts.windows.net/{TENANT}/",
            "iat": "1532027982", "nbf": "1532027982", "exp": "1532031882",
            "appid": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "appidacr": "2",
            "http://schemas.microsoft.com/identity/claims/objectidentifier":
                "e1d2c3b4-a5f6-4e7d-8c9b-0a1f2e3d4c5b",
            "http://schemas.microsoft.com/identity/claims/tenantid": TENANT,
            "ipaddr": "203.0.113.7",
            "name": "Alex Operator",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "alex@contoso.com",
        },
        "correlationId": "7d3c5e1a-2b4f-4c6d-8e9f-0a1b2c3d4e5f",
        "httpRequest": {"clientRequestId": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
                        "clientIpAddress": "203.0.113.7", "method": "DELETE",
                        "url": f"https://management.azure.com{DISK}?api-version=2023-04-02"},
        "resourceProvider": "Microsoft.Compute",
        "resourceUri": DISK,
        "operationName": "Microsoft.Compute/disks/delete",
        "status": "Succeeded",
        "subscriptionId": SUB,
        "tenantId": TENANT,
    },
    "dataVersion": "2",
    "metadataVersion": "1",
    "topic": RG,
}

# Modelled on Microsoft's Resources.Deleted sample: only id, name and type survive a delete.
ARN_DISK_DELETED = {
    "id": "d4611260-d179-4f86-b196-3a9d4128be2d",
    "topic": f"/subscriptions/{SUB}",
    "subject": DISK,
    "data": {"resourceInfo": {"id": DISK, "name": "d1", "type": "Microsoft.Compute/disks"},
             "operationalInfo": {"resourceEventTime": "2023-07-28T20:11:36.6347858Z"}},
    "eventType": ARN_DELETED,
    "dataVersion": "1",
    "metadataVersion": "1",
    "eventTime": "2023-07-28T20:11:36.6347858Z",
}

# Modelled on Microsoft's HealthResources AvailabilityStatusChanged sample, for a VM going down.
VM_UNAVAILABLE = {
    "id": "1fb6fa94-d965-4306-abe4-4810f0774e97",
    "topic": f"/subscriptions/{SUB}",
    "subject": VM,
    "data": {
        "resourceInfo": {
            "id": f"{VM}/providers/Microsoft.ResourceHealth/availabilityStatuses/9a1b2c3d",
            "name": "9a1b2c3d",
            "type": "Microsoft.ResourceHealth/availabilityStatuses",
            "properties": {"targetResourceId": VM,
                           "targetResourceType": "Microsoft.Compute/virtualMachines",
                           "occurredTime": "2023-07-24T19:20:37.9245071Z",
                           "previousAvailabilityState": "Available",
                           "availabilityState": "Unavailable"},
        },
        "operationalInfo": {"resourceEventTime": "2023-07-24T19:20:37.9245071Z"},
        "apiVersion": "2023-12-01",
    },
    "eventType": HEALTH_CHANGED,
    "dataVersion": "1",
    "metadataVersion": "1",
    "eventTime": "2023-07-24T19:21:02.1000000Z",
}

# Common alert schema, metric alert on two VMs (targets lower-cased, as Azure Monitor sends them).
METRIC_ALERT = {
    "schemaId": ALERT_EVENT_TYPE,
    "data": {
        "essentials": {
            "alertId": ALERT_ID, "alertRule": "vm-down", "severity": "Sev1", "signalType": "Metric",
            "monitorCondition": "Fired", "monitoringService": "Platform",
            "alertTargetIDs": [VM1_LOWER, VM2_LOWER], "configurationItems": ["vm1", "vm2"],
            "originAlertId": f"{SUB}_rg-app_microsoft.insights_metricalerts_vm-down_-1503781290",
            "firedDateTime": "2024-05-14T08:12:31.1234567Z", "description": "VM availability < 1",
            "essentialsVersion": "1.0", "alertContextVersion": "1.0",
        },
        "alertContext": {
            "properties": None,
            "conditionType": "SingleResourceMultipleMetricCriteria",
            "condition": {
                "windowSize": "PT5M",
                "allOf": [{"metricName": "VmAvailabilityMetric",
                           "metricNamespace": "Microsoft.Compute/virtualMachines",
                           "operator": "LessThan", "threshold": "1", "timeAggregation": "Average",
                           "dimensions": [], "metricValue": 0.0, "webTestName": None}],
                "windowStartTime": "2024-05-14T08:05:00.000Z",
                "windowEndTime": "2024-05-14T08:10:00.000Z",
            },
        },
        "customProperties": None,
    },
}

# Common alert schema, activity-log alert on a disk delete (alertContext.claims is a JSON string).
ACTIVITY_ALERT = {
    "schemaId": ALERT_EVENT_TYPE,
    "data": {
        "essentials": {
            "alertId": f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/"
                       "0c2a8b7e-1d4f-4e3a-9b6c-5d8e7f6a1b2c",
            "alertRule": "disk-deleted", "severity": "Sev4", "signalType": "Activity Log",
            "monitorCondition": "Fired", "monitoringService": "Activity Log - Administrative",
            "alertTargetIDs": [DISK.lower()], "configurationItems": ["d1"],
            "originAlertId": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d_123",
            "firedDateTime": "2024-05-14T09:00:05.2200000+00:00", "description": "",
            "essentialsVersion": "1.0", "alertContextVersion": "1.0",
        },
        "alertContext": {
            "authorization": {"action": "Microsoft.Compute/disks/delete", "scope": DISK},
            "channels": "Operation",
            "claims": json.dumps({"name": "Alex Operator", "appid": "c44b4083"}),
            "caller": "alex@contoso.com",
            "correlationId": "7d3c5e1a-2b4f-4c6d-8e9f-0a1b2c3d4e5f",
            "eventSource": "Administrative",
            "eventTimestamp": "2024-05-14T08:59:51.1239215+00:00",
            "eventDataId": "2f3e4d5c-6b7a-4899-aabb-ccddeeff0011",
            "level": "Informational",
            "operationName": "Microsoft.Compute/disks/delete",
            "operationId": "3a4b5c6d-7e8f-4a9b-8c0d-1e2f3a4b5c6d",
            "properties": {"statusCode": "OK"},
            "status": "Succeeded", "subStatus": "",
            "submissionTimestamp": "2024-05-14T09:00:03.0000000+00:00",
        },
        "customProperties": {"team": "storage"},
    },
}


def as_cloud_event(event: dict) -> dict:
    """The same event as Event Grid delivers it with CloudEvents 1.0 output."""
    return {"specversion": "1.0", "type": event["eventType"], "source": event["topic"],
            "id": event["id"], "time": event["eventTime"], "subject": event["subject"],
            "dataversion": event["dataVersion"], "datacontenttype": "application/json",
            "data": copy.deepcopy(event["data"])}


def changed(doc: dict, path: str, value=...) -> dict:
    """A deep copy of doc with the dotted path set to value, or deleted when value is omitted."""
    doc = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node = doc
    for name in parents:
        node = node[name]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return doc


def test_a_disk_delete_event_becomes_a_deletion_signal_with_who_and_why():
    signal = parse_event_grid(DISK_DELETED)
    assert signal == Signal(
        key="eventgrid:5f2e9c8a-3b1d-4e6f-9a7c-1d2e3f4a5b6c", source="eventgrid",
        event_type=RESOURCE_DELETED, resource_id=DISK, resource_type="Microsoft.Compute/disks",
        resource_group_id=RG, occurred="2018-07-19T19:24:12.763881Z",
        summary="disk d1 deleted (Microsoft.Compute/disks/delete)",
        details={"eventId": "5f2e9c8a-3b1d-4e6f-9a7c-1d2e3f4a5b6c",
                 "operationName": "Microsoft.Compute/disks/delete",
                 "correlationId": "7d3c5e1a-2b4f-4c6d-8e9f-0a1b2c3d4e5f",
                 "caller": "Alex Operator",
                 "callerObjectId": "e1d2c3b4-a5f6-4e7d-8c9b-0a1f2e3d4c5b"})
    assert signal.is_deletion


def test_the_same_event_as_a_cloud_event_differs_only_in_source_and_dedupes_with_it():
    grid, cloud = parse_event(DISK_DELETED), parse_event(as_cloud_event(DISK_DELETED))
    assert cloud.source == "cloudevents" and grid.source == "eventgrid"
    assert cloud.key == grid.key == f"eventgrid:{DISK_DELETED['id']}"
    assert cloud.to_dict() == {**grid.to_dict(), "source": "cloudevents"}
    assert parse_cloud_event(as_cloud_event(DISK_DELETED)) == cloud


def test_without_resource_uri_the_subject_names_the_resource():
    signal = parse_event_grid(changed(DISK_DELETED, "data.resourceUri"))
    assert ResourceId.parse(DISK).same_as(signal.resource_id)
    assert signal.resource_type == "Microsoft.Compute/disks" and signal.resource_group_id == RG


def test_the_caller_falls_back_from_name_to_upn_to_the_calling_app():
    claims = DISK_DELETED["data"]["claims"]
    upn_only = {k: v for k, v in claims.items() if k != "name"}
    app_only = {k: v for k, v in upn_only.items() if not k.endswith("/upn")}
    assert parse_event_grid(changed(DISK_DELETED, "data.claims", upn_only)) \
        .details["caller"] == "alex@contoso.com"
    assert parse_event_grid(changed(DISK_DELETED, "data.claims", app_only)) \
        .details["caller"] == "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"
    assert "caller" not in parse_event_grid(changed(DISK_DELETED, "data.claims")).details


def test_an_arn_deleted_event_reads_the_resource_from_resource_info():
    event = changed(ARN_DISK_DELETED, "subject", f"/subscriptions/{SUB}")  # subject is not used
    signal = parse_event_grid(event)
    assert signal.is_deletion and signal.event_type == ARN_DELETED
    assert signal.resource_id == DISK and signal.resource_type == "Microsoft.Compute/disks"
    assert signal.occurred == "2023-07-28T20:11:36.634785Z"
    assert signal.summary == "disk d1 deleted"
    assert signal.details == {"eventId": "d4611260-d179-4f86-b196-3a9d4128be2d"}


def test_a_vm_health_change_is_about_the_target_vm_at_its_occurred_time():
    signal = parse_event_grid(VM_UNAVAILABLE)
    assert signal.resource_id == VM and signal.resource_type == "Microsoft.Compute/virtualMachines"
    assert signal.occurred == "2023-07-24T19:20:37.924507Z"  # occurredTime, not eventTime
    assert signal.summary == "vm1: Available -> Unavailable"
    assert signal.details == {"eventId": "1fb6fa94-d965-4306-abe4-4810f0774e97",
                              "availabilityState": "Unavailable",
                              "previousAvailabilityState": "Available"}
    assert not signal.is_deletion
    assert parse_event(as_cloud_event(VM_UNAVAILABLE)).summary == signal.summary


def test_a_health_change_without_occurred_time_or_previous_state_still_reads():
    event = changed(changed(VM_UNAVAILABLE, "data.resourceInfo.properties.occurredTime"),
                    "data.resourceInfo.properties.previousAvailabilityState")
    signal = parse_event_grid(event)
    assert signal.occurred == "2023-07-24T19:21:02.100000Z"
    assert signal.summary == "vm1: Unknown -> Unavailable"
    assert signal.details["previousAvailabilityState"] is None


def test_a_scale_set_vm_health_change_keeps_the_nested_type():
    vmss_vm = f"{RG}/providers/Microsoft.Compute/virtualMachineScaleSets/ss1/virtualMachines/3"
    signal = parse_event_grid(changed(VM_UNAVAILABLE, f"{HEALTH_PROPS}.targetResourceId", vmss_vm))
    assert signal.resource_type == "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"
    assert signal.summary == "3: Available -> Unavailable"


def test_other_event_types_parse_so_a_policy_can_reject_them_by_type():
    write = parse_event_grid(changed(DISK_DELETED, "eventType",
                                     "Microsoft.Resources.ResourceWriteSuccess"))
    assert not write.is_deletion
    assert write.summary == "Microsoft.Resources.ResourceWriteSuccess on d1"
    annotated_type = "Microsoft.ResourceNotifications.HealthResources.ResourceAnnotated"
    annotated = parse_event_grid(changed(VM_UNAVAILABLE, "eventType", annotated_type))
    assert annotated.resource_id == VM  # the target, not the resourceAnnotations child
    assert annotated.summary == f"{annotated_type} on vm1"


def test_a_metric_alert_yields_one_signal_per_target_with_ids_as_given():
    first, second = parse_alert(METRIC_ALERT)
    assert first.key == f"alert:{ALERT_ID}:fired:{VM1_LOWER}"
    assert second.key == f"alert:{ALERT_ID}:fired:{VM2_LOWER}"
    assert first.source == "alert" and first.event_type == ALERT_EVENT_TYPE
    assert first.resource_id.endswith("/providers/microsoft.compute/virtualmachines/vm1")
    assert ResourceId.parse(VM).same_as(first.resource_id)
    assert first.resource_type.lower() == "microsoft.compute/virtualmachines"
    assert first.resource_group_id.lower() == RG.lower()
    assert first.occurred == "2024-05-14T08:12:31.123456Z"
    assert first.summary == "alert 'vm-down' Fired (Sev1) on vm1"
    assert second.summary == "alert 'vm-down' Fired (Sev1) on vm2"
    assert first.details == {"eventId": ALERT_ID, "alertId": ALERT_ID, "alertRule": "vm-down",
                             "severity": "Sev1", "monitorCondition": "Fired",
                             "signalType": "Metric", "monitoringService": "Platform"}
    assert not first.is_deletion


def test_an_activity_log_alert_on_a_disk_normalises_its_offset_time():
    (signal,) = parse_alert(ACTIVITY_ALERT)
    assert ResourceId.parse(DISK).same_as(signal.resource_id)
    assert signal.occurred == "2024-05-14T09:00:05.220000Z"
    assert signal.summary == "alert 'disk-deleted' Fired (Sev4) on d1"
    assert signal.details["monitoringService"] == "Activity Log - Administrative"
    assert signal.details["signalType"] == "Activity Log"


def test_a_resolved_alert_is_not_filtered_and_duplicate_targets_collapse():
    doc = changed(METRIC_ALERT, "data.essentials.monitorCondition", "Resolved")
    doc = changed(doc, "data.essentials.alertTargetIDs", [VM1_LOWER, VM, VM2_LOWER])
    signals = parse_alert(doc)
    assert [s.details["monitorCondition"] for s in signals] == ["Resolved", "Resolved"]
    assert [s.resource_id.rsplit("/", 1)[1] for s in signals] == ["vm1", "vm2"]
    assert signals[0].summary == "alert 'vm-down' Resolved (Sev1) on vm1"


def test_is_alert_recognises_only_the_common_alert_schema():
    assert is_alert(METRIC_ALERT) and is_alert(ACTIVITY_ALERT)
    assert not is_alert(DISK_DELETED)
    assert not is_alert({"schemaId": "Microsoft.Insights/activityLogs", "data": {}})
    assert not is_alert([METRIC_ALERT]) and not is_alert(None)


@pytest.mark.parametrize("text, expected", [
    ("2018-07-19T19:24:12.7638810Z", "2018-07-19T19:24:12.763881Z"),
    ("2018-07-19T19:24:12.123456789Z", "2018-07-19T19:24:12.123456Z"),
    ("2018-07-19T21:24:12+02:00", "2018-07-19T19:24:12Z"),
    ("2018-07-19T14:24:12.5-05:00", "2018-07-19T19:24:12.500000Z"),
    ("2018-07-19T19:24:12Z", "2018-07-19T19:24:12Z"),
    ("2018-07-19T19:24:12", "2018-07-19T19:24:12Z"),  # no offset: ARM times are UTC
])
def test_event_times_are_normalised_to_utc_z(text, expected):
    assert parse_event_grid(changed(DISK_DELETED, "eventTime", text)).occurred == expected


def test_signals_round_trip_through_json_with_camel_case_keys():
    signals = [parse_event(DISK_DELETED), parse_event(as_cloud_event(ARN_DISK_DELETED)),
               parse_event(VM_UNAVAILABLE), *parse_alert(METRIC_ALERT),
               *parse_alert(ACTIVITY_ALERT)]
    for signal in signals:
        doc = signal.to_dict()
        assert set(doc) == {"key", "source", "eventType", "resourceId", "resourceType",
                            "resourceGroupId", "occurred", "summary", "details"}
        assert Signal.from_dict(json.loads(json.dumps(doc))) == signal
    doc = signals[0].to_dict()
    doc["details"]["eventId"] = "tampered"
    assert signals[0].details["eventId"] != "tampered"  # to_dict copies details
    assert len({hash(s) for s in signals}) == len(signals)


def test_a_signal_document_missing_fields_is_malformed():
    doc = parse_event(DISK_DELETED).to_dict()
    del doc["resourceId"], doc["occurred"]
    with pytest.raises(MalformedEvent, match="resourceId, occurred"):
        Signal.from_dict(doc)


def test_malformed_event_is_a_permanent_restore_error():
    with pytest.raises(MalformedEvent) as info:
        parse_event({"id": "x"})
    assert info.value.code == "MalformedEvent" and not info.value.retryable
    assert str(info.value).startswith("MalformedEvent: ")


CLOUD_DELETE = as_cloud_event(DISK_DELETED)


@pytest.mark.parametrize("parse, doc, message", [
    (parse_event, [DISK_DELETED], "the event must be a JSON object, not list"),
    (parse_event_grid, "text", "the event must be a JSON object, not str"),
    (parse_event_grid, changed(DISK_DELETED, "id"), "id is missing"),
    (parse_event_grid, changed(DISK_DELETED, "id", ""), "id is missing"),
    (parse_event_grid, changed(DISK_DELETED, "eventType"), "eventType is missing"),
    (parse_event_grid, changed(DISK_DELETED, "eventTime"), "eventTime is missing"),
    (parse_event_grid, changed(DISK_DELETED, "eventTime", "2024-13-01"),
     "eventTime '2024-13-01' is not an ISO-8601 time"),
    (parse_event_grid, changed(DISK_DELETED, "eventTime", "2024-13-01T00:00:00Z"),
     "eventTime '2024-13-01T00:00:00Z' is not an ISO-8601 time"),
    (parse_event_grid, changed(DISK_DELETED, "eventTime", 1532027052),
     "eventTime must be a string"),
    (parse_event_grid, changed(changed(DISK_DELETED, "data", None), "subject", "/foo"),
     "subject '/foo' is not an ARM resource id: must look like /subscriptions/"),
    (parse_event_grid, changed(changed(DISK_DELETED, "data", {}), "subject", RG),
     "is not an ARM resource id: it names a resource group, not a resource"),
    (parse_event_grid, changed(changed(DISK_DELETED, "data", {}), "subject",
                               f"/subscriptions/{SUB}"),
     f"subject '/subscriptions/{SUB}' is not an ARM resource id: must look like"),
    (parse_event_grid, changed(changed(DISK_DELETED, "data", {}), "subject"),
     "no resource id: data.resourceUri, data.resourceInfo.id, subject are all missing"),
    (parse_event_grid, changed(DISK_DELETED, "data.resourceUri", "/subscriptions/nope/x"),
     "data.resourceUri '/subscriptions/nope/x' is not an ARM resource id"),
    (parse_event_grid, changed(ARN_DISK_DELETED, "data.resourceInfo.id", f"{RG}/providers/x"),
     "data.resourceInfo.id"),
    (parse_event_grid, changed(DISK_DELETED, "eventType",
                               "Microsoft.EventGrid.SubscriptionValidationEvent"),
     "is a subscription handshake, answered by the host; not a recovery signal"),
    (parse_event_grid, changed(DISK_DELETED, "eventType",
                               "Microsoft.EventGrid.SubscriptionDeletionEvent"),
     "eventType 'Microsoft.EventGrid.SubscriptionDeletionEvent' is a subscription handshake"),
    (parse_event_grid, changed(VM_UNAVAILABLE, f"{HEALTH_PROPS}.targetResourceId"),
     f"{HEALTH_PROPS}.targetResourceId is missing"),
    (parse_event_grid, changed(VM_UNAVAILABLE, f"{HEALTH_PROPS}.targetResourceId", RG),
     f"{HEALTH_PROPS}.targetResourceId"),
    (parse_event_grid, changed(VM_UNAVAILABLE, f"{HEALTH_PROPS}.occurredTime", "soon"),
     f"{HEALTH_PROPS}.occurredTime 'soon' is not an ISO-8601 time"),
    (parse_event_grid, changed(VM_UNAVAILABLE, f"{HEALTH_PROPS}.availabilityState"),
     f"{HEALTH_PROPS}.availabilityState is missing"),
    (parse_cloud_event, changed(CLOUD_DELETE, "type"), "type is missing"),
    (parse_cloud_event, changed(CLOUD_DELETE, "id", ""), "id is missing"),
    (parse_cloud_event, changed(CLOUD_DELETE, "time", "yesterday"),
     "time 'yesterday' is not an ISO-8601 time"),
    (parse_cloud_event, changed(CLOUD_DELETE, "specversion", "0.3"), "specversion '0.3'"),
    (parse_event, changed(CLOUD_DELETE, "type", "Microsoft.EventGrid.SubscriptionValidationEvent"),
     "type 'Microsoft.EventGrid.SubscriptionValidationEvent' is a subscription handshake"),
    (parse_alert, "text", "the alert must be a JSON object, not str"),
    (parse_alert, changed(METRIC_ALERT, "schemaId", "Microsoft.Insights/activityLogs"),
     "schemaId 'Microsoft.Insights/activityLogs' is not 'azureMonitorCommonAlertSchema'"),
    (parse_alert, changed(METRIC_ALERT, "data"), "data is missing"),
    (parse_alert, changed(METRIC_ALERT, "data.essentials"), "data.essentials is missing"),
    (parse_alert, changed(METRIC_ALERT, "data.essentials.alertId"),
     "data.essentials.alertId is missing"),
    (parse_alert, changed(METRIC_ALERT, "data.essentials.firedDateTime", "14/05/2024"),
     "data.essentials.firedDateTime '14/05/2024' is not an ISO-8601 time"),
    (parse_alert, changed(METRIC_ALERT, "data.essentials.alertTargetIDs"),
     "data.essentials.alertTargetIDs is missing"),
    (parse_alert, changed(METRIC_ALERT, "data.essentials.alertTargetIDs", []),
     "data.essentials.alertTargetIDs is empty"),
    (parse_alert, changed(METRIC_ALERT, "data.essentials.alertTargetIDs", VM1_LOWER),
     "data.essentials.alertTargetIDs must be a list, not str"),
    (parse_alert, changed(METRIC_ALERT, "data.essentials.alertTargetIDs", [VM1_LOWER, RG]),
     "data.essentials.alertTargetIDs[1]"),
])
def test_each_kind_of_malformed_input_names_its_field(parse, doc, message):
    with pytest.raises(MalformedEvent) as info:
        parse(doc)
    assert message in info.value.message


# ---- what the fuzzers (tests/fuzz) found ---------------------------------------------------------
def test_a_time_that_has_no_utc_equivalent_is_malformed_not_an_overflow():
    """0001-01-01T00:00+01:00 is before the first UTC time Python has: astimezone raised
    OverflowError, an event that crashed its function (Event Grid retried it for 24 h)."""
    event = changed(DISK_DELETED, "eventTime", "0001-01-01T00:00:00+01:00")
    with pytest.raises(MalformedEvent, match=r"eventTime '0001-01-01T00:00:00\+01:00' is out of"):
        parse_event_grid(event)


@pytest.mark.parametrize("field", ["id", "eventType", "subject"])
def test_an_id_too_long_to_store_or_key_is_malformed_and_the_message_stays_short(field):
    """A signal is stored whole in the ledger (an Azure Table row): a 40,000-character id made
    the write fail, answered as a retryable 503/500 for an event that can never succeed."""
    event = changed(DISK_DELETED, field, "/x" * 20_000)
    if field == "subject":
        del event["data"]["resourceUri"]
    with pytest.raises(MalformedEvent, match=f"{field} is 40000 characters long") as caught:
        parse_event_grid(event)
    assert len(caught.value.message) < 300


def test_an_unpaired_surrogate_in_an_id_is_malformed():
    """JSON's \\u escapes can carry half a surrogate pair; the ledger's key (a UTF-8 hash) then
    raised UnicodeEncodeError, a 500."""
    alert = changed(METRIC_ALERT, "data.essentials.alertId", ALERT_ID + "\ud800")
    with pytest.raises(MalformedEvent, match=r"data\.essentials\.alertId .* not valid Unicode"):
        parse_alert(alert)
    target = changed(METRIC_ALERT, "data.essentials.alertTargetIDs", [VM1_LOWER + "\udfff"])
    with pytest.raises(MalformedEvent, match=r"alertTargetIDs\[0\] .* not valid Unicode"):
        parse_alert(target)


def test_free_text_details_are_cut_and_cleaned_not_refused():
    alert = changed(METRIC_ALERT, "data.essentials.alertRule", "r\ud800" + "x" * 5000)
    signal = parse_alert(alert)[0]
    assert signal.details["alertRule"] == ("r?" + "x" * 5000)[:256]
    json.dumps(signal.to_dict()).encode()  # storable


def test_a_bad_value_is_quoted_short_in_its_message():
    event = changed(DISK_DELETED, "eventTime", "y" * 900)
    with pytest.raises(MalformedEvent) as caught:
        parse_event_grid(event)
    assert "eventTime 'yyyy" in caught.value.message and len(caught.value.message) < 250


def test_an_id_is_measured_as_json_writes_it():
    """1,000 emoji are 1,000 characters but 12,000 in JSON: such an event id made the ledger's
    row too large (a 500, retried by Event Grid)."""
    event = changed(DISK_DELETED, "id", "😀" * 1000)
    with pytest.raises(MalformedEvent, match=r"id is 1000 characters long \(12000 as JSON\)"):
        parse_event_grid(event)
    signal = parse_event_grid(changed(DISK_DELETED, "id", "é" * 170))  # 1020 as JSON: fits
    assert len(json.dumps(signal.to_dict())) < 32_000


def test_the_callers_object_id_comes_from_the_oid_claim_else_the_role_evidence():
    """ARM writes the token's oid with hyphens and the evidence's principalId without them: both
    read as one object id, lower-case with hyphens, so the app can tell its own deletions."""
    oid = "e1d2c3b4-a5f6-4e7d-8c9b-0a1f2e3d4c5b"
    assert parse_event_grid(DISK_DELETED).details["callerObjectId"] == oid
    no_oid = changed(DISK_DELETED, "data.claims", {"name": "Alex Operator"})
    assert parse_event_grid(no_oid).details["callerObjectId"] == oid  # from the evidence
    upper = changed(no_oid, "data.authorization", {"evidence": {"principalId": oid.upper()}})
    assert parse_event_grid(upper).details["callerObjectId"] == oid
    nothing = changed(no_oid, "data.authorization", {"evidence": {"principalId": "not-an-id"}})
    assert "callerObjectId" not in parse_event_grid(nothing).details
