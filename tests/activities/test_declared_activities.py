"""An activity as the host runs it: JSON in (camelCase), its typed handler, JSON out; a permanent
error as data, a transient one raised; one audit record per attempt of a privileged one."""

from __future__ import annotations

import logging

import pytest

from activities.activity import host_function
from activities.compute_activities import get_vm, start_attach_data_disk
from activities.role_activities import grant_role, revoke_role
from domain import errors
from domain.access import audit
from domain.access.access_policy import Caller
from domain.model import Operation, Revocation, RoleAssignment, RoleGrant, VmRef

SUB = "/subscriptions/00000000-0000-0000-0000-000000000001"
RG = f"{SUB}/resourceGroups/rg-target"
VM = f"{RG}/providers/Microsoft.Compute/virtualMachines/vm1"
GRANT = RoleGrant(scope=RG, role_definition_guid="b50d9833", role_name="Disk Restore Operator",
                  principal_id="vault-mi", assignment_name="a1")
WHO = Caller("user", "oid-1", "alice")


class Azure:
    """The few control-plane calls these activities make, answered from memory."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail, self.assignments = fail, {}

    def grant_role(self, grant: RoleGrant) -> RoleAssignment:
        if self.fail:
            raise self.fail
        assignment = RoleAssignment(f"{grant.scope}/ra/{grant.assignment_name}", grant.scope,
                                    grant.role_definition_guid, grant.principal_id, False)
        self.assignments[assignment.id] = assignment
        return assignment

    def revoke_role(self, assignment_id: str) -> bool:
        return self.assignments.pop(assignment_id, None) is not None

    def get_vm(self, vm_id: str) -> None:
        return None

    def start_attach_data_disk(self, vm_id: str, disk_id: str, lun: int,
                               caching: str) -> Operation:
        return Operation("attach", f"https://arm/operations/{lun}")


def audited(caplog: pytest.LogCaptureFixture) -> list[dict]:
    return [doc for r in caplog.records if (doc := audit.parse(r.getMessage())) is not None]


def test_a_grant_takes_and_gives_camel_case_json_and_is_audited(caplog):
    caplog.set_level(logging.INFO, logger=audit.LOGGER)
    context = audit.context("run-1", WHO, "INC-1", "policy")
    payload = grant_role.payload(GRANT, context)
    assert payload["input"] == {"scope": RG, "roleDefinitionGuid": "b50d9833",
                                "roleName": "Disk Restore Operator", "principalId": "vault-mi",
                                "assignmentName": "a1"}
    answer = host_function(grant_role, Azure())(payload)
    assert answer == {"id": f"{RG}/ra/a1", "scope": RG, "roleDefinitionGuid": "b50d9833",
                      "principalId": "vault-mi", "preExisting": False}
    assert grant_role.result(answer) == RoleAssignment(f"{RG}/ra/a1", RG, "b50d9833",
                                                       "vault-mi", False)
    (record,) = audited(caplog)
    assert (record["action"], record["outcome"], record["runId"], record["why"],
            record["authorization"]) == ("grant", "succeeded", "run-1", "INC-1", "policy")
    assert record["who"] == WHO.to_dict()
    assert record["what"] == {"activity": "grant_role", "scope": RG,
                              "role": "Disk Restore Operator", "roleDefinitionId": "b50d9833",
                              "principalId": "vault-mi", "assignmentId": f"{RG}/ra/a1",
                              "preExisting": False}


def test_a_permanent_error_is_data_and_raised_again_on_the_orchestrations_side(caplog):
    caplog.set_level(logging.INFO, logger=audit.LOGGER)
    denied = errors.AppNotAuthorized("the app may not assign roles here")
    answer = host_function(grant_role, Azure(denied))(grant_role.payload(GRANT, None))
    assert answer == {"error": denied.to_dict()}
    with pytest.raises(errors.AppNotAuthorized, match="may not assign"):
        grant_role.result(answer)
    (record,) = audited(caplog)
    assert record["outcome"] == "failed" and record["reason"].startswith("AppNotAuthorized")
    assert record["what"]["scope"] == RG and "assignmentId" not in record["what"]


def test_a_transient_error_raises_for_the_retry_policy(caplog):
    caplog.set_level(logging.INFO, logger=audit.LOGGER)
    function = host_function(grant_role, Azure(errors.AzureThrottled("slow down")))
    with pytest.raises(errors.AzureThrottled):
        function(grant_role.payload(GRANT, audit.context("run-1", WHO, None)))
    (record,) = audited(caplog)
    assert record["outcome"] == "failed"


def test_reads_are_not_audited_and_take_their_input_without_an_envelope(caplog):
    caplog.set_level(logging.INFO, logger=audit.LOGGER)
    context = audit.context("run-1", WHO, None)
    assert get_vm.payload(VmRef(VM), context) == {"vmId": VM}
    answer = host_function(get_vm, Azure())(get_vm.payload(VmRef(VM), context))
    assert answer["error"]["code"] == "VmNotFound"
    assert audited(caplog) == []


def test_a_revoke_and_an_attach_name_their_subject(caplog):
    caplog.set_level(logging.INFO, logger=audit.LOGGER)
    azure, context = Azure(), audit.context("run-1", WHO, None)
    assignment = grant_role.result(host_function(grant_role, azure)(
        grant_role.payload(GRANT, context)))
    revoked = revoke_role.result(host_function(revoke_role, azure)(
        revoke_role.payload(Revocation(assignment.id), context)))
    assert revoked.was_present is True
    from domain.model import DiskAttachment
    attach = DiskAttachment(VM, f"{RG}/providers/Microsoft.Compute/disks/d", 3, "None")
    host_function(start_attach_data_disk, azure)(start_attach_data_disk.payload(attach, context))
    _, revoke, attached = audited(caplog)
    assert revoke["what"] == {"activity": "revoke_role", "assignmentId": assignment.id,
                              "wasPresent": True}
    assert attached["action"] == "attach" and attached["what"] == {
        "activity": "start_attach_data_disk", "vmId": VM, "diskId": attach.disk_id, "lun": 3,
        "caching": "None", "operation": "attach"}
