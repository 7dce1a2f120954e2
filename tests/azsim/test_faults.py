"""Injected faults, as the real SDK pipeline (retry policy, LRO poller) experiences them."""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from azure.core.exceptions import HttpResponseError, ServiceResponseError

if TYPE_CHECKING:
    from conftest import Demo

DISK_READ = "Microsoft.Compute/disks/read"


def disk_reads(demo: Demo) -> list[tuple[int, str | None]]:
    return [(e["status"], e["fault"]) for e in demo.sim.audit() if e["operation"] == DISK_READ]


def test_429_retry_after_is_honoured_by_the_sdk(demo: Demo) -> None:
    demo.sim.add_fault(kind="status", status=429, retryAfter=0.3, count=2, operation=DISK_READ)
    started = time.monotonic()
    assert demo.c.compute.disks.get(demo.app_rg, "vm-app01-data0").name == "vm-app01-data0"
    assert time.monotonic() - started >= 0.6  # two Retry-After waits
    assert disk_reads(demo) == [(429, "status"), (429, "status"), (200, None)]
    throttles = [i for i in demo.sim.critical_path()["items"] if i["kind"] == "throttle"]
    assert [i["seconds"] for i in throttles] == [0.3, 0.3]


def test_throttled_body_and_header_are_arms(demo: Demo) -> None:
    demo.sim.add_fault(kind="status", status=429, count=1)
    status, headers, body = demo.raw("GET", f"{demo.rg_id(demo.app_rg)}?api-version=2025-04-01")
    assert (status, headers["Retry-After"], body["error"]["code"]) == (
        429, "10", "SubscriptionRequestsThrottled")


def test_post_with_retry_after_is_re_sent(granted: Demo) -> None:
    """azure-core re-sends even a POST when the answer carries Retry-After."""
    restore = "Microsoft.DataProtection/backupVaults/backupInstances/restore/action"
    granted.sim.add_fault(kind="status", status=429, retryAfter=0.05, count=1, operation=restore)
    bi = granted.backup_instance("vm-app01-data0")
    request = granted.restore_request(granted.latest_point(bi.name).name, "throttled")
    assert granted.finish(granted.trigger(bi.name, request), 10).job_id
    assert [e["status"] for e in granted.sim.audit(write=True)] == [429, 202]


@pytest.mark.parametrize(("status", "count"), [(500, 1), (503, 2)])
def test_server_errors_on_reads_are_retried(demo: Demo, status: int, count: int) -> None:
    demo.sim.add_fault(kind="status", status=status, count=count, operation=DISK_READ)
    demo.c.compute.disks.get(demo.app_rg, "vm-app01-data0")
    assert disk_reads(demo) == [(status, "status")] * count + [(200, None)]


def test_connection_reset_on_a_read_is_retried(demo: Demo) -> None:
    demo.sim.add_fault(kind="reset", count=1, operation=DISK_READ)
    demo.c.compute.disks.get(demo.app_rg, "vm-app01-data0")
    assert disk_reads(demo) == [(0, "reset"), (200, None)]


def test_connection_reset_on_a_post_surfaces(granted: Demo) -> None:
    """A reset after a non-idempotent POST was sent is not retried: the caller must find out
    whether the restore started (here it did not: the fault answered instead of the service)."""
    restore = "Microsoft.DataProtection/backupVaults/backupInstances/restore/action"
    granted.sim.add_fault(kind="reset", count=1, operation=restore)
    bi = granted.backup_instance("vm-app01-data0")
    request = granted.restore_request(granted.latest_point(bi.name).name, "reset")
    with pytest.raises(ServiceResponseError):
        granted.trigger(bi.name, request)
    assert granted.finish(granted.trigger(bi.name, request), 10).job_id


def test_faults_at_a_rate(demo: Demo) -> None:
    demo.sim.add_fault(kind="status", status=503, rate=0.5, operation=DISK_READ)
    path = f"{demo.disk_id(demo.app_rg, 'vm-app01-data0')}?api-version=2026-03-02"
    statuses = [demo.raw("GET", path)[0] for _ in range(60)]
    assert set(statuses) == {200, 503}
    assert 15 <= statuses.count(503) <= 45
    assert demo.raw("GET", f"{demo.rg_id(demo.app_rg)}?api-version=2025-04-01")[0] == 200


