"""Fidelity oracle: after every episode, the ids the host has handed out and not yet completed must
be the ids the SDK's own executor is waiting for (`context.open_tasks`), kind for kind.

A divergence means the host fed, or will feed, a completion to the wrong task, which silently
changes results (the fail-fast-plus-retry case in docs/devhost.md). The oracle reports it loudly:
in strict mode the engine fails the orchestration with the divergence as its error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from azure.durable_functions.models import DurableOrchestrationContext
from azure.durable_functions.models.TaskOrchestrationExecutor import TaskOrchestrationExecutor

from ..discovery import Registry
from .protocol import context_json
from .shim import TIMER, HostReplay

AGREE, HOST_LAGS, DISAGREE = "agree", "host-lags", "DISAGREE"


@dataclass
class Verdict:
    orchestrator: str
    instance_id: str
    events: int
    verdict: str
    sdk: dict[int, str]
    host: dict[int, str]

    def describe(self) -> str:
        return (f"devhost fidelity oracle: {self.verdict} in {self.orchestrator}/"
                f"{self.instance_id} after {self.events} history events: SDK waits on "
                f"{self.sdk}, host has {self.host} outstanding")


@dataclass
class Oracle:
    strict: bool = True
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def divergences(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.verdict == DISAGREE]

    def check(self, registry: Registry, inst: Any, past: list[dict[str, Any]],
              new: list[dict[str, Any]], replay: HostReplay) -> Verdict:
        history = past + new
        sdk, consumed = sdk_open_tasks(registry, inst, history)
        if consumed < len(history):
            # The SDK stops reading at the event that ends the orchestration; compare the host
            # at the same point, not after the rest of the batch.
            replay = HostReplay(history[:consumed], replay.actions, replay.order).run()
        host = replay.open_labels
        verdict = Verdict(inst["name"], inst["id"], len(history),
                          classify(sdk, host, replay.next_id), sdk, host)
        self.verdicts.append(verdict)
        return verdict


def classify(sdk: dict[int, str], host: dict[int, str], host_next_id: int) -> str:
    """Compare what each outstanding id is *for* (a timer, or a task of a named function)."""
    same = all(sdk[i] == host[i] for i in sdk.keys() & host.keys())
    if sdk == host:
        return AGREE
    # The SDK fails a task_all fast and asks for more work; the shim's Task.WhenAll still waits,
    # so the host hands the same ids out later. Same ids, only later: not a divergence.
    if same and set(host) <= set(sdk) and min(set(sdk) - set(host)) >= host_next_id:
        return HOST_LAGS
    return DISAGREE


class _CountingExecutor(TaskOrchestrationExecutor):
    """The SDK's executor, counting the history events it read before it stopped."""

    consumed = 0

    def process_event(self, event: Any) -> None:
        self.consumed += 1
        super().process_event(event)


def sdk_open_tasks(registry: Registry, inst: Any,
                   history: list[dict[str, Any]]) -> tuple[dict[int, str], int]:
    """Replay the history in the SDK's own executor: what it waits for, and events it read."""
    body = context_json(history=history, input_=inst["input"], instance_id=inst["id"],
                        parent_instance_id=inst["parent_id"], is_replaying=True)
    ctx = DurableOrchestrationContext.from_json(body)
    fn = registry.orchestrators[inst["name"]].user_fn.orchestrator_function
    executor = _CountingExecutor()
    try:
        executor.execute(ctx, ctx.histories, fn)
    except Exception:  # noqa: BLE001, S110 - a failing orchestrator still leaves its open tasks
        pass
    open_tasks = {}
    for key, value in ctx.open_tasks.items():
        tasks = value if isinstance(value, list) else [value]
        if isinstance(key, int) and tasks:  # external events are keyed by name, not by id
            open_tasks[key] = task_label(tasks[0])
    return open_tasks, executor.consumed


def task_label(task: Any) -> str:
    """"timer", or "task:<function>" (a retry's re-attempt takes its parent's function)."""
    action = task.action_repr[0] if isinstance(task.action_repr, list) else task.action_repr
    metadata = str(getattr(action, "metadata", "") or "")
    if type(action).__name__ == "CreateTimerAction" or "timer" in metadata:
        return TIMER
    name = getattr(action, "function_name", None)
    parent = getattr(task, "parent", None)
    while name is None and parent is not None:
        for child in getattr(parent, "children", []):
            child_action = child.action_repr[0] if isinstance(child.action_repr, list) \
                else child.action_repr
            name = name or getattr(child_action, "function_name", None)
        parent = getattr(parent, "parent", None)
    return f"task:{(name or '?').lower()}"
