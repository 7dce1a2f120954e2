"""The host half of replay: what the extension's OutOfProcOrchestrationShim and DTFx do.

The SDK returns the cumulative list of actions its orchestrator has asked for. The shim awaits
them one after another against a DTFx orchestration context, and DTFx hands out one sequence id
per activity, timer and sub-orchestration at the moment it is *requested*, matching requests
against the history and resolving tasks as it walks the history's completion events. Re-enacting
that yields the ids the SDK expects in `TaskScheduledId` / `TimerId`, the work that is new in this
episode, and non-determinism when the code asks for something the history says it did not.

Semantics reproduced (see docs/devhost.md): sequential awaits; `WhenAll` is .NET `Task.WhenAll`
(finishes only when every child has, even after a failure); `WhenAny` finishes on the first child;
a canceled timer still takes an id; host-side retries (DTFx RetryInterceptor) take an id for every
attempt and for a timer after every failed attempt, the last one included; external events are
matched by name (ignoring case) to the host's own waiters, one per WaitForExternalEvent action the
shim has reached: the newest first (`lifo`, the extension's stack) or, as a what-if, the oldest
first (`fifo`); an event nobody waits for is queued for the next wait of that name.

Which *Python* task gets the event is decided by the SDK, not here: it pops the newest open task
of that name (TaskOrchestrationExecutor.set_task_value, `task_list.pop()`). The host's choice only
decides which of the shim's awaits an event completes, so whether the shim gets past its current
action and schedules the work after it (docs/devhost.md, "External events").
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .protocol import ActionType, EventType, format_ts, parse_ts

ACTIVITY, TIMER, SUB_ORCHESTRATION = "activity", "timer", "suborchestration"
# The host's rule for several waiters of one event name. LIFO is the extension's
# (DurableOrchestrationContext.WaitForExternalEvent: "We use a stack ... to make it easier for
# users to abandon external events that they no longer care about"); FIFO is a what-if
# (durabletask-python, another SDK, serves the oldest waiter first), for proving that an app does
# not depend on the order.
LIFO, FIFO = "lifo", "fifo"
EXTERNAL_EVENT_ORDERS = (LIFO, FIFO)
_CREATION_EVENT = {ACTIVITY: EventType.TASK_SCHEDULED, TIMER: EventType.TIMER_CREATED,
                   SUB_ORCHESTRATION: EventType.SUB_ORCHESTRATION_CREATED}
_KIND_OF_EVENT = {v: k for k, v in _CREATION_EVENT.items()}


class NonDeterminismError(Exception):
    """The orchestrator's requests no longer match its history."""


class UnsupportedActionError(Exception):
    """An action devhost does not implement (entities, call_http)."""


@dataclass(frozen=True)
class NewWork:
    """A request that is not in the history yet: the episode must schedule it."""

    kind: str
    task_id: int
    action: dict[str, Any]
    fire_at: str | None = None  # timers only: when it fires (retry timers compute theirs)


class _Task:
    __slots__ = ("_callbacks", "done", "ok")

    def __init__(self) -> None:
        self.done = False
        self.ok = False
        self._callbacks: list[Callable[[_Task], None]] = []

    def settle(self, ok: bool) -> None:
        if self.done:
            return
        self.done, self.ok = True, ok
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)

    def then(self, callback: Callable[[_Task], None]) -> None:
        if self.done:
            callback(self)
        else:
            self._callbacks.append(callback)


def _name_key(name: str) -> str:
    """Event names as the extension compares them (StringComparer.OrdinalIgnoreCase: each
    character upper-cased on its own). The SDK compares them exactly, so an event whose name
    differs only in case completes the host's waiter but no Python task."""
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in name)


def _settled(ok: bool = True) -> _Task:
    task = _Task()
    task.settle(ok)
    return task


