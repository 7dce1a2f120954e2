"""Orchestrators, each declared once: `@orchestrator()` over its body makes the symbol that the
registration (orchestrations/orchestrators.py), the orchestrations that call it as a
sub-orchestration (`yield from restore_managed_disk.call(context, doc, child_id)`) and the
triggers that start it (`await restore_managed_disk.start(client, instance_id, doc)`) all use.
The registered name is the body's own name.

A body takes the context and its typed input record and returns its typed output record; what
the host stores is their JSON (domain/model.py's Record, camelCase). Only the ordinary
DurableOrchestrationContext API is used (get_input, call_sub_orchestrator), so the bodies run
unchanged under any host or test harness that provides it.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Generator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Generic, TypeAlias, TypeVar

import azure.durable_functions as df

from domain import errors
from domain.model import Record, decode, encode

In = TypeVar("In", bound=Record)  # the input record, as in Orchestrator[In, Out]
Out = TypeVar("Out")  # the output record (a caller gets the last generation's)
T = TypeVar("T")

# A body's generator: it yields Durable tasks, is sent their results and returns T.
Orchestration: TypeAlias = Generator[Any, Any, T]


@dataclass(frozen=True)
class Orchestrator(Generic[In, Out]):
    """One orchestrator: its registered name, its input record, its output type and its body."""

    name: str
    input: type[In]
    output: Any  # the output's type, for decode
    # A body returns None after continue_as_new: its caller gets the last generation's output.
    body: Callable[[df.DurableOrchestrationContext, In], Orchestration[Out | None]]
    errors_as_data: bool = False

    def __call__(self, context: df.DurableOrchestrationContext) -> Orchestration[Any]:
        """The registered function: its input's JSON as the record, the body, its output as JSON.
        With `errors_as_data`, a failure is the output {"error": {...}} (a caller's `call`
        raises it again), so the caller, not the host, decides what a failure means."""
        doc = context.get_input()
        value = self.input.from_dict({} if doc is None else doc)
        if not self.errors_as_data:
            return encode((yield from self.body(context, value)))
        try:
            result = yield from self.body(context, value)
        except Exception as exc:  # noqa: BLE001 - reported as data, to the caller
            return {"error": errors.as_dict(exc)}
        return encode(result)

    def schedule(self, context: df.DurableOrchestrationContext, value: In,
                 instance_id: str | None = None) -> Any:
        """The sub-orchestration's task, for task_all; `result` reads what it returned."""
        return context.call_sub_orchestrator(self.name, value.to_dict(), instance_id)

    def result(self, answer: Any) -> Out:
        if self.errors_as_data and isinstance(answer, dict) and set(answer) == {"error"}:
            raise errors.from_dict(answer["error"])
        return typing.cast(Out, decode(self.output, answer))

    def call(self, context: df.DurableOrchestrationContext, value: In,
             instance_id: str | None = None) -> Orchestration[Out]:
        """Run it as a sub-orchestration: its output, or the error it reported, raised here."""
        return self.result((yield self.schedule(context, value, instance_id)))

    async def start(self, client: df.DurableOrchestrationClient, instance_id: str | None,
                    value: In) -> str:
        """Start an instance (a trigger's side); the instance id."""
        started: str = await client.start_new(self.name, instance_id, value.to_dict())
        return started


class orchestrator:
    """Declare the decorated body an orchestrator named after it: `def name(context, doc: X) ->
    Orchestration[Y]`, X and Y Records (Y | None when it may continue as new)."""

    def __init__(self, *, errors_as_data: bool = False) -> None:
        self.errors_as_data = errors_as_data

    def __call__(self, body: Callable[[df.DurableOrchestrationContext, In],
                                      Orchestration[Out | None]]) -> Orchestrator[In, Out]:
        hints = typing.get_type_hints(body)
        _, value = inspect.signature(body).parameters
        output = typing.get_args(hints["return"])[2]
        records = [hints[value], *(t for t in typing.get_args(output) or (output,)
                                   if t is not type(None))]
        if not all(isinstance(t, type) and issubclass(t, Record) for t in records):
            raise TypeError(f"{body.__name__} must take and return one Record each, not "
                            f"{hints[value]} -> {output}")
        return Orchestrator(body.__name__, hints[value], output, body, self.errors_as_data)


def declared(*modules: ModuleType) -> tuple[Orchestrator[Any, Any], ...]:
    """Every orchestrator the modules declare, each once (a name declared twice fails here)."""
    found: dict[str, Orchestrator[Any, Any]] = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, Orchestrator) and \
                    found.setdefault(value.name, value) is not value:
                raise ValueError(f"two orchestrators are named {value.name!r}")
    return tuple(found.values())


def host_function(declaration: Orchestrator[Any, Any]) -> Callable[..., Any]:
    """The function the host registers for an orchestrator (named as the orchestrator)."""
    def function(context: df.DurableOrchestrationContext) -> Orchestration[Any]:
        return declaration(context)

    function.__name__ = function.__qualname__ = declaration.name
    return function
