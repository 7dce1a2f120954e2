"""Orchestrations whose clock readings show when the backend dispatched each episode."""

from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def timers(context: df.DurableOrchestrationContext):
    """For each duration: an activity, then a durable timer of that many seconds. Returns, per
    step, the orchestration's clock when it scheduled the activity, when its result arrived and
    when the timer's episode ran (each episode's clock is its dispatch time)."""
    steps = []
    for seconds in context.get_input():
        asked = context.current_utc_datetime
        yield context.call_activity("echo", seconds)
        answered = context.current_utc_datetime
        yield context.create_timer(answered + timedelta(seconds=seconds))
        fired = context.current_utc_datetime
        steps.append({"asked": asked.timestamp(), "answered": answered.timestamp(),
                      "timerSet": answered.timestamp(), "fired": fired.timestamp()})
    return steps


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    """activity -> 5 s timer -> sub-orchestration (one activity) -> done."""
    yield context.call_activity("echo", 1)
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=5))
    result = yield context.call_sub_orchestrator("leaf", 2)
    return result


@app.orchestration_trigger(context_name="context")
def leaf(context: df.DurableOrchestrationContext):
    value = yield context.call_activity("echo", context.get_input())
    return value


@app.activity_trigger(input_name="value")
def echo(value: int) -> int:
    return value
