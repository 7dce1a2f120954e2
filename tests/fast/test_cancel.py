"""A cancel reaches every wait, within one poll interval (issue 20 part 9), under each rule for
which open wait of a name an event goes to: the SDK's (`lifo`: the newest) and a what-if (`fifo`:
the oldest, durabletask-python's rule) (dev/harness/engine.py, docs/devhost.md "External events").

Each wait is met as a run meets it: the propagation wait and the job tracking (sub-orchestrations
that continue as new), an approval (a person's decision for up to a week: timers of a day at
most, steps.TIMER_SLICE_S), and a backoff before a step is tried again (Run.retrying). "Within one
poll interval" is read on the harness's clock: the wait ends in the instant the cancel arrives
(it awaits no timer any more) and the run ends within the run's poll interval of it. The host
side (which waiter of the host's an event completes) runs on devhost: tests/restore/test_cancel.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import harness
import pytest
from harness import estate

import settings as app_settings
from domain import errors
from orchestrations import steps

DAY = timedelta(days=1)
POLL = timedelta(seconds=10)  # RESTORE_POLL_INTERVAL_SECONDS by default: the run's poll interval


@pytest.fixture(params=[harness.engine.LIFO, harness.engine.FIFO])
def h(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """tests/fast/conftest.py's harness, under each event order."""
    for name in app_settings.ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CALLER_AUTHORIZATION", "off")
    with harness.demo(event_order=request.param) as running:
        yield running


def assert_nothing_left(h) -> None:
    """Every role assignment a run made is gone again."""
    left = [a for a in h.gateway.assignments.values() if a.created is not None
            and a.deleted is None]
    assert left == [], left


def restored(h, name: str) -> Any:
    return h.gateway.disks.get(estate.disk_id(name, "rg-restore-target").lower())


def cancel_in(h, restores, run: str, waiting: str) -> Any:
    """Cancel `run` while `waiting` (an instance) awaits a timer; the wait must end at once: by
    the time the cancel request has answered, `waiting` awaits no timer. The cancel's time."""
    assert "timer" in h.awaiting(waiting), h.awaiting(waiting)
    at = h.clock
    answer = restores.cancel(run)
    assert waiting in answer["appliedTo"]
    assert "timer" not in h.awaiting(waiting), h.awaiting(waiting)
    return at


def ended_cancelled(h, run: str, at: Any) -> dict[str, Any]:
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Cancelled", out
    assert out["error"]["code"] == "Cancelled"
    assert h.instances[run].updated - at <= POLL, h.instances[run].updated - at
    assert_nothing_left(h)
    return out


def test_a_cancel_during_the_propagation_wait(h, restores):
    h.gateway.propagation = timedelta(minutes=20)
    run = restores.start(restores.request())
    child = f"{run}:propagate"
    restores.until_waiting(child, "timer")
    h.run(until=lambda: (h.custom_status(child) or {}).get("detail", {}).get("lastError"))
    probed = len(h.gateway.called("start_validate_restore"))
    at = cancel_in(h, restores, run, child)
    ended_cancelled(h, run, at)
    assert len(h.gateway.called("start_validate_restore")) == probed
    assert h.gateway.called("start_restore") == []
    assert h.output(child)["error"]["code"] == "Cancelled"


def test_a_cancel_during_job_tracking_after_the_wait_continued_as_new(h, restores):
    h.gateway.durations["restoreJob"] = 3600.0  # past one generation of polls (POLLS_PER_GEN.)
    run = restores.start(restores.request(attach={"vmId": estate.VM}))
    child = f"{run}:track"
    h.run(until=lambda: child in h.instances and h.instances[child].generations > 1
          and "timer" in h.awaiting(child))
    cancel_in(h, restores, run, child)
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Cancelled", out
    # Azure Backup cannot cancel a disk restore job: the run followed it to its end, still
    # holding the vault's roles the job may need, deleted the disk it made, then revoked
    [job] = h.gateway.jobs.values()
    assert job.status == "Completed"
    assert restored(h, "vm-app01-data0-restored") is None
    assert out["error"]["message"].endswith("which was deleted"), out["error"]
    [revoke] = h.gateway.called("revoke_role")
    assert revoke.at >= job.due  # not before the job ended
    assert h.gateway.called("start_attach_data_disk") == []
    assert_nothing_left(h)


