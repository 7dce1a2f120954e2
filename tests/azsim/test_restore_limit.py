"""Azure Backup allows a backup instance 10 restores a day (DOC-MATRIX); azsim enforces it.

How Azure refuses the 11th is not documented: the code, whether the POST is refused, its
operation fails, or a job starts and fails, and whether "a day" is a rolling 24 h or the UTC
calendar day. azsim does each (`restoreLimitRefusal`, `restoreLimitWindow`), with the code Azure
Backup uses for "the limit on number of operations permitted in 24 hours"
(`CloudDosAbsoluteLimitReached`, docs/fidelity.md), so the product is tested against each.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import azsim
import pytest
from azure.core.exceptions import HttpResponseError
from devhost.clock import VirtualClock

if TYPE_CHECKING:
    from conftest import Demo

LIMIT_CODE = "CloudDosAbsoluteLimitReached"
START = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # 06:00 UTC: "yesterday" is 6 h back
TARGET_DRO = ("/subscriptions/{subscriptionId}/resourceGroups/rg-restore-target",
              "Disk Restore Operator", "vault")
HOUR = 3600


@pytest.fixture
def clock() -> VirtualClock:
    """A fixed start, so "today" and "the last 24 h" differ the same way in every run."""
    return VirtualClock(START)


def setting(**values: Any) -> Callable[[dict[str, Any]], None]:
    """The demo scenario with `values` set, and `pastRestores` (hours before the start) given to
    vm-app01-data0's backup instance."""
    past = values.pop("pastRestores", None)

    def change(spec: dict[str, Any]) -> None:
        spec.update(values)
        if past is not None:
            bi = next(b for b in spec["backupVaults"][0]["backupInstances"]
                      if b["disk"].endswith("/vm-app01-data0"))
            bi["pastRestores"] = past
    return change


def restore(demo: Demo, bi_name: str, point: str, target: str) -> Any:
    """Trigger a restore and let its trigger operation end (its result); the job runs on."""
    return demo.finish(demo.trigger(bi_name, demo.restore_request(point, target)), 10)


def data0(demo: Demo) -> tuple[str, str]:
    bi = demo.backup_instance("vm-app01-data0")
    return bi.name, demo.latest_point(bi.name).name


def trigger_path(demo: Demo, bi_name: str) -> str:
    return (f"{demo.rg_id(demo.vault_rg)}/providers/Microsoft.DataProtection/backupVaults/"
            f"{demo.vault}/backupInstances/{bi_name}/restore?api-version=2026-06-01")


def info_of(error: dict[str, Any]) -> dict[str, Any]:
    [extra] = error["additionalInfo"]
    assert extra["type"] == "UserFacingError"
    return extra["info"]


def test_the_eleventh_restore_of_a_disk_in_a_day_is_refused(make_demo) -> None:
    demo = make_demo(grants=(TARGET_DRO,))
    bi, point = data0(demo)
    for n in range(10):
        restore(demo, bi, point, f"limit-{n}")
    with pytest.raises(HttpResponseError) as refused:
        restore(demo, bi, point, "limit-10")
    assert (refused.value.status_code, refused.value.error.code) == (400, LIMIT_CODE)
    other = demo.backup_instance("vm-app01-osdisk")  # the limit is per backup instance
    restore(demo, other.name, demo.latest_point(other.name).name, "other-0")
    demo.clock.advance(400)  # every job ends: ten disks made, the refused one made nothing
    made = {d.name for d in demo.c.compute.disks.list_by_resource_group(demo.target_rg)}
    assert made == {f"limit-{n}" for n in range(10)} | {"other-0"}


def test_the_refusal_body_and_a_429_with_retry_after(make_demo) -> None:
    """`restoreLimitStatus` 429: the POST is refused with a Retry-After of the seconds until the
    oldest counted restore is 24 h old (the SDK would sleep through it: read raw)."""
    for status in (400, 429):
        demo = make_demo(setting(restoreLimitStatus=status, pastRestores=[5, 4, 3, 3, 3, 3, 3, 3,
                                                                           3, 3]),
                         grants=(TARGET_DRO,))
        bi, point = data0(demo)
        body = demo.restore_request(point, "over").as_dict()
        answer, headers, error = demo.raw("POST", trigger_path(demo, bi), body)
        assert (answer, error["error"]["code"]) == (status, LIMIT_CODE)
        assert info_of(error["error"])["isRetryable"] is False
        assert error["error"]["message"].startswith("Operation is blocked")
        if status == 429:
            assert int(headers["Retry-After"]) == 19 * HOUR  # 5 h ago + 24 h
        else:
            assert "Retry-After" not in headers