class HostReplay:
    """Replays `actions` against `history`; read `new`, `open_labels` and `continue_as_new`
    after."""

    def __init__(self, history: list[dict[str, Any]], actions: list[dict[str, Any]],
                 order: str = LIFO) -> None:
        if order not in EXTERNAL_EVENT_ORDERS:
            raise ValueError(f"external event order must be one of {EXTERNAL_EVENT_ORDERS}, "
                             f"got {order!r}")
        self.order = order
        self._history = history
        self._actions = actions
        self._scheduled = {e["EventId"]: e for e in history if e["EventType"] in _KIND_OF_EVENT}
        self._next_id = 0
        self._index = 0
        self._awaiting: _Task | None = None  # the action the shim awaits, if not done
        self._open: dict[int, _Task] = {}
        self.kinds: dict[int, str] = {}
        self.labels: dict[int, str] = {}
        self._waiters: dict[str, deque[_Task]] = defaultdict(deque)
        self._buffered: dict[str, int] = defaultdict(int)
        self._time: datetime | None = None
        self.new: list[NewWork] = []
        self.continue_as_new: dict[str, Any] | None = None

    @property
    def open_labels(self) -> dict[int, str]:
        """Outstanding ids with what they are for: "timer" or "task:<function>"."""
        return {i: self.labels[i] for i in self._open}

    @property
    def awaited_all(self) -> bool:
        """Has the shim awaited every action? Only then does the extension read the SDK's isDone
        and error (OutOfProcOrchestrationShim.ScheduleDurableTaskEvents awaits the replay first):
        an orchestration the SDK calls done stays Running while the shim still awaits an
        action, until that action completes."""
        return self._index >= len(self._actions) and (
            self._awaiting is None or self._awaiting.done)

    @property
    def actions(self) -> list[dict[str, Any]]:
        return self._actions

    @property
    def next_id(self) -> int:
        return self._next_id

    def run(self) -> HostReplay:
        for e in self._history:
            self._apply(e)
        return self

    def _apply(self, e: dict[str, Any]) -> None:
        t = e["EventType"]
        if t == EventType.ORCHESTRATOR_STARTED:
            self._time = parse_ts(e["Timestamp"])
        elif t == EventType.EXECUTION_STARTED:
            self._advance()
        elif t in _KIND_OF_EVENT:
            self._check_requested(e)
        elif t in (EventType.TASK_COMPLETED, EventType.SUB_ORCHESTRATION_COMPLETED):
            self._settle(e["TaskScheduledId"], True)
        elif t in (EventType.TASK_FAILED, EventType.SUB_ORCHESTRATION_FAILED):
            self._settle(e["TaskScheduledId"], False)
        elif t == EventType.TIMER_FIRED:
            self._settle(e["TimerId"], True)
        elif t == EventType.EVENT_RAISED:
            self._raise(e["Name"])

    def _check_requested(self, e: dict[str, Any]) -> None:
        """DTFx: a creation event in history must match a request the code has made by then."""
        task_id = e["EventId"]
        if task_id not in self.kinds:
            kind = _KIND_OF_EVENT[e["EventType"]]
            raise NonDeterminismError(
                f"history has {kind} #{task_id} ({e.get('Name') or e.get('FireAt')}) but the "
                "orchestrator did not ask for it at that point")

    def _advance(self, _: _Task | None = None) -> None:
        """Await the actions one after another, as the shim does."""
        while self._index < len(self._actions):
            task = self._invoke(self._actions[self._index])
            self._index += 1
            if not task.done:
                self._awaiting = task
                task.then(self._advance)
                return
        self._awaiting = None

    def _settle(self, task_id: int, ok: bool) -> None:
        task = self._open.pop(task_id, None)
        if task is not None:  # unknown ids (late timers of canceled waits) are ignored, as in DTFx
            task.settle(ok)

    def _raise(self, name: str) -> None:
        """DurableOrchestrationContext.RaiseEvent: the waiter on top of the name's stack (`lifo`;
        `fifo`: the oldest), whether or not anything still awaits it, else the event is queued.
        A waiter the code has abandoned (it lost a task_any) stays in line: nothing removes it."""
        waiters = self._waiters[_name_key(name)]
        if waiters:
            (waiters.pop() if self.order == LIFO else waiters.popleft()).settle(True)
        else:
            self._buffered[_name_key(name)] += 1

    def _invoke(self, a: dict[str, Any]) -> _Task:
        at = a.get("actionType")
        if at == ActionType.CALL_ACTIVITY:
            return self._request(ACTIVITY, a)
        if at == ActionType.CALL_SUB_ORCHESTRATOR:
            return self._request(SUB_ORCHESTRATION, a)
        if at == ActionType.CREATE_TIMER:
            task = self._request(TIMER, a, fire_at=a["fireAt"])
            if a.get("isCanceled"):  # the shim creates the timer, then cancels its token at once
                task.settle(False)
            return task
        if at == ActionType.CALL_ACTIVITY_WITH_RETRY:
            return self._with_retry(ACTIVITY, a)
        if at == ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY:
            return self._with_retry(SUB_ORCHESTRATION, a)
        if at == ActionType.WAIT_FOR_EXTERNAL_EVENT:
            return self._wait_for_event(a["externalEventName"])
        if at == ActionType.CONTINUE_AS_NEW:
            self.continue_as_new = a
            return _settled()
        if at in (ActionType.WHEN_ALL, ActionType.WHEN_ANY):
            return self._compound(at, [self._invoke(c) for c in a.get("compoundActions") or []])
        raise UnsupportedActionError(f"action type {at} (entities, call_http) is not supported "
                                     "by devhost")

    def _request(self, kind: str, a: dict[str, Any], fire_at: str | None = None) -> _Task:
        task_id = self._next_id
        self._next_id += 1
        task = self._open[task_id] = _Task()
        self.kinds[task_id] = kind
        self.labels[task_id] = TIMER if kind == TIMER else \
            f"task:{(a.get('functionName') or '?').lower()}"
        past = self._scheduled.get(task_id)
        if past is None:
            self.new.append(NewWork(kind, task_id, a, fire_at))
        elif past["EventType"] != _CREATION_EVENT[kind] or (
                kind != TIMER and (past.get("Name") or "").lower()
                != (a.get("functionName") or "").lower()):  # DTFx: OrdinalIgnoreCase
            raise NonDeterminismError(
                f"#{task_id}: history has {_KIND_OF_EVENT.get(past['EventType'])} "
                f"{past.get('Name') or ''}, the orchestrator now asks for {kind} "
                f"{a.get('functionName') or ''}".rstrip())
        return task

    def _wait_for_event(self, name: str) -> _Task:
        """A new waiter for every WaitForExternalEvent action the shim reaches (a task the SDK
        reuses is sent only the first time it is yielded: later compound actions leave it out,
        azure-functions-durable-python #446). A queued event is taken at once."""
        task = _Task()
        key = _name_key(name)
        if self._buffered[key]:
            self._buffered[key] -= 1
            task.settle(True)
        else:
            self._waiters[key].append(task)
        return task

    @staticmethod
    def _compound(at: int, children: list[_Task]) -> _Task:
        out = _Task()
        remaining = [len(children)]

        def on_child(_: _Task) -> None:
            remaining[0] -= 1
            if at == ActionType.WHEN_ANY:
                out.settle(True)
            elif remaining[0] == 0:
                out.settle(all(c.ok for c in children))

        for child in children:
            child.then(on_child)
        if not children:
            out.settle(True)
        return out

    def _with_retry(self, kind: str, a: dict[str, Any]) -> _Task:
        """DTFx RetryInterceptor: attempt, and after each failure a timer, then the next attempt.

        It creates the timer after the last failed attempt too (it computes the delay before it
        checks the attempt count), so every failure consumes one timer id.
        """
        opts = a.get("retryOptions") or {}
        first = timedelta(milliseconds=opts.get("firstRetryIntervalInMilliseconds", 1000))
        attempts_max = int(opts.get("maxNumberOfAttempts", 1))
        backoff = float(opts.get("backoffCoefficient", 1.0))
        cap = opts.get("maxRetryIntervalInMilliseconds")
        timeout = opts.get("retryTimeoutInMilliseconds")
        out = _Task()
        state = {"attempt": 0, "start": self._time}

        def attempt(_: _Task | None = None) -> None:
            state["attempt"] += 1
            self._request(kind, a).then(finished)

        def finished(t: _Task) -> None:
            if t.ok:
                out.settle(True)
                return
            delay = first * (backoff ** (state["attempt"] - 1))
            if cap is not None:
                delay = min(delay, timedelta(milliseconds=cap))
            if timeout is not None and self._time is not None and state["start"] is not None and (
                    self._time - state["start"]) + delay > timedelta(milliseconds=timeout):
                out.settle(False)
                return
            fire = format_ts((self._time or datetime.min) + delay)
            self._request(TIMER, {"actionType": ActionType.CREATE_TIMER, "fireAt": fire},
                          fire_at=fire).then(
                lambda _: attempt() if state["attempt"] < attempts_max else out.settle(False))

        attempt()
        return out
