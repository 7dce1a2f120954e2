"""The Durable client the app's HTTP functions and triggers get from the harness."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

if TYPE_CHECKING:
    from .engine import Harness


class HarnessError(RuntimeError):
    """The harness was used wrongly, or an orchestration never settled."""


class FakeDurableClient:
    """The Durable client the HTTP functions get, over the harness (the async methods of
    `DurableOrchestrationClient` the app uses)."""

    def __init__(self, harness: Harness) -> None:
        self._harness = harness

    async def start_new(self, orchestration_function_name: str, instance_id: str | None = None,
                        client_input: Any = None) -> str:
        try:
            return self._harness.start(orchestration_function_name, client_input, instance_id)
        except HarnessError as exc:  # the SDK raises a bare Exception for 400 and 409
            raise Exception(str(exc)) from exc

    async def get_status(self, instance_id: str, show_history: bool = False,
                         show_history_output: bool = False,
                         show_input: bool = False) -> DurableOrchestrationStatus:
        status = self._harness.status(instance_id)
        if not show_input:
            status._input = None
        return status

    async def raise_event(self, instance_id: str, event_name: str, event_data: Any = None,
                          task_hub_name: str | None = None,
                          connection_name: str | None = None) -> None:
        if event_name == "":
            raise ValueError("event_name must be a non-empty string.")
        try:
            self._harness.raise_event(instance_id, event_name, event_data)
        except HarnessError as exc:
            raise Exception(str(exc)) from exc

    async def terminate(self, instance_id: str, reason: str) -> None:
        try:
            self._harness.terminate(instance_id, reason)
        except HarnessError as exc:
            raise Exception(str(exc)) from exc
