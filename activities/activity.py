"""Activities, each declared once: `@activity()` over its handler makes the symbol that both the
registration (activities/registry.py) and the orchestrations' calls (orchestrations/steps.py,
`run.call(grant_role, grant)`) use. The registered name is the handler's own name, so "go to
definition" on a call leads to the handler, and from there to the gateway.

A handler takes its typed input record and the gateway, and returns its typed output record;
what crosses to and from the orchestration is their JSON (domain/model.py's Record, camelCase).
A permanent RestoreError is returned as data ({"error": {...}}) so host retries are not spent on
it; transient and unexpected errors raise, and the orchestration's retry policy takes over.
"""

from __future__ import annotations

import functools
import inspect
import logging
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType

# The registered function's binding parameter is annotated Any, never dict[...]: the Python
# worker's load check refuses PEP 585 generics, and Azure would then run no function at all.
from typing import Any, Generic, TypeVar

from domain import errors
from domain.access import audit
from domain.model import Operation, Record
from gateway.ledger import Ledger, ledger_for
from gateway.port import ControlPlane
from gateway.reports import ReportStore, report_store_for
from settings import Settings, settings

In = TypeVar("In", bound=Record)  # the input record, as in Activity[In, Out]
Out = TypeVar("Out", bound=Record)

audit_log = logging.getLogger(audit.LOGGER)


@dataclass(frozen=True)
class Audited:
    """A privileged activity: every attempt writes one audit record of `action`, whose subject
    `what` gives from the input and, if the activity answered, its output. (Not generic: mypy
    would bind its types before it sees the handler; `activity` checks them at declaration.)"""

    action: str  # one of domain/access/audit.py ACTIONS
    what: Callable[[Any, Any], dict[str, Any]]


@dataclass(frozen=True)
class Activity(Generic[In, Out]):
    """One activity: its registered name, its input and output records, and its handler."""

    name: str
    input: type[In]
    output: type[Out]
    handler: Callable[[In, ControlPlane], Out]
    audited: Audited | None = None
    errors_as_data: bool = True  # False: a permanent error raises too (and is retried)

    # ---- the orchestration's side: pure, replay-safe ------------------------------------------
    def payload(self, value: In, context: audit.AuditContext | None) -> Any:
        """What the orchestration sends: the input's JSON, with the run's audit context when the
        activity is audited."""
        doc = value.to_dict()
        return audit.wrap(doc, context) if self.audited is not None else doc

    def result(self, answer: Any) -> Out:
        """The activity's answer as its output record; an error it reported as data, raised."""
        if isinstance(answer, dict) and set(answer) == {"error"}:
            raise errors.from_dict(answer["error"])
        return self.output.from_dict(answer)

    # ---- the activity's side -----------------------------------------------------------------
    def answer(self, value: In, azure: ControlPlane) -> tuple[Out | None, Any]:
        """(the output, or None when the handler reported an error; the JSON answer)."""
        try:
            output = self.handler(value, azure)
        except errors.RestoreError as exc:
            if exc.retryable or not self.errors_as_data:
                raise
            return None, {"error": exc.to_dict()}
        return output, output.to_dict()

    def run(self, payload: Any, azure: ControlPlane) -> Any:
        """JSON in, JSON out, as the host runs it (audit records aside): for tests, too."""
        inner, _ = audit.unwrap(payload)
        return self.answer(self.input.from_dict(inner), azure)[1]


class activity:
    """Declare the decorated handler an activity named after it: `def verb_object(input: X,
    azure: ControlPlane) -> Y`, X and Y Records."""

    def __init__(self, *, audited: Audited | None = None, errors_as_data: bool = True) -> None:
        self.audited, self.errors_as_data = audited, errors_as_data

    def __call__(self, handler: Callable[[In, ControlPlane], Out]) -> Activity[In, Out]:
        hints = typing.get_type_hints(handler)
        first = next(iter(inspect.signature(handler).parameters))
        declared_input, output = hints[first], hints["return"]
        if not all(isinstance(t, type) and issubclass(t, Record) for t in (declared_input, output)):
            raise TypeError(f"{handler.__name__} must take and return one Record each (one "
                            f"dataclass per input and output), not {declared_input} -> {output}")
        if self.audited is not None:
            subject = typing.get_type_hints(self.audited.what)
            accepted = subject[next(iter(inspect.signature(self.audited.what).parameters))]
            if not issubclass(declared_input, accepted):
                raise TypeError(f"the audit subject of {handler.__name__} reads "
                                f"{accepted.__name__}, not its input {declared_input.__name__}")
        return Activity(handler.__name__, declared_input, output, handler, self.audited,
                        self.errors_as_data)


