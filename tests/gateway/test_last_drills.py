"""Each disk's last drill in the ledger (gateway/ledger.py `record_last_drill`, `last_drills`),
the rows the catalog's `lastDrill` comes from: on Azurite's table service through the real SDK,
and on the fast tier's FakeTable."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.data.tables import TableClient
from devhost.azurite import Azurite
from harness.storage import FakeTable

from gateway.ledger import Ledger

DISK = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/RG-App/providers/"
        "Microsoft.Compute/disks/Data0")
OTHER = DISK.replace("Data0", "data1")
MET = {"objective": "rto", "verdict": "met", "target": 60, "actual": 4.5}
MISSED = {"objective": "rpo", "verdict": "missed", "target": 0.25, "actual": 0.5}


@pytest.fixture(scope="module")
def azurite() -> Iterator[Azurite]:
    with Azurite() as instance:  # no skip: without Azurite these tests must fail
        yield instance


@pytest.fixture(params=["azurite", "fake"])
def ledger(request: pytest.FixtureRequest) -> Ledger:
    if request.param == "fake":
        return Ledger(FakeTable())
    table = TableClient.from_connection_string(request.getfixturevalue("azurite")
                                               .connection_string, f"t{uuid.uuid4().hex[:20]}")
    ledger = Ledger(table)
    ledger.ensure_table()
    return ledger


def last(drill: str, at: str, verdict: str = "passed") -> dict[str, Any]:
    return {"drillId": drill, "at": at, "verdict": verdict, "rto": MET, "rpo": MISSED}


def test_one_row_per_disk_keyed_by_its_lower_cased_id(ledger: Ledger):
    assert ledger.last_drills() == {}
    ledger.record_last_drill(DISK, last("drill-1", "2026-03-01T02:30:00+00:00"))
    ledger.record_last_drill(OTHER, last("drill-1", "2026-03-01T02:30:00+00:00", "failed"))
    assert ledger.last_drills() == {
        DISK.lower(): last("drill-1", "2026-03-01T02:30:00+00:00"),
        OTHER.lower(): last("drill-1", "2026-03-01T02:30:00+00:00", "failed")}


def test_a_later_drill_replaces_the_row_and_an_earlier_one_does_not(ledger: Ledger):
    ledger.record_last_drill(DISK, last("drill-2", "2026-03-02T02:30:00Z"))
    # a report activity of the day before, re-run late, must not put its drill back
    ledger.record_last_drill(DISK.upper(), last("drill-1", "2026-03-01T02:30:00Z", "failed"))
    assert ledger.last_drills()[DISK.lower()]["drillId"] == "drill-2"
    # the same instant in another offset is not later: the same drill's re-run replaces it
    ledger.record_last_drill(DISK, last("drill-2", "2026-03-02T03:30:00+01:00", "failed"))
    assert ledger.last_drills()[DISK.lower()]["verdict"] == "failed"
    ledger.record_last_drill(DISK, last("drill-3", "2026-03-03T02:30:00Z"))
    assert ledger.last_drills() == {DISK.lower(): last("drill-3", "2026-03-03T02:30:00Z")}
    assert len(ledger.last_drills()) == 1  # one row however the id was cased
