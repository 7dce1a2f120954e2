"""The restore-drill report: percentiles, figures, verdicts against objectives, trend, ordering,
validation, HTML and log."""

import json
import re
from datetime import UTC, datetime

import pytest

from activities.report_page import human_duration, render_html
from domain.drills.drill_report import (
    SCHEMA,
    Measured,
    build_report,
    direction,
    newest_at,
    outcome_summary,
    percentile,
    summary_log,
)
from domain.model import RecoveryPoint
from domain.objectives import ObjectiveRules, Objectives, TagObjectives

SUB = "00000000-0000-0000-0000-000000000001"
STARTED, FINISHED = "2026-03-01T10:00:00Z", "2026-03-01T10:30:15+00:00"
EVIL = "<script>alert(1)</script>"


def disk_id(name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/{name}"


def result(name: str, verdict: str = "passed", seconds: float | None = 100.0,
           point: str | None = "2026-03-01T04:00:00Z", reason: str = "", **extra):
    doc = {"diskId": disk_id(name), "backupInstanceId": f"/bi/{name}",
           "recoveryPointId": None if point is None else f"rp-{name}",
           "recoveryPointTime": point, "restoredDiskId": disk_id(f"{name}-drill"),
           "verdict": verdict, "reason": reason, "phases": {"restore": 60.0},
           "recoverySeconds": seconds, "started": STARTED, "finished": FINISHED,
           "checks": [], "kept": False}
    return {**doc, **extra}


def results():
    return [
        result("c", seconds=400.0, point="2026-03-01T08:30:00Z"),
        result("skip", "skipped", seconds=None, point=None, reason="no recovery point"),
        result("a", seconds=100.0, point="2026-03-01T04:00:00+00:00"),
        result("d", "failed", seconds=50.0, point="2026-03-01T09:00:00Z",
               reason="size mismatch", kept=True,
               checks=[{"name": "size", "expected": 128, "actual": 64, "ok": False},
                       {"name": "sku", "expected": "Premium_LRS", "actual": "Premium_LRS",
                        "ok": True}]),
        result("b", seconds=200.0, point="2026-02-28T10:00:00Z"),
    ]


def prior(n: int, day: int, rate: float | None = 1.0, p95: float | None = 300.0):
    return {"drillId": f"drill-{n}", "plan": "nightly", "started": f"2026-02-{day:02d}T10:00:00Z",
            "disks": 4, "passed": 4, "failed": 0, "skipped": 0, "successRate": rate,
            "recoveryP50": 200.0, "recoveryP95": p95}


def report(res=None, previous=None, **kw):
    args = {"drill_id": "drill-now", "plan": "nightly", "started": STARTED, "finished": FINISHED,
            "results": results() if res is None else res,
            "previous": [] if previous is None else previous, "max_parallel": 8, **kw}
    return build_report(**args)


# ---- percentile ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("values", "p", "expected"), [
    ([1, 2, 3, 4], 50, 2.5), ([1, 2, 3, 4], 95, 3.85), ([4, 1, 3, 2], 0, 1),
    ([1, 2, 3, 4], 100, 4), ([10, 20, 30], 25, 15.0), ([7.5], 95, 7.5)])
def test_percentile_interpolates_linearly_between_ranks(values, p, expected):
    assert percentile(values, p) == pytest.approx(expected)


def test_percentile_of_nothing_is_none_and_p_must_be_a_percentage():
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


