"""The in-process orchestration harness: the app's orchestrators and activities, run in this
process on an instant clock, against in-memory fakes of Azure and of the app's storage.

What it is the host for:
* **orchestrators**, looked up by name in the app's registration (`function_app.app`), driven
  as the SDK drives them: the generator is sent each result and thrown each failure, in the
  form the SDK raises it (an activity's failure is `Exception(f"{Reason} \\n {Details}")` with
  the Durable extension's Reason, `Activity function 'NAME' failed:  Type: message`, built by
  devhost's `activity_failure`; a sub-orchestration's, `Orchestrator function 'NAME' failed:
  ...`); the context is `FakeOrchestrationContext` (context.py), its tasks the SDK's own;
* **activities**, looked up by name too and called through their registration, with the input
  and the output round-tripped through JSON as the Python worker does (`df_loads`/`df_dumps`):
  an output that is not JSON fails the activity, as in Azure;
* host-side retries (`call_*_with_retry`) as DTFx's RetryInterceptor makes them: after each
  failed attempt a timer of the retry interval, then the next attempt; after the last one a
  timer too, then the failure (the SDK waits for that timer as well);
* sub-orchestrations with their instance ids (an id still running refuses a new start), timers,
  `continue_as_new` (a fresh execution with the new input);
* external events as the SDK hands them to the orchestrator's tasks (`event_order="lifo"`, the
  default): by name, to the *newest* wait still open (a wait that lost a `task_any` stays open
  and keeps its place: TaskOrchestrationExecutor.set_task_value pops the last); an event raised
  while no wait of its name is open is kept and answers every later wait of that name (the SDK
  never drops it, azure-functions-durable-python #507; a later such event replaces it). With
  `event_order="fifo"` the *oldest* open wait gets it and an early event is queued and taken
  once (durabletask-python's rule, another SDK: a what-if, to prove the app does not lean on
  the order). Events a run has received but not taken end with its execution at continue-as-new
  (the SDK sends no preserveUnprocessedEvents); `raise_event` double-encodes the data as the
  SDK's client does (azure-functions-durable-python #295). Which of the *host's* waiters an
  event completes (docs/devhost.md, "External events") is devhost's to model: the harness runs
  no host side;
* HTTP entry points (`http`), called with a `FakeDurableClient` as their durable client.

Time: `clock` starts at START and moves only when nothing else can happen: then it jumps to the
earliest timer (an instant clock, Temporal's time-skipping). Activities take no time on it;
the fake control plane's operations and jobs end when their durations have passed on it.

Determinism: ready work runs first come, first served; timers due at the same instant fire in
the order they were made. The same test makes the same calls in the same order.

Where it is kinder than Azure (the second tier, devhost under `make test`, covers these): it
never replays, so a non-deterministic orchestrator is not caught here (devhost's fidelity oracle
replays every episode); a `task_all` fails as soon as a child fails and the orchestrator moves
on at once, where the host still waits for every child before it schedules anything new
(docs/devhost.md); no host side for events either: the orchestrator goes on when the SDK's
task completes, where the host may still await a wait whose event went to another waiter or
whose canceled timer was a long timer's (docs/devhost.md, "External events"); activities run
one at a time and take no time; an activity runs exactly once per attempt (Azure runs it at
least once); no size limits (history, custom status, inputs); no long timers, entities,
call_http, suspend or rewind.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
import json
import traceback
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import GeneratorType
from typing import Any

import azure.functions as func
from azure.durable_functions.models.actions.CallActivityAction import CallActivityAction
from azure.durable_functions.models.actions.CallActivityWithRetryAction import (
    CallActivityWithRetryAction,
)
from azure.durable_functions.models.actions.CallSubOrchestratorAction import (
    CallSubOrchestratorAction,
)
from azure.durable_functions.models.actions.CallSubOrchestratorWithRetryAction import (
    CallSubOrchestratorWithRetryAction,
)
from azure.durable_functions.models.actions.CreateTimerAction import CreateTimerAction
from azure.durable_functions.models.actions.WaitForExternalEventAction import (
    WaitForExternalEventAction,
)
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus
from azure.durable_functions.models.RetryOptions import RetryOptions
from azure.durable_functions.models.Task import AtomicTask, CompoundTask, TaskBase, TaskState
from azure.functions._durable_functions import df_dumps, df_loads
from dateutil.tz import tzutc
from devhost.durable.engine import activity_failure
from devhost.worker import FunctionFailed

from .client import FakeDurableClient, HarnessError
from .context import FakeOrchestrationContext
from .registry import registry_of, repo_app

START = datetime(2026, 11, 24, 2, 30, tzinfo=tzutc())
LIFO, FIFO = "lifo", "fifo"  # which open wait of a name an event answers (module docstring)
RUNNING, PENDING = "Running", "Pending"
COMPLETED, FAILED, TERMINATED = "Completed", "Failed", "Terminated"
MAX_STEPS = 200_000


# ---- instances ----------------------------------------------------------------------------------
@dataclass
class _ParentLink:
    instance: Instance
    execution: int
    task: TaskBase
    name: str
    input_json: str | None
    retry: RetryOptions | None
    attempt: int


@dataclass
class Instance:
    id: str
    name: str
    input_json: str | None
    created: datetime
    parent: _ParentLink | None = None
    status: str = PENDING
    output: Any = None
    custom_status: Any = None
    updated: datetime | None = None
    execution: int = 0
    generations: int = 1
    context: FakeOrchestrationContext | None = None
    generator: Any = None
    current: TaskBase | None = None
    started: bool = False
    waiters: dict[str, deque[TaskBase]] = field(default_factory=lambda: defaultdict(deque))
    buffered: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))

    @property
    def running(self) -> bool:
        return self.status in (PENDING, RUNNING)


@dataclass(frozen=True)
class ActivityCall:
    """One activity invocation: its input as the worker gave it to the function, its output as
    the JSON that went back to the host (a custom object in its SDK envelope)."""

    instance_id: str
    name: str
    input: Any
    output: Any
    error: str | None
    at: datetime
    attempt: int


# ---- the harness --------------------------------------------------------------------------------
class Harness:
    """See the module docstring. Use it as a context manager: it installs its fakes in the
    activities' seam (activities/activity.py `fakes`) and takes them out again."""

    def __init__(self, *, gateway: Any = None, ledger: Any = None, reports: Any = None,
                 app: Any = None, start: datetime = START, event_order: str = LIFO) -> None:
        if event_order not in (LIFO, FIFO):
            raise HarnessError(f"event_order must be {LIFO!r} (the SDK's) or {FIFO!r}, got "
                               f"{event_order!r}")
        self.event_order = event_order
        self.registry = registry_of(app if app is not None else repo_app())
        self.clock = start
        self.fakes = {k: v for k, v in (("gateway", gateway), ("ledger", ledger),
                                        ("reports", reports)) if v is not None}
        self.instances: dict[str, Instance] = {}
        self.activity_calls: list[ActivityCall] = []
        self.client = FakeDurableClient(self)
        self._ready: deque[Callable[[], None]] = deque()
        self._timers: list[tuple[datetime, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._installed = False

    @property
    def gateway(self) -> Any:
        return self.fakes.get("gateway")

    @property
    def ledger(self) -> Any:
        return self.fakes.get("ledger")

    @property
    def reports(self) -> Any:
        return self.fakes.get("reports")

    # ---- the fakes' seam ------------------------------------------------------------------------
    def __enter__(self) -> Harness:
        seam = self.registry.seam
        if self.fakes and seam is None:
            raise HarnessError("the app's activities have no seam for fakes (a module-level "
                               "`fakes` dict, activities/activity.py)")
        if seam:
            raise HarnessError("another harness is installed in the activities' seam")
        if seam is not None:
            seam.update(self.fakes)
        self._installed = True
        return self

    def __exit__(self, *_: Any) -> None:
        if self.registry.seam is not None:
            self.registry.seam.clear()
        self._installed = False

    # ---- starting and steering ------------------------------------------------------------------
    def start(self, name: str, input_: Any = None, instance_id: str | None = None) -> str:
        """Start an orchestration as the Durable client's start_new does."""
        instance_id = instance_id or f"{name}-{next(self._seq)}"
        existing = self.instances.get(instance_id)
        if existing is not None and existing.running:
            raise HarnessError(f"An Orchestration instance with the status {existing.status} "
                               f"already exists: {instance_id}")
        if name.lower() not in self.registry.orchestrators:
            raise HarnessError(f"The function '{name}' doesn't exist, is disabled, or is not an "
                               "orchestrator function.")
        self._create(instance_id, name, None if input_ is None else df_dumps(input_), None)
        return instance_id

    def raise_event(self, instance_id: str, name: str, data: Any = None) -> None:
        """An external event, as the SDK's client raises it: the orchestration receives the
        JSON text of `data` (a str), as in Azure."""
        self._raise(instance_id, name, json.dumps(json.dumps(data)))

    def terminate(self, instance_id: str, reason: str) -> None:
        inst = self._instance(instance_id)
        if not inst.running:
            raise HarnessError(f"Instance {instance_id} is gone: either completed or failed")
        self._end(inst, TERMINATED, reason)

    def run(self, until: Callable[[], bool] | None = None, *,
            max_steps: int = MAX_STEPS) -> None:
        """Run until `until()` holds, or until nothing can happen without the outside world
        (every orchestration done or waiting for an external event)."""
        if not self._installed:
            raise HarnessError("use the harness as a context manager (`with Harness(...)`), "
                               "so the activities reach its fakes")
        for _ in range(max_steps):
            if until is not None and until():
                return
            if self._ready:
                self._ready.popleft()()
            elif self._timers:
                fire_at, _, fire = heapq.heappop(self._timers)
                self.clock = max(self.clock, fire_at)
                fire()
            else:
                if until is not None and not until():
                    raise HarnessError("nothing more can happen and the condition never held; "
                                       f"waiting: {self.waiting()}")
                return
        raise HarnessError(f"still busy after {max_steps} steps: an orchestration that never "
                           f"ends? waiting: {self.waiting()}")

    # ---- looking ------------------------------------------------------------------------------
    def status(self, instance_id: str) -> DurableOrchestrationStatus:
        inst = self.instances.get(instance_id)
        if inst is None:
            return DurableOrchestrationStatus()
        return DurableOrchestrationStatus(
            name=inst.name, instanceId=inst.id, createdTime=_iso(inst.created),
            lastUpdatedTime=_iso(inst.updated or inst.created),
            input=None if inst.input_json is None else json.loads(inst.input_json),
            output=inst.output, runtimeStatus=inst.status, customStatus=inst.custom_status)

    def output(self, instance_id: str) -> Any:
        inst = self._instance(instance_id)
        if inst.running:
            raise HarnessError(f"{instance_id} has not finished: it waits for "
                               f"{self.awaiting(instance_id)}")
        return inst.output

    def custom_status(self, instance_id: str) -> Any:
        return self._instance(instance_id).custom_status

    def awaiting(self, instance_id: str) -> list[str]:
        """What an orchestration waits for now: "timer", "activity:NAME",
        "suborchestration:NAME", "event:NAME"."""
        inst = self.instances.get(instance_id)
        if inst is None or not inst.running or inst.current is None:
            return []
        return [_label(t) for t in _leaves(inst.current) if t.state is TaskState.RUNNING]

    def waiting(self) -> dict[str, list[str]]:
        return {i.id: self.awaiting(i.id) for i in self.instances.values() if i.running}

    def calls(self, name: str) -> list[ActivityCall]:
        return [c for c in self.activity_calls if c.name.lower() == name.lower()]

    # ---- HTTP entry points ----------------------------------------------------------------------
    def http(self, method: str, path: str, body: Any = None, *,
             headers: dict[str, str] | None = None,
             params: dict[str, str] | None = None) -> func.HttpResponse:
        """Call the app's HTTP function for `method path` ("/api/..."), with this harness's
        durable client, as the host would; the answer as the function gave it."""
        for route in self.registry.routes:
            match = route.pattern.match(path)
            if match and method.upper() in route.methods:
                data = b"" if body is None else body if isinstance(body, bytes) else \
                    json.dumps(body).encode()
                request = func.HttpRequest(method.upper(), f"https://fake.local{path}",
                                           headers={"Content-Type": "application/json",
                                                    **(headers or {})},
                                           params=params or {}, route_params=match.groupdict(),
                                           body=data)
                kwargs: dict[str, Any] = {route.request: request}
                if route.client:
                    kwargs[route.client] = self.client
                answer = route.function(**kwargs)
                return asyncio.run(answer) if inspect.iscoroutine(answer) else answer
        raise HarnessError(f"no HTTP function of the app answers {method} {path}")

    # ---- inside: instances --------------------------------------------------------------------
    def _instance(self, instance_id: str) -> Instance:
        inst = self.instances.get(instance_id)
        if inst is None:
            raise HarnessError(f"No instance with ID {instance_id} found.")
        return inst

    def _create(self, instance_id: str, name: str, input_json: str | None,
                parent: _ParentLink | None) -> Instance:
        inst = Instance(instance_id, name, input_json, self.clock, parent)
        self.instances[instance_id] = inst
        execution = inst.execution
        self._ready.append(lambda: self._begin(inst, execution))
        return inst

    def _begin(self, inst: Instance, execution: int) -> None:
        if inst.execution != execution or not inst.running:
            return
        inst.status, inst.updated = RUNNING, self.clock
        inst.context = FakeOrchestrationContext(
            inst.id, inst.input_json, self.clock,
            inst.parent.instance.id if inst.parent else None)
        inst.current, inst.started = None, False
        try:
            code = self.registry.orchestrators[inst.name.lower()](inst.context)
        except Exception as exc:  # noqa: BLE001 - the orchestrator failed before its first yield
            self._fail(inst, exc)
            return
        if not isinstance(code, GeneratorType):  # a plain function: its return is the output
            self._return(inst, code)
            return
        inst.generator = code
        self._resume(inst)

    def _resume(self, inst: Instance) -> None:
        """Run the generator for as long as what it waits for is done (the SDK's
        resume_user_code)."""
        while inst.running and inst.generator is not None:
            current = inst.current
            if inst.started and current is not None and current.state is TaskState.RUNNING:
                return
            assert inst.context is not None
            inst.context.current_utc_datetime = self.clock
            try:
                if not inst.started:
                    inst.started = True
                    new = next(inst.generator)
                elif current.state is TaskState.SUCCEEDED:  # type: ignore[union-attr]
                    new = inst.generator.send(current.result)  # type: ignore[union-attr]
                else:
                    new = inst.generator.throw(current.result)  # type: ignore[union-attr]
            except StopIteration as stop:
                self._publish(inst)
                self._return(inst, stop.value)
                return
            except Exception as exc:  # noqa: BLE001 - the orchestrator failed
                self._publish(inst)
                self._fail(inst, exc)
                return
            if not self._publish(inst):
                return
            if inst.context.will_continue_as_new:
                self._continue_as_new(inst)
                return
            if not isinstance(new, TaskBase):
                self._fail(inst, TypeError(f"the orchestrator yielded {new!r}, not a task"))
                return
            inst.current = new
            self._schedule(inst, new)

    def _publish(self, inst: Instance) -> bool:
        """The custom status as the host keeps it: JSON, or the orchestration fails."""
        assert inst.context is not None
        if not inst.context._custom_status_set:
            return True
        try:
            inst.custom_status = json.loads(json.dumps(inst.context.custom_status))
        except (TypeError, ValueError) as exc:
            self._fail(inst, exc)
            return False
        inst.updated = self.clock
        return True

    def _return(self, inst: Instance, value: Any) -> None:
        if inst.context is not None and inst.context.will_continue_as_new:
            self._continue_as_new(inst)
            return
        try:
            output = json.loads(json.dumps(value))  # the SDK refuses an output that is not JSON
        except (TypeError, ValueError) as exc:
            self._fail(inst, exc)
            return
        self._end(inst, COMPLETED, output)

    def _fail(self, inst: Instance, exc: BaseException) -> None:
        self._end(inst, FAILED, f"Orchestrator function '{inst.name}' failed: {exc}")

    def _end(self, inst: Instance, status: str, output: Any) -> None:
        inst.status, inst.output, inst.updated = status, output, self.clock
        inst.execution += 1  # what this execution still had scheduled is ignored from now on
        inst.generator, inst.current = None, None
        inst.waiters.clear()
        link = inst.parent
        if link is None or link.instance.execution != link.execution or \
                not link.instance.running:
            return
        if status == COMPLETED:
            self._settle(link.instance, link.execution, link.task, True,
                         _decode(link.task, df_dumps(output)))
            return
        error = Exception(f"{output} \n None")  # SubOrchestrationInstanceFailed: Reason, Details
        if link.retry is not None:
            self._after_failure(link.instance, link.execution, link.task, link.retry,
                                link.attempt, error,
                                lambda: self._start_child(link.instance, link.execution,
                                                          link.task, link.name, link.input_json,
                                                          inst.id, link.retry,
                                                          link.attempt + 1))
        else:
            self._settle(link.instance, link.execution, link.task, False, error)

    def _continue_as_new(self, inst: Instance) -> None:
        assert inst.context is not None
        inst.input_json = inst.context.continue_as_new_input
        inst.execution += 1
        inst.generations += 1
        inst.status, inst.updated = PENDING, self.clock
        inst.generator, inst.current = None, None
        inst.waiters.clear()  # waits of the old execution end with it, and so do the events
        inst.buffered.clear()  # it received but did not take (new ones go to the new execution)
        execution = inst.execution
        self._ready.append(lambda: self._begin(inst, execution))

    # ---- inside: scheduling -------------------------------------------------------------------
    def _schedule(self, inst: Instance, task: TaskBase) -> None:
        for leaf in _leaves(task):
            if leaf._is_scheduled or leaf.state is not TaskState.RUNNING:
                continue
            leaf._set_is_scheduled(True)
            self._dispatch(inst, leaf)

    def _dispatch(self, inst: Instance, task: AtomicTask) -> None:
        action, execution = task.action_repr, inst.execution
        if isinstance(action, CallActivityWithRetryAction | CallActivityAction):
            retry = getattr(action, "retry_options", None)
            self._ready.append(lambda: self._run_activity(
                inst, execution, task, action.function_name, action.input_, retry, 1))
        elif isinstance(action, CallSubOrchestratorAction | CallSubOrchestratorWithRetryAction):
            retry = getattr(action, "retry_options", None)
            child = action.instance_id or f"{inst.id}:{next(self._seq)}"
            self._ready.append(lambda: self._start_child(
                inst, execution, task, action.function_name, action._input, child, retry, 1))
        elif isinstance(action, CreateTimerAction):
            fire_at = action.fire_at if action.fire_at.tzinfo else \
                action.fire_at.replace(tzinfo=tzutc())

            def fire() -> None:
                if not action.is_cancelled:
                    self._settle(inst, execution, task, True, None)
            self._push_timer(fire_at, fire)
        elif isinstance(action, WaitForExternalEventAction):
            name = action.external_event_name
            if inst.buffered[name]:
                # Taken at once; the orchestrator goes on when every new task is scheduled
                # (the SDK's "yielded a completed task": no nested resume here). The SDK keeps
                # an early event for every later wait (#507); fifo takes it once.
                early = inst.buffered[name][0] if self.event_order == LIFO else \
                    inst.buffered[name].popleft()
                task.set_value(is_error=False, value=_decode(task, early))
            else:
                inst.waiters[name].append(task)
        else:
            raise HarnessError(f"the harness does not run {type(action).__name__} (entities, "
                               "call_http): use devhost")

    def _push_timer(self, fire_at: datetime, fire: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (fire_at, next(self._seq), fire))

    def _settle(self, inst: Instance, execution: int, task: TaskBase, ok: bool,
                value: Any) -> None:
        if inst.execution != execution or not inst.running or \
                task.state is not TaskState.RUNNING:
            return
        task.set_value(is_error=not ok, value=value)
        self._resume(inst)

    def _after_failure(self, inst: Instance, execution: int, task: TaskBase,
                       retry: RetryOptions, attempt: int, error: Exception,
                       again: Callable[[], None]) -> None:
        """DTFx's RetryInterceptor: a timer after every failed attempt, the last one included;
        then the next attempt, or the failure."""
        options = retry.to_json()
        delay = timedelta(milliseconds=options["firstRetryIntervalInMilliseconds"]) * \
            (float(options.get("backoffCoefficient", 1.0)) ** (attempt - 1))
        if "maxRetryIntervalInMilliseconds" in options:
            delay = min(delay, timedelta(milliseconds=options["maxRetryIntervalInMilliseconds"]))

        def fire() -> None:
            if inst.execution != execution or not inst.running:
                return
            if attempt < int(options["maxNumberOfAttempts"]):
                again()
            else:
                self._settle(inst, execution, task, False, error)
        self._push_timer(self.clock + delay, fire)

    # ---- inside: activities and sub-orchestrations ----------------------------------------------
    def _run_activity(self, inst: Instance, execution: int, task: TaskBase, name: str,
                      input_json: str, retry: RetryOptions | None, attempt: int) -> None:
        """One attempt, as the worker invokes it (it runs even if its orchestration ended
        meanwhile, as a scheduled activity does in Azure; only its result is dropped)."""
        ok, value, record = self._invoke(inst.id, name, input_json, attempt)
        self.activity_calls.append(record)
        if ok or retry is None:
            self._settle(inst, execution, task, ok, _decode(task, value) if ok else value)
            return
        self._after_failure(inst, execution, task, retry, attempt, value,
                            lambda: self._run_activity(inst, execution, task, name, input_json,
                                                       retry, attempt + 1))

    def _invoke(self, instance_id: str, name: str, input_json: str,
                attempt: int) -> tuple[bool, Any, ActivityCall]:
        activity = self.registry.activities.get(name.lower())
        try:
            payload = df_loads(input_json)
        except json.JSONDecodeError:
            payload = input_json
        if activity is None:
            error = Exception(f"The function '{name}' doesn't exist, is disabled, or is not an "
                              "activity function. \n None")
            return False, error, ActivityCall(instance_id, name, payload, None, str(error),
                                              self.clock, attempt)
        try:
            result = activity.function(**{activity.binding: payload})
            if inspect.iscoroutine(result):
                result = asyncio.run(result)
            try:
                text = df_dumps(result)
            except TypeError as exc:  # the worker's ActivityTriggerConverter.encode
                raise ValueError(f"activity trigger output must be json serializable "
                                 f"({result})") from exc
        except Exception as exc:  # noqa: BLE001 - an activity failure, as the host reports it
            failure = activity_failure(name, FunctionFailed(f"{type(exc).__name__}: {exc}",
                                                            traceback.format_exc()))
            error = Exception(f"{failure['Reason']} \n {failure['Details']}")
            return False, error, ActivityCall(instance_id, name, payload, None,
                                              f"{type(exc).__name__}: {exc}", self.clock,
                                              attempt)
        return True, text, ActivityCall(instance_id, name, payload, json.loads(text), None,
                                        self.clock, attempt)

    def _start_child(self, parent: Instance, execution: int, task: TaskBase, name: str,
                     input_json: str | None, child_id: str, retry: RetryOptions | None,
                     attempt: int) -> None:
        if parent.execution != execution or not parent.running:
            return
        existing = self.instances.get(child_id)
        if name.lower() not in self.registry.orchestrators or (
                existing is not None and existing.running):
            reason = (f"The function '{name}' doesn't exist, is disabled, or is not an "
                      "orchestrator function." if name.lower() not in self.registry.orchestrators
                      else f"An Orchestration instance with the status {existing.status} "  # type: ignore[union-attr]
                      f"already exists: {child_id}")
            self._settle(parent, execution, task, False, Exception(f"{reason} \n None"))
            return
        self._create(child_id, name, input_json,
                     _ParentLink(parent, execution, task, name, input_json, retry, attempt))

    # ---- inside: events -----------------------------------------------------------------------
    def _raise(self, instance_id: str, name: str, input_json: str) -> None:
        inst = self._instance(instance_id)
        if not inst.running:
            raise HarnessError(f"Instance with ID {instance_id} is gone: either completed or "
                               "failed")
        waiters, lifo = inst.waiters[name], self.event_order == LIFO
        take = waiters.pop if lifo else waiters.popleft
        while waiters and waiters[-1 if lifo else 0].state is not TaskState.RUNNING:
            take()
        if waiters:
            self._deliver(inst, take(), input_json)
        elif lifo:  # the SDK keeps the latest early event, by name
            inst.buffered[name] = deque([input_json])
        else:
            inst.buffered[name].append(input_json)

    def _deliver(self, inst: Instance, task: TaskBase, input_json: str) -> None:
        self._settle(inst, inst.execution, task, True, _decode(task, input_json))


def _decode(task: TaskBase, text: str) -> Any:
    """A result as the SDK reads it from the history: JSON, decoded as the task's expected type
    (the call's `expected_type`, or the registered function's return annotation)."""
    return df_loads(text, expected_type=getattr(task, "_expected_output_type", None))


def _leaves(task: TaskBase) -> Iterator[AtomicTask]:
    if isinstance(task, CompoundTask):
        for child in task.children:
            yield from _leaves(child)
    else:
        yield task  # type: ignore[misc]


def _label(task: TaskBase) -> str:
    action = task.action_repr
    if isinstance(action, CreateTimerAction):
        return "timer"
    if isinstance(action, WaitForExternalEventAction):
        return f"event:{action.external_event_name}"
    if isinstance(action, CallSubOrchestratorAction | CallSubOrchestratorWithRetryAction):
        return f"suborchestration:{action.function_name}"
    return f"activity:{getattr(action, 'function_name', '?')}"


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")

