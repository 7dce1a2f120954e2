"""The harness itself keeps the platform's rules (dev/harness/engine.py): what an orchestrator sees
of failures, retries, timers, events, continue-as-new and sub-orchestrations is what the SDK and
the Durable extension show it. Run on a small app of its own, so each rule is seen alone."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
import pytest
from harness import START, Harness, HarnessError

bp = df.Blueprint()
ATTEMPTS: list[Any] = []


@bp.activity_trigger(input_name="payload")
def echo(payload: Any) -> Any:
    return payload


@bp.activity_trigger(input_name="payload")
def boom(payload: Any) -> Any:
    ATTEMPTS.append(payload)
    raise ValueError(f"nope {payload}")


class Point:
    """A custom class crossing the boundary the SDK's way (to_json/from_json)."""

    def __init__(self, x: int) -> None:
        self.x = x

    @staticmethod
    def to_json(obj: Point) -> dict[str, int]:
        return {"x": obj.x}

    @classmethod
    def from_json(cls, data: dict[str, int]) -> Point:
        return cls(data["x"])


@bp.activity_trigger(input_name="payload")
def make_point(payload: Any) -> Point:
    return Point(payload)


@bp.activity_trigger(input_name="payload")
def a_set(payload: Any) -> Any:
    return {1, 2}  # not JSON


@bp.orchestration_trigger(context_name="context")
def catches(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("boom", 1)
    except Exception as exc:
        return str(exc)
    return None


@bp.orchestration_trigger(context_name="context")
def retries(context: df.DurableOrchestrationContext):
    started = context.current_utc_datetime
    try:
        yield context.call_activity_with_retry("boom", df.RetryOptions(5_000, 3), "r")
    except Exception as exc:
        return {"after": (context.current_utc_datetime - started).total_seconds(),
                "error": str(exc).split(" \n ")[0]}
    return None


@bp.orchestration_trigger(context_name="context")
def races(context: df.DurableOrchestrationContext):
    event = context.wait_for_external_event("go")
    timer = context.create_timer(context.current_utc_datetime + timedelta(hours=1))
    winner = yield context.task_any([event, timer])
    if winner == event:
        timer.cancel()
        return {"winner": "event", "value": event.result,
                "at": context.current_utc_datetime.isoformat()}
    return {"winner": "timer", "at": context.current_utc_datetime.isoformat()}


@bp.orchestration_trigger(context_name="context")
def waits_later(context: df.DurableOrchestrationContext):
    yield context.create_timer(context.current_utc_datetime + timedelta(minutes=10))
    value = yield context.wait_for_external_event("go")
    return value


@bp.orchestration_trigger(context_name="context")
def waits_twice(context: df.DurableOrchestrationContext):
    yield context.create_timer(context.current_utc_datetime + timedelta(minutes=10))
    first = yield context.wait_for_external_event("go")
    second = yield context.wait_for_external_event("go")
    return [first, second]


@bp.orchestration_trigger(context_name="context")
def abandons(context: df.DurableOrchestrationContext):
    first = context.wait_for_external_event("go")
    timer = context.create_timer(context.current_utc_datetime + timedelta(minutes=1))
    yield context.task_any([first, timer])  # the timer wins; `first` stays open
    second = context.wait_for_external_event("go")
    return (yield second)


@bp.orchestration_trigger(context_name="context")
def typed(context: df.DurableOrchestrationContext):
    point = yield context.call_activity(make_point, 3)  # the function itself, not its name
    return {"type": type(point).__name__, "x": point.x}


@bp.orchestration_trigger(context_name="context")
def not_json(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("a_set", None)
    except Exception as exc:
        return str(exc).split(" \n ")[0]
    return None


@bp.orchestration_trigger(context_name="context")
def fans(context: df.DurableOrchestrationContext):
    try:
        yield context.task_all([context.call_activity("echo", 1), context.call_activity("boom", 2)])
    except Exception as exc:
        return str(exc).split(" \n ")[0]
    return None


@bp.orchestration_trigger(context_name="context")
def counts(context: df.DurableOrchestrationContext):
    doc = context.get_input()
    if doc["n"] < 3:
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=1))
        context.continue_as_new({"n": doc["n"] + 1})
        return None
    return (yield context.wait_for_external_event("done"))


@bp.orchestration_trigger(context_name="context")
def child_fails(context: df.DurableOrchestrationContext):
    yield context.call_activity("echo", 1)
    raise RuntimeError("the child gave up")


@bp.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    try:
        yield context.call_sub_orchestrator("child_fails", None, "the-child")
    except Exception as exc:
        return str(exc)
    return None


@bp.orchestration_trigger(context_name="context")
def yields_junk(context: df.DurableOrchestrationContext):
    yield 42


@bp.orchestration_trigger(context_name="context")
def sends_junk(context: df.DurableOrchestrationContext):
    yield context.call_activity("echo", object())


APP = df.DFApp()
APP.register_functions(bp)


@pytest.fixture
def h():
    ATTEMPTS.clear()
    with Harness(app=APP) as harness:
        yield harness


def finish(h: Harness, name: str, input_: Any = None) -> Any:
    run = h.start(name, input_)
    h.run()
    return h.output(run)


def test_an_activity_failure_reaches_the_orchestrator_as_the_sdk_raises_it(h):
    text = finish(h, "catches")
    reason, details = text.split(" \n ")
    assert reason == "Activity function 'boom' failed:  ValueError: nope 1"
    assert json.loads(details)["InnerException"]["Message"].startswith(
        "Result: Failure\nException: ValueError: nope 1\nStack: ")


