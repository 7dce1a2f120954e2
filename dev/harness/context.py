"""A stand-in for azure.durable_functions' `DurableOrchestrationContext`, for orchestrators run by
the harness (engine.py) instead of replayed by the SDK from a history.

The tasks it hands out are the SDK's own (`AtomicTask`, `TimerTask`, `WhenAnyTask`,
`WhenAllTask`) carrying the SDK's own actions, so what the orchestrator sees is the SDK's: a
`task_any` answers the child task that finished first (compare it with `==`), a `task_all`
fails as soon as one child fails, a canceled timer is `timer.cancel()`, an input that is not
JSON fails when the call is made (the action serializes it), `new_uuid` is the SDK's algorithm.
Nothing runs until the orchestrator yields a task: as in the SDK, a task created but never
yielded is never scheduled. What the orchestrations do not use (entities, call_http, long
timers) is absent, so using it fails at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from azure.durable_functions.decorators.metadata import ActivityTrigger, OrchestrationTrigger
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
from azure.durable_functions.models.actions.ContinueAsNewAction import ContinueAsNewAction
from azure.durable_functions.models.actions.CreateTimerAction import CreateTimerAction
from azure.durable_functions.models.actions.WaitForExternalEventAction import (
    WaitForExternalEventAction,
)
from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
from azure.durable_functions.models.ReplaySchema import ReplaySchema
from azure.durable_functions.models.RetryOptions import RetryOptions
from azure.durable_functions.models.Task import (
    AtomicTask,
    TaskBase,
    TimerTask,
    WhenAllTask,
    WhenAnyTask,
)
from azure.durable_functions.models.utils.df_serialization import df_loads
from azure.durable_functions.models.utils.type_discovery import (
    activity_output_type,
    sub_orchestrator_output_type,
)


class FakeOrchestrationContext:
    """What the orchestrations use of DurableOrchestrationContext; see the module docstring."""

    # The SDK's own implementations, over the same attributes.
    new_uuid = DurableOrchestrationContext.new_uuid
    new_guid = DurableOrchestrationContext.new_guid
    _get_function_name = DurableOrchestrationContext._get_function_name

    def __init__(self, instance_id: str, input_json: str | None, now: datetime,
                 parent_instance_id: str | None = None) -> None:
        self._instance_id = instance_id
        self._parent_instance_id = parent_instance_id
        self._input = input_json
        self.current_utc_datetime = now
        self._new_uuid_counter = 0
        self._custom_status: Any = None
        self._custom_status_set = False
        self._continue_as_new_flag = False
        self.continue_as_new_input: str | None = None

    # ---- identity and input -------------------------------------------------------------------
    @property
    def instance_id(self) -> str:
        return self._instance_id

    @property
    def parent_instance_id(self) -> str | None:
        return self._parent_instance_id

    @property
    def is_replaying(self) -> bool:
        return False  # the harness never replays: every line runs once

    def get_input(self, expected_type: type | None = None) -> Any:
        return None if self._input is None else df_loads(self._input, expected_type=expected_type)

    # ---- work ---------------------------------------------------------------------------------
    def call_activity(self, name: str | Callable[..., Any], input_: Any = None,
                      expected_type: type | None = None) -> TaskBase:
        return _typed(AtomicTask(None, CallActivityAction(self._name(name, ActivityTrigger),
                                                          input_)),
                      expected_type or activity_output_type(name))

    def call_activity_with_retry(self, name: str | Callable[..., Any],
                                 retry_options: RetryOptions, input_: Any = None,
                                 expected_type: type | None = None) -> TaskBase:
        return _typed(AtomicTask(None, CallActivityWithRetryAction(
            self._name(name, ActivityTrigger), retry_options, input_)),
            expected_type or activity_output_type(name))

    def call_sub_orchestrator(self, name: str | Callable[..., Any], input_: Any = None,
                              instance_id: str | None = None, version: str | None = None,
                              expected_type: type | None = None) -> TaskBase:
        return _typed(AtomicTask(None, CallSubOrchestratorAction(
            self._name(name, OrchestrationTrigger), input_, instance_id, version)),
            expected_type or sub_orchestrator_output_type(name))

    def call_sub_orchestrator_with_retry(self, name: str | Callable[..., Any],
                                         retry_options: RetryOptions, input_: Any = None,
                                         instance_id: str | None = None,
                                         version: str | None = None,
                                         expected_type: type | None = None) -> TaskBase:
        return _typed(AtomicTask(None, CallSubOrchestratorWithRetryAction(
            self._name(name, OrchestrationTrigger), retry_options, input_, instance_id, version)),
            expected_type or sub_orchestrator_output_type(name))

    def create_timer(self, fire_at: datetime) -> TaskBase:
        return TimerTask(None, CreateTimerAction(fire_at))

    def wait_for_external_event(self, name: str, expected_type: type | None = None) -> TaskBase:
        """A fresh wait each call, as in the SDK: the host matches events to waits by name."""
        return _typed(AtomicTask(name, WaitForExternalEventAction(name)), expected_type)

    def task_all(self, activities: list[TaskBase]) -> TaskBase:
        return WhenAllTask(activities, replay_schema=ReplaySchema.V2)

    def task_any(self, activities: list[TaskBase]) -> TaskBase:
        return WhenAnyTask(activities, replay_schema=ReplaySchema.V2)

    # ---- state --------------------------------------------------------------------------------
    def set_custom_status(self, status: Any) -> None:
        self._custom_status, self._custom_status_set = status, True

    @property
    def custom_status(self) -> Any:
        return self._custom_status

    def continue_as_new(self, input_: Any) -> None:
        self.continue_as_new_input = ContinueAsNewAction(input_).input_
        self._continue_as_new_flag = True

    @property
    def will_continue_as_new(self) -> bool:
        return self._continue_as_new_flag

    def _name(self, name: str | Callable[..., Any], trigger: type) -> str:
        if isinstance(name, str):
            return name
        if callable(name) and hasattr(name, "_function"):  # a v2 FunctionBuilder
            return self._get_function_name(name, trigger)
        raise ValueError("The harness takes an activity or orchestrator by its name, or by its "
                         f"registered function (FunctionBuilder); got {name!r}")


def _typed(task: TaskBase, expected_type: type | None) -> TaskBase:
    """The type the result is decoded as (df_loads), as the SDK keeps it on the task."""
    task._expected_output_type = expected_type
    return task
