"""The alert-driven recovery runbook (orchestrations/recover.py) in process: signals parsed and
admitted by the app's own code (domain/recovery/signals.py,
triggers/services/signal_intake.py `admit`) over the real Ledger on an in-memory table, then the
run and its restores on the fake Azure."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from harness import estate

import settings as app_settings
from domain import errors
from domain.model import Disk
from domain.recovery.admission import DEDUPLICATED, STARTED
from domain.recovery.policy import Policies
from domain.recovery.signals import parse_event
from triggers.services.signal_intake import Intake, admit
from triggers.services.submit import run_settings

DELETED = "Microsoft.Resources.ResourceDeleteSuccess"
HEALTH = "Microsoft.ResourceNotifications.HealthResources.AvailabilityStatusChanged"
DATA2 = estate.disk_id("vm-app01-data2")


def deleted_disks() -> dict[str, Any]:
    return {"name": "deleted-disks",
            "match": {"eventTypes": [DELETED], "resourceTypes": ["Microsoft.Compute/disks"],
                      "resourceGroups": [estate.rg()]},
            "action": {"type": "restoreDeletedDisk",
                       "attachTo": {"vmId": estate.VM, "lun": 5, "caching": "ReadOnly"}}}


def unhealthy_vm(action: str, approval: bool = False) -> dict[str, Any]:
    policy = {"name": "unhealthy-vm",
              "match": {"eventTypes": [HEALTH],
                        "resourceTypes": ["Microsoft.Compute/virtualMachines"],
                        "availabilityStates": ["Unavailable"]},
              "action": {"type": action}}
    if approval:
        policy["approval"] = {"required": True, "timeoutMinutes": 30}
    return policy


class Recovery:
    def __init__(self, h: Any) -> None:
        self.h = h

    def admit(self, event: dict[str, Any], *policies: dict[str, Any]):
        parsed = Policies.parse({"version": 1, "maxConcurrentRecoveries": 3,
                                 "policies": list(policies)})
        intake = Intake(ledger=lambda: self.h.ledger, policies=lambda: parsed,
                        run_settings=lambda: run_settings(app_settings.settings()),
                        vm_tags=self._vm_tags, now=lambda: self.h.clock)
        return asyncio.run(admit(self.h.client, parse_event(event), intake.admission()))

    def _vm_tags(self, vm_id: str) -> dict[str, str] | None:
        vm = self.h.gateway.get_vm(vm_id)
        return None if vm is None else vm.tags

    def when(self) -> str:
        return self.h.clock.isoformat().replace("+00:00", "Z")

    def deletion(self, disk: str, event_id: str | None = None) -> dict[str, Any]:
        return {"id": event_id or str(uuid.uuid4()),
                "topic": f"/subscriptions/{estate.SUBSCRIPTION}",
                "subject": disk, "eventType": DELETED, "eventTime": self.when(),
                "dataVersion": "2", "metadataVersion": "1",
                "data": {"operationName": "Microsoft.Compute/disks/delete", "resourceUri": disk,
                         "resourceProvider": "Microsoft.Compute", "status": "Succeeded",
                         "subscriptionId": estate.SUBSCRIPTION, "claims": {"name": "alice"}}}

    def unavailable(self, vm: str = estate.VM) -> dict[str, Any]:
        status = f"{vm}/providers/Microsoft.ResourceHealth/availabilityStatuses/current"
        return {"id": str(uuid.uuid4()), "topic": f"/subscriptions/{estate.SUBSCRIPTION}",
                "subject": status, "eventType": HEALTH, "eventTime": self.when(),
                "dataVersion": "1", "metadataVersion": "1", "data": {"resourceInfo": {
                    "id": status, "name": "current",
                    "type": "Microsoft.ResourceHealth/availabilityStatuses",
                    "properties": {"targetResourceId": vm,
                                   "targetResourceType": "Microsoft.Compute/virtualMachines",
                                   "occurredTime": self.when(),
                                   "previousAvailabilityState": "Available",
                                   "availabilityState": "Unavailable"}}}}

    def slots(self) -> dict[str, str]:
        return self.h.ledger.slots()[0]


@pytest.fixture
def recovery(h) -> Recovery:
    return Recovery(h)


def protect_extra_disk(h) -> None:
    """An unattached data disk next to the VM, protected by the vault (as deleted by mistake)."""
    h.gateway.add_disk(Disk(DATA2, estate.LOCATION, 128, "Premium_LRS", state="Unattached"))
    points = h.gateway.protected[estate.backup_instance_of(h.gateway, estate.DATA0).lower()].points
    h.gateway.protect(estate.VAULT, DATA2, principal_id=estate.VAULT_PRINCIPAL,
                      snapshot_rg_id=estate.SNAPSHOTS, points=points)


def test_a_deleted_protected_disk_comes_back_under_its_name_and_is_reattached(h, recovery):
    protect_extra_disk(h)
    del h.gateway.disks[DATA2.lower()]  # someone deleted it
    event = recovery.deletion(DATA2)
    decision = recovery.admit(event, deleted_disks())
    assert decision.disposition == STARTED, decision
    assert recovery.slots() == {decision.run_id: recovery.slots()[decision.run_id]}
    h.run()
    out = h.output(decision.run_id)
    assert out["outcome"] == "Succeeded", out.get("error")
    assert out["policy"] == "deleted-disks" and out["action"] == "restoreDeletedDisk"
    [restore] = out["restores"]
    assert restore["outcome"] == "Succeeded"
    assert restore["restoredDiskId"].lower() == DATA2.lower()  # its own name, its own group
    vm = h.gateway.vms[estate.VM.lower()]
    assert {d.lun: d.disk_id.lower() for d in vm.data_disks}[5] == DATA2.lower()
    assert recovery.slots() == {}  # the slot was given back
    assert h.ledger.event(f"eventgrid:{event['id']}")["disposition"] == STARTED
    # the restore ran for the policy, and said why
    child = h.status(f"restore-{decision.run_id}-0").input_
    assert child["requestedBy"] == {"kind": "policy", "id": None, "name": "deleted-disks"}
    assert child["why"].startswith(DELETED)


def test_the_same_event_delivered_again_starts_no_second_run(h, recovery):
    protect_extra_disk(h)
    del h.gateway.disks[DATA2.lower()]
    event = recovery.deletion(DATA2)
    first = recovery.admit(event, deleted_disks())
    again = recovery.admit(event, deleted_disks())
    assert first.disposition == STARTED and again.disposition == DEDUPLICATED
    assert again.run_id == first.run_id
    assert [i for i in h.instances if i.startswith("recover-")] == [first.run_id]


def test_an_unprotected_disks_deletion_is_ignored_with_the_reason(h, recovery):
    h.gateway.add_disk(Disk(DATA2, estate.LOCATION, 128, "Premium_LRS", state="Unattached"))
    del h.gateway.disks[DATA2.lower()]
    decision = recovery.admit(recovery.deletion(DATA2), deleted_disks())
    h.run()
    out = h.output(decision.run_id)
    assert out["outcome"] == "Ignored"
    assert "is not protected by a Backup vault" in out["ignored"]
    assert out["restores"] == [] and recovery.slots() == {}
    assert h.gateway.called("grant_role") == []


def test_every_protected_data_disk_of_an_unhealthy_vm_is_restored_in_its_place(h, recovery):
    decision = recovery.admit(recovery.unavailable(), unhealthy_vm("restoreDataDisksAndAttach"))
    h.run()
    out = h.output(decision.run_id)
    assert out["outcome"] == "Succeeded", out.get("error")
    assert [r["outcome"] for r in out["restores"]] == ["Succeeded", "Succeeded"]
    luns = {d.lun: d.disk_id.lower() for d in h.gateway.vms[estate.VM.lower()].data_disks}
    assert luns == {r["attach"]["lun"]: r["restoredDiskId"].lower() for r in out["restores"]}
    assert sorted(luns) == [0, 1]  # the originals' LUNs, no slot more
    assert [r["attach"]["replaces"] for r in out["restores"]] == [estate.DATA0, estate.DATA1]
    for original in (estate.DATA0, estate.DATA1):  # detached and kept
        assert h.gateway.disks[original.lower()].managed_by is None
    # both at once, under one whole-VM run, then one VM change for both
    vm_run = f"restorevm-{decision.run_id}"
    assert [r["id"] for r in out["restores"]] == [f"restore-{vm_run}-lun0",
                                                  f"restore-{vm_run}-lun1"]
    assert out["vmRestore"]["id"] == vm_run and out["vmRestore"]["skewSeconds"] == 0
    assert len(h.gateway.called("start_change_data_disks")) == 1
    assert recovery.slots() == {}


def test_the_beside_action_attaches_the_copies_next_to_the_originals(h, recovery):
    decision = recovery.admit(recovery.unavailable(),
                              unhealthy_vm("restoreDataDisksAndAttachBeside"))
    h.run()
    out = h.output(decision.run_id)
    assert out["outcome"] == "Succeeded", out.get("error")
    luns = {d.lun for d in h.gateway.vms[estate.VM.lower()].data_disks}
    assert luns == {0, 1, 2, 3}
    assert all("replaces" not in r["attach"] for r in out["restores"])


def test_one_failed_restore_of_two_leaves_the_vm_unchanged(h, recovery):
    h.gateway.fail_job("UserErrorDiskCreationFailed")
    decision = recovery.admit(recovery.unavailable(), unhealthy_vm("restoreDataDisksAndAttach"))
    h.run()
    out = h.output(decision.run_id)
    assert out["outcome"] == "Failed"  # a VM of disks from different moments is no restore
    assert sorted(r["outcome"] for r in out["restores"]) == ["Failed", "Succeeded"]
    assert "the VM is unchanged" in out["vmRestore"]["error"]["message"]
    assert h.gateway.called("start_change_data_disks") == []


def test_one_failed_restore_of_two_beside_is_a_partial_success(h, recovery):
    h.gateway.fail_job("UserErrorDiskCreationFailed")
    decision = recovery.admit(recovery.unavailable(),
                              unhealthy_vm("restoreDataDisksAndAttachBeside"))
    h.run()
    out = h.output(decision.run_id)
    assert out["outcome"] == "PartiallySucceeded"
    assert [r["outcome"] for r in out["restores"]] == ["Failed", "Succeeded"]
    assert out["restores"][0]["error"]["code"] == "RestoreJobFailed"


def test_an_approval_gated_os_swap_waits_then_swaps_when_approved(h, recovery, restores):
    decision = recovery.admit(recovery.unavailable(),
                              unhealthy_vm("restoreOsDiskAndSwap", approval=True))
    run, child = decision.run_id, f"restore-{decision.run_id}-0"
    restores.until_waiting(child, "event:approval")
    view = restores.view(run)
    assert view["phase"] == "restore" and view["progress"]["children"] == [child]
    assert h.gateway.called("start_deallocate_vm") == []
    answer = restores.decide(run, approve=True, by="bob")  # the recovery run's id
    assert answer["appliedTo"] == [child]
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Succeeded", out.get("error")
    [restore] = out["restores"]
    assert restore["approval"]["by"] == "bob"
    vm = h.gateway.vms[estate.VM.lower()]
    assert vm.os_disk_id.lower() == restore["restoredDiskId"].lower()
    assert vm.power_state == "running"


def test_a_rejected_os_swap_is_not_approved_and_leaves_the_vm(h, recovery, restores):
    decision = recovery.admit(recovery.unavailable(),
                              unhealthy_vm("restoreOsDiskAndSwap", approval=True))
    restores.until_waiting(f"restore-{decision.run_id}-0", "event:approval")
    restores.decide(decision.run_id, approve=False, by="bob")
    h.run()
    out = h.output(decision.run_id)
    assert out["outcome"] == "NotApproved"
    assert h.gateway.vms[estate.VM.lower()].os_disk_id == estate.OS_DISK
    assert recovery.slots() == {}


def test_a_cancelled_whole_vm_recovery_stops_every_disk_and_leaves_the_vm(h, recovery,
                                                                          restores):
    decision = recovery.admit(recovery.unavailable(), unhealthy_vm("restoreDataDisksAndAttach"))
    run = decision.run_id
    restores.until_waiting(f"restore-restorevm-{run}-lun0:propagate", "timer")
    restores.cancel(run)
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Cancelled"
    assert [r["outcome"] for r in out["restores"]] == ["Cancelled", "Cancelled"]
    assert len(h.gateway.called("start_restore")) == 0
    assert h.gateway.called("start_change_data_disks") == []
    assert recovery.slots() == {}


def test_a_recovery_whose_resolution_fails_reports_it_and_gives_the_slot_back(h, recovery):
    h.gateway.fail("get_vm", errors.AzureUnavailable("503 from ARM"), times=None)
    decision = recovery.admit(recovery.unavailable(), unhealthy_vm("restoreDataDisksAndAttach"))
    h.run()
    out = h.output(decision.run_id)
    assert out["outcome"] == "Failed"
    assert out["error"]["code"] == "AzureUnavailable", out["error"]
    assert out["restores"] == [] and recovery.slots() == {}


def test_a_cancelled_recovery_starts_no_further_restore(h, recovery, restores):
    decision = recovery.admit(recovery.unavailable(),
                              unhealthy_vm("restoreDataDisksAndAttachBeside"))
    run = decision.run_id
    restores.until_waiting(f"restore-{run}-0:propagate", "timer")
    restores.cancel(run)
    h.run()
    out = h.output(run)
    assert [r["outcome"] for r in out["restores"]] == ["Cancelled"]
    assert out["outcome"] == "Cancelled"
    assert len(h.gateway.called("start_restore")) == 0


# ---- objectives ---------------------------------------------------------------------------------
def test_a_recovery_outcome_is_judged_against_the_policys_objectives_for_the_vms_tags(h,
                                                                                     recovery):
    policy = unhealthy_vm("restoreDataDisksAndAttach")
    policy["objectives"] = {"rtoMinutes": 600, "rpoHours": 0.25, "byTag": [
        {"tag": "WORKLOAD", "value": "app01", "rtoMinutes": 1}]}  # the VM's tag: 1 minute
    event = recovery.unavailable()
    decision = recovery.admit(event, policy)
    h.run()
    out = h.output(decision.run_id)
    assert out["outcome"] == "Succeeded", out.get("error")
    occurred = datetime.fromisoformat(event["eventTime"].replace("Z", "+00:00"))
    minutes = (h.instances[decision.run_id].updated - occurred).total_seconds() / 60
    assert minutes > 1  # two restore jobs of minutes each, then the VM change
    # the tag's RTO, the policy's RPO: the restored points (02:00) were 30 min old at 02:30
    assert out["objectives"] == {
        "objectives": {"rtoMinutes": 1, "rpoHours": 0.25},
        "rto": {"objective": "rto", "verdict": "missed", "target": 1,
                "actual": round(minutes, 1)},
        "rpo": {"objective": "rpo", "verdict": "missed", "target": 0.25, "actual": 0.5}}


def test_a_deleted_disks_recovery_meets_the_policys_objectives_and_none_are_judged_without(
        h, recovery):
    protect_extra_disk(h)
    del h.gateway.disks[DATA2.lower()]
    policy = deleted_disks() | {"objectives": {"rtoMinutes": 120, "rpoHours": 26}}
    out = _recover(h, recovery, recovery.deletion(DATA2), policy)
    assert out["outcome"] == "Succeeded", out.get("error")
    assert (out["objectives"]["rto"]["verdict"], out["objectives"]["rpo"]) == \
        ("met", {"objective": "rpo", "verdict": "met", "target": 26.0, "actual": 0.5})
    h.gateway.add_disk(Disk(DATA2, estate.LOCATION, 128, "Premium_LRS", state="Unattached"))
    h.clock += timedelta(hours=2)  # past the policy's cooldown
    del h.gateway.disks[DATA2.lower()]
    assert "objectives" not in _recover(h, recovery, recovery.deletion(DATA2), deleted_disks())


def test_a_failed_recovery_missed_its_rto(h, recovery):
    h.gateway.fail_job("UserErrorDiskCreationFailed")
    policy = unhealthy_vm("restoreDataDisksAndAttach") | {"objectives": {"rtoMinutes": 600}}
    out = _recover(h, recovery, recovery.unavailable(), policy)
    assert out["outcome"] == "Failed"
    assert out["objectives"]["rto"]["verdict"] == "missed"
    assert sorted(r["outcome"] for r in out["restores"]) == ["Failed", "Succeeded"]
    # no RPO objective: unknown, with the age of the point the restore that succeeded took
    assert out["objectives"]["rpo"] == {"objective": "rpo", "verdict": "unknown", "actual": 0.5}


def _recover(h, recovery: Recovery, event: dict[str, Any], policy: dict[str, Any]):
    decision = recovery.admit(event, policy)
    assert decision.disposition == STARTED, decision
    h.run()
    return h.output(decision.run_id)