@pytest.mark.parametrize("minutes", [30, 7 * 24 * 60])
def test_a_cancel_during_an_approval_deletes_the_disk_restored_for_it(h, restores, minutes):
    """A week-long approval waits on day-long timers: cancelled in its third day."""
    run = restores.submit(restores.request(attach={"vmId": estate.VM}), approval_minutes=minutes)
    restores.until_waiting(run, "event:approval")
    since = h.clock
    if minutes > 24 * 60:
        h.run(until=lambda: h.clock >= since + 2 * DAY)
        assert h.clock == since + 2 * DAY and "event:approval" in h.awaiting(run)
    assert restored(h, "vm-app01-data0-restored") is not None
    at = cancel_in(h, restores, run, run)
    ended_cancelled(h, run, at)
    assert restored(h, "vm-app01-data0-restored") is None  # restored only for the decision
    assert h.gateway.called("start_attach_data_disk") == []
    assert len(h.gateway.vms[estate.VM.lower()].data_disks) == 2


def test_a_decision_on_the_last_day_of_a_week_long_approval_is_taken(h, restores):
    run = restores.submit(restores.request(attach={"vmId": estate.VM}),
                          approval_minutes=7 * 24 * 60)
    restores.until_waiting(run, "event:approval")
    since = h.clock
    h.run(until=lambda: h.clock >= since + 6 * DAY)
    assert "event:approval" in h.awaiting(run)
    restores.decide(run, approve=True, by="bob")
    h.run()
    out = h.output(run)
    assert out["outcome"] == "Succeeded", out
    assert out["approval"]["by"] == "bob"


def test_a_week_long_approval_nobody_gives_times_out_on_the_minute(h, restores):
    run = restores.submit(restores.request(attach={"vmId": estate.VM}), approval_minutes=10080)
    restores.until_waiting(run, "event:approval")
    since = h.clock
    h.run(until=lambda: not h.instances[run].running or h.clock > since + 7 * DAY)
    # the deadline, not a slice later: the delete of the restored disk starts at the minute
    deletes = h.gateway.called("start_delete_disk")
    assert deletes and deletes[0].at == since + 7 * DAY
    h.run()
    out = h.output(run)
    assert out["error"]["code"] == "ApprovalTimedOut" and "10080 minutes" in out["error"]["message"]
    assert restored(h, "vm-app01-data0-restored") is None


def test_a_cancel_during_a_backoff_of_a_step_riding_out_an_outage(h, restores):
    h.gateway.fail("get_restore_job", errors.AzureUnavailable("connection aborted"), times=None)
    run = restores.start(restores.request(attach={"vmId": estate.VM}))
    child = f"{run}:track"
    h.run(until=lambda: child in h.instances and (
        (h.custom_status(child) or {}).get("detail") or {}).get("retry")
        and "timer" in h.awaiting(child))
    assert h.custom_status(child)["detail"]["retry"]["step"] == "get_restore_job"
    cancel_in(h, restores, run, child)
    h.run()
    out = h.output(run)
    # the job cannot be followed while ARM is unreachable: said, with what to check by hand
    assert out["outcome"] == "Cancelled", out
    assert "could not be followed" in out["error"]["message"], out["error"]
    assert h.gateway.called("start_attach_data_disk") == []
    assert_nothing_left(h)


def test_a_cancel_during_a_backoff_of_a_busy_validation(h, restores):
    h.gateway.fail_operation("start_validate_restore", "CloudServiceRetryableError",
                             "A transient error occurred.", times=None)
    run = restores.start(restores.request())
    child = f"{run}:propagate"
    h.run(until=lambda: child in h.instances and (
        (h.custom_status(child) or {}).get("detail") or {}).get("retry")
        and "timer" in h.awaiting(child))
    at = cancel_in(h, restores, run, child)
    ended_cancelled(h, run, at)
    assert h.gateway.called("start_restore") == []


def test_no_wait_sets_a_timer_longer_than_a_slice():
    """Past the host's short-timer limit (6 days on Azure Storage) the SDK would make a long
    timer, whose cancel reaches no timer the host has: a slice stays well below it."""
    assert steps.TIMER_SLICE_S <= 3 * 24 * 3600
