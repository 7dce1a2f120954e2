"""The Durable engine: episodes, activities on a bounded pool, timers, sub-orchestrations,
continue-as-new, terminate, suspend/resume, and the dispatcher loop that drives them.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
import uuid
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.functions import meta

from ..clock import Clock
from ..config import HostConfig
from ..discovery import Registry
from ..invoker import Invoker
from ..worker import FunctionFailed
from . import history_view
from .dispatch import DispatchModel
from .oracle import DISAGREE, Oracle
from .protocol import (
    EventType,
    OrchestrationStatus,
    OrchestratorState,
    context_json,
    event,
    format_ts,
    parse_ts,
    played_json,
)
from .shim import ACTIVITY, TIMER, HostReplay, NewWork, NonDeterminismError, UnsupportedActionError
from .store import HELD, TERMINAL, Store
from .trace import CLIENT, EpisodeRecord, Trace, Work

log = logging.getLogger("devhost")

BATCH_WINDOW = 0.05  # seconds an instance with running activities waits for more completions
_CONTROL = (EventType.EXECUTION_TERMINATED, EventType.EXECUTION_SUSPENDED,
            EventType.EXECUTION_RESUMED)


def _suspended_after(status: str, control: dict[int, dict[str, Any]]) -> bool:
    if EventType.EXECUTION_RESUMED in control:
        return False
    return status == "Suspended" or EventType.EXECUTION_SUSPENDED in control


@dataclass(frozen=True)
class EpisodeStat:
    """One episode's cost: history size, time inside the SDK's handle, and the whole episode."""

    history_events: int
    sdk_seconds: float
    total_seconds: float


@dataclass(frozen=True)
class _Played:
    """A running instance's history, and the same events as `played_json` text for the next
    episode's context: each episode serialises only its own new events."""

    events: list[dict[str, Any]]
    json: str

    def extended(self, new: list[dict[str, Any]], fresh: str) -> _Played:
        """With `new` appended; `fresh` is `played_json(new)`."""
        if not new:
            return self
        return _Played(self.events + new, f"{self.json}, {fresh}" if self.json else fresh)


class UnknownOrchestratorError(LookupError):
    pass


class InstanceExistsError(RuntimeError):
    pass