# ---- build_report -------------------------------------------------------------------------------
def test_summary_figures_of_a_hand_made_drill():
    doc = report(observed_parallel=5)
    assert doc["schema"] == SCHEMA == 1
    assert (doc["durationSeconds"], doc["maxParallel"], doc["observedParallel"]) == (1815.0, 8, 5)
    assert doc["summary"] == {
        "drillId": "drill-now", "plan": "nightly", "started": STARTED, "finished": FINISHED,
        "disks": 5, "passed": 3, "failed": 1, "skipped": 1,
        "successRate": 0.75,  # the skipped disk is not an attempt
        "recoveryP50": 200.0, "recoveryP95": 380.0,
        "recoveryMax": 400.0,  # over passed disks only: the failed disk's 50 s is not counted
        "oldestPointAgeHours": 24.0, "newestPointAgeHours": 1.0,
        # no objectives: every disk of the plan is judged, and unknown
        "objectives": {"met": 0, "missed": 0, "unknown": 5,
                       "rto": {"met": 0, "missed": 0, "unknown": 5},
                       "rpo": {"met": 0, "missed": 0, "unknown": 5}},
        "diskResults": [{"diskId": disk_id(n), "verdict": v, "rto": "unknown", "rpo": "unknown",
                         "recoverySeconds": t}
                        for n, v, t in (("d", "failed", 50.0), ("skip", "skipped", None),
                                        ("a", "passed", 100.0), ("b", "passed", 200.0),
                                        ("c", "passed", 400.0))]}
    json.dumps(doc)  # the report is plain JSON


def test_recovery_figures_are_rounded_and_empty_drills_have_no_rate():
    doc = report([result("a", seconds=100.04), result("b", seconds=200.06)])
    assert doc["summary"]["recoveryP50"] == 150.1 and doc["summary"]["recoveryMax"] == 200.1
    empty = report([result("s", "skipped", seconds=None, point=None)])["summary"]
    assert empty["successRate"] is None and empty["recoveryP95"] is None
    assert empty["oldestPointAgeHours"] is None and empty["skipped"] == 1


def test_disks_are_sorted_failed_skipped_passed_then_by_id_with_point_ages():
    disks = report()["disks"]
    assert [d["diskId"].rsplit("/", 1)[1] for d in disks] == ["d", "skip", "a", "b", "c"]
    assert [d["recoveryPointAgeHours"] for d in disks] == [1.0, None, 6.0, 24.0, 1.5]
    assert disks[0]["checks"][0]["actual"] == 64 and disks[0]["kept"] is True


def test_the_report_does_not_alias_or_mutate_the_inputs():
    res = results()
    doc = report(res)
    doc["disks"][0]["checks"].clear()
    assert "recoveryPointAgeHours" not in res[0] and len(res[3]["checks"]) == 2


def test_trend_is_sorted_by_start_and_ends_with_this_drill():
    earlier = [prior(2, 20, rate=0.5), prior(1, 10), prior(3, 25, p95=None)]
    trend = report(previous=earlier)["trend"]
    assert [t["drillId"] for t in trend] == ["drill-1", "drill-2", "drill-3", "drill-now"]
    assert trend[1] == {"drillId": "drill-2", "started": "2026-02-20T10:00:00Z",
                        "successRate": 0.5, "recoveryP50": 200.0, "recoveryP95": 300.0,
                        "disks": 4, "objectives": None}  # a summary from before objectives
    assert trend[-1]["successRate"] == 0.75 and trend[-1]["recoveryP95"] == 380.0


def test_trend_keeps_the_last_30_drills_and_ignores_an_earlier_copy_of_this_one():
    earlier = [prior(n, 1 + n % 28) | {"started": f"2026-01-01T{n:02d}:00:00+00:00"}
               for n in range(24)] + [prior(100 + n, 1 + n) for n in range(20)]
    earlier.append(prior(99, 28) | {"drillId": "drill-now"})
    trend = report(previous=earlier)["trend"]
    assert len(trend) == 30
    assert trend[-1]["drillId"] == "drill-now" and trend[-1]["disks"] == 5
    assert sum(t["drillId"] == "drill-now" for t in trend) == 1
    assert trend[0]["drillId"] == "drill-15"  # 44 earlier, newest 29 kept: drops drill-0..14
    starts = [t["started"] for t in trend]
    assert starts[:9] == [f"2026-01-01T{n:02d}:00:00+00:00" for n in range(15, 24)]


