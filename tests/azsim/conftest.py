"""Fixtures for the azsim tests: a simulator on a virtual clock and the real SDK clients."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import azsim
import pytest
from azsim.scenario import add_role_assignments
from azsim.sdk import FakeTokenCredential, MgmtClients, mgmt_clients
from azure.core.polling import LROPoller
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from azure.mgmt.dataprotection import models as dp
from devhost.clock import VirtualClock

FAST = {"polling_interval": 0.01, "retry_backoff_factor": 0.01}


class Demo:
    """The demo scenario's names and the few steps most tests repeat."""

    vault_rg, vault, target_rg, app_rg = "rg-backup", "bv-demo", "rg-restore-target", "rg-app"

    def __init__(self, sim: azsim.Simulator, clients: MgmtClients, clock: VirtualClock) -> None:
        self.sim, self.c, self.clock = sim, clients, clock
        self.sub = sim.subscription_id

    def rg_id(self, rg: str) -> str:
        return f"/subscriptions/{self.sub}/resourceGroups/{rg}"

    def disk_id(self, rg: str, name: str) -> str:
        return f"{self.rg_id(rg)}/providers/Microsoft.Compute/disks/{name}"

    def role_id(self, guid: str) -> str:
        return f"/subscriptions/{self.sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}"

    @property
    def vault_principal(self) -> str:
        return self.sim.principal_id("vault")

    def backup_instance(self, disk: str) -> dp.BackupInstanceResource:
        wanted = self.disk_id(self.app_rg, disk).lower()
        return next(bi for bi in self.c.dataprotection.backup_instances.list(self.vault_rg,
                                                                              self.vault)
                    if bi.properties.data_source_info.resource_id.lower() == wanted)

    def latest_point(self, bi_name: str) -> dp.AzureBackupRecoveryPointResource:
        points = self.c.dataprotection.recovery_points.list(self.vault_rg, self.vault, bi_name)
        return max(points, key=lambda rp: rp.properties.recovery_point_time)

    def restore_request(self, rp_id: str, target: str, target_rg: str | None = None
                        ) -> dp.AzureBackupRecoveryPointBasedRestoreRequest:
        target_id = self.disk_id(target_rg or self.target_rg, target)
        return dp.AzureBackupRecoveryPointBasedRestoreRequest(
            recovery_point_id=rp_id, source_data_store_type="OperationalStore",
            restore_target_info=dp.RestoreTargetInfo(
                recovery_option="FailIfExists", restore_location="westeurope",
                datasource_info=dp.Datasource(
                    datasource_type="Microsoft.Compute/disks", object_type="Datasource",
                    resource_id=target_id, resource_name=target,
                    resource_type="Microsoft.Compute/disks", resource_location="westeurope",
                    resource_uri="")))

    def validate(self, bi_name: str, request: Any) -> LROPoller[Any]:
        return self.c.dataprotection.backup_instances.begin_validate_for_restore(
            self.vault_rg, self.vault, bi_name,
            dp.ValidateRestoreRequestObject(restore_request_object=request))

    def trigger(self, bi_name: str, request: Any) -> LROPoller[Any]:
        return self.c.dataprotection.backup_instances.begin_trigger_restore(
            self.vault_rg, self.vault, bi_name, request)

    def finish(self, poller: LROPoller[Any], seconds: float) -> Any:
        """Let `seconds` of virtual time pass, then wait for the poller's result."""
        self.clock.advance(seconds)
        return poller.result(timeout=10)

    def grant(self, scope: str, role: str, principal: str, name: str,
              principal_type: str = "ServicePrincipal", clients: MgmtClients | None = None
              ) -> Any:
        return (clients or self.c).authorization.role_assignments.create(
            scope, name, RoleAssignmentCreateParameters(
                role_definition_id=self.role_id(role), principal_id=principal,
                principal_type=principal_type))

    def clients_as(self, alias: str) -> MgmtClients:
        credential = FakeTokenCredential(self.sim.principal_id(alias), self.sim.tenant_id)
        return mgmt_clients(self.sim, credential, **FAST)

    def raw(self, method: str, path: str, body: Any = None, token: str | None = None,
            raw_body: bytes | None = None, anonymous: bool = False
            ) -> tuple[int, dict[str, str], Any]:
        """A request outside the SDK (as the app unless `token`/`anonymous`):
        (status, headers, parsed JSON body or None)."""
        token = None if anonymous else token or self.token()
        return http(self.sim, method, path, body, token, raw_body)

    def token(self, alias: str = "app") -> str:
        credential = FakeTokenCredential(self.sim.principal_id(alias), self.sim.tenant_id)
        return credential.get_token("https://management.azure.com/.default").token


def http(sim: azsim.Simulator, method: str, path: str, body: Any = None, token: str | None = None,
         raw_body: bytes | None = None) -> tuple[int, dict[str, str], Any]:
    data = raw_body if raw_body is not None else (
        None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(  # noqa: S310 - the simulator's https endpoint
        sim.endpoint + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context(cafile=sim.ca_bundle)
    try:
        with urllib.request.urlopen(  # noqa: S310 - the simulator's https endpoint
                request, context=context, timeout=10) as response:
            status, headers, payload = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers, payload = error.code, dict(error.headers), error.read()
    return status, headers, json.loads(payload) if payload else None


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def sim(clock: VirtualClock) -> Iterator[azsim.Simulator]:
    with azsim.start(scenario="demo", clock=clock) as simulator:
        yield simulator


@pytest.fixture
def clients(sim: azsim.Simulator) -> Iterator[MgmtClients]:
    with mgmt_clients(sim, **FAST) as built:
        yield built


@pytest.fixture
def demo(sim: azsim.Simulator, clients: MgmtClients, clock: VirtualClock) -> Demo:
    return Demo(sim, clients, clock)


@pytest.fixture
def make_demo(clock: VirtualClock) -> Iterator[Callable[..., Demo]]:
    """More simulators on the same clock, from the demo scenario as `change` edits it, plus
    `grants`: (scope, role name, principal alias) assignments in effect from the start, where
    `{subscriptionId}` in a scope is replaced."""
    started: list[tuple[azsim.Simulator, MgmtClients]] = []

    def make(change: Callable[[dict[str, Any]], None] | None = None,
             grants: tuple[tuple[str, str, str], ...] = (), time_scale: float = 1.0) -> Demo:
        spec = add_role_assignments(azsim.load_scenario("demo"), grants)
        if change:
            change(spec)
        simulator = azsim.start(scenario=spec, clock=clock, time_scale=time_scale)
        built = mgmt_clients(simulator, **FAST)
        started.append((simulator, built))
        return Demo(simulator, built, clock)

    yield make
    for simulator, built in started:
        built.close()
        simulator.stop()


TARGET_DRO = ("/subscriptions/{subscriptionId}/resourceGroups/rg-restore-target",
              "Disk Restore Operator", "vault")


@pytest.fixture
def granted(make_demo: Callable[..., Demo]) -> Demo:
    """The demo with Disk Restore Operator already effective on the target resource group."""
    return make_demo(grants=(TARGET_DRO,))
