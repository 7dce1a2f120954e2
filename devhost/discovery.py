"""Function indexing, the way the Python worker does it: `app.get_functions()` once per import."""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import azure.functions as func

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
    trigger: Binding
    bindings: list[Binding]
    user_fn: Callable[..., Any]
    durable_name: str | None = None  # orchestration=/activity= override, else the function name
    params: list[str] = field(default_factory=list)

    @property
    def trigger_type(self) -> str:
        return self.trigger.type

    @cached_property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.user_fn)

    @cached_property
    def input_bindings(self) -> tuple[Binding, ...]:
        """Non-trigger input bindings (durableClient and the like)."""
        return tuple(b for b in self.bindings if b.direction == "in" and b is not self.trigger
                     and b.name != self.trigger.name)

    @cached_property
    def output_bindings(self) -> tuple[Binding, ...]:
        return tuple(b for b in self.bindings if b.direction == "out")


class Registry:
    """Every function of the app, by name, by trigger type and by durable name."""

    def __init__(self, app: func.FunctionRegister) -> None:
        self.functions: dict[str, FunctionEntry] = {}
        self.orchestrators: dict[str, FunctionEntry] = {}
        self.activities: dict[str, FunctionEntry] = {}
        self.entities: dict[str, FunctionEntry] = {}
        for f in app.get_functions():  # may be called only once per app object
            entry = _entry(f)
            self.functions[entry.name] = entry
            role = {ORCHESTRATION_TRIGGER: self.orchestrators, ACTIVITY_TRIGGER: self.activities,
                    ENTITY_TRIGGER: self.entities}.get(entry.trigger_type)
            if role is not None:
                role[entry.durable_name or entry.name] = entry

    def by_trigger(self, trigger_type: str) -> list[FunctionEntry]:
        return [e for e in self.functions.values() if e.trigger_type == trigger_type]


def _entry(f: Any) -> FunctionEntry:
    trig = f.get_trigger()
    bindings = [_binding(b) for b in f.get_bindings()]
    trigger = next(b for b in bindings if b.name == trig.name and b.type == trig.get_binding_name())
    override = (trigger.spec.get("orchestration") or trigger.spec.get("activity")
                or trigger.spec.get("entityName"))
    user_fn = f.get_user_function()
    return FunctionEntry(name=f.get_function_name(), trigger=trigger, bindings=bindings,
                         user_fn=user_fn, durable_name=override,
                         params=list(inspect.signature(user_fn).parameters))


def _binding(b: Any) -> Binding:
    spec = b.get_dict_repr()
    direction = spec.get("direction")
    direction = getattr(direction, "name", direction)  # BindingDirection enum or plain str
    return Binding(name=spec["name"], type=spec["type"], direction=str(direction).lower(), spec=spec)


_baseline: set[str] | None = None  # modules present before the first app was loaded
_roots: set[Path] = set()  # every app folder loaded so far


def load_app(app_dir: str | Path, module: str = "function_app") -> func.FunctionRegister:
    """Import the app module from `app_dir` afresh and return its one FunctionApp/DFApp.

    Like a new worker process, every module of an app loaded before (its function_app, its
    blueprints, and what they imported later, lazily) is imported anew, so two hosts in one test
    process each get their own app object (`get_functions()` works only once per app object) and
    one consistent set of its classes. Modules present before the first app was loaded (the test
    modules themselves, installed packages, devhost) are shared, never re-imported.
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
    mod = importlib.import_module(module)
    if not Path(mod.__file__ or "").resolve().is_relative_to(root):
        raise RuntimeError(f"{module} was imported from {mod.__file__}, not from {root}: "
                           "another directory on sys.path shadows it")
    apps = [v for v in vars(mod).values() if isinstance(v, func.FunctionRegister)]
    if len(apps) != 1:
        raise RuntimeError(f"{module}.py must define exactly one FunctionApp or DFApp; "
                           f"found {len(apps)}")
    return apps[0]



def _is_app_module(mod: object, roots: set[Path]) -> bool:
    file = getattr(mod, "__file__", None)
    if not file:
        return False
    path = Path(file).resolve()
    return ("site-packages" not in path.parts and not path.is_relative_to(_DEVHOST)
            and any(path.is_relative_to(r) for r in roots))


_DEVHOST = Path(__file__).resolve().parent
