"""The in-process orchestration harness: the app's runbooks (orchestrators and the real
activities) run in this process on an instant clock against in-memory fakes of Azure (the
gateway's port) and of the app's storage. Milliseconds per runbook; `make test-fast` runs it.

    with harness.demo() as h:                     # azsim's demo estate, in memory
        # (the HTTP functions read settings: CALLER_AUTHORIZATION=off, as for local work)
        answer = h.http("POST", "/api/restores", {...})
        h.run()                                   # until nothing more can happen
        h.output(json.loads(answer.get_body())["id"])["outcome"]

engine.py (the host: orchestrators, activities, timers, events, HTTP functions; what it does
not model), context.py (the orchestration context), registry.py (the app's functions by name),
client.py (the durable client the HTTP functions get), control_plane.py (Azure behind
gateway/port.py, with faults), storage.py (the ledger's table, the report store), estate.py
(the demo estate). In dev/, not tests/: it is a tool like azsim and devhost, importable by any
test, benchmark or script (dev/ is on the path; tests/ is not a package).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .control_plane import FakeControlPlane
from .engine import START, ActivityCall, FakeDurableClient, Harness, HarnessError
from .estate import build
from .storage import FakeReportStore, FakeTable, fake_ledger

__all__ = ["START", "ActivityCall", "FakeControlPlane", "FakeDurableClient", "FakeReportStore",
           "FakeTable", "Harness", "HarnessError", "demo", "fake_ledger"]


def demo(start: datetime = START, **kwargs: Any) -> Harness:
    """A harness over the demo estate (estate.py), with an in-memory ledger and report store."""
    holder: dict[str, Harness] = {}
    plane = FakeControlPlane(clock=lambda: holder["h"].clock)
    build(plane, start)
    harness = Harness(gateway=plane, ledger=fake_ledger(), reports=FakeReportStore(),
                      start=start, **kwargs)
    holder["h"] = harness
    return harness
