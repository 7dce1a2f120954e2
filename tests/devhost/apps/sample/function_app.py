"""An ordinary DFApp, written as the Durable docs show, with nothing tuned for devhost."""

import json
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func
from blueprint import bp

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(bp)


@app.route(route="orchestrators/{functionName}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client) -> func.HttpResponse:
    payload = req.get_json() if req.get_body() else None
    instance_id = await client.start_new(req.route_params["functionName"], client_input=payload)
    return client.create_check_status_response(req, instance_id)


@app.route(route="items/{id:int}/{rest?}", methods=["GET"])
def item(req: func.HttpRequest) -> func.HttpResponse:
    body = {"id": int(req.route_params["id"]), "rest": req.route_params.get("rest"),
            "q": req.params.get("q"), "method": req.method}
    return func.HttpResponse(json.dumps(body), mimetype="application/json", status_code=200)


@app.route(route="keyed", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def keyed(req: func.HttpRequest) -> func.HttpResponse:
    """Needs the function key where keys are checked (DEVHOST_FUNCTION_KEY, or Azure)."""
    return func.HttpResponse("in", status_code=200)


@app.orchestration_trigger(context_name="context")
def tour(context: df.DurableOrchestrationContext):
    """Chains activities, waits on a durable timer, fans out, retries, waits for an event and
    calls a sub-orchestrator."""
    name = context.get_input() or "world"
    first = yield context.call_activity("greet", name)
    second = yield context.call_activity("greet", first)
    context.set_custom_status({"stage": "timer"})
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=1))
    context.set_custom_status({"stage": "fan-out"})
    squares = yield context.task_all([context.call_activity("square", i) for i in range(5)])
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=100, max_number_of_attempts=3)
    flaky = yield context.call_activity_with_retry("flaky", retry, context.instance_id)
    context.set_custom_status({"stage": "waiting for approval"})
    approval = yield context.wait_for_external_event("approve")
    child = yield context.call_sub_orchestrator("child", 6)
    return {"greeting": second, "squares": squares, "flaky": flaky, "approval": approval,
            "child": child}


@app.orchestration_trigger(context_name="context")
def child(context: df.DurableOrchestrationContext):
    n = context.get_input()
    squared = yield context.call_activity("square", n)
    return squared + 1


@app.orchestration_trigger(context_name="context", orchestration="renamed_orchestration")
def counter(context: df.DurableOrchestrationContext):
    n = context.get_input() or 0
    if n < 3:
        yield context.call_activity("square", n)
        context.continue_as_new(n + 1)
        return None
    return f"done after {n} generations"


@app.orchestration_trigger(context_name="context")
def race(context: df.DurableOrchestrationContext):
    deadline = context.create_timer(context.current_utc_datetime + timedelta(hours=1))
    event = context.wait_for_external_event("go")
    winner = yield context.task_any([event, deadline])
    if winner == event:
        deadline.cancel()
        return {"event": event.result}
    return "timed out"


@app.orchestration_trigger(context_name="context")
def fails(context: df.DurableOrchestrationContext):
    yield context.call_activity("boom", "x")
    return "unreachable"
