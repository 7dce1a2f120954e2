"""Orchestrations that wait more than once for one event name, for devhost's external-event rules
(tests/devhost/test_external_events.py). Each says which wait it is in through its custom status
and returns which task won each wait and when (its clock reading)."""

from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def fresh_waits(context: df.DurableOrchestrationContext):
    """A fresh wait for "go" in each of two waits; the first loses to a 10 s timer and stays
    open. The second's timer (an hour) is not canceled when the event wins, so only the event
    can complete the host's await of that wait before the hour is up."""
    first = context.wait_for_external_event("go")
    winner = yield context.task_any([first, context.create_timer(
        context.current_utc_datetime + timedelta(seconds=10))])
    context.set_custom_status("second")
    second = context.wait_for_external_event("go")
    winner = yield context.task_any([second, context.create_timer(
        context.current_utc_datetime + timedelta(hours=1))])
    return {"second": "event" if winner == second else "timer",
            "first_completed": first.is_completed,
            "decided_at": context.current_utc_datetime.timestamp()}


@app.orchestration_trigger(context_name="context")
def reused_wait(context: df.DurableOrchestrationContext):
    """One wait for "go", yielded in two waits (the SDK sends its action only the first time);
    the second wait's timer is `hours` long and canceled when the event wins."""
    hours = context.get_input()
    go = context.wait_for_external_event("go")
    yield context.task_any([go, context.create_timer(
        context.current_utc_datetime + timedelta(seconds=10))])
    context.set_custom_status("second")
    timer = context.create_timer(context.current_utc_datetime + timedelta(hours=hours))
    winner = yield context.task_any([go, timer])
    if winner == go:
        timer.cancel()
    return {"second": "event" if winner == go else "timer",
            "decided_at": context.current_utc_datetime.timestamp()}
