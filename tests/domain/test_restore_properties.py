"""domain/restore/properties.py: what a restored disk is given, and what cannot be given."""

from __future__ import annotations

from domain.model import BackupInstance, Disk, DiskProperties, RecoveryPoint, RestorePlan
from domain.restore import properties

SOURCE = ("/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg-app/providers/"
          "Microsoft.Compute/disks/data0")
TARGET = SOURCE.replace("rg-app", "rg-target").replace("data0", "data0-restored")
POINT = RecoveryPoint("/subscriptions/x/backupInstances/bi/recoveryPoints/rp-1",
                      "2026-12-07T02:00:00Z")


def plan(source: Disk | None, datasource: str = SOURCE) -> RestorePlan:
    bi = BackupInstance("bi", "vault", "westeurope", datasource, "rg-snap", "p", "Enabled",
                        "ProtectionConfigured")
    return RestorePlan("run-1", "2026-12-07T03:00:00Z", bi, POINT, source, TARGET, "westeurope",
                       [])


def test_the_provenance_tags_name_the_source_the_point_and_the_run() -> None:
    update, carried, missing = properties.wanted(plan(Disk(SOURCE, "westeurope")), TARGET, "r1")
    assert update.tags == {"restoredFrom": SOURCE, "recoveryPoint": "rp-1 2026-12-07T02:00:00Z",
                           "restoredBy": "r1"}
    assert carried == list(properties.PROVENANCE) and missing == []
    assert update.network_access_policy is None  # not known: not set


def test_a_tag_value_over_azures_limit_is_left_out_and_said() -> None:
    long_id = SOURCE.replace("data0", "d" * 250)
    update, carried, missing = properties.wanted(plan(None, long_id), TARGET, "r1")
    assert "restoredFrom" not in update.tags and "restoredFrom" not in carried
    assert any(m.property == "restoredFrom" and "256" in m.reason for m in missing)


def test_a_source_with_too_many_tags_keeps_its_own_and_says_the_provenance_did_not_fit() -> None:
    source = Disk(SOURCE, "westeurope", tags={f"t{n}": "v" for n in range(49)})
    update, carried, missing = properties.wanted(plan(source), TARGET, "r1")
    assert len(update.tags) == 49 and carried == ["tags"]
    assert sorted(m.property for m in missing) == sorted(properties.PROVENANCE)


def test_nothing_changes_on_a_disk_that_has_it_all_already() -> None:
    disk = Disk(TARGET, "westeurope", tags={"a": "1", "b": "2"}, network_access_policy="DenyAll")
    assert properties.disk_changes(disk, DiskProperties(TARGET, {"a": "1"}, "denyall")) == {}
    assert properties.disk_changes(disk, DiskProperties(TARGET, {"a": "2"})) == {"tags": {"a": "2"}}


def test_a_private_source_and_a_public_copy_give_a_warning_and_an_unread_copy_too() -> None:
    source = Disk(SOURCE, "westeurope", network_access_policy="AllowAll",
                  public_network_access="Disabled")
    public = Disk(TARGET, "westeurope", network_access_policy="AllowAll",
                  public_network_access="Enabled")
    assert "publicNetworkAccess Disabled" in (properties.exposure(source, TARGET, public) or "")
    assert "could not be read" in (properties.exposure(source, TARGET, None) or "")
    assert properties.exposure(source, TARGET, source) is None
    assert properties.exposure(public, TARGET, public) is None


def test_what_landed_is_read_from_the_disk_not_from_the_answer() -> None:
    update = DiskProperties(TARGET, {"a": "1", "restoredBy": "r1"}, "AllowPrivate", "/da")
    carried = ["tags", "restoredBy", "networkAccessPolicy", "diskAccessId"]
    unchanged = Disk(TARGET, "westeurope", network_access_policy="AllowAll")
    copied, missing = properties.landed(update, carried, unchanged, None)
    assert copied == [] and {m.reason for m in missing} == {
        "the disk does not show it after the update"}
    copied, missing = properties.landed(update, carried, None, None)
    assert {m.reason for m in missing} == {"the disk could not be read after the update"}