@pytest.mark.parametrize(("change", "message"), [
    ({"verdict": "ok"}, "results[3].verdict: 'ok' is not one of passed, failed, skipped"),
    ({"diskId": None}, "results[3].diskId: missing"),
    ({"recoverySeconds": "12"}, "results[3].recoverySeconds: '12' is not a number"),
    ({"recoveryPointTime": "yesterday"}, "results[3].recoveryPointTime: 'yesterday' is not"),
])
def test_malformed_results_name_the_index_and_field(change, message):
    res = results()
    res[3] = {**res[3], **change}
    with pytest.raises(ValueError, match=re.escape(message)):
        report(res)


def test_a_result_without_a_disk_id_or_a_bad_previous_start_is_rejected():
    res = results()
    del res[0]["diskId"]
    with pytest.raises(ValueError, match=re.escape("results[0].diskId: missing")):
        report(res)
    with pytest.raises(ValueError, match=re.escape("previous[1].started")):
        report(previous=[prior(1, 1), prior(2, 2) | {"started": None}])


# ---- objectives ---------------------------------------------------------------------------------
RULES = ObjectiveRules(Objectives(5, 6.0), [TagObjectives("tier", "gold", Objectives(2, None))])


def measured(newest: str | None, tags=None, problem=None) -> Measured:
    point = None if newest is None else RecoveryPoint(f"rp-{newest}", newest)
    return Measured(tags or {}, point, problem)


RES_JUDGED = [
    result("a", seconds=100.0),
    result("b", seconds=200.0),
    result("c", seconds=400.0),
    result("d", "failed", seconds=50.0, reason="size mismatch"),
    result("skip", "skipped", seconds=None, point=None, reason="10 restores in the last 24 h"),
    result("out", "skipped", seconds=None, point=None, reason="excluded by the plan",
           backupInstanceId=None),
]
JUDGED = {"objectives": RULES, "measured": {
    disk_id("a").lower(): measured("2026-03-01T08:00:00Z"),
    disk_id("b").lower(): measured("2026-03-01T03:00:00+00:00", tags={"TIER": "gold"}),
    disk_id("c").lower(): measured(None, problem="its recovery points could not be read: 429"),
    disk_id("d").lower(): measured(None),
    disk_id("skip").lower(): measured("2026-03-01T09:00:00Z")}}


def by_name(doc) -> dict:
    return {d["diskId"].rsplit("/", 1)[1]: d for d in doc["disks"]}


def test_each_disk_of_the_plan_gets_rto_and_rpo_verdicts_against_its_objectives():
    disks = by_name(report(RES_JUDGED, **JUDGED))
    a, b, c, d, skip = (disks[n] for n in ("a", "b", "c", "d", "skip"))
    assert (a["rto"], a["rpo"]) == ({"objective": "rto", "verdict": "met", "target": 5,
                                     "actual": 1.7},
                                    {"objective": "rpo", "verdict": "met", "target": 6.0,
                                     "actual": 2.0})
    assert a["objectives"] == {"rtoMinutes": 5, "rpoHours": 6.0}
    assert a["newestRecoveryPoint"] == {"id": "rp-2026-03-01T08:00:00Z",
                                        "time": "2026-03-01T08:00:00Z"}
    assert a["newestPointAgeHours"] == 2.0 and a["recoveryPointAgeHours"] == 6.0  # both shown
    # b's tag overrides the RTO (names case-insensitive) and keeps the plan's RPO
    assert b["objectives"] == {"rtoMinutes": 2, "rpoHours": 6.0}
    assert (b["rto"]["verdict"], b["rto"]["actual"], b["rpo"]["verdict"], b["rpo"]["actual"]) \
        == ("missed", 3.3, "missed", 7.0)
    # points that could not be read: the RPO is unknown and the report says why
    assert c["rto"]["verdict"] == "missed" and c["rpo"] == {"objective": "rpo",
                                                            "verdict": "unknown", "target": 6.0}
    assert c["objectivesProblem"].endswith("429") and "objectivesProblem" not in a
    # a failed disk missed its RTO however fast it failed; no point at all misses the RPO
    assert d["rto"] == {"objective": "rto", "verdict": "missed", "target": 5, "actual": 0.8}
    assert d["rpo"] == {"objective": "rpo", "verdict": "missed", "target": 6.0}
    assert d["newestRecoveryPoint"] is None
    # skipped after selection: not restored (RTO unknown), but its newest point is judged
    assert skip["rto"] == {"objective": "rto", "verdict": "unknown", "target": 5}
    assert skip["rpo"]["verdict"] == "met" and skip["objectiveVerdict"] == "unknown"
    assert [disks[n]["objectiveVerdict"] for n in ("a", "b", "c", "d")] == \
        ["met", "missed", "missed", "missed"]
    # a disk the plan left out is not the plan's: no verdicts
    assert not {"rto", "rpo", "objectives", "history"} & set(disks["out"])


