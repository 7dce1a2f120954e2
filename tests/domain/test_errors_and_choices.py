"""Error codes survive the activity boundary; recovery points are chosen by time, not order."""

import pytest

from domain import errors
from domain.model import RecoveryPoint
from domain.restore import azure_codes
from domain.restore.planning import assignment_name, choose_recovery_point
from domain.restore.request import RecoveryPointChoice

POINTS = [RecoveryPoint("a", "2026-11-20T02:00:00+00:00"),
          RecoveryPoint("c", "2026-11-22T02:00:00Z"),
          RecoveryPoint("b", "2026-11-21T02:00:00+00:00")]


def test_latest_is_the_newest_by_time_whatever_the_list_order():
    assert choose_recovery_point(POINTS, RecoveryPointChoice("latest")).id == "c"


def test_before_is_strictly_before_and_id_is_case_insensitive():
    assert choose_recovery_point(
        POINTS, RecoveryPointChoice("before", "2026-11-22T02:00:00+00:00")).id == "b"
    assert choose_recovery_point(POINTS, RecoveryPointChoice("id", "B")).id == "b"
    with pytest.raises(errors.RecoveryPointNotFound):
        choose_recovery_point(POINTS, RecoveryPointChoice("before", "2026-01-01T00:00:00+00:00"))
    with pytest.raises(errors.RecoveryPointNotFound):
        choose_recovery_point(POINTS, RecoveryPointChoice("id", "nope"))


def test_errors_round_trip_as_data_and_as_text():
    error = errors.TargetDiskExists("disk x exists", hint="pick another name")
    back = errors.from_dict(error.to_dict())
    assert type(back) is errors.TargetDiskExists and back.hint == "pick another name"
    text = f"Activity function 'plan_restore' failed: {error}\n traceback..."
    assert errors.code_of(text) == "TargetDiskExists"
    assert errors.code_of("Activity function 'x' failed: KeyError: 'y'") is None


@pytest.mark.parametrize("code, expected", [
    ("UserErrorNotEnoughPermissionOnTargetRG", None),
    ("UserErrorMSIPermissionsNotPresentOnDES", None),
    ("UserErrorSameNameDiskAlreadyExists", errors.TargetDiskExists),
    ("UserErrorDiskSnapshotNotFound", errors.SnapshotNotFound),
    ("UserErrorNotEnoughPermissionOnSnapshotRG", errors.SnapshotPermissionsMissing),
    ("UserErrorRestoreTargetRGNotFound", errors.TargetResourceGroupNotFound),
    ("SomethingNew", errors.ValidationFailed),
])
def test_azure_backup_codes_map_to_a_wait_or_a_clear_error(code, expected):
    result = azure_codes.classify(code, "message")
    assert (result is None) if expected is None else isinstance(result, expected)
    if result is not None:
        assert code in str(result)


@pytest.mark.parametrize("code", sorted(azure_codes.RESTORE_LIMIT))
@pytest.mark.parametrize("retryable", [None, False, True])
def test_the_days_restore_limit_is_a_clear_error_never_a_transient_one(code, retryable):
    """However Azure marks it (isRetryable true, as its ...WithRetry name suggests), the day's
    limit ends the run: a validate, a trigger and a job all say RestoreBudgetSpent."""
    assert azure_codes.transient(code, retryable) is False
    refused = azure_codes.classify(code, "Operation is blocked", retryable)
    assert isinstance(refused, errors.RestoreBudgetSpent) and not refused.retryable
    assert code in str(refused) and "10 restores of a backup instance a day" in refused.hint
    failed = azure_codes.job_failure("Failed", code, "Operation is blocked")
    assert isinstance(failed, errors.RestoreBudgetSpent) and "restore's job" in failed.message
    assert errors.from_dict(refused.to_dict()).code == "RestoreBudgetSpent"  # across Durable
    assert errors.code_of(f"Activity function 'x' failed: {refused}") == "RestoreBudgetSpent"


def test_any_other_failed_job_stays_a_failed_job():
    failed = azure_codes.job_failure("Failed", "UserErrorDiskCreationFailed", "no")
    assert type(failed) is errors.RestoreJobFailed
    assert failed.message == "restore job Failed: UserErrorDiskCreationFailed: no"


def test_assignment_names_are_deterministic_per_run_scope_and_role():
    a = assignment_name("run-1", "/subscriptions/x/resourceGroups/RG", "role")
    assert a == assignment_name("run-1", "/subscriptions/x/resourcegroups/rg", "role")
    assert a != assignment_name("run-2", "/subscriptions/x/resourceGroups/RG", "role")
