"""Azure Backup's daily restore budget (domain/restore/budget.py): 10 restores per backup
instance a day, counted over the last 24 h, never kinder than Azure under either reading of "a
day" (the last 24 h, or the UTC day)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import errors
from domain.model import BackupInstance
from domain.restore.budget import (
    RestoreBudget,
    budget_of,
    budgets,
    check_disk,
)

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
BI = "/subscriptions/s/resourceGroups/rg-backup/providers/Microsoft.DataProtection/" \
     "backupVaults/bv/backupInstances/bi-1"
DISK = "/subscriptions/s/resourceGroups/rg-app/providers/Microsoft.Compute/disks/data0"


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).isoformat()


def test_the_last_24_hours_count_and_older_restores_do_not():
    starts = [ago(hours=h) for h in (1, 2, 23.99)] + [ago(hours=24, seconds=1), ago(days=3)]
    assert budget_of(BI, starts, NOW) == RestoreBudget(BI, 3, 7, None)
    assert budget_of(BI, [ago(hours=24)], NOW).used == 1  # exactly 24 h ago: still counted
    assert budget_of(BI, [(NOW + timedelta(minutes=1)).isoformat()], NOW).used == 0


def test_at_the_limit_none_is_left_and_the_oldest_frees_one_24_hours_after_it_started():
    starts = [ago(hours=20)] + [ago(hours=1)] * 9
    spent = budget_of(BI, starts, NOW)
    assert (spent.used, spent.left) == (10, 0)
    assert spent.frees_at == "2026-12-07T10:00:00+00:00"  # 20 h ago (10:00 yesterday) + 24 h
    # Past the limit (a job Azure failed for it counts too): the third oldest must leave too.
    over = budget_of(BI, [ago(hours=22), ago(hours=20)] + [ago(hours=1)] * 10, NOW)
    assert (over.used, over.left, over.frees_at) == (12, 0, "2026-12-08T05:00:00+00:00")


def test_utc_day_never_counts_more_and_never_frees_later():
    """Under a UTC day Azure counts only today's restores and frees them at 00:00 UTC: the last
    24 h hold today's too, and the oldest of today's + 24 h is after the next midnight."""
    yesterday_evening = [ago(hours=8)] * 10  # 22:00 yesterday: a UTC day would allow one more
    assert budget_of(BI, yesterday_evening, NOW).left == 0
    today = [ago(hours=5)] * 10  # 01:00 today: a UTC day frees one at 00:00 tomorrow
    assert budget_of(BI, today, NOW).frees_at == "2026-12-08T01:00:00+00:00"


def test_times_in_z_or_without_a_zone_are_utc():
    assert budget_of(BI, ["2026-12-07T05:00:00Z", "2026-12-07T04:00:00"], NOW).used == 2


class Jobs:
    def __init__(self, starts: dict[str, dict[str, list[str]]]) -> None:
        self.starts, self.calls = starts, []

    def list_restore_starts(self, vault_id: str, since: str) -> dict[str, list[str]]:
        self.calls.append((vault_id, since))
        return self.starts.get(vault_id, {})


def instance(name: str, vault: str) -> BackupInstance:
    return BackupInstance(id=f"{vault}/backupInstances/{name}", vault_id=vault,
                          vault_location="westeurope", datasource_id=f"{DISK}-{name}",
                          snapshot_resource_group_id="", vault_principal_id="p",
                          cross_subscription_restore="Enabled",
                          protection_state="ProtectionConfigured")


def test_one_listing_per_vault_gives_every_instance_its_budget():
    a, b = "/v/a", "/v/b"
    one, two, three = instance("one", a), instance("two", a), instance("Three", b)
    jobs = Jobs({a: {one.id.lower(): [ago(hours=1)] * 10}, b: {three.id.lower(): [ago(hours=2)]}})
    found = budgets(jobs, [one, two, three], NOW)
    assert [found[i.id.lower()].left for i in (one, two, three)] == [0, 10, 9]
    assert sorted(jobs.calls) == [(a, ago(hours=24)), (b, ago(hours=24))]


def test_a_spent_budget_refuses_naming_the_disk_the_count_and_when():
    check_disk(DISK, budget_of(BI, [ago(hours=1)] * 9, NOW))  # the 10th is allowed
    with pytest.raises(errors.RestoreBudgetSpent) as refused:
        check_disk(DISK, budget_of(BI, [ago(hours=3)] + [ago(hours=1)] * 9, NOW))
    message = str(refused.value)
    assert message.startswith("RestoreBudgetSpent: the disk " + DISK)
    assert "10 restores of its backup instance in the last 24 h" in message
    assert "Azure Backup allows 10 a day" in message
    assert "frees up at 2026-12-08T03:00:00+00:00" in message
    assert refused.value.retryable is False and refused.value.hint