def test_the_summary_totals_the_verdicts_and_the_outcome_leaves_the_per_disk_results_out():
    summary = report(RES_JUDGED, **JUDGED)["summary"]
    assert summary["objectives"] == {"met": 1, "missed": 3, "unknown": 1,
                                     "rto": {"met": 1, "missed": 3, "unknown": 1},
                                     "rpo": {"met": 2, "missed": 2, "unknown": 1}}
    assert len(summary["diskResults"]) == 5
    public = outcome_summary(summary)
    assert "diskResults" not in public and public["objectives"] == summary["objectives"]
    assert "diskResults" in summary  # not changed in place


def test_a_disk_without_measures_has_an_unknown_rpo_and_its_rto_still_judged():
    disks = by_name(report([result("a", seconds=400.0)], objectives=RULES))
    assert disks["a"]["rto"]["verdict"] == "missed"
    assert disks["a"]["rpo"] == {"objective": "rpo", "verdict": "unknown", "target": 6.0}


def test_the_newest_point_is_the_newest_that_existed_when_the_drill_started():
    start = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    points = [RecoveryPoint("p1", "2026-03-01T04:00:00Z"),
              RecoveryPoint("p3", "2026-03-01T10:05:00Z"),  # taken during the drill
              RecoveryPoint("p2", "2026-03-01T09:59:00+00:00"),
              RecoveryPoint("p0", "2026-02-28T22:00:00")]  # naive: UTC
    assert newest_at(points, start).id == "p2"
    assert newest_at(points[1:2], start) is None and newest_at([], start) is None


def test_direction_compares_with_the_median_of_the_last_five():
    assert direction(130.0, [100.0, 100.0, 500.0])["direction"] == "rising"  # median 100
    assert direction(120.0, [100.0])["direction"] == "steady"  # +20 % is still steady
    assert direction(79.0, [100.0])["direction"] == "falling"
    assert direction(100.0, [1000.0, 1000.0, 90.0, 100.0, 110.0, 100.0, 100.0]) == {
        "direction": "steady", "latest": 100.0, "baseline": 100.0, "change": 0.0}
    assert direction(None, [1.0])["direction"] == direction(5.0, [])["direction"] == "unknown"


