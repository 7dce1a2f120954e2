"""The out-of-process orchestrator protocol of azure-functions-durable (classic JSON, schema V3).

History events are DTFx `HistoryEvent`s serialised the way the Durable extension does it
(Newtonsoft defaults: PascalCase properties, enums as ints, ISO timestamps with 7 fractional
digits). The SDK answers with an OrchestratorState JSON, or raises an exception whose message ends
in `$OutOfProcData$:<state json>` when the orchestrator failed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dateutil.parser import isoparse


class EventType:  # DurableTask.Core.History.EventType
    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_CREATED = 7
    SUB_ORCHESTRATION_COMPLETED = 8
    SUB_ORCHESTRATION_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_SENT = 14
    EVENT_RAISED = 15
    CONTINUE_AS_NEW = 16
    EXECUTION_SUSPENDED = 19
    EXECUTION_RESUMED = 20


class ActionType:  # the SDK's ActionType / the shim's AsyncActionType
    CALL_ACTIVITY = 0
    CALL_ACTIVITY_WITH_RETRY = 1
    CALL_SUB_ORCHESTRATOR = 2
    CALL_SUB_ORCHESTRATOR_WITH_RETRY = 3
    CONTINUE_AS_NEW = 4
    CREATE_TIMER = 5
    WAIT_FOR_EXTERNAL_EVENT = 6
    CALL_ENTITY = 7
    CALL_HTTP = 8
    SIGNAL_ENTITY = 9
    WHEN_ANY = 11
    WHEN_ALL = 12


class OrchestrationStatus:  # DurableTask.Core.OrchestrationStatus, as used in ExecutionCompleted
    RUNNING = 0
    COMPLETED = 1
    CONTINUED_AS_NEW = 2
    FAILED = 3
    TERMINATED = 5


# The host's context fields (OrchestrationContextToString): schema V2 plus V3, as Azure Storage.
UPPER_SCHEMA_VERSION = 1
UPPER_SCHEMA_VERSION_NEW = 2
LONG_TIMER_INTERVAL = "3.00:00:00"
MAX_SHORT_TIMER = "6.00:00:00"
HTTP_ASYNC_SLEEP_MS = 30000

OUT_OF_PROC_DATA = "$OutOfProcData$:"


def format_ts(dt: datetime) -> str:
    """.NET round-trip format in UTC: seven fractional digits and a Z."""
    naive = dt.astimezone(UTC).replace(tzinfo=None)
    return naive.isoformat(timespec="microseconds") + "0Z"  # isoformat: far cheaper than strftime


def parse_ts(text: str) -> datetime:
    if len(text) == 28 and text[19] == "." and text[-1] == "Z":  # ours: 7 digits and a Z
        return datetime.fromisoformat(text[:26]).replace(tzinfo=UTC)
    dt = isoparse(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def event(event_type: int, timestamp: datetime | str, event_id: int = -1,
          **fields: Any) -> dict[str, Any]:
    """A history event; `timestamp` may be given already formatted (`format_ts`)."""
    stamp = timestamp if isinstance(timestamp, str) else format_ts(timestamp)
    return {"EventType": event_type, "EventId": event_id, "IsPlayed": False,
            "Timestamp": stamp, **fields}


def played_json(events: list[dict[str, Any]]) -> str:
    """The events as the context shows ones already played (`IsPlayed: true`): the inside of a
    JSON array, so the text for a growing history can be extended rather than rebuilt."""
    return json.dumps([dict(e, IsPlayed=True) for e in events])[1:-1]


def context_json(*, history: list[dict[str, Any]], input_: str | None, instance_id: str,
                 parent_instance_id: str | None, is_replaying: bool, played: str = "") -> str:
    """The JSON the extension hands to the orchestrator trigger: the played events (as
    `played_json` text) followed by `history`."""
    fresh = json.dumps(history)[1:-1]
    events = f"{played}, {fresh}" if played and fresh else played or fresh
    return f'{{"history": [{events}], ' + json.dumps({
        "input": input_,
        "instanceId": instance_id,
        "isReplaying": is_replaying,
        "parentInstanceId": parent_instance_id,
        "upperSchemaVersion": UPPER_SCHEMA_VERSION,
        "upperSchemaVersionNew": UPPER_SCHEMA_VERSION_NEW,
        "longRunningTimerIntervalDuration": LONG_TIMER_INTERVAL,
        "maximumShortTimerDuration": MAX_SHORT_TIMER,
        "defaultHttpAsyncRequestSleepTimeMillseconds": HTTP_ASYNC_SLEEP_MS,
    })[1:]


@dataclass
class OrchestratorState:
    """What one invocation of the orchestrator handle returned."""

    actions: list[dict[str, Any]] = field(default_factory=list)
    is_done: bool = False
    output: Any = None
    error: str | None = None
    custom_status: Any = None
    has_custom_status: bool = False
    schema_version: int = 0

    @classmethod
    def from_json(cls, raw: str | dict[str, Any]) -> OrchestratorState:
        doc = json.loads(raw) if isinstance(raw, str) else raw
        return cls(actions=_flatten(doc.get("actions") or [], doc.get("schemaVersion", 0)),
                   is_done=bool(doc.get("isDone")), output=doc.get("output"),
                   error=doc.get("error"), custom_status=doc.get("customStatus"),
                   has_custom_status="customStatus" in doc,
                   schema_version=int(doc.get("schemaVersion", 0)))

    @classmethod
    def from_exception(cls, message: str) -> OrchestratorState:
        """The SDK raises "<message>\\n\\n$OutOfProcData$:<state>" and the worker reports it as
        "Exception: <that>"; the host cuts the state off (an invocation that failed without a
        state, such as a binding error, fails the orchestration with the worker's text)."""
        head, sep, tail = message.partition(OUT_OF_PROC_DATA)
        if not sep:
            return cls(is_done=True, error=message)
        state = cls.from_json(tail)
        state.error = state.error or head.rstrip()
        return state


def _flatten(actions: list[Any], schema_version: int) -> list[dict[str, Any]]:
    """V2/V3 send one flat list wrapped in a list; V1 sends one inner list per yield.

    The shim treats a V1 inner list of several actions as one WhenAny over them.
    """
    if schema_version >= 1:
        return list(actions[0]) if actions else []
    flat: list[dict[str, Any]] = []
    for group in actions:
        if len(group) == 1:
            flat.append(group[0])
        elif group:
            flat.append({"actionType": ActionType.WHEN_ANY, "compoundActions": list(group)})
    return flat
