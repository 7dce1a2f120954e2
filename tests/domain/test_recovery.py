"""Admission rules of alert-driven recovery: run in progress, cooldown, hourly limit; run ids."""

from datetime import UTC, datetime, timedelta

from domain.recovery.admission import DEDUPLICATED, REJECTED, RUN_PREFIX, Guard, check_guard, run_id
from domain.recovery.policy import Policies
from domain.restore.request import _REQUEST_ID

SUB = "00000000-0000-0000-0000-000000000001"
VM = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def policy(runs_per_hour: int = 2, cooldown: int = 10, name: str = "os-swap"):
    return Policies.parse({"version": 1, "policies": [{
        "name": name, "match": {
            "eventTypes": ["Microsoft.ResourceNotifications.HealthResources."
                           "AvailabilityStatusChanged"],
            "resourceTypes": ["Microsoft.Compute/virtualMachines"]},
        "action": {"type": "restoreOsDiskAndSwap"},
        "limits": {"runsPerResourcePerHour": runs_per_hour, "cooldownMinutes": cooldown}}]}
    ).policies[0]


def started(*minutes_ago: int) -> Guard:
    guard = Guard("os-swap", VM)
    for n, ago in enumerate(sorted(minutes_ago, reverse=True)):
        guard = guard.started(f"run-{n}", NOW - timedelta(minutes=ago))
    return guard


def test_a_fresh_resource_may_start():
    assert check_guard(policy(), Guard("os-swap", VM), NOW, last_run_active=False) is None


def test_a_run_in_progress_deduplicates_even_after_the_cooldown():
    decision = check_guard(policy(cooldown=0), started(300), NOW, last_run_active=True)
    assert decision.disposition == DEDUPLICATED and decision.run_id == "run-0"
    assert "still in progress" in decision.reason


def test_the_cooldown_deduplicates_and_names_the_run_and_the_wait():
    decision = check_guard(policy(cooldown=10), started(9), NOW, last_run_active=False)
    assert decision.disposition == DEDUPLICATED and decision.run_id == "run-0"
    assert "started 540 s ago" in decision.reason and "waits 10 min" in decision.reason
    assert check_guard(policy(cooldown=10), started(10), NOW, last_run_active=False) is None


def test_the_hourly_limit_rejects_counting_only_the_last_hour():
    limited = policy(runs_per_hour=2, cooldown=0)
    decision = check_guard(limited, started(50, 20), NOW, last_run_active=False)
    assert decision.disposition == REJECTED
    assert "2 run(s) for this resource in the last hour" in decision.reason
    assert "allows 2" in decision.reason
    assert check_guard(limited, started(61, 20), NOW, last_run_active=False) is None


def test_guard_starts_forget_what_is_older_than_a_day_and_round_trip():
    guard = started(60 * 25, 30).started("run-new", NOW)
    assert len(guard.starts) == 2 and guard.last_run_id == "run-new"
    assert Guard.from_dict(guard.to_dict()) == guard


def test_run_ids_are_valid_request_ids_for_their_restores_even_with_long_names():
    rid = run_id(policy(name="p" * 63), VM, NOW)
    assert rid.startswith(RUN_PREFIX) and rid.endswith("-20261124T120000")
    assert _REQUEST_ID.match(f"{rid}-0"), rid  # the child restores' requestId
    assert run_id(policy(), VM.upper().replace("/SUBSCRIPTIONS/", "/subscriptions/"), NOW) == \
        run_id(policy(), VM, NOW)  # ids compare case-insensitively