def test_the_trend_across_two_drills_of_a_plan_carries_each_disks_verdicts():
    first = report(RES_JUDGED, **JUDGED, drill_id="drill-1", started="2026-02-28T10:00:00Z",
                   finished="2026-02-28T10:30:00Z")
    later = [result("a", seconds=160.0), result("b", seconds=210.0),
             result("d", seconds=60.0)]
    second = report(later, previous=[first["summary"]], **JUDGED)
    disks = by_name(second)
    assert [(h["drillId"], h["rto"], h["rpo"]) for h in disks["a"]["history"]] == \
        [("drill-1", "met", "met"), ("drill-now", "met", "met")]
    assert disks["a"]["recoveryTrend"] == {"direction": "rising", "latest": 160.0,
                                           "baseline": 100.0, "change": 0.6}
    assert disks["b"]["recoveryTrend"]["direction"] == "steady"
    # d failed before: no earlier restore time to compare; its verdicts are there all the same
    assert disks["d"]["recoveryTrend"]["direction"] == "unknown"
    assert [h["verdict"] for h in disks["d"]["history"]] == ["failed", "passed"]
    assert [t["objectives"] for t in second["trend"]] == [
        {"met": 1, "missed": 3, "unknown": 1}, {"met": 1, "missed": 2, "unknown": 0}]
    assert second["recoveryP95Trend"]["direction"] == "falling"  # 380 s, then 205 s
    assert second["recoveryP95Trend"]["baseline"] == 380.0


def test_a_disks_history_keeps_its_last_ten_drills():
    previous = [report([result("a", seconds=100.0 + n)], drill_id=f"drill-{n:02d}",
                       started=f"2026-02-{n + 1:02d}T10:00:00Z",
                       finished=f"2026-02-{n + 1:02d}T11:00:00Z")["summary"]
                for n in range(12)]
    disks = by_name(report([result("a", seconds=100.0)], previous=previous))
    assert [h["drillId"] for h in disks["a"]["history"]] == \
        [f"drill-{n:02d}" for n in range(3, 12)] + ["drill-now"]


# ---- HTML ---------------------------------------------------------------------------------------
def page(**kw) -> str:
    return render_html(report(previous=[prior(1, 10), prior(2, 20, rate=None)], **kw))


def test_the_page_is_one_complete_self_contained_document():
    text = page()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert text.count("<svg") == 3 and text.count("</svg>") == 3
    assert "<style>" in text
    for banned in ("http://", "https://", "src=", "href=", "<script", "<link", "@import"):
        assert banned not in text, banned


def test_the_page_shows_title_summary_and_durations():
    text = page(observed_parallel=6)
    assert "<title>Restore drill nightly \u2014 drill-now</title>" in text
    assert "75.0 %" in text and "6 min 20 s" in text  # p95 380 s
    assert "<dd>30 min 15 s</dd>" in text and "<dd>8 / 6</dd>" in text
    assert "<dd>24.0 h</dd>" in text


def test_one_bar_per_timed_disk_and_failed_bars_stand_out():
    text = page()
    bars = re.findall(r'<rect class="bar" data-verdict="(\w+)"[^>]*fill="([^"]+)"', text)
    assert len(bars) == 4  # the skipped disk has no recovery time
    fills = {verdict: {fill for v, fill in bars if v == verdict} for verdict, _ in bars}
    assert len(fills["failed"]) == 1 and fills["failed"].isdisjoint(fills["passed"])
    widths = [float(w) for w in re.findall(r'<rect class="bar"[^>]*width="([\d.]+)"', text)]
    assert widths[0] == max(widths) and widths[1] == pytest.approx(widths[0] / 2)


def test_the_trend_chart_draws_points_and_survives_gaps_and_a_single_drill():
    text = page()
    assert text.count('<circle class="point"') == 5  # 3 p95 + 2 success rates (one is None)
    assert "<polyline" in text
    single = render_html(report())
    assert single.count('<circle class="point"') == 2 and "<polyline" not in single


def test_failed_rows_are_highlighted_and_checks_of_failed_disks_listed():
    text = page()
    assert re.search(r'<tr class="failed"><td title="[^"]+/disks/d">d</td>', text)
    assert text.count('<tr class="failed">') == 1
    assert '<td class="bad">failed</td>' in text and "Premium_LRS" in text
    assert render_html(report([result("a")])).count('class="bad"') == 0


