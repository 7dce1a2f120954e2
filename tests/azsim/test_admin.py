"""The simulator's own surface: /_sim/ endpoints, lazy time, time scale, the in-process handle."""

from __future__ import annotations

import json
import ssl
import time
import urllib.request
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import azsim
from azsim.roles import DISK_RESTORE_OPERATOR
from azsim.sdk import mgmt_clients

if TYPE_CHECKING:
    from conftest import Demo


def test_state_audit_and_critical_path_endpoints(demo: Demo) -> None:
    name = str(uuid.uuid4())
    demo.grant(demo.rg_id(demo.target_rg), DISK_RESTORE_OPERATOR, demo.vault_principal, name)
    demo.c.compute.disks.get(demo.app_rg, "vm-app01-data0")

    _, _, state = demo.raw("GET", "/_sim/state")
    types = {r["type"] for r in state["resources"]}
    assert {"Microsoft.Compute/disks", "Microsoft.Compute/virtualMachines",
            "Microsoft.DataProtection/backupVaults/backupInstances/recoveryPoints"} <= types
    grant = next(a for a in state["roleAssignments"] if a["name"] == name)
    assert grant["effectiveFrom"] > state["time"] and grant["deleted"] is False

    _, _, audit = demo.raw("GET", "/_sim/audit?write=true")
    assert audit["counts"] == {"reads": 1, "writes": 1}
    (entry,) = audit["entries"]
    assert entry["operation"] == "Microsoft.Authorization/roleAssignments/write"
    assert entry["caller"] == demo.sim.app_principal_id
    assert entry["scope"] == demo.rg_id(demo.target_rg)
    assert (entry["status"], entry["write"]) == (201, True)
    assert entry["requestId"] and entry["time"].endswith("Z")

    _, _, path = demo.raw("GET", "/_sim/critical-path")
    assert path["totalSeconds"] == 240 and path["items"][0]["kind"] == "propagation"
    assert demo.raw("GET", "/_sim/nothing")[2]["error"]["code"] == "NotFound"


def test_status_flips_exactly_when_the_duration_has_elapsed(granted: Demo) -> None:
    bi = granted.backup_instance("vm-app01-data0")
    request = granted.restore_request(granted.latest_point(bi.name).name, "timed").as_dict()
    _, headers, _ = granted.raw("POST", f"{bi.id}/validateRestore?api-version=2026-06-01",
                                {"restoreRequestObject": request})
    status_url = headers["Azure-AsyncOperation"].removeprefix(granted.sim.endpoint)
    (op,) = [o for o in granted.sim.snapshot()["operations"]]
    assert "api-version=2026-06-01" in status_url and "&s=" in status_url  # signed-looking
    running = granted.raw("GET", status_url)[2]
    assert (running["status"], running["endTime"]) == ("Inprogress", "0001-01-01T00:00:00Z")
    end = granted.sim.next_due()
    assert end is not None and 20 <= end - granted.clock.time() <= 40
    granted.clock.advance_to(end - 0.001)
    assert granted.raw("GET", status_url)[2]["status"] == "Inprogress"
    granted.clock.advance_to(end)
    assert granted.raw("GET", status_url)[2]["status"] == "Succeeded"
    assert granted.sim.next_due() is None
    assert op["action"].endswith("/validateRestore/action")


def test_time_scale_divides_every_duration(make_demo: Callable[..., Demo]) -> None:
    demo = make_demo(time_scale=60)
    demo.grant(demo.rg_id(demo.target_rg), DISK_RESTORE_OPERATOR, demo.vault_principal,
               str(uuid.uuid4()))
    demo.clock.advance(4)  # 240 s / 60
    bi = demo.backup_instance("vm-app01-data0")
    request = demo.restore_request(demo.latest_point(bi.name).name, "fast")
    demo.finish(demo.validate(bi.name, request), 40 / 60)
    job_id = demo.finish(demo.trigger(bi.name, request), 4 / 60).job_id
    demo.clock.advance(6)  # 360 s / 60
    job = demo.c.dataprotection.jobs.get(demo.vault_rg, demo.vault, job_id.rsplit("/", 1)[-1])
    assert job.properties.status == "Completed"


def test_wall_clock_default_can_be_skipped_through_the_admin_endpoint() -> None:
    with azsim.start() as sim, mgmt_clients(sim, polling_interval=0.01) as c:
        assert isinstance(sim.clock, azsim.WallClock)
        before = time.time()
        vms = c.compute.virtual_machines
        poller = vms.begin_deallocate("rg-app", "vm-app01")
        request = urllib.request.Request(  # noqa: S310 - the simulator's https endpoint
            f"{sim.endpoint}/_sim/clock", method="POST",
            data=json.dumps({"advance": 121}).encode())
        context = ssl.create_default_context(cafile=sim.ca_bundle)
        with urllib.request.urlopen(  # noqa: S310 - the simulator's https endpoint
                request, context=context, timeout=5) as response:
            clock = json.loads(response.read())
        assert clock["time"] >= before + 121 and clock["virtual"] is False
        poller.result(timeout=10)
        view = vms.instance_view("rg-app", "vm-app01")
        assert view.statuses[-1].code == "PowerState/deallocated"
