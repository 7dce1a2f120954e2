"""Azure Backup's 10 restores per backup instance a day, end to end: the app under devhost, azsim
enforcing the limit (dev/azsim/restore_limit.py), every way azsim can refuse (Azure does not
document which: docs/fidelity.md).

A restore of a disk with no restore left today is refused at plan time, naming the disk, the
count and when one frees up, with not one write reaching Azure. A restore whose last restore of
the day is taken by someone else after its plan (a race) ends with the same error, whether azsim
refuses the POST (400 or 429), its operation or the job: triggered once, never again, its roles
revoked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import requests
from azsim.sdk import FakeTokenCredential, mgmt_clients
from azure.mgmt.dataprotection import models as dp

RESTORE_ACTION = "Microsoft.DataProtection/backupVaults/backupInstances/restore/action"
MODES = [("trigger", 400), ("trigger", 429), ("operation", 400), ("job", 400)]


def scenario(refusal: str, status: int, *hours_ago: float) -> Callable[[dict[str, Any]], None]:
    """azsim refusing as `refusal`/`status` says, vm-app01-data0 restored `hours_ago`, and the
    vault's Disk Restore Operator on rg-app (for a restore someone makes beside the app)."""
    def patch(spec: dict[str, Any]) -> None:
        spec.update(restoreLimitRefusal=refusal, restoreLimitStatus=status)
        bi = next(b for b in spec["backupVaults"][0]["backupInstances"]
                  if b["disk"].endswith("/vm-app01-data0"))
        bi["pastRestores"] = list(hours_ago)
        spec["roleAssignments"].append({
            "scope": f"/subscriptions/{spec['subscriptionId']}/resourceGroups/rg-app",
            "role": "Disk Restore Operator", "principal": "vault"})
    return patch


def until(check: Callable[[], Any], what: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.05)
    raise AssertionError(f"never: {what}")


@pytest.mark.parametrize(("refusal", "status"), MODES)
def test_a_restore_with_no_restore_left_today_is_refused_before_any_write(
        restore_env, refusal, status):
    env = restore_env(scenario(refusal, status, 20, *[1] * 9))
    started = env.sim.clock.now()
    view = env.run(env.request())
    assert view["outcome"] == "Failed", view
    error = view["result"]["error"]
    assert error["code"] == "RestoreBudgetSpent", error
    assert f"the disk {env.disk('vm-app01-data0')} has no restore left today" in error["message"]
    assert "10 restores of its backup instance in the last 24 h" in error["message"]
    frees = started - timedelta(hours=20) + timedelta(hours=24)
    assert f"the next frees up at {frees:%Y-%m-%dT%H:%M}" in error["message"]
    assert env.sim.audit(write=True) == []  # no grant, no validate, no restore


@pytest.mark.parametrize(("refusal", "status"), MODES)
def test_the_last_restore_taken_after_the_plan_ends_the_run_with_the_same_error(
        restore_env, refusal, status):
    env = restore_env(scenario(refusal, status, *[2] * 9))  # one left when the app plans
    clock = env.sim.clock
    clock.limit(clock.time())  # time stands still: the run plans and grants, then waits
    answer = env.submit(env.request())
    assert answer.status_code == 202, answer.text
    run = answer.json()["id"]
    until(lambda: env.writes("Microsoft.Authorization/roleAssignments/write"), "the grant")

    # Meanwhile someone restores the same disk beside the app and takes the day's last one.
    operator = mgmt_clients(env.sim, FakeTokenCredential(env.sim.principal_id("operator"),
                                                         env.sim.tenant_id))
    vault = operator.dataprotection
    bi = next(b for b in vault.backup_instances.list("rg-backup", "bv-demo")
              if b.properties.data_source_info.resource_id.lower()
              == env.disk("vm-app01-data0").lower())
    point = max(vault.recovery_points.list("rg-backup", "bv-demo", bi.name),
                key=lambda p: p.properties.recovery_point_time)
    target = env.disk("elsewhere-restored")
    vault.backup_instances.begin_trigger_restore(
        "rg-backup", "bv-demo", bi.name, dp.AzureBackupRecoveryPointBasedRestoreRequest(
            recovery_point_id=point.name, source_data_store_type="OperationalStore",
            restore_target_info=dp.RestoreTargetInfo(
                recovery_option="FailIfExists", restore_location="westeurope",
                datasource_info=dp.Datasource(
                    datasource_type="Microsoft.Compute/disks", object_type="Datasource",
                    resource_id=target, resource_name="elsewhere-restored",
                    resource_type="Microsoft.Compute/disks", resource_location="westeurope",
                    resource_uri=""))), polling=False)
    operator.close()
    clock.limit(None)

    env.host.wait_for(run, timeout=180)
    answer = requests.get(f"{env.api}/{run}", timeout=30)
    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert view["outcome"] == "Failed", view
    error = view["result"]["error"]
    assert error["code"] == "RestoreBudgetSpent", error
    assert "no restore left today (CloudDosAbsoluteLimitReached" in error["message"]
    assert "10 restores of a backup instance a day" in error["hint"]
    app = env.sim.app_principal_id
    triggers = [e for e in env.sim.audit(write=True)
                if e["operation"] == RESTORE_ACTION and e["caller"] == app]
    assert len(triggers) == 1, triggers  # never tried again
    assert env.resource(env.disk("vm-app01-data0-restored", "rg-restore-target")) is None
    assert env.leftover_assignments() == set()