def test_user_strings_are_escaped():
    res = results()
    res[3] = {**res[3], "reason": EVIL, "diskId": disk_id(EVIL)}
    text = render_html(report(res, plan='p"lan<b>'))
    assert EVIL not in text and 'p"lan<b>' not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "p&quot;lan&lt;b&gt;" in text


def test_the_page_is_deterministic():
    assert page() == page()


def test_human_durations():
    assert [human_duration(v) for v in (None, 42.4, 252, 3900)] == \
        ["\u2014", "42 s", "4 min 12 s", "1 h 5 min"]


# ---- log ----------------------------------------------------------------------------------------
def test_summary_log_is_one_flat_record():
    res = [*results(), result("e", "failed", seconds=None, reason="restore failed")]
    log = summary_log(report(res))
    assert log == {"event": "RestoreDrillCompleted", "drillId": "drill-now", "plan": "nightly",
                   "disks": 6, "passed": 3, "failed": 2, "skipped": 1, "successRate": 0.6,
                   "recoveryP50": 200.0, "recoveryP95": 380.0, "durationSeconds": 1815.0,
                   "failedDisks": "d,e", "objectivesMet": 0, "objectivesMissed": 0,
                   "objectivesUnknown": 6, "rtoMet": 0, "rtoMissed": 0, "rtoUnknown": 6,
                   "rpoMet": 0, "rpoMissed": 0, "rpoUnknown": 6, "recoveryP95Trend": "unknown",
                   "missedObjectiveDisks": ""}
    judged = summary_log(report(RES_JUDGED, **JUDGED))
    assert {k: judged[k] for k in judged if k.startswith(("objectives", "rto", "rpo"))} == {
        "objectivesMet": 1, "objectivesMissed": 3, "objectivesUnknown": 1,
        "rtoMet": 1, "rtoMissed": 3, "rtoUnknown": 1, "rpoMet": 2, "rpoMissed": 2,
        "rpoUnknown": 1}
    assert judged["missedObjectiveDisks"] == "d,b,c"  # in the report's order: failed first


def test_the_page_shows_each_disks_verdicts_totals_and_history():
    first = report(RES_JUDGED, **JUDGED, drill_id="drill-1", started="2026-02-28T10:00:00Z",
                   finished="2026-02-28T10:30:00Z")
    text = render_html(report(RES_JUDGED, previous=[first["summary"]], **JUDGED))
    assert "<dt>Objectives met / missed / unknown (disks)</dt><dd>1 / 3 / 1</dd>" in text
    assert "<dt>RTO met / missed / unknown</dt><dd>1 / 3 / 1</dd>" in text
    assert "<dt>RPO met / missed / unknown</dt><dd>2 / 2 / 1</dd>" in text
    row = re.search(r'<tr class="v-missed"><td title="[^"]+/disks/b">b</td>(.*?)</tr>', text)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
    assert cells[:8] == ["missed", "\u2264 2 min", "3 min 20 s", "missed", "\u2264 6 h",
                         "7.0 h", "6.0 h", "missed"]
    assert "its recovery points could not be read: 429" in text
    row = re.search(r'<tr class="v-missed"><td title="[^"]+/disks/d">d</td>(.*?)</tr>', text)
    assert row is not None and re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))[5] == "none"
    # five judged disks, two drills each: ten squares, the missed ones red
    squares = re.findall(r'<rect class="verdict" data-verdict="(\w+)"[^>]*fill="([^"]+)"', text)
    assert len(squares) == 10
    assert {f for v, f in squares if v == "missed"} == {"#c62828"}
    assert sum(v == "missed" for v, _ in squares) == 6
    assert "out" not in re.findall(r">(\w+)</text>", text)  # the excluded disk has no row


def test_a_page_without_objectives_says_so():
    text = render_html(report([result("out", "skipped", seconds=None, point=None,
                                      backupInstanceId=None)]))
    assert text.count("No disk of the plan was judged against objectives.") == 2
