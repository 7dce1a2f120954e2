"""One generic orchestrator that interprets a program (its JSON input), for the generated-program
fidelity tests (tests/devhost/fidelity/test_generated_orchestrators.py, test_known_divergence.py).

A program is a list of steps; the orchestrator returns {"results": [one result per step]}:

  {"op": "act", "v": n, "fail": bool}            call_activity; a failure is caught -> "caught"
  {"op": "retry", "v": n, "failures": f, "max": m}
                                                 call_activity_with_retry (first retry after 1 s);
                                                 the first f attempts fail; exhausted -> "caught"
  {"op": "timer", "s": seconds}                  create_timer(now + s) -> "timer"
  {"op": "all", "children": [child...]}          task_all -> [child results]
  {"op": "try_all", "children": [...], "after": n}
                                                 try: task_all except: "caught"; then always
                                                 call_activity(after) -> [that, after + 1]
  {"op": "any", "event": bool, "v": x}           task_any([wait_for_external_event, 1 h timer]);
                                                 the event wins only if raised before the wait
                                                 (event=true); the winner cancels the timer
  {"op": "wait", "when": "before"|"after", "v": x}
                                                 wait_for_external_event; "before": an activity
                                                 raises it to this instance first, "after": the
                                                 test raises it once customStatus says we wait
  {"op": "sub", "program": [...]}                call_sub_orchestrator(interpret) -> its results
  {"op": "can"}                                  continue_as_new once, resuming at the next step
                                                 with the results so far (+ "continued")

  child = {"kind": "ok"|"fail", "v": n} | {"kind": "retry", "v": n, "failures": f, "max": m}

Activity `work` returns v + 1, or raises for the first `fail_first` attempts of its key. Keys are
instance id / generation / step / child, so attempt counts are deterministic per logical call.

host.json runs one activity at a time (maxConcurrentActivityFunctions=1), in the order they were
scheduled, so which failure the orchestrator sees first is fixed by the program, not by thread
timing. Below `interpret` are a few fixed orchestrators for test_known_divergence.py and
test_oracle_gaps.py.
"""

import json
import threading
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

RETRY_FIRST_INTERVAL_MS = 1000
ANY_TIMEOUT = timedelta(hours=1)
ALWAYS = 1_000_000  # fail_first for an activity that always fails

_attempts: dict[str, int] = {}
_lock = threading.Lock()


@app.activity_trigger(input_name="job")
def work(job: dict) -> int:
    with _lock:
        attempt = _attempts[job["key"]] = _attempts.get(job["key"], 0) + 1
    if attempt <= job.get("fail_first", 0):
        raise RuntimeError(f"scripted failure: attempt {attempt} of {job['key']}")
    return job["v"] + 1


@app.activity_trigger(input_name="req")
@app.durable_client_input(client_name="client")
async def raise_self(req: dict, client) -> str:
    """Raise an event to the calling orchestration through the real Durable client."""
    await client.raise_event(req["instance"], req["name"], req["v"])
    return "raised"


def _job(key: str, v: int, fail_first: int = 0) -> dict:
    return {"key": key, "v": v, "fail_first": fail_first}


def _retry(max_attempts: int) -> df.RetryOptions:
    return df.RetryOptions(first_retry_interval_in_milliseconds=RETRY_FIRST_INTERVAL_MS,
                           max_number_of_attempts=max_attempts)


def _child(context, key: str, child: dict):
    if child["kind"] == "retry":
        return context.call_activity_with_retry(
            "work", _retry(child["max"]), _job(key, child["v"], child["failures"]))
    return context.call_activity(
        "work", _job(key, child["v"], ALWAYS if child["kind"] == "fail" else 0))


