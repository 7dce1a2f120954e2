"""The app, unchanged, under devhost in-process, talking through its real gateway (the azure-mgmt
clients over HTTPS) to azsim; one virtual clock for both, so simulated minutes take no time."""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import azsim
import pytest
import requests
from demo import APP_IDENTITY
from devhost.azurite import Azurite
from devhost.clock import RealClock, VirtualClock

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Env:
    sim: Any
    host: Any
    sub: str

    @property
    def api(self) -> str:
        return f"{self.host.base_url}/api/restores"

    def rg(self, name: str) -> str:
        return f"/subscriptions/{self.sub}/resourceGroups/{name}"

    def disk(self, name: str, rg: str = "rg-app") -> str:
        return f"{self.rg(rg)}/providers/Microsoft.Compute/disks/{name}"

    def vm(self, name: str = "vm-app01") -> str:
        return f"{self.rg('rg-app')}/providers/Microsoft.Compute/virtualMachines/{name}"

    def request(self, disk: str = "vm-app01-data0", **extra: Any) -> dict[str, Any]:
        return {"source": {"diskId": self.disk(disk)},
                "target": {"resourceGroupId": self.rg("rg-restore-target"),
                           "diskName": f"{disk}-restored"}, **extra}

    def submit(self, body: dict[str, Any]) -> requests.Response:
        return requests.post(self.api, json=body, timeout=60)

    def run(self, body: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
        """Submit, wait for the run to finish, return GET /api/restores/{id}."""
        answer = self.submit(body)
        assert answer.status_code in (200, 202), answer.text
        instance_id = answer.json()["id"]
        self.host.wait_for(instance_id, timeout=timeout)
        view = requests.get(f"{self.api}/{instance_id}", timeout=30)
        assert view.status_code == 200, view.text
        return view.json()

    def writes(self, operation: str) -> list[dict[str, Any]]:
        return [e for e in self.sim.audit(write=True) if e["operation"].lower() == operation.lower()
                and 200 <= e["status"] < 300]

    def leftover_assignments(self) -> set[str]:
        """Role assignments the app created and has not deleted, from azsim's audit log."""
        app = self.sim.app_principal_id
        writes = self.writes("Microsoft.Authorization/roleAssignments/write")
        deletes = self.writes("Microsoft.Authorization/roleAssignments/delete")
        made = {e["scope"].lower() for e in writes if e["caller"] == app}
        gone = {e["scope"].lower() for e in deletes if e["caller"] == app}
        return made - gone

    def resource(self, resource_id: str) -> dict[str, Any] | None:
        return next((r for r in self.sim.snapshot()["resources"]
                     if r["id"].lower() == resource_id.lower()), None)


@pytest.fixture
def restore_env(devhost, monkeypatch, request) -> Iterator[Callable[..., Env]]:
    """Every run holds leases on its role assignments in the app's ledger (docs/security.md), so
    every environment has the app's storage (Azurite, reached by identity, unless the test set
    its own) and a ledger table of its own: no lease of one test is seen by the next."""
    sims: list[Any] = []

    def start(patch: Callable[[dict[str, Any]], None] | None = None, *, real_time_scale: float = 0,
              listeners: bool = False, oracle: bool = True,
              external_event_order: str | None = None, **settings: str) -> Env:
        """`real_time_scale=K`: wall-clock time, Azure durations and our intervals divided by K
        (for tests that must act while a run waits); otherwise virtual time.
        `external_event_order`: devhost's host-side event rule (docs/devhost.md)."""
        scenario = copy.deepcopy(azsim.load_scenario("demo"))
        if patch:
            patch(scenario)
        if not any(os.environ.get(k) for k in ("AzureWebJobsStorage",
                                                "AzureWebJobsStorage__accountName")):
            # unless the test chose its own (the fuzzers, the queue test): started only if needed
            use_identity_storage(monkeypatch, request.getfixturevalue("identity_azurite"))
        if not os.environ.get("RECOVERY_LEDGER_TABLE"):  # recovery_env and drill_env set theirs
            monkeypatch.setenv("RECOVERY_LEDGER_TABLE", f"t{uuid.uuid4().hex[:20]}")
        clock = RealClock() if real_time_scale else VirtualClock()
        sim = azsim.start(scenario=scenario, clock=clock, time_scale=real_time_scale or 1.0)
        sims.append(sim)
        env = {"ARM_ENDPOINT": sim.endpoint, "ARM_CA_BUNDLE": sim.ca_bundle,
               "CALLER_AUTHORIZATION": "off",
               "ARM_CREDENTIAL": "dev-unsigned", "DEV_PRINCIPAL_ID": sim.app_principal_id,
               "DEV_TENANT_ID": sim.tenant_id, "RESTORE_PROPAGATION_TIMEOUT_MINUTES": "30",
               "RESTORE_PROBE_INTERVAL_SECONDS": str(20 / (real_time_scale or 1)),
               "RESTORE_POLL_INTERVAL_SECONDS": str(30 / (real_time_scale or 1)),
               "ARM_OPERATION_POLL_SECONDS": str(10 / (real_time_scale or 1)), **settings}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        host = devhost(ROOT, clock=clock, listeners=listeners, oracle=oracle,
                       external_event_order=external_event_order)
        return Env(sim, host, sim.subscription_id)

    yield start
    for sim in sims:
        sim.stop()


# ---- alert-driven recovery (test_recovery.py) ------------------------------------------------
WEBHOOK = "/runtime/webhooks/eventgrid?functionName=recovery_event"
SUB = "6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6"  # azsim's demo subscription


@pytest.fixture(scope="module")
def shared_azurite() -> Iterator[Azurite]:
    """Plain HTTP with the account key (the fuzzers give the app its connection string)."""
    with Azurite() as instance:  # no skip: without Azurite these tests must fail
        yield instance


@pytest.fixture(scope="module")
def identity_azurite() -> Iterator[Azurite]:
    """HTTPS with OAuth: the app connects by identity, as in production."""
    with Azurite(oauth=True) as instance:  # no skip: without Azurite these tests must fail
        yield instance


def use_identity_storage(monkeypatch: pytest.MonkeyPatch, azurite: Azurite) -> None:
    """Production's settings shape (infra/app/function.bicep): AzureWebJobsStorage__accountName,
    __credential=managedidentity, __clientId, plus the service URIs Azurite needs; no connection
    string, no key. devhost's managed identity endpoint serves the app's identity
    (DEVHOST_MANAGED_IDENTITIES), and REQUESTS_CA_BUNDLE trusts Azurite's certificate."""
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    for key, value in {**azurite.identity_settings(APP_IDENTITY), **azurite.trust_env(),
                       "DEVHOST_MANAGED_IDENTITIES": APP_IDENTITY}.items():
        monkeypatch.setenv(key, value)


def protect_extra_disk(scenario: dict[str, Any], name: str = "vm-app01-data2") -> None:
    """An unattached data disk in rg-app, protected by the demo vault; the app may assign roles
    in rg-app (to restore into it)."""
    scenario["disks"].append({"resourceGroup": "rg-app", "name": name, "sku": "Premium_LRS",
                              "sizeGB": 128, "tags": {"workload": "app01"}, "properties": {}})
    template = scenario["backupVaults"][0]["backupInstances"][0]
    scenario["backupVaults"][0]["backupInstances"].append(
        dict(template, disk=f"/subscriptions/{{subscriptionId}}/resourceGroups/rg-app/providers/"
                            f"Microsoft.Compute/disks/{name}"))
    restore_into_rg_app(scenario)


def restore_into_rg_app(scenario: dict[str, Any]) -> None:
    """Let the app assign roles in rg-app, so restores can land next to the VM."""
    app = scenario["principals"][scenario.get("appPrincipal", "app")]
    app["grants"].append({"scope": "/subscriptions/{subscriptionId}/resourceGroups/rg-app",
                          "actions": ["Microsoft.Authorization/roleAssignments/*"]})


@dataclass
class Recovery:
    env: Any  # tests/restore/conftest.py Env

    @property
    def base(self) -> str:
        return self.env.host.base_url

    def deliver(self, events: list[dict[str, Any]] | dict[str, Any], *,
                cloud: bool = False) -> requests.Response:
        """POST to the Event Grid webhook as Event Grid does (a Notification)."""
        headers = {"aeg-event-type": "Notification",
                   "Content-Type": "application/cloudevents+json; charset=utf-8" if cloud
                   else "application/json"}
        return requests.post(self.base + WEBHOOK, data=json.dumps(events), headers=headers,
                             timeout=60)

    def alert(self, body: Any) -> requests.Response:
        return requests.post(f"{self.base}/api/alerts", json=body, timeout=60)

    def events(self) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.base}/api/recovery/events", timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()["events"]

    def event(self, key: str) -> dict[str, Any]:
        return next(e for e in self.events() if e["key"] == key)

    def view(self, instance_id: str) -> dict[str, Any]:
        answer = requests.get(f"{self.base}/api/restores/{instance_id}", timeout=30)
        assert answer.status_code in (200, 202), answer.text
        return answer.json()


