"""Function indexing, the way the Functions host learns an app's functions: from the worker.

The host never imports the app: it asks the worker (dev/devhost/worker.py), which imports
`function_app.py`, runs `app.get_functions()` and its own load checks, and answers each function's
name, id and raw binding JSON. The registry here is built from that answer alone.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import azure.functions as func

from .worker import Worker, binding_specs

ORCHESTRATION_TRIGGER = "orchestrationTrigger"
ACTIVITY_TRIGGER = "activityTrigger"
ENTITY_TRIGGER = "entityTrigger"
HTTP_TRIGGER = "httpTrigger"
QUEUE_TRIGGER = "queueTrigger"
EVENT_GRID_TRIGGER = "eventGridTrigger"
TIMER_TRIGGER = "timerTrigger"


@dataclass(frozen=True)
class Binding:
    """One binding of a function, in its function.json (dict) form."""

    name: str
    type: str
    direction: str
    spec: dict[str, Any]


@dataclass
class FunctionEntry:
    """A function as the host sees it after indexing."""

    name: str
    function_id: str
    trigger: Binding
    bindings: list[Binding]
    durable_name: str | None = None  # orchestration=/activity= override, else the function name
    # The Python callable behind it, for devhost's fidelity oracle only (it replays orchestrators
    # in the SDK a second time); invocations always go through the worker.
    user_fn: Callable[..., Any] | None = field(default=None, repr=False)

    @property
    def trigger_type(self) -> str:
        return self.trigger.type

    @cached_property
    def input_bindings(self) -> tuple[Binding, ...]:
        """Non-trigger input bindings (durableClient and the like)."""
        return tuple(b for b in self.bindings if b.direction == "in" and b is not self.trigger
                     and b.name != self.trigger.name)

    @cached_property
    def output_bindings(self) -> tuple[Binding, ...]:
        return tuple(b for b in self.bindings if b.direction == "out")


class Registry:
    """Every function the worker indexed, by name, by trigger type and by durable name."""

    def __init__(self, worker: Worker) -> None:
        self.functions: dict[str, FunctionEntry] = {}
        self.orchestrators: dict[str, FunctionEntry] = {}
        self.activities: dict[str, FunctionEntry] = {}
        self.entities: dict[str, FunctionEntry] = {}
        for meta in worker.functions:
            entry = _entry(meta, worker)
            self.functions[entry.name] = entry
            role = {ORCHESTRATION_TRIGGER: self.orchestrators, ACTIVITY_TRIGGER: self.activities,
                    ENTITY_TRIGGER: self.entities}.get(entry.trigger_type)
            if role is not None:
                role[entry.durable_name or entry.name] = entry

    def by_trigger(self, trigger_type: str) -> list[FunctionEntry]:
        return [e for e in self.functions.values() if e.trigger_type == trigger_type]


def _entry(meta: Any, worker: Worker) -> FunctionEntry:
    bindings = [_binding(spec) for spec in binding_specs(meta)]
    triggers = [b for b in bindings if b.type.endswith("Trigger")]
    if len(triggers) != 1:
        raise ValueError(f"function {meta.name}: {len(triggers)} trigger bindings; the host "
                         "requires exactly one")
    trigger = triggers[0]
    override = (trigger.spec.get("orchestration") or trigger.spec.get("activity")
                or trigger.spec.get("entityName"))
    user_fn = worker.user_function(meta.function_id) \
        if trigger.type == ORCHESTRATION_TRIGGER else None
    return FunctionEntry(name=meta.name, function_id=meta.function_id, trigger=trigger,
                         bindings=bindings, durable_name=override, user_fn=user_fn)


def _binding(spec: dict[str, Any]) -> Binding:
    return Binding(name=spec["name"], type=spec["type"],
                   direction=str(spec.get("direction", "in")).lower(), spec=spec)


_baseline: set[str] | None = None  # modules present before the first app was loaded
_roots: set[Path] = set()  # every app folder loaded so far


def prepare_app(app_dir: str | Path, module: str = "function_app") -> Path:
    """Make `app_dir` the app the next import of `module` finds, as in a new worker process.

    Every module of an app loaded before (its function_app, its blueprints, and what they
    imported later, lazily) is forgotten, so two hosts in one test process each get their own app
    object (`get_functions()` works only once per app object) and one consistent set of its
    classes. Modules present before the first app was loaded (the test modules themselves,
    installed packages, devhost) are shared, never re-imported.
    """
    global _baseline
    root = Path(app_dir).resolve()
    if _baseline is None:
        _baseline = set(sys.modules)
    _roots.add(root)
    for name, mod in list(sys.modules.items()):
        if name == module or (name not in _baseline and _is_app_module(mod, _roots)):
            del sys.modules[name]
    if str(root) in sys.path:
        sys.path.remove(str(root))
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    return root


def check_imported_from(root: Path, module: str = "function_app") -> None:
    """After indexing: the worker must have imported the app from `root`, not a namesake."""
    mod = sys.modules.get(module)
    if mod is not None and not Path(mod.__file__ or "").resolve().is_relative_to(root):
        raise RuntimeError(f"{module} was imported from {mod.__file__}, not from {root}: "
                           "another directory on sys.path shadows it")


def load_app(app_dir: str | Path, module: str = "function_app") -> func.FunctionRegister:
    """The app object of `app_dir`, imported afresh (for tools and tests that read the app's
    registrations; hosts index through the worker)."""
    root = prepare_app(app_dir, module)
    mod = importlib.import_module(module)
    check_imported_from(root, module)
    apps = [v for v in vars(mod).values() if isinstance(v, func.FunctionRegister)]
    if len(apps) != 1:
        raise RuntimeError(f"{module}.py must define exactly one FunctionApp or DFApp; "
                           f"found {len(apps)}")
    return apps[0]


def start_worker(app_dir: str | Path, loop: Any) -> tuple[Worker, Registry]:
    """Index and load the app at `app_dir` through a new worker; the worker and its registry.
    Raises worker.IndexingError with the worker's message if it refuses the app."""
    root = prepare_app(app_dir)
    worker = Worker(root, loop)
    try:
        worker.start()
        check_imported_from(root)
        return worker, Registry(worker)
    except BaseException:
        worker.stop()
        raise


def _is_app_module(mod: object, roots: set[Path]) -> bool:
    file = getattr(mod, "__file__", None)
    if not file:
        return False
    path = Path(file).resolve()
    return ("site-packages" not in path.parts and not path.is_relative_to(_DEVHOST)
            and any(path.is_relative_to(r) for r in roots))


_DEVHOST = Path(__file__).resolve().parent