def test_injected_latency(demo: Demo) -> None:
    demo.sim.add_fault(kind="latency", seconds=0.25, count=1, operation=DISK_READ)
    started = time.monotonic()
    demo.c.compute.disks.get(demo.app_rg, "vm-app01-data0")
    assert time.monotonic() - started >= 0.25
    assert [i["kind"] for i in demo.sim.critical_path()["items"]] == ["latency"]


def test_lro_failure(granted: Demo) -> None:
    granted.sim.add_fault(kind="lroFailure", operation="*/validateRestore/action", count=1,
                          code="CloudServiceRetryableError",
                          message="The service encountered an internal error.")
    bi = granted.backup_instance("vm-app01-data0")
    request = granted.restore_request(granted.latest_point(bi.name).name, "restored")
    with pytest.raises(HttpResponseError) as failed:
        granted.finish(granted.validate(bi.name, request), 45)
    assert failed.value.error.code == "CloudServiceRetryableError"
    granted.finish(granted.validate(bi.name, request), 45)  # the next one is fine


def test_restore_job_failure(granted: Demo) -> None:
    granted.sim.add_fault(kind="jobFailure", count=1,
                          code="UserErrorSubscriptionDiskQuotaLimitReached",
                          message="Operation has failed as the Disk quota maximum limit has been "
                                  "reached on the subscription.")
    bi = granted.backup_instance("vm-app01-data0")
    request = granted.restore_request(granted.latest_point(bi.name).name, "quota")
    job_id = granted.finish(granted.trigger(bi.name, request), 10).job_id
    granted.clock.advance(361)
    job = granted.c.dataprotection.jobs.get(granted.vault_rg, granted.vault,
                                            job_id.rsplit("/", 1)[-1])
    assert job.properties.status == "Failed"
    assert job.properties.error_details[0].code == "UserErrorSubscriptionDiskQuotaLimitReached"
    assert "quota" not in {d.name for d in granted.c.compute.disks.list_by_resource_group(
        granted.target_rg)}


def test_faults_through_the_admin_endpoint(demo: Demo) -> None:
    status, _, added = demo.raw("POST", "/_sim/faults", [
        {"kind": "status", "status": 500, "count": 1, "operation": DISK_READ, "method": "GET"}])
    assert status == 201 and added["rules"][0]["id"]
    assert demo.raw("POST", "/_sim/faults", {"kind": "explode"})[0] == 400
    assert demo.raw("GET", "/_sim/faults")[2]["rules"][0]["count"] == 1
    demo.c.compute.disks.get(demo.app_rg, "vm-app01-data0")
    _, _, faults = demo.raw("GET", "/_sim/faults")
    assert (faults["rules"], faults["fired"][0]["operation"]) == ([], DISK_READ)
    demo.sim.add_fault(kind="status", status=503)
    assert demo.raw("DELETE", "/_sim/faults")[0] == 204
    assert demo.raw("GET", f"{demo.rg_id(demo.app_rg)}?api-version=2025-04-01")[0] == 200


def test_raw_socket_reset_is_a_real_reset(demo: Demo) -> None:
    demo.sim.add_fault(kind="reset", count=1)
    host, port = demo.sim.endpoint.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=demo.sim.ca_bundle)
    connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=5)
    connection.request("GET", f"{demo.rg_id(demo.app_rg)}?api-version=2025-04-01",
                       headers={"Authorization": f"Bearer {demo.token()}"})
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected, ssl.SSLError)):
        connection.getresponse()
    connection.close()


def test_faults_from_the_scenario(make_demo: Callable[..., Demo]) -> None:
    def flaky(spec: dict[str, Any]) -> None:
        spec["faults"] = [{"kind": "status", "status": 503, "count": 1, "operation": DISK_READ}]

    demo = make_demo(flaky)
    demo.c.compute.disks.get(demo.app_rg, "vm-app01-data0")
    assert disk_reads(demo) == [(503, "status"), (200, None)]
