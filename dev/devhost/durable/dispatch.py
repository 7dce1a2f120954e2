"""When the Durable backend hands the host its next piece of work (optional; off by default).

devhost runs an orchestration's next episode the moment a message for it becomes visible, and an
activity the moment it is scheduled: that is how a push backend behaves (the Durable Task
Scheduler streams work items to the app over gRPC, `TaskHubSidecarService.GetWorkItems`). The
Azure Storage provider instead POLLS its queues, and a message waits for the next poll. This
module models those polls on the host's clock, from DurableTask.AzureStorage's source
(Azure/durabletask at 5217032, 2026-06-24):

* every queue, the control queue of each partition (`<hub>-control-NN`, NN < partitionCount) and
  the work-item queue, has its own `BackoffPollingHelper(50 ms, MaxQueuePollingInterval)`
  (Messaging/TaskHubQueue.cs; a maximum under 50 ms is raised to 50 ms);
* the poller asks the queue for messages (ControlQueue.GetMessagesAsync: up to 32;
  WorkItemQueue.GetMessageAsync: one); when it finds none it waits the helper's current
  interval, after which the interval grows: `min + U(0.8, 1.2) * 2^(n-1) * min` for the n-th
  empty wait in a row, capped at the maximum, where it stays (BackoffPollingHelper.cs,
  RandomizedExponentialBackoffStrategy; Utils.Next is `NextDouble() * (max - min) + min`);
* a poll that finds messages calls `Reset()`; so does EVERY enqueue by the same process
  (TaskHubQueue.AddMessageAsync): the waiting poller wakes at once and its interval drops to
  the minimum. Both leave the same schedule behind them: polls at t, t + 50 ms, then waits of
  100, 150, 250, 450, 850 ms, 1.65, 3.25, 6.45, 12.85, 25.65 s... (at the randomisation's mean)
  up to the maximum;
* an instance's messages go to control queue `FNV-1a(instanceId) % partitionCount`
  (AzureStorageOrchestrationService.GetControlQueueAsync, Fnv1aHashHelper.cs).

So, on ONE app instance (which owns every partition), a message the host enqueues itself wakes
its queue: an activity's result, a sub-orchestration's start or completion, an activity
scheduled by an episode. What waits for a poll is a message enqueued invisible: a durable timer
(`TimerFired`, enqueued with a visibility delay when the timer is created) is found by the first
poll after it fires, on the schedule its creation (or the queue's last wake) started.

Two switches say which enqueues come from the process that polls:
* `client_wake` (default False): messages a Durable client sends (start, raise event,
  terminate, suspend, resume). On Flex Consumption the functions that hold the client (HTTP,
  queue, timer and Event Grid triggers) run on instances of their own: the plan scales HTTP
  functions as one group, Durable functions (orchestrations, activities, entities) as another and
  every other function alone, so a restore's start waits for the durable instance's poller.
  True is one instance running everything (Premium or Dedicated with one instance);
* `in_process_wake` (default True): messages the orchestrations and activities send. False is
  the durable group scaled out to several instances, where the sender is not the partition's
  owner (the Durable docs: back-off delays appear "when your app scales out to two or more
  instances"): nothing wakes a poller, the worst case.

Not modelled: the storage round trips themselves (tens of ms each), partition lease acquisition
at start-up, cold starts of a scaled-in app, and the history load before an episode.

Deterministic: with `seed=None` every randomised factor is its mean (1.0); with a seed, the
factors of a schedule are drawn from a generator seeded by (seed, queue, schedule start since
the host started), so a run gives the same polls whatever order threads reach the model in.
"""

from __future__ import annotations

import bisect
import math
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..config import ConfigError, HostConfig

MIN_INTERVAL = 0.050  # TaskHubQueue: TimeSpan.FromMilliseconds(50)
RANDOMIZATION = 0.2  # RandomizedExponentialBackoffStrategy.RandomizationFactor
WORK_ITEMS = "workitems"
AZURE_STORAGE, DTS = "azurestorage", "azuremanaged"
_FNV_OFFSET, _FNV_PRIME = 2166136261, 16777619


def partition_of(instance_id: str, partitions: int) -> int:
    """The control queue of an instance: FNV-1a (32-bit) of its UTF-8 id, modulo the count."""
    h = _FNV_OFFSET
    for byte in instance_id.encode("utf-8"):
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return h % partitions


