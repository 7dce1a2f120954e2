"""Which snapshot is a recovery point's (domain/restore/encryption_set.py `snapshot_of_point`):
the snapshots of the disk taken nearest the point's time, one taken after it only within
AFTER_WINDOW; Azure documents no link between a point and its snapshot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import errors
from domain.model import BackupInstance, Disk, RecoveryPoint, Snapshot
from domain.restore.encryption_set import (
    AFTER_WINDOW,
    UNDETERMINED,
    encryption_set,
    snapshot_of_point,
)

SUB = "/subscriptions/6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6"
DISK = f"{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/disks/data"
OTHER = f"{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/disks/other"
SNAPSHOTS = f"{SUB}/resourceGroups/rg-snapshots"
DES = f"{SUB}/resourceGroups/rg-keys/providers/Microsoft.Compute/diskEncryptionSets/des"
POINT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def snap(name: str, at: timedelta, source: str = DISK, des: str | None = DES) -> Snapshot:
    return Snapshot(f"{SNAPSHOTS}/providers/Microsoft.Compute/snapshots/{name}", source,
                    (POINT + at).isoformat(), des, incremental=True)


def chosen(*snapshots: Snapshot, disk: str = DISK) -> str | None:
    found = snapshot_of_point(list(snapshots), disk, POINT.isoformat())
    return found.id.rsplit("/", 1)[-1] if found else None


def test_the_nearest_at_or_before_the_point_wins_over_older_ones() -> None:
    assert chosen(snap("day-1", -timedelta(days=1)), snap("own", -timedelta(seconds=30)),
                  snap("next", timedelta(days=1))) == "own"
    assert chosen(snap("exact", timedelta(0)), snap("day-1", -timedelta(days=1))) == "exact"


def test_one_taken_just_after_the_point_wins_when_nearer_than_any_before() -> None:
    assert chosen(snap("day-1", -timedelta(days=1)), snap("own", timedelta(minutes=20))) == "own"
    assert chosen(snap("before", -timedelta(minutes=5)),
                  snap("after", timedelta(minutes=1))) == "after"


def test_at_equal_distance_the_earlier_one_wins() -> None:
    assert chosen(snap("after", timedelta(minutes=10)),
                  snap("before", -timedelta(minutes=10))) == "before"


def test_one_after_the_window_is_never_the_points() -> None:
    assert chosen(snap("late", AFTER_WINDOW + timedelta(seconds=1))) is None
    assert chosen(snap("edge", AFTER_WINDOW)) == "edge"
    assert chosen(snap("late", AFTER_WINDOW + timedelta(seconds=1)),
                  snap("day-1", -timedelta(days=1))) == "day-1"


def test_snapshots_of_other_disks_and_without_a_time_do_not_count() -> None:
    assert chosen(snap("other", timedelta(0), source=OTHER)) is None
    assert chosen(Snapshot(f"{SNAPSHOTS}/providers/Microsoft.Compute/snapshots/x", DISK, None,
                           DES)) is None
    assert chosen(Snapshot(f"{SNAPSHOTS}/providers/Microsoft.Compute/snapshots/y", None,
                           POINT.isoformat(), DES)) is None


def test_the_disk_id_matches_case_insensitively_and_without_its_leading_slash() -> None:
    """Compute's own list example writes `sourceResourceId` without the leading slash."""
    assert chosen(snap("shouted", timedelta(0), source=DISK.upper())) == "shouted"
    assert chosen(snap("bare", timedelta(0), source=DISK.lstrip("/"))) == "bare"


class Listing:
    def __init__(self, snapshots: list[Snapshot] | Exception) -> None:
        self.snapshots = snapshots
        self.asked: list[str] = []

    def list_snapshots(self, resource_group_id: str) -> list[Snapshot]:
        self.asked.append(resource_group_id)
        if isinstance(self.snapshots, Exception):
            raise self.snapshots
        return self.snapshots


BI = BackupInstance(id=f"{SUB}/resourceGroups/rg-backup/providers/Microsoft.DataProtection/"
                       "backupVaults/bv/backupInstances/bi", vault_id="v", vault_location="x",
                    datasource_id=DISK, snapshot_resource_group_id=SNAPSHOTS,
                    vault_principal_id="b0b0", cross_subscription_restore="Enabled",
                    protection_state="ProtectionConfigured")
AT = RecoveryPoint("rp", POINT.isoformat())
TARGET = f"{SUB}/resourceGroups/rg-target"


def test_a_live_disks_own_set_is_taken_and_no_snapshot_is_read() -> None:
    listing = Listing([])
    found = encryption_set(listing, BI, AT, Disk(DISK, "x", encryption_set_id=DES), TARGET)
    assert (found.id, found.warning, listing.asked) == (DES, None, [])


def test_a_deleted_disks_set_is_its_points_snapshots() -> None:
    listing = Listing([snap("own", -timedelta(seconds=30))])
    assert encryption_set(listing, BI, AT, None, TARGET).id == DES
    assert listing.asked == [SNAPSHOTS]
    plain = encryption_set(Listing([snap("own", timedelta(0), des=None)]), BI, AT, None, TARGET)
    assert (plain.id, plain.warning) == (None, None)  # a platform key: nothing to grant


@pytest.mark.parametrize("listing", [
    Listing(errors.AppNotAuthorized("403 on snapshots/read")),
    Listing([snap("other", timedelta(0), source=OTHER)]),
])
def test_an_unknown_set_is_a_warning_naming_what_to_grant(listing: Listing) -> None:
    found = encryption_set(listing, BI, AT, None, TARGET)
    assert found.id is None and found.warning is not None
    assert found.warning.startswith(UNDETERMINED) and "b0b0" in found.warning


def test_a_transient_listing_failure_is_raised_for_the_retries() -> None:
    with pytest.raises(errors.AzureUnavailable):
        encryption_set(Listing(errors.AzureUnavailable("503")), BI, AT, None, TARGET)


def test_a_deleted_cmk_disk_may_not_go_to_another_subscription() -> None:
    elsewhere = "/subscriptions/0a1b2c3d-0000-4000-8000-000000000abc/resourceGroups/rg"
    with pytest.raises(errors.CrossSubscriptionRestoreDisabled):
        encryption_set(Listing([snap("own", timedelta(0))]), BI, AT, None, elsewhere)
    plain = Listing([snap("own", timedelta(0), des=None)])
    assert encryption_set(plain, BI, AT, None, elsewhere).id is None
