"""The app, unchanged, under devhost in-process, talking through its real gateway (the azure-mgmt
clients over HTTPS) to azsim; one virtual clock for both, so simulated minutes take no time."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

import azsim
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
        made = {e["scope"].lower() for e in self.writes("Microsoft.Authorization/roleAssignments/write")
                if e["caller"] == app}
        gone = {e["scope"].lower() for e in self.writes("Microsoft.Authorization/roleAssignments/delete")
                if e["caller"] == app}
        return made - gone

    def resource(self, resource_id: str) -> dict[str, Any] | None:
        return next((r for r in self.sim.snapshot()["resources"]
                     if r["id"].lower() == resource_id.lower()), None)


@pytest.fixture
def restore_env(devhost, monkeypatch) -> Iterator[Callable[..., Env]]:
    sims: list[Any] = []

    def start(patch: Callable[[dict[str, Any]], None] | None = None, *, real_time_scale: float = 0,
              listeners: bool = False, **settings: str) -> Env:
        """`real_time_scale=K`: wall-clock time, Azure durations and our intervals divided by K
        (for tests that must act while a run waits); otherwise virtual time."""
        scenario = copy.deepcopy(azsim.load_scenario("demo"))
        if patch:
            patch(scenario)
        clock = RealClock() if real_time_scale else VirtualClock()
        sim = azsim.start(scenario=scenario, clock=clock, time_scale=real_time_scale or 1.0)
        sims.append(sim)
        env = {"ARM_ENDPOINT": sim.endpoint, "ARM_CA_BUNDLE": sim.ca_bundle,
               "ARM_CREDENTIAL": "dev-unsigned", "DEV_PRINCIPAL_ID": sim.app_principal_id,
               "DEV_TENANT_ID": sim.tenant_id, "RESTORE_PROPAGATION_TIMEOUT_MINUTES": "30",
               "RESTORE_PROBE_INTERVAL_SECONDS": str(20 / (real_time_scale or 1)),
               "RESTORE_POLL_INTERVAL_SECONDS": str(30 / (real_time_scale or 1)),
               "ARM_OPERATION_POLL_SECONDS": str(10 / (real_time_scale or 1)), **settings}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        host = devhost(ROOT, clock=clock, listeners=listeners)
        return Env(sim, host, sim.subscription_id)

    yield start
    for sim in sims:
        sim.stop()
