"""A test app for the queue, timer and Event Grid triggers. Every function records its argument
in CALLS as (function name, value); names that vary per test come from %app settings%."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

CALLS: list[tuple[str, object]] = []


@app.queue_trigger(arg_name="msg", queue_name="%RECORDER_QUEUE%", connection="AzureWebJobsStorage")
def recorder(msg: func.QueueMessage) -> None:
    CALLS.append(("recorder", msg))


@app.queue_trigger(arg_name="msg", queue_name="%FAILING_QUEUE%", connection="AzureWebJobsStorage")
def failing(msg: func.QueueMessage) -> None:
    CALLS.append(("failing", msg))
    raise RuntimeError(f"cannot process {msg.get_body()!r}")


@app.queue_trigger(arg_name="msg", queue_name="%CLIENT_QUEUE%", connection="OtherStorage")
@app.durable_client_input(client_name="client")
async def with_client(msg: func.QueueMessage, client: df.DurableOrchestrationClient) -> None:
    CALLS.append(("with_client", (msg, client)))


@app.timer_trigger(arg_name="timer", schedule="%TICK_SCHEDULE%")
def tick(timer: func.TimerRequest) -> None:
    CALLS.append(("tick", timer))


@app.timer_trigger(arg_name="timer", schedule="0 0 0 * * *", run_on_startup=True)
def at_startup(timer: func.TimerRequest) -> None:
    CALLS.append(("at_startup", timer))


@app.timer_trigger(arg_name="timer", schedule="*/5 * * * * *")
def failing_tick(timer: func.TimerRequest) -> None:
    CALLS.append(("failing_tick", timer))
    raise ValueError("timer function failed on purpose")


@app.event_grid_trigger(arg_name="event")
def on_event(event: func.EventGridEvent) -> None:
    CALLS.append(("on_event", event))
    data = event.get_json()
    if isinstance(data, dict) and data.get("fail"):
        raise ValueError(f"event {event.id} asked to fail")


@app.event_grid_trigger(arg_name="event")
def on_cloud_event(event: func.CloudEvent) -> None:
    CALLS.append(("on_cloud_event", event))
