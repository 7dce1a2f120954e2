"""The lease rows of shared role assignments (gateway/ledger.py, domain/access/grant_lease.py),
on Azurite's table service through the real SDK, and on the fast tier's FakeTable: the same ETag
rules, so a concurrent change is never lost."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from azure.data.tables import TableClient
from devhost.azurite import Azurite
from harness.storage import FakeTable

from domain.access.grant_lease import GrantLease, LeaseKey
from gateway.ledger import Ledger

KEY = LeaseKey("/subscriptions/s/resourceGroups/RG-Target", "6d2f1e0a-role",
               "b0b0b0b0-0000-4000-8000-00000000b001")


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


def test_a_lease_is_held_shared_and_retired_by_its_last_holder(ledger: Ledger):
    ledger.change_lease(KEY, lambda lease: lease.held_by("run-a@1", "t1"))
    ledger.change_lease(KEY, lambda lease: lease.held_by("run-b@1", "t2"))
    after_a = ledger.change_lease(KEY, lambda lease: lease.released_by("run-a@1"))
    assert list(after_a.holders) == ["run-b@1"] and after_a.retired == []
    after_b = ledger.change_lease(KEY, lambda lease: lease.released_by("run-b@1"))
    assert after_b.holders == {} and after_b.retired == [0] and after_b.generation == 1
    assert after_b.to_revoke == [KEY.assignment_id(0)]
    settled = ledger.change_lease(KEY, lambda lease: lease.settled([0]))
    assert settled.retired == [] and ledger.lease(KEY)[0] == settled
    assert ledger.leases() == [settled]


def test_a_change_made_between_a_read_and_a_write_is_not_lost(ledger: Ledger):
    ledger.change_lease(KEY, lambda lease: lease.held_by("run-a@1", "t1"))
    stale, etag = ledger.lease(KEY)
    ledger.change_lease(KEY, lambda lease: lease.held_by("run-b@1", "t2"))  # another run
    assert ledger.save_lease(stale.released_by("run-a@1"), etag) is False  # refused: stale
    # change_lease reads again after a conflict: run-b's hold survives run-a's release
    seen: list[GrantLease] = []

    def release(lease: GrantLease) -> GrantLease:
        if not seen:  # the first read is overtaken by a third run's hold
            ledger.change_lease(KEY, lambda now: now.held_by("run-c@1", "t3"))
        seen.append(lease)
        return lease.released_by("run-a@1")
    saved = ledger.change_lease(KEY, release)
    assert len(seen) == 2 and sorted(saved.holders) == ["run-b@1", "run-c@1"]
    assert ledger.lease(KEY)[0] == saved
