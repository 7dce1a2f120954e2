"""Runs that share one role assignment: restores into one target resource group (Disk Restore
Operator) or of disks encrypted with one Disk Encryption Set (Reader). Azure refuses a second
identical assignment (409 RoleAssignmentExists), so such runs share one; each holds a lease on it
in the ledger and only the last holder revokes (docs/security.md)."""

from __future__ import annotations

from datetime import datetime

from harness import estate

from domain.restore.planning import DISK_RESTORE_OPERATOR, READER

PRINCIPAL = estate.VAULT_PRINCIPAL
NOT_YET = "UserErrorNotEnoughPermissionOnTargetRG"


def live(h, scope: str, role: str) -> list[str]:
    return [a.record.id for a in h.gateway.assignments.values()
            if a.deleted is None and a.record.scope.lower() == scope.lower()
            and a.record.role_definition_guid.lower() == role]


def ended(h, run: str) -> datetime:
    when = h.status(run).last_updated_time
    return when if isinstance(when, datetime) else datetime.fromisoformat(str(when))


def hold_second_until_first_ends(h, first: str, second_disk: str) -> None:
    """The second run's probes answer "not yet" until the first run has ended and a revoke it
    made would have taken effect: a deterministic stand-in for a slow propagation."""
    def held(plan) -> bool:
        if not plan.target_disk_id.lower().endswith(second_disk):
            return False
        if h.status(first).runtime_status.value == "Running":
            return True
        return h.clock < ended(h, first) + h.gateway.propagation
    h.gateway.fail_operation("start_validate_restore", NOT_YET, "held by the test", times=None,
                             when=held)


def test_two_restores_into_one_group_both_succeed_and_the_last_revokes(h, restores):
    first = restores.start(restores.request(estate.DATA0, "first-restored"))
    h.run(until=lambda: live(h, estate.TARGET, DISK_RESTORE_OPERATOR) != [])
    hold_second_until_first_ends(h, first, "second-restored")
    second = restores.start(restores.request(estate.DATA0, "second-restored"))
    h.run()
    one, two = h.output(first), h.output(second)
    assert one["outcome"] == "Succeeded", one
    assert two["outcome"] == "Succeeded", two["error"]  # today: PropagationTimedOut
    assert live(h, estate.TARGET, DISK_RESTORE_OPERATOR) == []  # the last holder revoked it


def test_two_restores_of_cmk_disks_share_reader_on_the_encryption_set(h, restores):
    first = restores.start(restores.request(estate.DATA1, "first-restored"))
    h.run(until=lambda: live(h, estate.DES, READER) != [])
    hold_second_until_first_ends(h, first, "second-restored")
    second = restores.start(restores.request(estate.DATA1, "second-restored"))
    h.run()
    assert h.output(first)["outcome"] == "Succeeded"
    assert h.output(second)["outcome"] == "Succeeded", h.output(second)
    assert live(h, estate.DES, READER) == [] and live(h, estate.TARGET, DISK_RESTORE_OPERATOR) == []
