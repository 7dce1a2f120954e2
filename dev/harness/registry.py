"""The functions an app registers, found as the Functions host finds them: by name,
case-insensitively; HTTP functions by route and method. And the repository's app itself,
imported as devhost imports an app, so the harness and devhost-hosted tests in one process each
get an app object of their own."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # the repository: function_app.py
_REPO_APP: list[Any] = []  # [function_app module, its app] once loaded


def repo_app() -> Any:
    """The repository's app object. `get_functions()` works once per app object, and devhost
    imports apps afresh (forgetting the previous app's modules) in the same test process: so the
    app is loaded the way devhost loads one, and again whenever `function_app` in sys.modules
    is no longer the module this loaded (another app was loaded since)."""
    if not _REPO_APP or sys.modules.get("function_app") is not _REPO_APP[0]:
        from devhost.discovery import load_app
        app = load_app(ROOT)
        _REPO_APP[:] = [sys.modules["function_app"], app]
    return _REPO_APP[1]


@dataclass(frozen=True)
class _Activity:
    function: Callable[..., Any]
    binding: str


@dataclass(frozen=True)
class _Route:
    methods: tuple[str, ...]
    pattern: re.Pattern[str]
    function: Callable[..., Any]
    request: str
    client: str | None


class Registry:
    """The functions an app registers (a DFApp, e.g. `function_app.app`), by name as the host
    finds them: case-insensitively."""

    def __init__(self, app: Any) -> None:
        self.activities: dict[str, _Activity] = {}
        self.orchestrators: dict[str, Callable[..., Any]] = {}
        self.routes: list[_Route] = []
        self.seam: dict[str, Any] | None = None  # the activities' `fakes`, if they have one
        prefix = "api"
        for fn in app.get_functions():
            trigger = fn.get_trigger()
            name = fn.get_function_name().lower()
            user = fn.get_user_function()
            if trigger.type == "activityTrigger":
                self.activities[name] = _Activity(user, trigger.name)
                # The globals of the registered function's own module: this app's generation
                # of the seam, whatever another app loaded since put in sys.modules.
                fakes = getattr(user, "__globals__", {}).get("fakes")
                if isinstance(fakes, dict):
                    self.seam = fakes
            elif trigger.type == "orchestrationTrigger":
                self.orchestrators[name] = getattr(user, "orchestrator_function", user)
            elif trigger.type == "httpTrigger":
                client = next((b.name for b in fn.get_bindings() if b.type == "durableClient"),
                              None)
                route = trigger.route or fn.get_function_name()
                self.routes.append(_Route(
                    tuple(m.upper() if isinstance(m, str) else m.value.upper()
                          for m in trigger.methods or ("GET", "POST")),
                    _route_pattern(f"{prefix}/{route}"),
                    getattr(user, "client_function", user), trigger.name, client))



_REGISTRIES: dict[int, tuple[Any, Registry]] = {}


def registry_of(app: Any) -> Registry:
    """The app's registry, read once: the v2 model's `get_functions` builds the functions again
    on every call and then refuses the app's names as duplicates."""
    found = _REGISTRIES.get(id(app))
    if found is None or found[0] is not app:
        found = _REGISTRIES[id(app)] = (app, Registry(app))
    return found[1]


def _route_pattern(template: str) -> re.Pattern[str]:
    parts = []
    for segment in template.strip("/").split("/"):
        match = re.fullmatch(r"\{(\w+)(?::[^}?]*)?(\?)?\}", segment)
        parts.append(f"(?P<{match.group(1)}>[^/]+)" if match else re.escape(segment))
    return re.compile("^/" + "/".join(parts) + "/?$", re.IGNORECASE)
