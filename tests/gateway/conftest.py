"""Fixtures for the gateway contract tests: an in-process azsim (demo scenario) on a virtual
clock, and the real AzureControlPlane built by gateway.factory from Settings pointed at it.
No mocks: every call goes through the real azure-mgmt clients over HTTPS.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import azsim
import pytest
from azsim.scenario import add_role_assignments
from azsim.sdk import FakeTokenCredential, MgmtClients, mgmt_clients
from devhost.clock import VirtualClock

from domain.model import Operation, OperationStatus, RestorePlan, RoleGrant
from gateway.azure_sdk import AzureControlPlane
from gateway.factory import control_plane
from settings import Settings

DISK_RESTORE_OPERATOR = "b50d9833-a0cb-478e-945f-707fcc997c13"
FAST_RETRY = {"retry_backoff_factor": 0.01}


@dataclass
class Env:
    """A simulator, the control plane acting as the app, and the demo scenario's ids."""

    sim: azsim.Simulator
    clock: VirtualClock
    plane: AzureControlPlane
    settings: Settings
    operator: MgmtClients  # raw SDK clients acting as `operator` (may write anything), for setup

    @property
    def sub(self) -> str:
        return self.sim.subscription_id

    def rg(self, name: str) -> str:
        return f"/subscriptions/{self.sub}/resourceGroups/{name}"

    def disk(self, name: str, rg: str = "rg-app") -> str:
        return f"{self.rg(rg)}/providers/Microsoft.Compute/disks/{name}"

    @property
    def vm(self) -> str:
        return f"{self.rg('rg-app')}/providers/Microsoft.Compute/virtualMachines/vm-app01"

    @property
    def vault(self) -> str:
        return f"{self.rg('rg-backup')}/providers/Microsoft.DataProtection/backupVaults/bv-demo"

    @property
    def target_rg(self) -> str:
        return self.rg("rg-restore-target")

    def principal(self, alias: str) -> str:
        return self.sim.principal_id(alias)

    def advance(self, seconds: float) -> None:
        self.sim.advance(seconds)

    def finish(self, operation: Operation, seconds: float) -> OperationStatus:
        """Let `seconds` of virtual time pass, then poll once."""
        self.advance(seconds)
        return self.plane.get_operation(operation)

    def grant(self, scope: str, role: str = DISK_RESTORE_OPERATOR, name: str | None = None,
              principal: str = "vault", role_name: str = "Disk Restore Operator") -> RoleGrant:
        return RoleGrant(scope=scope, role_definition_guid=role, role_name=role_name,
                         principal_id=self.principal(principal),
                         assignment_name=name or str(uuid.uuid4()))

    def plan(self, target: str = "restored-data0", *, disk: str = "vm-app01-data0",
             created: str | None = None, location: str = "westeurope") -> RestorePlan:
        bi = self.plane.find_backup_instance(self.disk(disk))
        point = self.plane.list_recovery_points(bi.id)[0]
        target_id = self.disk(target, "rg-restore-target")
        return RestorePlan(
            instance_id="test-run", created=created or self.clock.now().isoformat(),
            backup_instance=bi, recovery_point=point,
            source_disk=self.plane.get_disk(bi.datasource_id),
            target_disk_id=target_id, target_location=location,
            grants=[self.grant(self.target_rg)])

    def create_disk(self, name: str, size_gb: int = 32, **properties: Any) -> str:
        """A new, unattached disk in rg-restore-target (made by the operator, not the app)."""
        self.operator.compute.disks.begin_create_or_update(
            "rg-restore-target", name,
            {"location": "westeurope", "sku": {"name": "Premium_LRS"},
             "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": size_gb,
                            **properties}},
            polling=False)
        return self.disk(name, "rg-restore-target")

    def as_principal(self, alias: str) -> AzureControlPlane:
        """A control plane acting as another scenario identity."""
        credential = FakeTokenCredential(self.principal(alias), self.sim.tenant_id)
        return control_plane(self.settings, credential_override=credential, **FAST_RETRY)


def settings_for(sim: azsim.Simulator) -> Settings:
    vault = (f"/subscriptions/{sim.subscription_id}/resourceGroups/rg-backup/providers/"
             "Microsoft.DataProtection/backupVaults/bv-demo")
    return Settings(arm_endpoint=sim.endpoint, arm_ca_bundle=sim.ca_bundle,
                    credential="dev-unsigned", dev_principal_id=sim.app_principal_id,
                    dev_tenant_id=sim.tenant_id, backup_vault_ids=(vault,))


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def make_env(clock: VirtualClock) -> Iterator[Callable[..., Env]]:
    """`make_env(grants=((scope, role, alias), ...), change=fn(spec))`: a demo simulator (with
    extra role assignments in effect from the start, `{subscriptionId}` substituted) and the
    control plane."""
    started: list[tuple[azsim.Simulator, MgmtClients, AzureControlPlane]] = []

    def make(grants: tuple[tuple[str, str, str], ...] = (),
             change: Callable[[dict[str, Any]], None] | None = None) -> Env:
        spec = add_role_assignments(azsim.load_scenario("demo"), grants)
        if change:
            change(spec)
        sim = azsim.start(scenario=spec, clock=clock)
        operator = mgmt_clients(sim, FakeTokenCredential(sim.principal_id("operator"),
                                                         sim.tenant_id), **FAST_RETRY)
        settings = settings_for(sim)
        plane = control_plane(settings, **FAST_RETRY)
        started.append((sim, operator, plane))
        return Env(sim, clock, plane, settings, operator)

    yield make
    for sim, operator, plane in started:
        plane.close()
        operator.close()
        sim.stop()


@pytest.fixture
def env(make_env: Callable[..., Env]) -> Env:
    return make_env()


TARGET_DRO = ("/subscriptions/{subscriptionId}/resourceGroups/rg-restore-target",
              "Disk Restore Operator", "vault")


@pytest.fixture
def granted(make_env: Callable[..., Env]) -> Env:
    """The demo with Disk Restore Operator for the vault already effective on the target RG."""
    return make_env(grants=(TARGET_DRO,))