@pytest.fixture
def recovery_env(restore_env, identity_azurite, monkeypatch,
                 tmp_path: Path) -> Callable[..., Recovery]:
    def start(policies: dict[str, Any], patch: Callable[[dict[str, Any]], None] | None = None,
              **kw: Any) -> Recovery:
        path = tmp_path / "policies.json"
        path.write_text(json.dumps(policies))
        use_identity_storage(monkeypatch, identity_azurite)
        monkeypatch.setenv("RECOVERY_LEDGER_TABLE", f"t{uuid.uuid4().hex[:20]}")
        monkeypatch.setenv("RECOVERY_POLICIES_PATH", str(path))
        return Recovery(restore_env(patch, **kw))
    return start


def rg(name: str = "rg-app") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{name}"


def disk_id(name: str, group: str = "rg-app") -> str:
    return f"{rg(group)}/providers/Microsoft.Compute/disks/{name}"


def vm_id(name: str = "vm-app01") -> str:
    return f"{rg()}/providers/Microsoft.Compute/virtualMachines/{name}"


def now_text() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


ALICE = "5b1d7c1e-2f0a-4c3d-9e8f-7a6b5c4d3e2f"  # a person's object id (never the app's)
OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"


def delete_event(disk: str, event_id: str | None = None,
                 caller: str = ALICE) -> dict[str, Any]:
    """Microsoft.Resources.ResourceDeleteSuccess for a disk, Event Grid schema, as ARM sends it:
    the caller's token claims (`caller`'s object id) and the role assignment that allowed it."""
    return {
        "id": event_id or str(uuid.uuid4()), "topic": f"/subscriptions/{SUB}",
        "subject": disk, "eventType": "Microsoft.Resources.ResourceDeleteSuccess",
        "eventTime": now_text(), "dataVersion": "2", "metadataVersion": "1",
        "data": {"operationName": "Microsoft.Compute/disks/delete", "resourceUri": disk,
                 "resourceProvider": "Microsoft.Compute", "status": "Succeeded",
                 "subscriptionId": SUB, "tenantId": str(uuid.uuid4()),
                 "correlationId": str(uuid.uuid4()),
                 "claims": {"name": "alice@contoso.com", OID_CLAIM: caller},
                 "authorization": {
                     "scope": disk, "action": "Microsoft.Compute/disks/delete",
                     "evidence": {"role": "Contributor", "principalId": caller.replace("-", ""),
                                  "principalType": "User"}},
                 "httpRequest": {"method": "DELETE", "url": f"https://management.azure.com{disk}"}},
    }


