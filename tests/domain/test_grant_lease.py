"""Leases on shared role assignments (domain/access/grant_lease.py): who holds, who revokes,
and generation names that a late revoke cannot confuse with a newer grant."""

from __future__ import annotations

from domain.access.grant_lease import GrantLease, LeaseKey, holder_of, instance_of
from domain.model import RoleAssignment, RoleGrant

KEY = LeaseKey("/subscriptions/s/resourceGroups/rg", "role", "principal")


def test_keys_compare_as_arm_compares_scopes():
    upper = LeaseKey("/SUBSCRIPTIONS/s/resourceGroups/RG/", "ROLE", "PRINCIPAL")
    assert upper == KEY and hash(upper) == hash(KEY) and upper.name(3) == KEY.name(3)
    grant = RoleGrant("/subscriptions/s/resourceGroups/RG", "Role", "Reader", "Principal", "x")
    assert LeaseKey.of(grant) == KEY
    assert LeaseKey.of_assignment(RoleAssignment("id", "/subscriptions/S/resourceGroups/rg",
                                                 "role", "principal", False)) == KEY


def test_each_generation_has_its_own_name_and_only_ours_are_recognised():
    names = {KEY.name(g) for g in range(50)}
    assert len(names) == 50
    assert KEY.generation_of(KEY.assignment_id(7), below=10) == 7
    assert KEY.generation_of(KEY.assignment_id(7), below=7) is None  # not older than 7
    other = LeaseKey("/subscriptions/s/resourceGroups/rg2", "role", "principal")
    assert KEY.generation_of(other.assignment_id(1), below=10) is None


def test_the_last_holder_out_retires_the_generation_it_made():
    lease = GrantLease(KEY).held_by("a", "t").held_by("b", "t")
    assert lease.held_by("a", "later") == lease  # a retried hold changes nothing
    lease = lease.released_by("a")
    assert list(lease.holders) == ["b"] and lease.retired == [] and lease.made
    lease = lease.released_by("b", made=False)  # a made it: still revoked
    assert lease.holders == {} and lease.retired == [0] and lease.generation == 1
    assert lease.released_by("b") == lease  # released twice: nothing more
    assert lease.held_by("c", "t").generation == 1  # a new holder gets a new name


def test_a_lease_whose_assignment_nobody_made_retires_nothing():
    lease = GrantLease(KEY).held_by("a", "t").released_by("a", made=False)
    assert lease.retired == [] and lease.generation == 0 and lease.holders == {}


def test_settling_keeps_the_generations_not_revoked_yet():
    lease = GrantLease(KEY, generation=3, retired=[0, 2])
    assert lease.to_revoke == [KEY.assignment_id(0), KEY.assignment_id(2)]
    assert lease.settled([2]).retired == [0]


def test_a_holder_is_one_execution_of_a_run():
    holder = holder_of("restore-abc", "2026-01-01T00:00:00+00:00")
    assert instance_of(holder) == "restore-abc"
    assert holder != holder_of("restore-abc", "2026-01-01T00:05:00+00:00")


def test_an_ended_run_leaves_its_leases_or_before_leases_its_assignment_ids():
    from domain.access.role_sweep import ended_run_leftover
    leased = ended_run_leftover("r", "2026-01-01T00:00:00Z", {
        "holder": "r@1", "assignments": ["id-0"], "leases": [KEY.to_dict()]})
    assert leased is not None
    assert (leased.run, leased.assignments, leased.leases) == ("r@1", [], [KEY])  # ids: the rows'
    legacy = ended_run_leftover("r", "2026-01-01T00:00:00Z", {"assignments": ["id-0"]})
    assert legacy is not None and (legacy.run, legacy.assignments) == \
        ("r@2026-01-01T00:00:00Z", ["id-0"])
    assert ended_run_leftover("r", "t", {"assignments": []}) is None
    assert ended_run_leftover("r", "t", "not a status") is None


def test_holders_that_are_not_live_are_stale_and_unfinished_retirements_are_found():
    from domain.access.role_sweep import stale_holders
    other = LeaseKey("/subscriptions/s/resourceGroups/rg2", "role", "principal")
    rows = [GrantLease(KEY, holders={"a@1": "t", "b@1": "t"}),
            GrantLease(other, generation=1, retired=[0])]
    found = {item.run: item.leases for item in stale_holders(rows, live={"b@1"})}
    assert found == {"a@1": [KEY], f"retired@{other.text}": [other]}