def test_host_retries_wait_the_interval_after_every_attempt_the_last_included(h):
    out = finish(h, "retries")
    assert ATTEMPTS == ["r", "r", "r"]
    assert out == {"after": 15.0, "error": "Activity function 'boom' failed:  ValueError: nope r"}


def test_task_any_answers_the_child_and_time_jumps_to_the_timer(h):
    assert finish(h, "races") == {"winner": "timer",
                                  "at": (START + timedelta(hours=1)).isoformat()}


def test_an_event_arrives_as_the_json_text_the_client_sent(h):
    run = h.start("races")
    h.run(until=lambda: h.awaiting(run) == ["event:go", "timer"])
    h.raise_event(run, "go", {"approved": True})
    h.run()
    assert h.output(run) == {"winner": "event", "value": '{"approved": true}',
                             "at": START.isoformat()}


def test_an_event_raised_before_anyone_waits_is_kept_for_the_wait(h):
    run = h.start("waits_later")
    h.raise_event(run, "go", 7)
    h.run()
    assert h.output(run) == "7"


def test_the_newest_open_wait_takes_the_event_as_the_sdk_gives_it(h):
    """The SDK pops the newest open task of the name (TaskOrchestrationExecutor.set_task_value):
    the wait that lost a task_any stays open but is passed over."""
    run = h.start("abandons")
    h.run()
    assert h.awaiting(run) == ["event:go"]
    h.raise_event(run, "go", 1)
    h.run()
    assert h.output(run) == "1"


def test_with_the_fifo_what_if_the_abandoned_wait_takes_it_and_the_run_stalls():
    with Harness(app=APP, event_order="fifo") as h:
        run = h.start("abandons")
        h.run()
        h.raise_event(run, "go", 1)
        h.run()
        assert h.awaiting(run) == ["event:go"]  # the first wait took it
        assert h.instances[run].running


def test_an_early_event_answers_every_later_wait_of_its_name_as_in_the_sdk(h):
    """azure-functions-durable-python #507: an event raised while no wait of its name is open is
    never dropped from the SDK's deferred tasks; fifo (another SDK's rule) takes it once."""
    run = h.start("waits_twice")
    h.raise_event(run, "go", "early")
    h.run()
    assert h.output(run) == ['"early"', '"early"']
    with Harness(app=APP, event_order="fifo") as fifo:
        run = fifo.start("waits_twice")
        fifo.raise_event(run, "go", "early")
        fifo.run()
        assert fifo.awaiting(run) == ["event:go"]


def test_an_unknown_event_order_is_refused():
    with pytest.raises(HarnessError, match="event_order must be 'lifo'"):
        Harness(app=APP, event_order="random")


def test_an_output_that_is_not_json_fails_the_activity(h):
    assert finish(h, "not_json").startswith(
        "Activity function 'a_set' failed:  ValueError: activity trigger output must be json "
        "serializable")


def test_a_call_by_function_decodes_the_result_as_its_return_annotation(h):
    assert finish(h, "typed") == {"type": "Point", "x": 3}
    assert [c.name for c in h.activity_calls] == ["make_point"]


def test_task_all_fails_with_the_first_failure(h):
    assert finish(h, "fans") == "Activity function 'boom' failed:  ValueError: nope 2"


def test_continue_as_new_starts_afresh_and_drops_events_not_yet_taken(h):
    """The extension's ContinueAsNew without preserveUnprocessedEvents (the SDK sends none)
    discards what the execution received but did not take; a later event reaches the new one."""
    run = h.start("counts", {"n": 0})
    h.raise_event(run, "done", "lost")
    h.run()
    assert h.instances[run].generations == 4
    assert h.clock == START + timedelta(seconds=3)
    assert h.awaiting(run) == ["event:done"]
    h.raise_event(run, "done", "kept")
    h.run()
    assert h.output(run) == '"kept"'


def test_a_failed_sub_orchestration_reaches_its_parent_as_the_sdk_raises_it(h):
    assert finish(h, "parent") == ("Orchestrator function 'child_fails' failed: the child "
                                   "gave up \n None")
    assert h.status("the-child").runtime_status.value == "Failed"


def test_a_sub_orchestration_id_in_use_refuses_a_second_start(h):
    h.start("waits_later", None, "the-child")
    assert "already exists: the-child" in finish(h, "parent")


def test_yielding_something_else_than_a_task_fails_the_orchestration(h):
    run = h.start("yields_junk")
    h.run()
    assert h.status(run).runtime_status.value == "Failed"
    assert "yielded 42, not a task" in h.output(run)


def test_an_input_that_is_not_json_fails_when_the_call_is_made(h):
    run = h.start("sends_junk")
    h.run()
    assert h.status(run).runtime_status.value == "Failed"
    assert "does not expose a `to_json` function" in h.output(run)  # the SDK's df_dumps
    assert h.activity_calls == []


def test_a_terminated_orchestration_ends_and_its_events_are_refused(h):
    run = h.start("waits_later")
    h.run()
    h.terminate(run, "by hand")
    assert h.status(run).runtime_status.value == "Terminated" and h.output(run) == "by hand"
    with pytest.raises(HarnessError, match="is gone"):
        h.raise_event(run, "go", 1)


def test_the_harness_runs_only_with_its_fakes_installed():
    harness = Harness(app=APP)
    harness.start("catches")
    with pytest.raises(HarnessError, match="context manager"):
        harness.run()