class Poller:
    """One queue's poller: its polls after the last reset (a wake, or a poll that found work).

    Schedule: polls at `anchor + S_k`, S_0 = 0, S_1 = min, S_{k+1} = S_k + w_{k+1} with
    w_j = min(max, min + r_j * 2^(j-2) * min) for j >= 2, constant once it reaches the maximum.
    """

    def __init__(self, name: str, max_interval: float, seed: int | None, start: float) -> None:
        self.name, self.seed = name, seed
        self.max = max(max_interval, MIN_INTERVAL)
        self.anchor = self.origin = start
        self.polls = 0  # polls before the current anchor (storage transactions, for the bench)
        self._offsets: list[float] = [0.0]  # S_k for the current anchor, extended on demand
        self._capped_at: int | None = None  # first k with w_k == max: later polls are periodic
        self._rng: random.Random | None = None

    def reset(self, t: float) -> None:
        """A wake (same-process enqueue) or a poll that found messages, at `t`: the helper's
        interval drops to the minimum and the poller polls at `t`."""
        if t < self.anchor:  # a late report (another thread's clock read): keep time monotonic
            t = self.anchor
        self.polls += self._count_before(t)
        self.anchor = t
        self._offsets, self._capped_at, self._rng = [0.0], None, None

    def first_poll_at_or_after(self, t: float) -> float:
        """The first poll at or after `t` on the current schedule."""
        if t <= self.anchor:
            return self.anchor
        k = self._extend_until(t - self.anchor)
        if k is not None:
            return self.anchor + self._offsets[k]
        base = self._offsets[-1]  # periodic from here on
        steps = math.ceil((t - self.anchor - base) / self.max - 1e-9)
        return self.anchor + base + steps * self.max

    def polls_until(self, t: float) -> int:
        """Polls made before `t` in all (for the cost estimate)."""
        return self.polls + self._count_before(t)

    # ---- the schedule --------------------------------------------------------------------------
    def _count_before(self, t: float) -> int:
        if t <= self.anchor:
            return 0
        span = t - self.anchor
        k = self._extend_until(span)
        if k is not None:
            return k  # offsets[0..k-1] are before t
        base = self._offsets[-1]
        return len(self._offsets) + math.ceil((span - base) / self.max - 1e-9) - 1

    def _extend_until(self, span: float) -> int | None:
        """The index of the first offset >= span, generating offsets until the schedule turns
        periodic; None if it is beyond them (the schedule is periodic after the last)."""
        offsets = self._offsets
        while offsets[-1] < span:
            if self._capped_at is not None:
                return None
            offsets.append(offsets[-1] + self._wait(len(offsets)))
        return bisect.bisect_left(offsets, span)

    def _wait(self, j: int) -> float:
        """w_j, the wait before the j-th poll after the anchor (j >= 1)."""
        if j == 1:
            wait = MIN_INTERVAL  # UpdateDelay(true): CurrentInterval = minimum
        else:
            factor = 1.0
            if self.seed is not None:
                if self._rng is None:  # by the time since the host started: not the wall clock's
                    since = round(self.anchor - self.origin, 6)
                    self._rng = random.Random(f"{self.seed}/{self.name}/{since!r}")
                factor = self._rng.uniform(1.0 - RANDOMIZATION, 1.0 + RANDOMIZATION)
            wait = MIN_INTERVAL + factor * 2 ** (j - 2) * MIN_INTERVAL
        if wait >= self.max:
            self._capped_at = j
            return self.max
        return wait


