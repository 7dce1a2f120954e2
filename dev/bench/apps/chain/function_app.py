"""Benchmark app: a sequential chain (history grows by 4 events per step) and a wide fan-out."""

import azure.durable_functions as df

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    total = 0
    for i in range(context.get_input()):
        total += yield context.call_activity("noop", i)
    return total


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    n, batch = context.get_input()
    done = 0
    for start in range(0, n, batch):
        results = yield context.task_all([context.call_activity("noop", i)
                                          for i in range(start, min(n, start + batch))])
        done += len(results)
    return done


@app.activity_trigger(input_name="i")
def noop(i: int) -> int:
    return i
