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
        sdk = sdk_open_tasks(registry, inst, past + new)
        host = {i: host_kind(k) for i, k in replay.open_ids.items()}
        verdict = Verdict(inst["name"], inst["id"], len(past) + len(new),
                          classify(sdk, host, replay.next_id), sdk, host)
        self.verdicts.append(verdict)
        return verdict


def classify(sdk: dict[int, str], host: dict[int, str], host_next_id: int) -> str:
    same_kinds = all(sdk[i] == host[i] for i in sdk.keys() & host.keys())
    if sdk == host:
        return AGREE
    # The SDK fails a task_all fast and asks for more work; the shim's Task.WhenAll still waits,
    # so the host hands the same ids out later. Same ids, only later: not a divergence.
    if same_kinds and set(host) <= set(sdk) and min(set(sdk) - set(host)) >= host_next_id:
        return HOST_LAGS
    return DISAGREE


def sdk_open_tasks(registry: Registry, inst: Any, history: list[dict[str, Any]]) -> dict[int, str]:
    """Replay the history in the SDK's own executor and read what it waits for."""
    body = context_json(history=history, input_=inst["input"], instance_id=inst["id"],
                        parent_instance_id=inst["parent_id"], is_replaying=True)
    ctx = DurableOrchestrationContext.from_json(body)
    fn = registry.orchestrators[inst["name"]].user_fn.orchestrator_function
    try:
        TaskOrchestrationExecutor().execute(ctx, ctx.histories, fn)
    except Exception:  # noqa: BLE001 - a failing orchestrator still leaves its open tasks to read
        pass
    return {k: _kind(v) for k, v in ctx.open_tasks.items() if isinstance(k, int) and v}


def _kind(task: Any) -> str:
    action = task.action_repr[0] if isinstance(task.action_repr, list) else task.action_repr
    is_timer = (type(action).__name__ == "CreateTimerAction"
                or "timer" in str(getattr(action, "metadata", "")))
    return TIMER if is_timer else "task"


def host_kind(kind: str) -> str:
    return TIMER if kind == TIMER else "task"

