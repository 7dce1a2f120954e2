"""The app's own storage clients reach storage exactly as the host does (issue 19)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from devhost.azurite import Azurite
from gateway.ledger import Ledger
from gateway.reports import ReportStore
from settings import Settings

pytestmark = pytest.mark.azurite


@pytest.fixture(scope="module")
def http_azurite() -> Iterator[Azurite]:
    with Azurite() as instance:  # no skip: without Azurite these tests must fail
        yield instance


def test_use_development_storage_reaches_the_azurite_the_host_uses(http_azurite: Azurite):
    """devhost resolves UseDevelopmentStorage=true to the Azurite it was given (on ports the OS
    picked); the app's clients must reach the same one, not the SDK's default ports 10000-10002
    (the bug: `diskrestore drill start` failed after minutes with a raw ServiceRequestError)."""
    env = {"AzureWebJobsStorage": "UseDevelopmentStorage=true", **http_azurite.env(),
           "DRILL_REPORTS_CONTAINER": f"r-{uuid.uuid4().hex[:12]}",
           "RECOVERY_LEDGER_TABLE": f"t{uuid.uuid4().hex[:12]}"}
    config = Settings.from_env(env)
    store = ReportStore.from_settings(config)
    store.write("plan", "drill-1", {"summary": {"passed": 1}}, "<p>ok</p>")
    assert store.read("plan", "drill-1", "html") == b"<p>ok</p>"
    ledger = Ledger.from_settings(config)
    ledger.record_drilled("/bi/1", "rp-1")
    assert ledger.drilled(["/bi/1"]) == {"/bi/1": {"rp-1"}}
