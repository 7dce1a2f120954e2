"""An in-process DevHost on the generated-program test app (apps/generated)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from devhost.clock import VirtualClock
from devhost.durable.oracle import Oracle
from devhost.host import DevHost

GENERATED_APP = Path(__file__).parent / "apps" / "generated"


def start_generated_host(state_dir: Path, *, strict: bool = True) -> DevHost:
    """A started DevHost on apps/generated: virtual clock, Oracle(strict=strict), no listeners.

    The caller stops it."""
    return DevHost(GENERATED_APP, port=0, state_dir=state_dir, clock=VirtualClock(),
                   oracle=Oracle(strict=strict), listeners=False).start()


@pytest.fixture(scope="session")
def generated_host_factory() -> Callable[..., DevHost]:
    return start_generated_host