def test_a_refusal_by_the_operation(make_demo) -> None:
    demo = make_demo(setting(restoreLimitRefusal="operation", pastRestores=[1] * 10),
                     grants=(TARGET_DRO,))
    bi, point = data0(demo)
    poller = demo.trigger(bi, demo.restore_request(point, "over"))  # accepted: 202
    with pytest.raises(HttpResponseError) as failed:
        demo.finish(poller, 10)
    assert (failed.value.status_code, failed.value.error.code) == (200, LIMIT_CODE)
    assert not [j for j in demo.c.dataprotection.jobs.list(demo.vault_rg, demo.vault)
                if j.properties.status != "Completed"]  # no job started


def test_a_refusal_by_the_job(make_demo) -> None:
    demo = make_demo(setting(restoreLimitRefusal="job", pastRestores=[1] * 10),
                     grants=(TARGET_DRO,))
    bi, point = data0(demo)
    result = restore(demo, bi, point, "over")  # the trigger succeeds and names a job
    job_name = result.job_id.rsplit("/", 1)[-1]
    job = demo.c.dataprotection.jobs.get(demo.vault_rg, demo.vault, job_name)
    assert job.properties.status == "InProgress"
    demo.clock.advance(400)
    job = demo.c.dataprotection.jobs.get(demo.vault_rg, demo.vault, job_name)
    assert job.properties.status == "Failed"
    assert job.properties.error_details[0].code == LIMIT_CODE
    assert "over" not in {d.name for d in demo.c.compute.disks.list_by_resource_group(
        demo.target_rg)}


@pytest.mark.parametrize("window", ["rolling", "utcDay"])
def test_what_a_day_is(make_demo, window: str) -> None:
    """Ten restores 8 h ago (22:00 yesterday) count in the last 24 h, not in the UTC day; ten 5 h
    ago (01:00 today) free up at 01:00 tomorrow (rolling) or at 00:00 UTC (utcDay)."""
    yesterday = make_demo(setting(restoreLimitWindow=window, pastRestores=[8] * 10),
                          grants=(TARGET_DRO,))
    bi, point = data0(yesterday)
    if window == "rolling":
        with pytest.raises(HttpResponseError, match=LIMIT_CODE):
            restore(yesterday, bi, point, "over")
    else:
        restore(yesterday, bi, point, "today-0")
    today = make_demo(setting(restoreLimitWindow=window, pastRestores=[5] * 10),
                      grants=(TARGET_DRO,))
    bi, point = data0(today)
    frees = (18 if window == "utcDay" else 19) * HOUR  # from 06:00 (+10 s of triggers)
    today.clock.advance(frees - 60 - today.clock.time() + START.timestamp())
    with pytest.raises(HttpResponseError, match=LIMIT_CODE):
        restore(today, bi, point, "still-over")
    today.clock.advance(120)
    restore(today, bi, point, "freed")


def test_past_restores_are_listed_as_restore_jobs(make_demo) -> None:
    demo = make_demo(setting(pastRestores=[2, 30]))
    bi, _ = data0(demo)
    jobs = [j for j in demo.c.dataprotection.jobs.list(demo.vault_rg, demo.vault)
            if j.properties.operation_category == "Restore"]
    assert sorted((START - j.properties.start_time).total_seconds() / HOUR for j in jobs) == \
        [2, 30]
    assert {j.properties.status for j in jobs} == {"Completed"}
    assert {j.properties.backup_instance_id.rsplit("/", 1)[-1] for j in jobs} == {bi}


def test_the_limit_is_a_setting_and_bad_settings_are_refused(make_demo) -> None:
    demo = make_demo(setting(dailyRestoreLimit=2), grants=(TARGET_DRO,))
    bi, point = data0(demo)
    restore(demo, bi, point, "one")
    restore(demo, bi, point, "two")
    with pytest.raises(HttpResponseError, match=LIMIT_CODE):
        restore(demo, bi, point, "three")
    for bad, says in (({"dailyRestoreLimit": -1}, "dailyRestoreLimit must be"),
                      ({"dailyRestoreLimit": "10"}, "dailyRestoreLimit must be"),
                      ({"restoreLimitRefusal": "later"}, "restoreLimitRefusal must be one of"),
                      ({"restoreLimitWindow": "day"}, "restoreLimitWindow must be one of"),
                      ({"restoreLimitStatus": 409}, "restoreLimitStatus must be one of"),
                      ({"pastRestores": ["yesterday"]}, "is not a number of hours")):
        spec = azsim.load_scenario("demo")
        setting(**bad)(spec)
        with pytest.raises(ValueError, match=says):
            azsim.start(scenario=spec, clock=VirtualClock(START)).stop()
