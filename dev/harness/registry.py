"""The functions an app registers, found as the Functions host finds them: by name,
case-insensitively; HTTP functions by route and method."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


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
        prefix = "api"
        for fn in app.get_functions():
            trigger = fn.get_trigger()
            name = fn.get_function_name().lower()
            user = fn.get_user_function()
            if trigger.type == "activityTrigger":
                self.activities[name] = _Activity(user, trigger.name)
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
