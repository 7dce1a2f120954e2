"""A small orchestration whose activities record every execution in $CRASH_LOG."""

import os
from datetime import timedelta

import azure.durable_functions as df

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def pipeline(context: df.DurableOrchestrationContext):
    a = yield context.call_activity("step", "a")
    b = yield context.call_activity("step", a + "b")
    yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=300))
    fan = yield context.task_all([context.call_activity("step", f"{b}-{i}") for i in range(3)])
    return {"chain": b, "fan": fan}


@app.activity_trigger(input_name="value")
def step(value: str) -> str:
    with open(os.environ["CRASH_LOG"], "a", encoding="utf-8") as log:
        log.write(value + "\n")
    return value