def declared(*modules: ModuleType) -> tuple[Activity[Any, Any], ...]:
    """Every activity the modules declare, each once; two declarations of one name fail here,
    at import, not in Azure."""
    found: dict[str, Activity[Any, Any]] = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, Activity) and found.setdefault(value.name, value) is not value:
                raise ValueError(f"two activities are named {value.name!r}")
    return tuple(found.values())


# ---- the host's side: the registered functions --------------------------------------------------
# The fast test tier's seam (dev/harness): in-memory fakes of the gateway ("gateway"), the
# recovery ledger ("ledger") and the drill report store ("reports"), installed by the harness for
# one test and taken out after it (it finds this dict through the registered functions' module).
# Nothing in the app sets it: every activity reaches Azure and the app's storage through the three
# functions below, which build the real ones from settings.
fakes: dict[str, Any] = {}


def gateway() -> ControlPlane:
    return fakes["gateway"] if "gateway" in fakes else _gateway_for(settings())


def ledger() -> Ledger:
    return fakes["ledger"] if "ledger" in fakes else ledger_for(settings())


def report_store() -> ReportStore:
    return fakes["reports"] if "reports" in fakes else report_store_for(settings())


class _Gateway:
    """The process's gateway, built at its first use: handlers that need no Azure (the ledger,
    reports, a log line) never build one."""

    def __getattr__(self, name: str) -> Any:
        return getattr(gateway(), name)


_GATEWAY = typing.cast(ControlPlane, _Gateway())


@functools.lru_cache(maxsize=4)
def _gateway_for(config: Settings) -> ControlPlane:
    """One gateway (and its SDK clients, connection pools) per process and settings."""
    from gateway.factory import control_plane
    return control_plane(config)


def host_function(declaration: Activity[Any, Any],
                  azure: ControlPlane = _GATEWAY) -> Callable[[Any], Any]:
    """The function the host registers for an activity (named as the activity); `azure`: the
    process's gateway, or a test's."""
    if declaration.audited is None:
        def function(payload: Any) -> Any:
            return declaration.run(payload, azure)
    else:
        def function(payload: Any) -> Any:
            """A privileged action: one audit record per attempt, whatever its outcome."""
            inner, context = audit.unwrap(payload)
            value, output, answer, failure = None, None, None, None
            try:
                value = declaration.input.from_dict(inner)
                output, answer = declaration.answer(value, azure)
                return answer
            except Exception as exc:
                failure = exc
                raise
            finally:
                _audit(declaration, value, output, answer, context, failure)

    function.__name__ = function.__qualname__ = declaration.name
    return function


def _audit(declaration: Activity[Any, Any], value: Record | None, output: Record | None,
           answer: Any, context: audit.AuditContext | None,
           failure: BaseException | None) -> None:
    audited = declaration.audited
    assert audited is not None
    what: dict[str, Any] = {"activity": declaration.name}
    if value is not None:
        what.update(audited.what(value, output))
    if isinstance(output, Operation) and output.status_url:
        what["operation"] = output.kind
    outcome, reason = audit.outcome(answer, failure)
    audit_log.info(audit.line(audit.record(
        audited.action, outcome, when=datetime.now(UTC).isoformat(),
        who=context.who.to_dict() if context else None,
        what={k: v for k, v in what.items() if v is not None},
        why=context.why if context else None, run_id=context.run_id if context else None,
        authorization=context.authorization if context else None, reason=reason)))
