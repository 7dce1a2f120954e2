"""Error translation: throttling, outages, resets and missing permissions become domain errors
(chained to the SDK error); the SDK's own retries absorb short blips."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from azure.core.exceptions import AzureError

from domain import errors
from domain.model import Operation

if TYPE_CHECKING:
    from conftest import Env

DISK_READ = "Microsoft.Compute/disks/read"


def _fired(env: Env) -> int:
    return len(env.sim.fired_faults())


def test_a_short_throttle_is_retried_by_the_sdk(env: Env) -> None:
    env.sim.add_fault(kind="status", status=429, retryAfter=0.01, operation=DISK_READ, count=2)

    assert env.plane.get_disk(env.disk("vm-app01-data0")) is not None
    assert _fired(env) == 2


def test_lasting_throttling_is_azure_throttled(env: Env) -> None:
    env.sim.add_fault(kind="status", status=429, retryAfter=0.01, operation=DISK_READ)

    with pytest.raises(errors.AzureThrottled) as raised:
        env.plane.get_disk(env.disk("vm-app01-data0"))

    assert raised.value.retryable
    assert "SubscriptionRequestsThrottled" in str(raised.value)
    assert isinstance(raised.value.__cause__, AzureError)
    assert _fired(env) == 4  # one call and the activity-sized 3 retries


def test_a_long_retry_after_is_not_slept_through_in_the_activity(env: Env) -> None:
    env.sim.add_fault(kind="status", status=429, retryAfter=60, operation=DISK_READ, count=1)

    with pytest.raises(errors.AzureThrottled) as raised:
        env.plane.get_disk(env.disk("vm-app01-data0"))

    assert "retry after 60 s" in str(raised.value)
    assert _fired(env) == 1


def test_a_server_error_is_azure_unavailable(env: Env) -> None:
    env.sim.add_fault(kind="status", status=500, operation=DISK_READ)

    with pytest.raises(errors.AzureUnavailable) as raised:
        env.plane.get_disk(env.disk("vm-app01-data0"))

    assert raised.value.retryable and "InternalServerError" in str(raised.value)
    assert errors.code_of(str(raised.value)) == "AzureUnavailable"


def test_a_connection_reset_is_azure_unavailable(env: Env) -> None:
    env.sim.add_fault(kind="reset", operation="Microsoft.Resources/subscriptions/resourceGroups/*")

    with pytest.raises(errors.AzureUnavailable):
        env.plane.get_resource_group_location(env.target_rg)


def test_a_server_error_on_a_poll_is_azure_unavailable_not_a_failed_operation(env: Env) -> None:
    operation = env.plane.start_deallocate_vm(env.vm)
    env.sim.add_fault(kind="status", status=503, operation="Microsoft.Compute/locations/*")

    with pytest.raises(errors.AzureUnavailable):
        env.plane.get_operation(operation)

    env.sim.clear_faults()
    assert env.plane.get_operation(operation).state == "running"


def test_a_throttled_start_raises_rather_than_reporting_a_failure(granted: Env) -> None:
    granted.sim.add_fault(kind="status", status=429, retryAfter=60,
                          operation="Microsoft.DataProtection/*/validateRestore/action")

    with pytest.raises(errors.AzureThrottled):
        granted.plane.start_validate_restore(granted.plan())


def test_an_identity_without_rights_is_app_not_authorized_naming_action_and_scope(env: Env
                                                                                  ) -> None:
    stranger = env.as_principal("vault")  # may read, but write nothing

    with pytest.raises(errors.AppNotAuthorized) as raised:
        stranger.start_deallocate_vm(env.vm)

    text = str(raised.value)
    assert text.startswith("AppNotAuthorized: the app's identity may not perform "
                           "'Microsoft.Compute/virtualMachines/deallocate/action' on ")
    assert env.vm in text


def test_validate_without_the_vault_action_is_app_not_authorized(env: Env) -> None:
    plan = env.plan()

    with pytest.raises(errors.AppNotAuthorized) as raised:
        env.as_principal("vault").start_validate_restore(plan)

    assert "validateRestore/action" in str(raised.value)


def test_unknown_errors_are_re_raised_untouched(env: Env) -> None:
    env.sim.add_fault(kind="status", status=400, code="SomethingOdd", message="odd",
                      operation=DISK_READ, count=1)

    with pytest.raises(AzureError) as raised:
        env.plane.get_disk(env.disk("vm-app01-data0"))

    assert not isinstance(raised.value, errors.RestoreError)
    assert "SomethingOdd" in str(raised.value)


def test_operation_urls_off_the_arm_endpoint_are_refused(env: Env) -> None:
    foreign = Operation("deallocate", f"https://attacker.example/subscriptions/{env.sub}/"
                                      "providers/Microsoft.Compute/locations/westeurope/"
                                      "operations/x?api-version=2026-04-01")

    with pytest.raises(ValueError, match="refusing to send the app's token"):
        env.plane.get_operation(foreign)


def test_a_token_arm_refuses_is_app_not_authorized(env: Env) -> None:
    from azsim.sdk import FakeTokenCredential

    from gateway.factory import control_plane

    wrong_tenant = FakeTokenCredential(env.sim.app_principal_id,
                                       "99999999-9999-4999-8999-999999999999")
    plane = control_plane(env.settings, credential_override=wrong_tenant)

    with pytest.raises(errors.AppNotAuthorized, match="InvalidAuthenticationTokenTenant"):
        plane.get_disk(env.disk("vm-app01-data0"))


def test_a_credential_that_cannot_get_a_token_is_app_not_authorized(env: Env) -> None:
    from azure.core.exceptions import ClientAuthenticationError

    from gateway.factory import control_plane

    class NoIdentity:
        def get_token(self, *scopes: str, **kwargs: object) -> None:
            raise ClientAuthenticationError("ManagedIdentityCredential: no identity assigned")

    plane = control_plane(env.settings, credential_override=NoIdentity())  # type: ignore[arg-type]

    with pytest.raises(errors.AppNotAuthorized, match="could not get a token"):
        plane.get_vm(env.vm)


@pytest.mark.parametrize("status", [400, 429, 503])
def test_the_days_restore_limit_is_never_throttling_or_an_outage(env: Env, status: int) -> None:
    """Azure Backup's per-day limit (CloudDosAbsoluteLimitReached), whatever status it comes
    with: RestoreBudgetSpent, not retryable, and a long Retry-After is not slept through."""
    env.sim.add_fault(kind="status", status=status, retryAfter=3600,
                      code="CloudDosAbsoluteLimitReached", message="Operation is blocked as you "
                      "have reached the limit on number of operations permitted in 24 hours.",
                      operation=DISK_READ, count=1)

    with pytest.raises(errors.RestoreBudgetSpent) as raised:
        env.plane.get_disk(env.disk("vm-app01-data0"))

    assert not raised.value.retryable
    assert "no restore left today (CloudDosAbsoluteLimitReached: Operation is blocked" in \
        str(raised.value)
    assert isinstance(raised.value.__cause__, AzureError)