@app.orchestration_trigger(context_name="context")
def interpret(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    program, gen = spec["program"], spec.get("gen", 0)
    results = list(spec.get("carry", []))
    for i in range(spec.get("start", 0), len(program)):
        step, key = program[i], f"{context.instance_id}/g{gen}/s{i}"
        op = step["op"]
        if op == "act":
            try:
                r = yield context.call_activity(
                    "work", _job(key, step["v"], ALWAYS if step.get("fail") else 0))
            except Exception:
                r = "caught"
        elif op == "retry":
            try:
                r = yield context.call_activity_with_retry(
                    "work", _retry(step["max"]), _job(key, step["v"], step["failures"]))
            except Exception:
                r = "caught"
        elif op == "timer":
            yield context.create_timer(context.current_utc_datetime + timedelta(seconds=step["s"]))
            r = "timer"
        elif op == "all":
            r = yield context.task_all(
                [_child(context, f"{key}/c{j}", c) for j, c in enumerate(step["children"])])
        elif op == "try_all":
            try:
                r = yield context.task_all(
                    [_child(context, f"{key}/c{j}", c) for j, c in enumerate(step["children"])])
            except Exception:
                r = "caught"
            after = yield context.call_activity("work", _job(f"{key}/after", step["after"]))
            r = [r, after]
        elif op == "any":
            name = f"any-g{gen}-s{i}"
            if step["event"]:
                yield context.call_activity(
                    "raise_self", {"instance": context.instance_id, "name": name, "v": step["v"]})
            # distinct per step, so no two canceled timers ever fire at the same instant
            timer = context.create_timer(
                context.current_utc_datetime + ANY_TIMEOUT + timedelta(seconds=i))
            event = context.wait_for_external_event(name)
            winner = yield context.task_any([event, timer])
            if winner == event:
                timer.cancel()
                r = ["event", event.result]
            else:
                r = "timeout"
        elif op == "wait":
            name = f"wait-g{gen}-s{i}"
            if step["when"] == "before":
                yield context.call_activity(
                    "raise_self", {"instance": context.instance_id, "name": name, "v": step["v"]})
            else:
                context.set_custom_status({"waiting": name, "v": step["v"]})
            r = yield context.wait_for_external_event(name)
        elif op == "sub":
            child = yield context.call_sub_orchestrator(
                "interpret", {"program": step["program"]}, f"{context.instance_id}:g{gen}:s{i}")
            r = child["results"]
        elif op == "can":
            if gen == 0:
                context.continue_as_new({"program": program, "gen": 1, "start": i + 1,
                                         "carry": results + ["continued"]})
                return None
            r = "continued"
        else:
            raise ValueError(f"unknown step {json.dumps(step)}")
        results.append(r)
    return {"results": results}


# ---- fixed orchestrators for test_known_divergence.py and test_oracle_gaps.py -------------------
@app.activity_trigger(input_name="n")
def square(n: int) -> int:
    return n * n


@app.activity_trigger(input_name="x")
def boom(x: str) -> str:
    raise ValueError(f"boom: {x}")


@app.activity_trigger(input_name="job")
def flaky(job: dict) -> str:
    """Fails the first `failures` attempts of `key`, then succeeds."""
    with _lock:
        attempt = _attempts[job["key"]] = _attempts.get(job["key"], 0) + 1
    if attempt <= job["failures"]:
        raise RuntimeError(f"transient failure {attempt}")
    return f"succeeded on attempt {attempt}"


@app.orchestration_trigger(context_name="context")
def failfast_retry(context: df.DurableOrchestrationContext):
    """durable-local-host.md §2.6: a task_all failure caught by user code while a retried task is
    still in flight, then square(4). With maxConcurrentActivityFunctions=1, boom (scheduled first)
    fails before flaky's first attempt has run."""
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=100, max_number_of_attempts=3)
    try:
        yield context.task_all([
            context.call_activity("boom", "x"),
            context.call_activity_with_retry(
                "flaky", retry, {"key": context.instance_id, "failures": 2})])
    except Exception:
        pass
    return (yield context.call_activity("square", 4))


@app.orchestration_trigger(context_name="context")
def failfast_retry_flaky_first(context: df.DurableOrchestrationContext):
    """The same, with the children swapped: flaky's first attempt fails *before* boom does, and
    flaky then succeeds on its second attempt."""
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=100, max_number_of_attempts=3)
    try:
        yield context.task_all([
            context.call_activity_with_retry(
                "flaky", retry, {"key": context.instance_id, "failures": 1}),
            context.call_activity("boom", "x")])
    except Exception:
        pass
    return (yield context.call_activity("square", 4))


@app.orchestration_trigger(context_name="context")
def timers_tie(context: df.DurableOrchestrationContext):
    """task_any over two timers due at the same instant: both TimerFired arrive in one episode,
    the first one completes the orchestration."""
    due = context.current_utc_datetime + timedelta(minutes=1)
    first, second = context.create_timer(due), context.create_timer(due)
    winner = yield context.task_any([first, second])
    return "first" if winner == first else "second"
