"""Which episodes sit on a run's critical path, and what each waited for (for dev/bench/; opt-in).

The engine reports every message it posts (who posted it: an episode, an activity, or a client),
every activity work item (which episode scheduled it, when it started) and every episode (the
messages it consumed). Walking back from the episode that finished an instance, each episode's
cause is the LAST of its messages to become visible (what it was waiting for); that message's
sender is the previous step. The chain is the run's critical path: the sequential episodes a
backend has to dispatch one after another, each paying its dispatch latency.

SQLite gives a deleted row's id to the next insert, so the store's message and work ids name
different things over time: the trace keys everything by its own sequence numbers and maps a
store id to the record it names at the moment it is used. Kept in memory for the host's lifetime,
so only benchmarks turn it on.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .protocol import EventType

CLIENT = ("client", None)

# What an episode waited for, by the kind of its last message.
_KINDS = {
    EventType.TIMER_FIRED: "timer",
    EventType.TASK_COMPLETED: "activity",
    EventType.TASK_FAILED: "activity",
    EventType.SUB_ORCHESTRATION_COMPLETED: "sub-orchestration finished",
    EventType.SUB_ORCHESTRATION_FAILED: "sub-orchestration finished",
    EventType.EVENT_RAISED: "external event",
}


@dataclass(frozen=True)
class Message:
    instance_id: str
    event_type: int
    visible_at: float
    cause: tuple[str, Any]  # ("episode", seq) | ("activity", work key) | CLIENT


@dataclass
class Work:
    instance_id: str
    name: str
    created: float
    episode: int
    started: float | None = None


@dataclass(frozen=True)
class EpisodeRecord:
    seq: int
    instance_id: str
    t: float
    consumed: tuple[int, ...]  # message keys (Trace.resolve)
    terminal: bool


class Trace:
    def __init__(self) -> None:
        self.messages: dict[int, Message] = {}
        self.work: dict[int, Work] = {}
        self.episodes: dict[int, EpisodeRecord] = {}
        self._live_messages: dict[int, int] = {}  # store id -> key of the message it is now
        self._live_work: dict[int, int] = {}
        self._keys = itertools.count(1)
        self._lock = threading.Lock()

    def message(self, message_id: int, instance_id: str, event_type: int, visible_at: float,
                cause: tuple[str, Any]) -> None:
        """Store message `message_id` was posted (inside the transaction that posts it)."""
        with self._lock:
            if cause[0] == "activity":  # its work row is still this activity's
                cause = ("activity", self._live_work.get(cause[1]))
            key = next(self._keys)
            self.messages[key] = Message(instance_id, event_type, visible_at, cause)
            self._live_messages[message_id] = key

    def resolve(self, message_ids: Iterable[int]) -> tuple[int, ...]:
        """The keys of the messages store ids name now (before the episode that consumes them
        commits, which may hand their ids to new messages)."""
        with self._lock:
            return tuple(self._live_messages[i] for i in message_ids if i in self._live_messages)

    def scheduled(self, work_id: int, work: Work) -> None:
        with self._lock:
            key = next(self._keys)
            self.work[key] = work
            self._live_work[work_id] = key

    def started(self, work_id: int, t: float) -> None:
        with self._lock:
            work = self.work.get(self._live_work.get(work_id, 0))
            if work is not None and work.started is None:
                work.started = t

    def episode(self, record: EpisodeRecord) -> None:
        with self._lock:
            self.episodes[record.seq] = record

    def critical_path(self, instance_id: str) -> dict[str, Any]:
        """The chain of episodes that ended `instance_id`, back to the client's start.

        Returns `episodes` (how many), `waits` (what each waited for, counted by kind),
        `dispatchSeconds` (the sum, over the chain, of the time from its message becoming
        visible to its episode starting), `activityDispatchSeconds` (from an activity on the
        chain being scheduled to it starting) and `instances` (how many orchestration instances
        the chain passes through; a continue-as-new keeps its instance)."""
        with self._lock:
            ends = [e for e in self.episodes.values()
                    if e.instance_id == instance_id and e.terminal]
            if not ends:
                raise LookupError(f"no finished episode of {instance_id} was traced")
            episode: EpisodeRecord | None = max(ends, key=lambda e: e.seq)
            count, waits, seen = 0, {}, set()
            dispatch = activity_dispatch = 0.0
            instances = {instance_id}
            while episode is not None and episode.seq not in seen:
                seen.add(episode.seq)
                count += 1
                consumed = [self.messages[k] for k in episode.consumed if k in self.messages]
                if not consumed:
                    break
                last = max(consumed, key=lambda m: m.visible_at)
                kind = self._kind(last)
                waits[kind] = waits.get(kind, 0) + 1
                dispatch += max(0.0, episode.t - last.visible_at)
                source, ref = last.cause
                episode = None
                if source == "activity" and ref in self.work:
                    work = self.work[ref]
                    if work.started is not None:
                        activity_dispatch += max(0.0, work.started - work.created)
                    episode = self.episodes.get(work.episode)
                elif source == "episode":
                    episode = self.episodes.get(ref)
                if episode is not None:
                    instances.add(episode.instance_id)
            return {"episodes": count, "waits": dict(sorted(waits.items())),
                    "dispatchSeconds": round(dispatch, 3),
                    "activityDispatchSeconds": round(activity_dispatch, 3),
                    "instances": len(instances)}

    def _kind(self, message: Message) -> str:
        if message.event_type != EventType.EXECUTION_STARTED:
            return _KINDS.get(message.event_type, f"event type {message.event_type}")
        if message.cause == CLIENT:
            return "start"
        sender = self.episodes.get(message.cause[1])
        same = sender is not None and sender.instance_id == message.instance_id
        return "continue-as-new" if same else "sub-orchestration started"
