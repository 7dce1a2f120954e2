"""Timer trigger: schedules, validation, and the listener driven by a VirtualClock."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import azure.functions as func
import pytest
from devhost.clock import RealClock, VirtualClock
from devhost.discovery import FunctionEntry
from devhost.invoker import Invoker
from devhost.triggers.timer import (
    IntervalSchedule,
    ScheduleError,
    TimerListener,
    create_listener,
    parse_schedule,
    parse_timespan,
)

START = datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("00:05:00", timedelta(minutes=5)),
    ("1.00:00:00", timedelta(days=1)),
    ("01:30", timedelta(hours=1, minutes=30)),
    ("2", timedelta(days=2)),  # .NET reads a bare number as days
    ("00:00:01.5", timedelta(seconds=1.5)),
    ("00:00:00", None),
    ("24:00:00", None),
    ("00:60:00", None),
    ("-00:05:00", None),
    ("five minutes", None),
])
def test_parse_timespan(text: str, expected: timedelta | None) -> None:
    assert parse_timespan(text) == expected


def test_parse_schedule_prefers_ncrontab_then_timespan() -> None:
    assert parse_schedule("0 */5 * * * *").next_after(START) == START + timedelta(minutes=5)
    span = parse_schedule("00:00:30")
    assert isinstance(span, IntervalSchedule)
    assert span.next_after(START) == START + timedelta(seconds=30)


# ---------------------------------------------------------------------- validation
def entry(app: SimpleNamespace, name: str) -> FunctionEntry:
    return app.registry.functions[name]


@pytest.mark.parametrize(("schedule", "message"), [
    ("0 0 25 * * *", r"hour field '25': 25 is out of range 0-23"),
    ("every morning", r"not a valid NCRONTAB expression .* nor a TimeSpan"),
    ("0 0 9 * * 7", r"7 is not accepted by NCrontab"),
])
def test_bad_schedule_names_function_and_expression(trigger_app: SimpleNamespace,
                                                     invoker: Invoker, schedule: str,
                                                     message: str) -> None:
    with pytest.raises(ScheduleError, match=r"timer trigger 'tick': schedule '%TICK_SCHEDULE%'"):
        create_listener(entry(trigger_app, "tick"), invoker, VirtualClock(START),
                        {"TICK_SCHEDULE": schedule})
    with pytest.raises(ScheduleError, match=message):
        create_listener(entry(trigger_app, "tick"), invoker, VirtualClock(START),
                        {"TICK_SCHEDULE": schedule})


def test_missing_schedule_setting_is_named(trigger_app: SimpleNamespace, invoker: Invoker) -> None:
    with pytest.raises(ScheduleError, match=r"'%TICK_SCHEDULE%' does not resolve.*TICK_SCHEDULE"):
        create_listener(entry(trigger_app, "tick"), invoker, VirtualClock(START), {})


def test_bad_time_zone_is_rejected(trigger_app: SimpleNamespace, invoker: Invoker) -> None:
    env = {"TICK_SCHEDULE": "0 0 9 * * *", "WEBSITE_TIME_ZONE": "Pacific Standard Time"}
    with pytest.raises(ScheduleError, match="WEBSITE_TIME_ZONE='Pacific Standard Time'"):
        create_listener(entry(trigger_app, "tick"), invoker, VirtualClock(START), env)


# ---------------------------------------------------------------------- listener
@pytest.fixture
def started(stop_and_join: Callable) -> Iterator[Callable[[TimerListener], TimerListener]]:
    listeners: list[TimerListener] = []

    def start(listener: TimerListener) -> TimerListener:
        listeners.append(listener)
        listener.start()
        return listener

    yield start
    for listener in listeners:
        assert stop_and_join(listener), f"listener {listener.name} did not stop"


def step(clock: VirtualClock, listener: TimerListener, wait_for: Callable[..., None],
         to: datetime | None = None) -> None:
    """Advance the virtual clock to the next deadline (or `to`) and wait for the run to finish."""
    wait_for(lambda: clock.next_due() is not None, what="the listener to wait on the clock")
    before = listener.invocations
    clock.advance_to(to.timestamp() if to else clock.next_due())  # type: ignore[arg-type]
    wait_for(lambda: listener.invocations == before + 1, what="the timer to fire")
    wait_for(lambda: (clock.next_due() or 0) > clock.time(), what="the next deadline")


def timers(calls: list[tuple[str, object]], name: str) -> list[func.TimerRequest]:
    return [v for n, v in calls if n == name]  # type: ignore[misc]


def test_fires_once_per_occurrence_as_the_clock_advances(
        trigger_app: SimpleNamespace, invoker: Invoker, calls: list, started: Callable,
        wait_for: Callable[..., None]) -> None:
    clock = VirtualClock(START)
    listener = started(create_listener(entry(trigger_app, "tick"), invoker, clock,
                                       {"TICK_SCHEDULE": "*/10 * * * * *"}))
    assert listener.next_occurrence == START + timedelta(seconds=10)
    time.sleep(0.1)
    assert calls == []  # nothing fires while virtual time stands still
    for _ in range(5):
        step(clock, listener, wait_for)
    fired = timers(calls, "tick")
    assert len(fired) == 5
    assert all(isinstance(t, func.TimerRequest) and not t.past_due for t in fired)
    assert fired[0].schedule == {"AdjustForDST": True}
    assert fired[0].schedule_status == {}  # sub-minute schedules are not monitored: null status
    assert clock.now() == START + timedelta(seconds=50)
    assert listener.next_occurrence == START + timedelta(seconds=60)


def test_a_late_run_is_past_due_and_missed_occurrences_are_not_replayed(
        trigger_app: SimpleNamespace, invoker: Invoker, calls: list, started: Callable,
        wait_for: Callable[..., None]) -> None:
    clock = VirtualClock(START)
    listener = started(create_listener(entry(trigger_app, "tick"), invoker, clock,
                                       {"TICK_SCHEDULE": "*/10 * * * * *"}))
    step(clock, listener, wait_for, to=START + timedelta(seconds=95))  # 9 occurrences missed
    fired = timers(calls, "tick")
    assert len(fired) == 1 and fired[0].past_due
    assert listener.next_occurrence == START + timedelta(seconds=100)
    step(clock, listener, wait_for)
    assert [t.past_due for t in timers(calls, "tick")] == [True, False]


def test_monitored_schedule_status_and_dotnet_dates(
        trigger_app: SimpleNamespace, invoker: Invoker, calls: list, started: Callable,
        wait_for: Callable[..., None]) -> None:
    clock = VirtualClock(START)
    listener = started(create_listener(entry(trigger_app, "tick"), invoker, clock,
                                       {"TICK_SCHEDULE": "0 */5 * * * *"}))
    step(clock, listener, wait_for)
    step(clock, listener, wait_for)
    first, second = (t.schedule_status for t in timers(calls, "tick"))
    assert first == {"Last": "0001-01-01T00:00:00", "Next": "2024-01-01T00:05:00+00:00",
                     "LastUpdated": "2024-01-01T00:00:00+00:00"}
    assert second == {"Last": "2024-01-01T00:05:00+00:00", "Next": "2024-01-01T00:10:00+00:00",
                      "LastUpdated": "2024-01-01T00:05:00+00:00"}


def test_website_time_zone_schedules_in_local_time(
        trigger_app: SimpleNamespace, invoker: Invoker, calls: list, started: Callable,
        wait_for: Callable[..., None]) -> None:
    clock = VirtualClock(datetime(2024, 3, 30, 12, 0, tzinfo=UTC))
    env = {"TICK_SCHEDULE": "0 0 9 * * *", "WEBSITE_TIME_ZONE": "Europe/Berlin"}
    listener = started(create_listener(entry(trigger_app, "tick"), invoker, clock, env))
    # The clocks go forward overnight: 09:00 CEST on the 31st is 07:00 UTC.
    assert listener.next_occurrence == datetime(2024, 3, 31, 7, 0, tzinfo=UTC)
    step(clock, listener, wait_for)
    (timer,) = timers(calls, "tick")
    assert timer.schedule_status["Next"] == "2024-03-31T09:00:00+02:00"


def test_timespan_schedule_counts_from_start(
        trigger_app: SimpleNamespace, invoker: Invoker, calls: list, started: Callable,
        wait_for: Callable[..., None]) -> None:
    clock = VirtualClock(START)
    listener = started(create_listener(entry(trigger_app, "tick"), invoker, clock,
                                       {"TICK_SCHEDULE": "00:00:30"}))
    for _ in range(3):
        step(clock, listener, wait_for)
    assert clock.now() == START + timedelta(seconds=90)
    assert len(timers(calls, "tick")) == 3


def test_run_on_startup_fires_at_once(trigger_app: SimpleNamespace, invoker: Invoker,
                                      calls: list, started: Callable,
                                      wait_for: Callable[..., None]) -> None:
    clock = VirtualClock(START + timedelta(hours=12))
    listener = started(create_listener(entry(trigger_app, "at_startup"), invoker, clock))
    wait_for(lambda: len(timers(calls, "at_startup")) == 1, what="the startup run")
    (timer,) = timers(calls, "at_startup")
    assert not timer.past_due
    assert listener.next_occurrence == START + timedelta(days=1)  # then on schedule (midnight)


def test_a_failing_function_does_not_stop_the_schedule(
        trigger_app: SimpleNamespace, invoker: Invoker, calls: list, started: Callable,
        wait_for: Callable[..., None], caplog: pytest.LogCaptureFixture) -> None:
    clock = VirtualClock(START)
    listener = started(create_listener(entry(trigger_app, "failing_tick"), invoker, clock))
    with caplog.at_level(logging.ERROR, logger="devhost"):
        step(clock, listener, wait_for)
        step(clock, listener, wait_for)
    assert len(timers(calls, "failing_tick")) == 2
    assert "timer 'failing_tick' failed: ValueError: timer function failed on purpose" \
        in caplog.text  # the worker's text


def test_stop_is_prompt_with_a_real_clock(trigger_app: SimpleNamespace, invoker: Invoker,
                                          started: Callable, stop_and_join: Callable) -> None:
    listener = started(create_listener(entry(trigger_app, "tick"), invoker, RealClock(),
                                       {"TICK_SCHEDULE": "0 0 0 1 1 *"}))
    # The next occurrence is next New Year: a stop that waited for it would not end (no
    # latency limit: a loaded machine would make one flaky)
    assert listener._thread is not None
    assert stop_and_join(listener)
    assert listener._thread is None