class DurableEngine:
    def __init__(self, registry: Registry, invoker: Invoker, store: Store, clock: Clock,
                 config: HostConfig, oracle: Oracle | None = None, *,
                 dispatch: DispatchModel | None = None, trace: Trace | None = None) -> None:
        self.registry, self.invoker, self.store, self.clock = registry, invoker, store, clock
        self.config, self.oracle = config, oracle
        # The backend's dispatch latency (dev/devhost/durable/dispatch.py): None hands work out the
        # moment it is visible, as a push backend does; a model makes it wait for the Azure
        # Storage provider's next poll. `trace` records causes for dev/bench/ (trace.py).
        self.dispatch, self.trace = dispatch, trace
        finished = ("Completed", "Failed", "Terminated", "Canceled")
        self.overridable_states = finished if \
            config.overridable_existing_instance_states == "NonRunningStates" else \
            (*finished, "Running", "Pending", "Suspended")  # AnyState, the extension's default
        self._pool = ThreadPoolExecutor(config.max_concurrent_activities, "devhost-activity")
        self._in_flight: set[int] = set()
        self._in_flight_instances: Counter[str] = Counter()
        self._seen: dict[str, float] = {}
        self._batch_deadline: float | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._crash = _CrashPoints.from_env()
        self.episodes = 0
        self.stats: deque[EpisodeStat] = deque(maxlen=100_000)  # for dev/bench/, not for decisions
        # Write-through copy of running instances' histories, kept by the dispatcher (the only
        # writer of history): an episode need not re-read, re-parse and re-serialise it all.
        self._histories: dict[str, _Played] = {}

    # ---- client operations ---------------------------------------------------------------------
    def start_new(self, name: str, instance_id: str | None, input_json: str | None) -> str:
        if name not in self.registry.orchestrators:
            raise UnknownOrchestratorError(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator "
                "function.")
        instance_id = instance_id or uuid.uuid4().hex
        with self.store.tx() as db:
            existing = self.store.instance(instance_id)
            if existing is not None and existing["status"] not in self.overridable_states:
                raise InstanceExistsError(f"An Orchestration instance with the status "
                                          f"{existing['status']} already exists.")
            if existing is not None:
                Store.delete_instance(db, instance_id)
                self._histories.pop(instance_id, None)
            self._create(db, instance_id, name, input_json, parent=None)
        self.wake()
        return instance_id

    def _create(self, db: Any, instance_id: str, name: str, input_json: str | None,
                parent: tuple[str, str, int] | None, cause: tuple[str, Any] = CLIENT) -> None:
        now, execution_id = self.clock.time(), uuid.uuid4().hex
        db.execute("INSERT INTO instances VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                   (instance_id, name, execution_id, "Pending", input_json, None, None,
                    parent and parent[0], parent and parent[1], parent and parent[2], now, now))
        parent_ref = None if parent is None else {
            "Name": None, "OrchestrationInstance": {"InstanceId": parent[0],
                                                    "ExecutionId": parent[1]},
            "TaskScheduleId": parent[2]}
        self.post(db, instance_id, event(
            EventType.EXECUTION_STARTED, self.clock.now(), Name=name, Version="", Input=input_json,
            OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
            ParentInstance=parent_ref, Tags=None, Generation=0), now, execution_id, cause)

    def post(self, db: Any, instance_id: str, e: dict[str, Any], visible_at: float,
             execution_id: str | None = None, cause: tuple[str, Any] = CLIENT) -> None:
        """Enqueue a message for an instance (inside `db`'s transaction); `cause` is who sent it:
        the trace records it, and the dispatch model decides from it whether the enqueue wakes
        that instance's control-queue poller (TaskHubQueue.AddMessageAsync: same process only)."""
        Store.post(db, instance_id, e, visible_at, execution_id)
        if self.trace is None and self.dispatch is None:
            return
        message_id = db.execute("SELECT last_insert_rowid()").fetchone()[0]
        if self.trace is not None:
            self.trace.message(message_id, instance_id, e["EventType"], visible_at, cause)
        if self.dispatch is not None:
            self.dispatch.posted(message_id, instance_id, self.clock.time(),
                                 client=cause == CLIENT)

    def raise_event(self, instance_id: str, name: str, data_json: str | None) -> None:
        self._post_control(instance_id, event(EventType.EVENT_RAISED, self.clock.now(),
                                              Name=name, Input=data_json))

    def terminate(self, instance_id: str, reason: str | None) -> None:
        self._post_control(instance_id, event(EventType.EXECUTION_TERMINATED, self.clock.now(),
                                              Input=json.dumps(reason)))

    def suspend(self, instance_id: str, reason: str | None) -> None:
        self._post_control(instance_id, event(EventType.EXECUTION_SUSPENDED, self.clock.now(),
                                              Reason=reason))

    def resume(self, instance_id: str, reason: str | None) -> None:
        self._post_control(instance_id, event(EventType.EXECUTION_RESUMED, self.clock.now(),
                                              Reason=reason))

    def _post_control(self, instance_id: str, e: dict[str, Any]) -> None:
        with self.store.tx() as db:
            self.post(db, instance_id, e, self.clock.time())
        self.wake()

    def purge(self, instance_id: str) -> int:
        with self.store.tx() as db:
            self._histories.pop(instance_id, None)
            return Store.delete_instance(db, instance_id)

    def history(self, instance_id: str) -> _Played:
        cached = self._histories.get(instance_id)
        if cached is None:
            text = self.store.played_history(instance_id)
            cached = _Played(json.loads(f"[{text}]"), text)
        return cached

    # ---- the dispatcher ------------------------------------------------------------------------
    def start(self) -> None:
        if self.dispatch is not None:  # a (re)started host polls every queue at once
            self.dispatch.restart(self.clock.time())
        self._thread = threading.Thread(target=self._loop, daemon=True, name="devhost-dispatcher")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def wake(self) -> None:
        self._wake.set()
        self.clock.poke()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                progressed = self._step()
            except Exception:  # a bug in the host must not silently stop every orchestration
                log.exception("devhost dispatcher error")
                progressed = False
                self._stop.wait(0.5)
            if not progressed:
                self._idle_wait()

    def _step(self) -> bool:
        started = self._dispatch_activities()
        instance_id = self._next_instance()
        if instance_id is not None:
            self.run_episode(instance_id)
            return True
        return started

    def _next_instance(self) -> str | None:
        """The next instance with visible messages, batching fan-in like the storage provider.

        DTFx hands an episode every message that is waiting for its instance. Completions of a
        fan-out trickle in one by one here, so an instance that still has activities running
        waits up to BATCH_WINDOW (real time) for its siblings: one episode per batch rather than
        one per completion, which would replay the whole history each time.
        """
        ready = self.store.runnable_instances(self.clock.time())
        if self.dispatch is not None and ready:  # visible, but has a poll handed it out yet?
            handed = self.dispatch.dispatch(self._inbox(), self.clock.time())
            ready = [i for i in ready if i in handed]
        with self._lock:
            busy = set(self._in_flight_instances)
        now = time.monotonic()
        for instance_id in ready:
            if instance_id not in busy:
                self._seen.pop(instance_id, None)
                return instance_id
            first = self._seen.setdefault(instance_id, now)
            if now - first >= BATCH_WINDOW:
                del self._seen[instance_id]
                return instance_id
        self._batch_deadline = min((t + BATCH_WINDOW for t in self._seen.values()), default=None)
        return None

    def _idle_wait(self) -> None:
        if self._batch_deadline is not None:  # a batch is filling: wait for it in real time
            self._wake.wait(max(0.0, self._batch_deadline - time.monotonic()))
            self._batch_deadline = None
            return
        deadline = self.store.next_visible_at() if self.dispatch is None else \
            self.dispatch.next_due(self._inbox(), self._work_rows())
        if self.clock.virtual and deadline is not None:
            if not self._nothing_running():
                # Something else runs (a trigger, an HTTP call): look again shortly, since virtual
                # time only moves when this loop moves it.
                self._wake.wait(0.01)
                return
            due, before = self.clock.next_due(), self.clock.time()
            self.clock.advance_to(min(deadline, due) if due is not None else deadline)
            if self.clock.time() <= before:  # held back (VirtualClock.limit): look again shortly
                self._wake.wait(0.01)
            return
        self.clock.wait_until(deadline, self._wake)

    def _inbox(self) -> list[tuple[int, str, float]]:
        """Every message waiting in the inbox (held ones left out), for the dispatch model."""
        with self.store.tx() as db:
            return [tuple(r) for r in db.execute(
                "SELECT id, instance_id, visible_at FROM inbox WHERE visible_at<?", (HELD,))]

    def _work_rows(self) -> list[tuple[int, float]]:
        """Activity work items not running yet, as (id, created)."""
        with self._lock:
            exclude = set(self._in_flight)
        return [(r["id"], r["created"]) for r in self.store.pending_work(exclude, 1_000_000)]

    def _nothing_running(self) -> bool:
        with self._lock:
            return not self._in_flight and self.invoker.active == 0

    # ---- activities ----------------------------------------------------------------------------
    def _dispatch_activities(self) -> bool:
        with self._lock:
            capacity = self.config.max_concurrent_activities - len(self._in_flight)
            exclude = set(self._in_flight)
        if capacity <= 0:
            return False
        if self.dispatch is None:
            rows = self.store.pending_work(exclude, capacity)
        else:  # only what the work-item queue's poller has handed out
            rows = self.store.pending_work(exclude, 1_000_000)
            handed = self.dispatch.dispatch_work([(r["id"], r["created"]) for r in rows],
                                                 self.clock.time())
            rows = [r for r in rows if r["id"] in handed][:capacity]
        for row in rows:
            if self.trace is not None:
                self.trace.started(row["id"], self.clock.time())
            with self._lock:
                self._in_flight.add(row["id"])
                self._in_flight_instances[row["instance_id"]] += 1
            self._pool.submit(self._run_activity, dict(row))
        return bool(rows)

    def _run_activity(self, row: dict[str, Any]) -> None:
        try:
            message = self._execute_activity(row)
            self._crash.hit("activity-before-commit")
            with self.store.tx() as db:  # the result and the work row's deletion are atomic
                if db.execute("DELETE FROM work WHERE id=?", (row["id"],)).rowcount:
                    self.post(db, row["instance_id"], message, self.clock.time(),
                              row["execution_id"], ("activity", row["id"]))
            self._crash.hit("activity")
        except Exception:
            log.exception("devhost: activity %s could not be completed", row["name"])
        finally:
            with self._lock:
                self._in_flight.discard(row["id"])
                self._in_flight_instances[row["instance_id"]] -= 1
                if self._in_flight_instances[row["instance_id"]] <= 0:
                    del self._in_flight_instances[row["instance_id"]]
            self.wake()

    def _execute_activity(self, row: dict[str, Any]) -> dict[str, Any]:
        entry = self.registry.activities[row["name"]]
        now = self.clock.now
        try:
            returned = self.invoker.invoke(entry, meta.Datum(row["input"], "json")).returned
        except FunctionFailed as exc:
            log.warning("activity %s (instance %s, task %s) failed: %s", row["name"],
                        row["instance_id"], row["task_id"], exc.message)
            return event(EventType.TASK_FAILED, now(), TaskScheduledId=row["task_id"],
                         **activity_failure(row["name"], exc))
        return event(EventType.TASK_COMPLETED, now(), TaskScheduledId=row["task_id"],
                     Result=returned.value if returned is not None else None)

    # ---- one orchestrator episode --------------------------------------------------------------
    def run_episode(self, instance_id: str) -> None:
        started = time.perf_counter()
        episode = Episode(self, instance_id, self.episodes)
        episode.run()
        if self.trace is not None:
            self.trace.episode(EpisodeRecord(episode.seq, instance_id, episode.t,
                                             episode.consumed_keys, episode.ended))
        self.stats.append(EpisodeStat(episode.history_events, episode.sdk_seconds,
                                      time.perf_counter() - started))
        self.episodes += 1
        self._crash.hit("episode")

    def orchestrate(self, inst: Any, past: _Played,
                    new: list[dict[str, Any]]) -> tuple[OrchestratorState, float]:
        """Call the orchestrator through the SDK's handle, as the worker would; also the seconds
        spent inside the worker's decode + the SDK's handle (what the real host also pays)."""
        entry = self.registry.orchestrators[inst["name"]]
        body = context_json(history=new, played=past.json, input_=inst["input"],
                            instance_id=inst["id"], parent_instance_id=inst["parent_id"],
                            is_replaying=bool(past.events))
        started = time.perf_counter()
        try:
            returned = self.invoker.invoke(entry, meta.Datum(body, "string")).returned
        except FunctionFailed as exc:
            return OrchestratorState.from_exception(exc.message), time.perf_counter() - started
        if returned is None:
            return OrchestratorState.from_exception(f"Orchestrator function '{entry.name}' "
                                                    "returned no state"), \
                time.perf_counter() - started
        return OrchestratorState.from_json(returned.value), time.perf_counter() - started