def as_cloud_event(event: dict[str, Any]) -> dict[str, Any]:
    return {"specversion": "1.0", "id": event["id"], "source": event["topic"],
            "type": event["eventType"], "time": event["eventTime"], "subject": event["subject"],
            "datacontenttype": "application/json", "data": event["data"]}


def common_alert(vm: str, *, rule: str = "vm-unhealthy", severity: str = "Sev1",
                 alert_id: str | None = None, fired: str | None = None) -> dict[str, Any]:
    return {"schemaId": "azureMonitorCommonAlertSchema", "data": {
        "essentials": {
            "alertId": f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/"
                       f"{alert_id or uuid.uuid4()}",
            "alertRule": rule, "severity": severity, "signalType": "Metric",
            "monitorCondition": "Fired", "monitoringService": "Platform",
            "alertTargetIDs": [vm.lower()], "configurationItems": [vm.rsplit("/", 1)[-1]],
            "originAlertId": str(uuid.uuid4()), "firedDateTime": fired or now_text(),
            "description": "", "essentialsVersion": "1.0", "alertContextVersion": "1.0"},
        "alertContext": {"conditionType": "SingleResourceMultipleMetricCriteria"},
        "customProperties": None}}


HEALTH = "Microsoft.ResourceNotifications.HealthResources.AvailabilityStatusChanged"


