"""The fast tier: runbooks in process (dev/harness), milliseconds each, no network.

`h` is a harness over azsim's demo estate in memory (dev/harness/estate.py) with caller
authorization off, as for local development; `restores` starts and steers restores through the
app's own HTTP functions (POST /api/restores, .../cancel, .../approve, .../reject, GET) and
`triggers/services/submit.py`, so requests are parsed and checked by the app's own code.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import harness
import pytest
from harness import estate

import settings as app_settings
from domain.resource_id import ResourceId
from triggers.services.submit import submit

ALICE = {"kind": "user", "id": "a11ce000-0000-4000-8000-0000000a11ce", "name": "alice"}


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing in this tier reaches a network: a call that escaped the fakes (the real gateway,
    the real ledger) fails at once, naming itself, instead of waiting on a connection."""
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise OSError(f"the fast tier reaches no network (connect to {args[1:] or kwargs})")
    monkeypatch.setattr(socket.socket, "connect", refused)
    monkeypatch.setattr(socket, "create_connection", refused)


@pytest.fixture
def h(monkeypatch: pytest.MonkeyPatch) -> Iterator[harness.Harness]:
    for name in app_settings.ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CALLER_AUTHORIZATION", "off")
    with harness.demo() as running:
        yield running


class Restores:
    """Restores through the app's entry points, on the harness `h`."""

    def __init__(self, h: harness.Harness) -> None:
        self.h = h

    @staticmethod
    def request(disk: str = estate.DATA0, name: str | None = None, **extra: Any) -> dict[str, Any]:
        return {"source": {"diskId": disk},
                "target": {"resourceGroupId": estate.TARGET,
                           "diskName": name or f"{ResourceId.parse(disk).name}-restored"},
                **extra}

    def start(self, body: dict[str, Any]) -> str:
        answer = self.h.http("POST", "/api/restores", body)
        assert answer.status_code == 202, answer.get_body()
        return json.loads(answer.get_body())["id"]

    def submit(self, body: dict[str, Any], *, approval_minutes: int | None = None,
               requested_by: dict[str, Any] = ALICE) -> str:
        """Through triggers/services/submit.py, as POST /api/restores does once the access policy
        asked for a second person's approval (`approval_minutes`)."""
        submitted = asyncio.run(submit(self.h.client, body, app_settings.settings(),
                                       requested_by=requested_by, why="a fast test",
                                       approval_minutes=approval_minutes))
        assert submitted.started
        return submitted.instance_id

    def run(self, body: dict[str, Any]) -> dict[str, Any]:
        run = self.start(body)
        self.h.run()
        return self.h.output(run)

    def view(self, run: str) -> dict[str, Any]:
        answer = self.h.http("GET", f"/api/restores/{run}")
        assert answer.status_code in (200, 202), answer.get_body()
        return json.loads(answer.get_body())

    def cancel(self, run: str) -> dict[str, Any]:
        answer = self.h.http("POST", f"/api/restores/{run}/cancel")
        assert answer.status_code == 202, answer.get_body()
        return json.loads(answer.get_body())

    def decide(self, run: str, *, approve: bool, by: str = "bob",
               comment: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"approver": by}
        if comment:
            body["comment"] = comment
        answer = self.h.http("POST", f"/api/restores/{run}/{'approve' if approve else 'reject'}",
                             body)
        assert answer.status_code == 202, answer.get_body()
        return json.loads(answer.get_body())

    def until_waiting(self, instance: str, what: str) -> None:
        """Run until `instance` waits for `what` ("timer", "event:approval", ...)."""
        self.h.run(until=lambda: what in self.h.awaiting(instance))


@pytest.fixture
def restores(h: harness.Harness) -> Restores:
    return Restores(h)