class Episode:
    """Consume an instance's visible messages, run its orchestrator, commit the outcome at once."""

    def __init__(self, engine: DurableEngine, instance_id: str, seq: int = 0) -> None:
        self.e, self.id, self.seq = engine, instance_id, seq
        self.cause = ("episode", seq)  # what the messages this episode sends were sent by
        self.ended = False  # it committed a terminal status
        self.consumed_keys: tuple[int, ...] = ()  # the trace's names of `consumed`
        self.t = engine.clock.time()  # one instant for the whole episode, as its events show
        self.stamp = format_ts(datetime.fromtimestamp(self.t, UTC))
        self.consumed: list[int] = []
        self.history_events = 0
        self.sdk_seconds = 0.0
        self.execution_id: str | None = None  # the running execution's, read once in run()

    def run(self) -> None:
        inst, rows = self.e.store.episode_input(self.id, self.t)
        if inst is None or inst["status"] in TERMINAL:
            self._drop([i for i, _, _ in rows], "the instance is gone or finished")
            return
        self.execution_id = inst["execution_id"]
        live = [(i, text) for i, execution, text in rows if execution in (None, self.execution_id)]
        self._drop([i for i, execution, _ in rows if execution not in (None, self.execution_id)],
                   "it belongs to an earlier execution")
        messages = [(i, json.loads(text)) for i, text in live]
        control = {m["EventType"]: m for _, m in messages if m["EventType"] in _CONTROL}
        past = self.e.history(self.id)
        started = event(EventType.ORCHESTRATOR_STARTED, self.stamp)
        if EventType.EXECUTION_TERMINATED in control:
            self.consumed = [i for i, _ in messages]
            self._terminate(inst, past, [started, *(m for _, m in messages)],
                            control[EventType.EXECUTION_TERMINATED].get("Input"))
        elif _suspended_after(inst["status"], control):
            # While suspended only control events are recorded; the rest wait, held, in the inbox.
            self.consumed = [i for i, m in messages if m["EventType"] in _CONTROL]
            held = [i for i, m in messages if m["EventType"] not in _CONTROL]
            new = [started, *control.values(), event(EventType.ORCHESTRATOR_COMPLETED, self.stamp)]
            self._commit(inst, past, new if control else [], "Suspended", None,
                         inst["custom_status"], [], held=held)
        else:
            self.consumed = [i for i, _ in messages]
            self._run_orchestrator(inst, past, [started, *(m for _, m in messages)])

    def _drop(self, message_ids: list[int], why: str) -> None:
        if not message_ids:
            return
        with self.e.store.tx() as db:
            Store.delete_messages(db, message_ids)
        log.debug("dropped %d message(s) for %s: %s", len(message_ids), self.id, why)

    def _terminate(self, inst: Any, past: _Played, new: list[dict[str, Any]],
                   reason: str | None) -> None:
        new += [event(EventType.ORCHESTRATOR_COMPLETED, self.stamp),
                event(EventType.EXECUTION_COMPLETED, self.stamp,
                      OrchestrationStatus=OrchestrationStatus.TERMINATED, Result=reason)]
        self._commit(inst, past, new, "Terminated", reason, inst["custom_status"], [])

    def _run_orchestrator(self, inst: Any, past: _Played, new: list[dict[str, Any]]) -> None:
        self.history_events = len(past.events) + len(new)
        state, self.sdk_seconds = self.e.orchestrate(inst, past, new)
        error, done = state.error, state.is_done
        replay: HostReplay | None = None
        try:
            replay = HostReplay(past.events + new, state.actions,
                                self.e.config.external_event_order).run()
        except (NonDeterminismError, UnsupportedActionError) as exc:
            error = f"Non-Deterministic workflow detected: {exc}" if isinstance(
                exc, NonDeterminismError) else str(exc)
        if self.e.oracle is not None and replay is not None:
            verdict = self.e.oracle.check(self.e.registry, inst, past.events, new, replay)
            if verdict.verdict == DISAGREE and self.e.oracle.strict:
                log.error("%s", verdict.describe())
                error = verdict.describe()
        if replay is not None and error == state.error and (done or error) and \
                not replay.awaited_all:
            # The shim reads the SDK's isDone and error only once it has awaited every action:
            # while one is still pending (an event that went to another waiter of its name, a
            # timer the SDK canceled inside a long timer), the orchestration stays Running and
            # what the SDK decided waits for that action to complete.
            log.info("[episode] %s/%s: the SDK is done, the host still awaits an action",
                     inst["name"], self.id)
            error, done = None, False
        custom = (json.dumps(state.custom_status) if state.has_custom_status
                  else inst["custom_status"])
        work = replay.new if replay is not None else []
        new = new + [self._creation_event(w) for w in work] if not error else new
        new.append(event(EventType.ORCHESTRATOR_COMPLETED, self.stamp))
        if error:
            output = json.dumps(f"Orchestrator function '{inst['name']}' failed: {error}")
            new.append(event(EventType.EXECUTION_COMPLETED, self.stamp,
                             OrchestrationStatus=OrchestrationStatus.FAILED, Result=output,
                             FailureDetails={"ErrorType": "OrchestrationFailure",
                                             "ErrorMessage": error}))
            self._commit(inst, past, new, "Failed", output, custom, [])
        elif done and replay is not None and replay.continue_as_new is not None:
            self._continue_as_new(inst, replay.continue_as_new.get("input"), custom)
        elif done:
            output = json.dumps(state.output)
            new.append(event(EventType.EXECUTION_COMPLETED, self.stamp,
                             OrchestrationStatus=OrchestrationStatus.COMPLETED, Result=output))
            self._commit(inst, past, new, "Completed", output, custom, [])
        else:
            self._commit(inst, past, new, "Running", None, custom, work)

    def _creation_event(self, w: NewWork) -> dict[str, Any]:
        a = w.action
        if w.kind == ACTIVITY:
            return event(EventType.TASK_SCHEDULED, self.stamp, w.task_id, Name=a["functionName"],
                         Version="", Input=a.get("input"))
        if w.kind == TIMER:
            return event(EventType.TIMER_CREATED, self.stamp, w.task_id,
                         FireAt=format_ts(parse_ts(w.fire_at or a["fireAt"])))
        return event(EventType.SUB_ORCHESTRATION_CREATED, self.stamp, w.task_id,
                     Name=a["functionName"], Version=a.get("version") or "",
                     InstanceId=self._child_id(w), Input=a.get("input"))

    def _child_id(self, w: NewWork) -> str:
        # Deterministic when the code gives none, like the extension's NewGuid: it is recorded in
        # SubOrchestrationInstanceCreated, so replays never need to compute it again.
        return w.action.get("instanceId") or str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"{self.id}/{self.execution_id}/{w.task_id}"))

    def _commit(self, inst: Any, past: _Played, new: list[dict[str, Any]],
                status: str, output: str | None, custom: str | None, work: list[NewWork],
                held: list[int] | None = None) -> None:
        e, now, fresh = self.e, self.t, played_json(new)
        if e.trace is not None:  # before the commit hands their ids to new messages
            self.consumed_keys = e.trace.resolve(self.consumed)
        with e.store.tx() as db:
            if not self._still_current(db, inst):
                return
            Store.append_history(db, self.id, len(past.events), fresh)
            Store.delete_messages(db, self.consumed)
            if held:
                Store.hold(db, held)
            if inst["status"] == "Suspended" and status != "Suspended":
                Store.release(db, self.id, now)
                if e.dispatch is not None:  # visible again: a fresh enqueue, in effect
                    e.dispatch.wake_instance(self.id, now)
            for w in work:
                self._schedule(db, inst, w)
            db.execute("UPDATE instances SET status=?, output=?, custom_status=?, updated=? "
                       "WHERE id=?", (status, output, custom, now, self.id))
            if status in TERMINAL and inst["parent_id"]:
                self._notify_parent(db, inst, status, output)
            # Under the store's lock, like start_new's replacement: never a stale copy after it.
            if status in TERMINAL:
                e._histories.pop(self.id, None)
            else:
                e._histories[self.id] = past.extended(new, fresh)
        self.ended = status in TERMINAL
        if log.isEnabledFor(logging.INFO):
            log.info("[episode] %s/%s -> %s%s", inst["name"], self.id, status,
                     f" (new: {[(w.kind, w.task_id) for w in work]})" if work else "")

    def _still_current(self, db: Any, inst: Any) -> bool:
        """Is the execution this episode ran still the instance's? `start_new` may replace (or a
        purge delete) the instance while the episode runs; its commit must then change nothing,
        as the storage provider's etag-checked commit fails (else the old execution's history
        and work would be written into the new one, which then waits forever)."""
        row = db.execute("SELECT execution_id FROM instances WHERE id=?", (self.id,)).fetchone()
        if row is not None and row[0] == inst["execution_id"]:
            return True
        log.info("[episode] %s/%s: discarded, the instance was replaced or purged meanwhile",
                 inst["name"], self.id)
        return False

    def _schedule(self, db: Any, inst: Any, w: NewWork) -> None:
        now, execution_id = self.t, inst["execution_id"]
        a = w.action
        if w.kind == ACTIVITY:
            if a["functionName"] not in self.e.registry.activities:
                self.e.post(db, self.id, event(
                    EventType.TASK_FAILED, self.stamp, TaskScheduledId=w.task_id,
                    Reason=f"The function '{a['functionName']}' doesn't exist, is disabled, or "
                           "is not an activity function.", Details=None), now, execution_id,
                    self.cause)
                return
            work_id = db.execute(
                "INSERT INTO work(instance_id, execution_id, task_id, name, input, created)"
                " VALUES(?,?,?,?,?,?)", (self.id, execution_id, w.task_id, a["functionName"],
                                         a.get("input"), now)).lastrowid
            if self.e.trace is not None:
                self.e.trace.scheduled(work_id, Work(self.id, a["functionName"], now, self.seq))
            if self.e.dispatch is not None:  # enqueued by this host: the poller wakes
                self.e.dispatch.scheduled(work_id, now)
        elif w.kind == TIMER:
            fire = parse_ts(w.fire_at or a["fireAt"])
            # Enqueued now, invisible until it fires: the poller it wakes finds nothing yet.
            self.e.post(db, self.id, event(EventType.TIMER_FIRED, fire, TimerId=w.task_id,
                                           FireAt=format_ts(fire)), fire.timestamp(),
                        execution_id, self.cause)
        else:
            self._start_child(db, inst, w)

    def _start_child(self, db: Any, inst: Any, w: NewWork) -> None:
        child, name = self._child_id(w), w.action["functionName"]
        existing = self.e.store.instance(child)
        if name not in self.e.registry.orchestrators or (
                existing is not None and existing["status"] not in TERMINAL):
            why = (f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator "
                   "function." if name not in self.e.registry.orchestrators else
                   f"An Orchestration instance with the status {existing['status']} already "
                   f"exists: {child}")
            self.e.post(db, self.id, event(EventType.SUB_ORCHESTRATION_FAILED, self.stamp,
                                           TaskScheduledId=w.task_id, Reason=why, Details=None),
                        self.t, inst["execution_id"], self.cause)
            return
        if existing is not None:
            Store.delete_instance(db, child)
            self.e._histories.pop(child, None)
        self.e._create(db, child, name, w.action.get("input"),
                       parent=(self.id, inst["execution_id"], w.task_id), cause=self.cause)

    def _notify_parent(self, db: Any, inst: Any, status: str, output: str | None) -> None:
        if status == "Completed":
            message = event(EventType.SUB_ORCHESTRATION_COMPLETED, self.stamp,
                            TaskScheduledId=inst["parent_task_id"], Result=output)
        else:
            reason = json.loads(output) if output else status
            message = event(EventType.SUB_ORCHESTRATION_FAILED, self.stamp,
                            TaskScheduledId=inst["parent_task_id"], Reason=reason, Details=None)
        self.e.post(db, inst["parent_id"], message, self.t, inst["parent_execution_id"],
                    self.cause)

    def _continue_as_new(self, inst: Any, input_json: str | None, custom: str | None) -> None:
        """A fresh execution: the history restarts; unconsumed messages stay in the inbox."""
        e, now, execution_id = self.e, self.t, uuid.uuid4().hex
        if e.trace is not None:
            self.consumed_keys = e.trace.resolve(self.consumed)
        with e.store.tx() as db:
            if not self._still_current(db, inst):
                return
            db.execute("DELETE FROM history WHERE instance_id=?", (self.id,))
            e._histories.pop(self.id, None)
            Store.delete_messages(db, self.consumed)
            db.execute("DELETE FROM work WHERE instance_id=?", (self.id,))
            db.execute("UPDATE instances SET execution_id=?, status='Running', input=?, "
                       "output=NULL, custom_status=?, updated=? WHERE id=?",
                       (execution_id, input_json, custom, now, self.id))
            e.post(db, self.id, event(
                EventType.EXECUTION_STARTED, self.stamp, Name=inst["name"], Version="",
                Input=input_json, OrchestrationInstance={"InstanceId": self.id,
                                                         "ExecutionId": execution_id},
                ParentInstance=None, Tags=None), now, execution_id, self.cause)
        log.info("[episode] %s/%s -> ContinuedAsNew", inst["name"], self.id)