@dataclass
class DispatchModel:
    """The Azure Storage provider's polls, per queue, for the engine to wait on.

    The engine reports every enqueue (`wake_instance`, `wake_work`) and asks, with the messages
    and work items that exist, which are dispatched by now and when the next one will be.
    """

    max_interval: float = 30.0
    partitions: int = 4
    in_process_wake: bool = True
    client_wake: bool = False
    seed: int | None = None
    start: float = 0.0
    _pollers: dict[str, Poller] = field(init=False, repr=False)
    _dispatched: set[int] = field(init=False, repr=False, default_factory=set)
    _dispatched_work: set[int] = field(init=False, repr=False, default_factory=set)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not 1 <= self.partitions <= 16:
            raise ValueError(f"partitions must be 1-16, got {self.partitions}")
        if not self.max_interval > 0:
            raise ValueError(f"max_interval must be more than zero, got {self.max_interval}")
        names = [self.control_queue(i) for i in range(self.partitions)] + [WORK_ITEMS]
        self._pollers = {n: Poller(n, self.max_interval, self.seed, self.start) for n in names}

    @classmethod
    def from_config(cls, config: HostConfig, **kw: Any) -> DispatchModel | None:
        """The model of host.json's backend: None for the Durable Task Scheduler (work is pushed,
        nothing waits for a poll), the polls for Azure Storage."""
        kind = config.storage_provider_type.lower()
        if kind == DTS:
            return None
        if kind != AZURE_STORAGE:
            raise ConfigError(f"host.json: extensions.durableTask.storageProvider.type "
                              f"{config.storage_provider_type!r}: devhost models the dispatch of "
                              "AzureStorage (queue polling) and azureManaged (push) only")
        return cls(max_interval=config.max_queue_polling_interval,
                   partitions=config.partition_count, **kw)

    @staticmethod
    def control_queue(partition: int) -> str:
        return f"control-{partition:02d}"

    def queue_of(self, instance_id: str) -> str:
        return self.control_queue(partition_of(instance_id, self.partitions))

    def poller(self, queue: str) -> Poller:
        return self._pollers[queue]

    def restart(self, t: float) -> None:
        """A host (re)start at `t`: every poller starts polling at once (a host that was not
        running made no polls: the count starts here)."""
        with self._lock:
            for poller in self._pollers.values():
                poller.reset(t)
                poller.polls, poller.origin = 0, t

    # ---- enqueues ------------------------------------------------------------------------------
    def posted(self, message_id: int, instance_id: str, t: float, *, client: bool = False) -> None:
        """Message `message_id` for `instance_id` was enqueued at `t`, by a Durable client
        (`client`) or by an orchestration or activity: it waits for a poll (SQLite may reuse the
        id of a consumed message), and TaskHubQueue.AddMessageAsync calls Reset() on that
        control queue's poller, which wakes it if the sender is the process that polls."""
        with self._lock:
            self._dispatched.discard(message_id)
            if self.client_wake if client else self.in_process_wake:
                self._pollers[self.queue_of(instance_id)].reset(t)

    def scheduled(self, work_id: int, t: float) -> None:
        """The host enqueued activity work item `work_id` at `t`."""
        with self._lock:
            self._dispatched_work.discard(work_id)
            if self.in_process_wake:
                self._pollers[WORK_ITEMS].reset(t)

    def wake_instance(self, instance_id: str, t: float) -> None:
        """Messages of `instance_id` were made visible by this host at `t`: its queue's poller
        wakes (when same-process wakes are modelled)."""
        if self.in_process_wake:
            with self._lock:
                self._pollers[self.queue_of(instance_id)].reset(t)

    # ---- dispatch ------------------------------------------------------------------------------
    def dispatch(self, messages: Iterable[tuple[int, str, float]], now: float) -> set[str]:
        """Instances that have a message some poll has handed to the host by `now`.

        `messages`: every message in the inbox as (id, instance id, visible at), held ones left
        out. Polls up to `now` are played in order: each poll that finds visible messages takes
        all of them (and resets its poller); every message is dispatched at most once."""
        messages = list(messages)
        by_queue: dict[str, list[tuple[float, int, str]]] = {}
        present: set[int] = set()
        for message_id, instance_id, visible_at in messages:
            present.add(message_id)
            if message_id not in self._dispatched:
                by_queue.setdefault(self.queue_of(instance_id), []).append(
                    (visible_at, message_id, instance_id))
        with self._lock:
            self._dispatched &= present  # consumed ones are gone
            for queue, waiting in by_queue.items():
                self._play(self._pollers[queue], waiting, now, self._dispatched)
            ids = set(self._dispatched)
        return {instance_id for message_id, instance_id, _ in messages if message_id in ids}

    def dispatch_work(self, rows: Iterable[tuple[int, float]], now: float) -> set[int]:
        """Work items (id, created) the work-item queue's poller has handed out by `now`."""
        rows = list(rows)
        present = {work_id for work_id, _ in rows}
        with self._lock:
            self._dispatched_work &= present
            waiting = [(created, work_id, "") for work_id, created in rows
                       if work_id not in self._dispatched_work]
            self._play(self._pollers[WORK_ITEMS], waiting, now, self._dispatched_work)
            return set(self._dispatched_work)

    def next_due(self, messages: Iterable[tuple[int, str, float]],
                 rows: Iterable[tuple[int, float]] = ()) -> float | None:
        """When the next poll will find something not yet dispatched (None: nothing waits)."""
        earliest: dict[str, float] = {}
        for message_id, instance_id, visible_at in messages:
            if message_id not in self._dispatched:
                queue = self.queue_of(instance_id)
                earliest[queue] = min(visible_at, earliest.get(queue, visible_at))
        for work_id, created in rows:
            if work_id not in self._dispatched_work:
                earliest[WORK_ITEMS] = min(created, earliest.get(WORK_ITEMS, created))
        with self._lock:
            due = [self._pollers[q].first_poll_at_or_after(v) for q, v in earliest.items()]
        return min(due, default=None)

    def polls_until(self, t: float) -> dict[str, int]:
        """Polls (storage transactions: one GetMessages each) every queue made before `t`."""
        with self._lock:
            return {name: p.polls_until(t) for name, p in self._pollers.items()}

    @staticmethod
    def _play(poller: Poller, waiting: list[tuple[float, int, str]], now: float,
              dispatched: set[int]) -> None:
        waiting.sort()
        i = 0
        while i < len(waiting):
            poll = poller.first_poll_at_or_after(waiting[i][0])
            if poll > now:
                return
            while i < len(waiting) and waiting[i][0] <= poll:  # this poll takes all visible
                dispatched.add(waiting[i][1])
                i += 1
            poller.reset(poll)  # found: Reset(), the next polls come quickly again

