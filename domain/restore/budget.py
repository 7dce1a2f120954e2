"""Azure Backup's daily restore budget: 10 restores per backup instance a day (DOC-MATRIX).

Counted never kinder than Azure may count it: every restore job of the backup instance that
started in the last 24 h, whatever became of it (a failed job may count on Azure too). Azure does
not say whether "a day" is the last 24 h or the UTC calendar day: the last 24 h hold every
restore of the UTC day so far, so this count is never below Azure's under either reading, and
"frees up at" (24 h after the oldest restore that must leave the window) is never earlier than
Azure's (under the UTC day, the next 00:00 UTC comes first). Pure: the caller passes `now` and
the restore start times (gateway `list_restore_starts`, one jobs listing per vault).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from domain import errors
from domain.model import BackupInstance, Record

DAILY_RESTORE_LIMIT = 10  # Azure Backup: restores per backup instance per day
WINDOW = timedelta(hours=24)


class RestoreLog(Protocol):
    def list_restore_starts(self, vault_id: str, since: str) -> dict[str, list[str]]: ...


@dataclass(frozen=True)
class RestoreBudget(Record):
    """A backup instance's restores of the last 24 h, and what is left of Azure's limit."""

    backup_instance_id: str
    used: int  # restore jobs started in the last 24 h
    left: int  # restores Azure still allows now (0 at or past the limit)
    frees_at: str | None = None  # ISO-8601, when none is left: when the next one frees up


def budget_of(backup_instance_id: str, starts: list[str], now: datetime,
              limit: int = DAILY_RESTORE_LIMIT) -> RestoreBudget:
    """The budget of one backup instance from its restores' start times (any within the last
    24 h count; others are ignored)."""
    now = _utc(now)
    since = now - WINDOW
    counted = sorted(t for t in (_time(s) for s in starts) if since <= t <= now)
    left = max(0, limit - len(counted))
    frees_at = None
    if not left and counted:
        # This many must leave the window before one more fits: the last of them frees it.
        frees_at = (counted[len(counted) - limit] + WINDOW).isoformat(timespec="seconds") \
            if limit > 0 else None
    return RestoreBudget(backup_instance_id, len(counted), left, frees_at)


def budgets(azure: RestoreLog, instances: list[BackupInstance],
            now: datetime) -> dict[str, RestoreBudget]:
    """Each instance's budget (keyed by its lower-cased id), from one listing of each vault's
    restore jobs."""
    since = (_utc(now) - WINDOW).isoformat()
    starts: dict[str, list[str]] = {}
    for vault in sorted({bi.vault_id.lower(): bi.vault_id for bi in instances}.values()):
        starts.update(azure.list_restore_starts(vault, since))
    return {bi.id.lower(): budget_of(bi.id, starts.get(bi.id.lower(), []), now)
            for bi in instances}


def describe(budget: RestoreBudget) -> str:
    """"10 restores in the last 24 h (Azure Backup allows 10 a day): the next frees up at ..."."""
    when = f"the next frees up at {budget.frees_at}" if budget.frees_at else \
        "none frees up within the day"
    return (f"{budget.used} restore{'s' if budget.used != 1 else ''} of its backup instance in "
            f"the last 24 h (Azure Backup allows {DAILY_RESTORE_LIMIT} a day): {when}")


HINT = ("every restore job counts, failed ones and drills' included; try again once one frees "
        "up (drills keep DRILL_RESTORE_RESERVE restores a day for incidents)")


def check_disk(disk_id: str, budget: RestoreBudget) -> None:
    """Refuse a restore of `disk_id` when its backup instance has no restore left today."""
    if budget.left <= 0:
        raise errors.RestoreBudgetSpent(
            f"the disk {disk_id} has no restore left today: {describe(budget)}", hint=HINT)


def _time(text: str) -> datetime:
    return _utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
