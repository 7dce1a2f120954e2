"""External events on devhost, on the real stack's terms (docs/devhost.md, "External events").

Two parties decide where an event goes. The SDK decides which Python task gets it: the newest
open task of that name (azure-functions-durable, TaskOrchestrationExecutor.set_task_value,
`task_list.pop()`), fixed, whatever the host does. The host decides which of the shim's awaits it
completes, so whether the shim gets past the wait and schedules the work after it: the Durable
extension's waiters are a stack (newest first), devhost's `external_event_order` can also serve
the oldest first (`fifo`), a what-if. An orchestration the SDK calls done while the shim still
awaits an action stays Running until that action completes, as the shim awaits every action
before it reads the SDK's isDone.

Waits are steered on virtual time: the clock is held below the long timers (VirtualClock.limit)
while the test raises the event, so nothing here depends on wall time.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from devhost.config import ConfigError, external_event_order
from devhost.durable.shim import FIFO, LIFO

APP = Path(__file__).parent / "apps" / "events"
DAY = 24 * 3600


def _history(host: Any, iid: str) -> list[dict[str, Any]]:
    return host.status(iid, show_history=True)["historyEvents"]


def _at(host: Any, iid: str, event_type: str) -> float:
    (found,) = [e for e in _history(host, iid) if e["EventType"] == event_type][-1:]
    return datetime.fromisoformat(found["Timestamp"].replace("Z", "+00:00")).timestamp()


def _raise_in_second_wait(host: Any, iid: str) -> float:
    """Hold time a minute after the start (the first wait's 10 s timer fires, the second wait's
    does not), raise "go" once the run is in its second wait, and let time go on once the
    event's episode has run. The event's time, on the virtual clock."""
    host.clock.limit(host.clock.time() + 60)
    deadline = time.monotonic() + 30
    while (host.status(iid) or {}).get("customStatus") != "second":
        assert time.monotonic() < deadline, host.status(iid)
        time.sleep(0.01)
    raised = host.clock.time()
    host.client.raise_event(iid, "go", "now")
    while not any(e["EventType"] == "EventRaised" for e in _history(host, iid)):
        assert time.monotonic() < deadline, host.status(iid)
        time.sleep(0.01)
    host.clock.limit(None)
    return raised


@pytest.mark.parametrize("order", [LIFO, FIFO])
def test_the_sdk_gives_the_event_to_the_newest_wait_and_the_host_order_decides_when_it_ends(
        devhost, order):
    host = devhost(APP, external_event_order=order)
    iid = host.client.start_new("fresh_waits")
    raised = _raise_in_second_wait(host, iid)
    doc = host.wait_for(iid)
    # The SDK's rule, in either host order: the newest open task won, the abandoned one did not.
    assert doc["output"]["second"] == "event" and doc["output"]["first_completed"] is False
    assert doc["output"]["decided_at"] == pytest.approx(raised)
    ended = _at(host, iid, "ExecutionCompleted")
    if order == LIFO:  # the extension: the newest waiter is the second wait's, which ends
        assert ended == pytest.approx(raised)
    else:  # the abandoned first waiter took it: the shim still awaits the second wait
        assert ended >= raised + 3600 - 60


@pytest.mark.parametrize("order", [LIFO, FIFO])
def test_a_reused_wait_is_left_to_its_canceled_timer_which_frees_a_short_wait_at_once(
        devhost, order):
    """The SDK sends a reused wait's action once: the second wait's host side is its timer
    alone, and the SDK's cancel of that timer is what ends it, in either order."""
    host = devhost(APP, external_event_order=order)
    iid = host.client.start_new("reused_wait", client_input=1)
    raised = _raise_in_second_wait(host, iid)
    doc = host.wait_for(iid)
    assert doc["output"]["second"] == "event"
    assert _at(host, iid, "ExecutionCompleted") == pytest.approx(raised)


@pytest.mark.parametrize("order", [LIFO, FIFO])
def test_a_reused_wait_beside_a_long_timer_is_not_seen_by_the_host_until_the_timer(devhost,
                                                                                     order):
    """Past the host's maximumShortTimerDuration (6 days on Azure Storage) the SDK makes a long
    timer of 3-day timers, and its cancel() flags none of the timers it sent: nothing ends the
    host's await but a timer firing. The SDK decided at once; the run ends days later."""
    host = devhost(APP, external_event_order=order)
    iid = host.client.start_new("reused_wait", client_input=7 * 24)
    raised = _raise_in_second_wait(host, iid)
    doc = host.wait_for(iid)
    assert doc["output"]["second"] == "event"
    assert doc["output"]["decided_at"] == pytest.approx(raised)
    assert _at(host, iid, "ExecutionCompleted") >= raised + 3 * DAY - 60


def test_the_order_is_lifo_unless_set_and_anything_else_is_refused():
    assert external_event_order(None, {}) == LIFO
    assert external_event_order(None, {"DEVHOST_EXTERNAL_EVENT_ORDER": "FIFO"}) == FIFO
    assert external_event_order("lifo", {"DEVHOST_EXTERNAL_EVENT_ORDER": "fifo"}) == LIFO
    with pytest.raises(ConfigError, match=r"DEVHOST_EXTERNAL_EVENT_ORDER must be one of lifo, "
                                          r"fifo .*'random'"):
        external_event_order(None, {"DEVHOST_EXTERNAL_EVENT_ORDER": "random"})
    with pytest.raises(ConfigError, match="external_event_order must be one of"):
        external_event_order("first", {})


def test_the_host_matches_names_ignoring_case_and_queues_an_event_nobody_waits_for():
    """The extension keys waiters and queued events OrdinalIgnoreCase (the SDK does not: an
    event "GO" completes no Python task waiting for "go", only the host's waiter)."""
    from devhost.durable.protocol import ActionType, EventType
    from devhost.durable.shim import HostReplay

    def ev(kind: int, **kw: Any) -> dict[str, Any]:
        return {"EventType": kind, "EventId": kw.pop("EventId", -1),
                "Timestamp": "2026-01-01T00:00:00.0000000Z", **kw}
    wait = {"actionType": ActionType.WAIT_FOR_EXTERNAL_EVENT, "externalEventName": "go"}
    started = [ev(EventType.ORCHESTRATOR_STARTED), ev(EventType.EXECUTION_STARTED)]
    raised = ev(EventType.EVENT_RAISED, Name="GO", Input='"x"')
    assert HostReplay([*started, raised], [wait]).run().awaited_all
    timer = {"actionType": ActionType.CREATE_TIMER, "fireAt": "2026-01-01T00:01:00.000Z"}
    early = HostReplay([*started, ev(EventType.TIMER_CREATED, EventId=0), raised,
                        ev(EventType.TIMER_FIRED, TimerId=0)], [timer, wait, wait]).run()
    assert not early.awaited_all  # queued during the timer, taken by the first wait only
    with pytest.raises(ValueError, match="external event order must be one of"):
        HostReplay(started, [], order="random")
