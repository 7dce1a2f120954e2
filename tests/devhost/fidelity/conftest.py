"""Starting an in-process DevHost on the generated-program test app without disturbing other apps.

devhost.discovery.load_app imports the app as the top-level module `function_app`: it reuses a
`function_app` that another app directory left in sys.modules, and it leaves its own directory on
sys.path. Apps loaded one after the other in one process then shadow each other, so the slate is
cleaned before the app is imported and again right after.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from devhost.clock import VirtualClock
from devhost.durable.oracle import Oracle
from devhost.host import DevHost

GENERATED_APP = Path(__file__).parent / "apps" / "generated"


def _forget_app() -> None:
    sys.modules.pop("function_app", None)
    root = str(GENERATED_APP.resolve())
    while root in sys.path:
        sys.path.remove(root)


def start_generated_host(state_dir: Path, *, strict: bool = True) -> DevHost:
    """A started DevHost on apps/generated: virtual clock, Oracle(strict=strict), no listeners."""
    _forget_app()
    try:
        host = DevHost(GENERATED_APP, port=0, state_dir=state_dir, clock=VirtualClock(),
                       oracle=Oracle(strict=strict), listeners=False)
    finally:
        _forget_app()
    return host.start()


@pytest.fixture(scope="session")
def generated_host_factory() -> Callable[..., DevHost]:
    return start_generated_host
