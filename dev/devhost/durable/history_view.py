"""History as the status API shows it (`showHistory=true`), shaped like the extension's
HttpApiHandler output: event type names, scheduling folded into the completion events, and the
bookkeeping events (OrchestratorStarted/Completed, TaskScheduled, TimerCreated) left out.
"""

from __future__ import annotations

import json
from typing import Any

from .protocol import EventType

_NAMES = {v: k for k, v in vars(EventType).items() if isinstance(v, int)}
_HIDDEN = {EventType.ORCHESTRATOR_STARTED, EventType.ORCHESTRATOR_COMPLETED,
           EventType.TASK_SCHEDULED, EventType.TIMER_CREATED, EventType.SUB_ORCHESTRATION_CREATED}
_PASCAL = {"EXECUTION_STARTED": "ExecutionStarted", "EXECUTION_COMPLETED": "ExecutionCompleted",
           "EXECUTION_TERMINATED": "ExecutionTerminated", "TASK_COMPLETED": "TaskCompleted",
           "TASK_FAILED": "TaskFailed", "SUB_ORCHESTRATION_COMPLETED":
           "SubOrchestrationInstanceCompleted", "SUB_ORCHESTRATION_FAILED":
           "SubOrchestrationInstanceFailed", "TIMER_FIRED": "TimerFired",
           "EVENT_RAISED": "EventRaised", "EXECUTION_SUSPENDED": "ExecutionSuspended",
           "EXECUTION_RESUMED": "ExecutionResumed", "EXECUTION_FAILED": "ExecutionFailed"}
_STATUS = {0: "Running", 1: "Completed", 2: "ContinuedAsNew", 3: "Failed", 5: "Terminated"}


def render(history: list[dict[str, Any]], show_output: bool) -> list[dict[str, Any]]:
    scheduled = {e["EventId"]: e for e in history
                 if e["EventType"] in (EventType.TASK_SCHEDULED,
                                       EventType.SUB_ORCHESTRATION_CREATED)}
    out = []
    for e in history:
        t = e["EventType"]
        if t in _HIDDEN:
            continue
        item: dict[str, Any] = {"EventType": _PASCAL.get(_NAMES.get(t, ""), str(t)),
                                "Timestamp": e["Timestamp"]}
        source = scheduled.get(e.get("TaskScheduledId", -2))
        if source is not None:
            item["FunctionName"] = source.get("Name")
            item["ScheduledTime"] = source["Timestamp"]
        if t == EventType.EXECUTION_STARTED:
            item["FunctionName"] = e.get("Name")
            if show_output:
                item["Input"] = _value(e.get("Input"))
        elif t == EventType.EXECUTION_COMPLETED:
            item["OrchestrationStatus"] = _STATUS.get(e.get("OrchestrationStatus"), "Unknown")
            if show_output:
                item["Result"] = _value(e.get("Result"))
        elif t in (EventType.TASK_COMPLETED, EventType.SUB_ORCHESTRATION_COMPLETED) and show_output:
            item["Result"] = _value(e.get("Result"))
        elif t in (EventType.TASK_FAILED, EventType.SUB_ORCHESTRATION_FAILED):
            item["Reason"], item["Details"] = e.get("Reason"), e.get("Details")
        elif t == EventType.TIMER_FIRED:
            item["TimerId"], item["FireAt"] = e.get("TimerId"), e.get("FireAt")
        elif t == EventType.EVENT_RAISED:
            item["Name"] = e.get("Name")
            if show_output:
                item["Input"] = _value(e.get("Input"))
        out.append(item)
    return out


def _value(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text