def status_json(store: Store, instance_id: str, *, show_history: bool = False,
                show_history_output: bool = False,
                show_input: bool = True) -> dict[str, Any] | None:
    """The body of GET .../instances/{id}, as the extension's HttpApiHandler writes it."""
    row = store.instance(instance_id)
    if row is None:
        return None
    doc: dict[str, Any] = {
        "name": row["name"], "instanceId": row["id"], "runtimeStatus": row["status"],
        "input": row["input"] if show_input else None,  # the stored JSON text, as the host does
        "customStatus": _loads(row["custom_status"]), "output": _loads(row["output"]),
        "createdTime": _iso(row["created"]), "lastUpdatedTime": _iso(row["updated"]),
    }
    if show_history:
        doc["historyEvents"] = history_view.render(store.history(instance_id), show_history_output)
    return doc


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def activity_failure(name: str, exc: FunctionFailed) -> dict[str, Any]:
    """The TaskFailed fields the extension writes for a failed out-of-process activity.

    The host wraps the worker's RpcException as `Result: Failure\nException: <message>\nStack:
    <trace>`; the extension's TaskActivityShim reports "Activity function 'NAME' failed: " plus
    the text between the labels "\nException:" and "\nStack:", leading space included
    (OutOfProcExceptionHelpers.TryGetExceptionWithFriendlyMessage), and serialises that
    exception, with the host's as its inner exception, into Details. The SDK raises
    Exception(f"{Reason} \n {Details}") in the orchestrator.
    """
    rpc = f"Result: Failure\nException: {exc.message}\nStack: {exc.stack_trace}"
    friendly = rpc[rpc.index("\nException:") + len("\nException:"):rpc.index("\nStack:")]
    details = {"ClassName": "System.Exception", "Message": friendly,
               "InnerException": {"ClassName": RPC_EXCEPTION, "Message": rpc}}
    return {"Reason": f"Activity function '{name}' failed: {friendly}",
            "Details": json.dumps(details),
            "FailureDetails": {"ErrorType": "System.Exception", "ErrorMessage": friendly,
                               "StackTrace": exc.stack_trace}}


RPC_EXCEPTION = "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException"


class _CrashPoints:
    """`DEVHOST_KILL_AT=point:n` SIGKILLs the host at the n-th pass of a commit point.

    Used by the crash-recovery tests to prove that kill -9 at every commit point resumes to the
    same result. Points: episode, activity (after their commits), activity-before-commit.
    """

    def __init__(self, point: str | None, n: int) -> None:
        self.point, self.n, self.count = point, n, 0
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> _CrashPoints:
        spec = os.environ.get("DEVHOST_KILL_AT", "")
        point, _, n = spec.partition(":")
        return cls(point or None, int(n or 1))

    def hit(self, point: str) -> None:
        if point != self.point:
            return
        with self._lock:
            self.count += 1
            if self.count == self.n:
                os.kill(os.getpid(), signal.SIGKILL)
