"""Drill verification of a restored disk against its source, and drill naming."""

from datetime import UTC, datetime

from domain.drills.selection import drill_id, restored_name, verify
from domain.model import Disk
from domain.restore.request import DISK_NAME

SUB = "00000000-0000-0000-0000-000000000001"
DISK = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/data0"
DES = f"/subscriptions/{SUB}/resourceGroups/keys/providers/Microsoft.Compute/diskEncryptionSets/d"


def disk(**kw) -> Disk:
    base = {"id": DISK, "location": "westeurope", "size_gb": 256, "sku": "Premium_LRS",
            "os_type": None, "encryption_set_id": DES}
    return Disk(**{**base, **kw})


def test_a_faithful_copy_passes_every_check():
    checks, reason = verify(disk(), disk(id="copy", encryption_set_id=DES.upper()))
    assert reason == "" and [c["name"] for c in checks] == ["exists", "sizeGB", "sku", "osType",
                                                             "encryptionSet"]
    assert all(c["ok"] for c in checks)


def test_the_first_difference_is_the_reason():
    checks, reason = verify(disk(), disk(sku="Standard_LRS", size_gb=128))
    assert reason == "sizeGB is 128, the source's is 256"
    assert [c["name"] for c in checks if not c["ok"]] == ["sizeGB", "sku"]
    _, lost_key = verify(disk(), disk(encryption_set_id=None))
    assert lost_key.startswith("encryptionSet is None")


def test_a_missing_copy_fails_and_a_missing_source_checks_existence_only():
    assert verify(disk(), None)[1] == "the restored disk does not exist"
    checks, reason = verify(None, disk())
    assert reason == "" and [c["name"] for c in checks] == ["exists"]


def test_drill_names_are_unique_per_drill_and_valid_disk_names():
    when = datetime(2026, 11, 24, 2, 30, tzinfo=UTC)
    first, second = drill_id("nightly", when), drill_id("nightly", when.replace(minute=31))
    assert first == "drill-nightly-20261124T023000"
    long_disk = DISK.replace("data0", "d" * 80)
    names = {restored_name(DISK, first), restored_name(DISK, second)}
    assert len(names) == 2 and all(n.startswith("data0-d") for n in names)
    assert DISK_NAME.match(restored_name(long_disk, first))