def health_event(vm: str) -> dict[str, Any]:
    """A VM's availability turned Unavailable (Resource Notifications, Event Grid schema)."""
    status = f"{vm}/providers/Microsoft.ResourceHealth/availabilityStatuses/current"
    when = now_text()
    return {"id": str(uuid.uuid4()), "topic": f"/subscriptions/{SUB}",
            "subject": status, "eventType": HEALTH, "eventTime": when, "dataVersion": "1",
            "metadataVersion": "1", "data": {
                "resourceInfo": {"id": status, "name": "current",
                                 "type": "Microsoft.ResourceHealth/availabilityStatuses",
                                 "properties": {"targetResourceId": vm,
                                                "targetResourceType":
                                                    "Microsoft.Compute/virtualMachines",
                                                "occurredTime": when,
                                                "previousAvailabilityState": "Available",
                                                "availabilityState": "Unavailable"}},
                "apiVersion": "2023-12-01", "operationalInfo": {"resourceEventTime": when}}}


def swap_policies() -> dict[str, Any]:
    """An unavailable VM gets its OS disk restored and swapped in, after a person approves."""
    return {"version": 1, "policies": [{
        "name": "os-swap",
        "match": {"eventTypes": [HEALTH], "resourceTypes": ["Microsoft.Compute/virtualMachines"],
                  "availabilityStates": ["Unavailable"]},
        "action": {"type": "restoreOsDiskAndSwap"},
        "approval": {"required": True, "timeoutMinutes": 30}}]}


@pytest.fixture
def payloads() -> SimpleNamespace:
    """Builders for the ids, events and alerts the recovery tests send."""
    return SimpleNamespace(rg=rg, disk_id=disk_id, vm_id=vm_id, delete_event=delete_event,
                           as_cloud_event=as_cloud_event, common_alert=common_alert,
                           protect_extra_disk=protect_extra_disk,
                           restore_into_rg_app=restore_into_rg_app, webhook=WEBHOOK,
                           health_event=health_event, swap_policies=swap_policies)


# ---- restore drills (test_drills.py) ---------------------------------------------------------
@dataclass
class Drills:
    env: Any  # Env
    connection: str  # the account key: the test reads what the app wrote (the app has no key)
    container: str
    plan_queue: str | None = None  # the first plan's notification queue
    ca_bundle: str | None = None  # Azurite's CA (HTTPS)

    def start(self, plan: str) -> str:
        answer = requests.post(f"{self.env.host.base_url}/api/drills", json={"plan": plan},
                               timeout=60)
        assert answer.status_code == 202, answer.text
        return answer.json()["id"]

    def run(self, plan: str, timeout: float = 300) -> dict[str, Any]:
        drill = self.start(plan)
        self.env.host.wait_for(drill, timeout=timeout)
        view = requests.get(f"{self.env.host.base_url}/api/drills/{drill}", timeout=30)
        assert view.status_code == 200, view.text
        return view.json()

    def blob(self, name: str) -> str:
        from azure.storage.blob import BlobServiceClient
        service = BlobServiceClient.from_connection_string(self.connection,
                                                           connection_verify=self.ca_bundle)
        return service.get_blob_client(self.container, name).download_blob().readall().decode()

    def queue_messages(self, queue: str) -> list[dict[str, Any]]:
        import base64

        from azure.core.exceptions import ResourceNotFoundError
        from azure.storage.queue import QueueClient
        client = QueueClient.from_connection_string(self.connection, queue,
                                                    connection_verify=self.ca_bundle)
        try:
            return [json.loads(base64.b64decode(m.content))
                    for m in client.peek_messages(max_messages=32)]
        except ResourceNotFoundError:  # nothing was ever sent
            return []


@pytest.fixture
def drill_env(restore_env, identity_azurite, monkeypatch,
              tmp_path: Path) -> Callable[..., Drills]:
    def start(plans: dict[str, Any], patch: Callable[[dict[str, Any]], None] | None = None,
              **kw: Any) -> Drills:
        path = tmp_path / "drills.json"
        path.write_text(json.dumps(plans))
        container = f"reports-{uuid.uuid4().hex[:12]}"
        use_identity_storage(monkeypatch, identity_azurite)
        monkeypatch.setenv("RECOVERY_LEDGER_TABLE", f"t{uuid.uuid4().hex[:20]}")
        monkeypatch.setenv("DRILL_PLANS_PATH", str(path))
        monkeypatch.setenv("DRILL_REPORTS_CONTAINER", container)
        queue = ((plans["plans"] or [{}])[0].get("notify") or {}).get("queue")
        return Drills(restore_env(patch, **kw), identity_azurite.connection_string, container,
                      queue, identity_azurite.ca_bundle)
    return start
