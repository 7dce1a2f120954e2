"""A recovery run judged against its policy's objectives (domain/recovery/recovery_run.py
`judge`): RTO from the signal to the run's end, RPO from the oldest restored point to the
signal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.model import RecoveryPoint
from domain.objectives import Objectives, Verdict
from domain.recovery.recovery_run import RecoveryObjectives, judge
from domain.recovery.signals import Signal
from domain.restore.restore_run import RestoreOutcome

OCCURRED = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
SIGNAL = Signal("k", "eventgrid", "Microsoft.Resources.ResourceDeleteSuccess", "/d", "t", "/rg",
                "2026-03-01T10:00:00Z", "disk d deleted")
GOAL = Objectives(30, 4.0)


def restore(outcome: str = "Succeeded", hours_before: float | None = 3.0) -> RestoreOutcome:
    point = None if hours_before is None else RecoveryPoint(
        "rp", (OCCURRED - timedelta(hours=hours_before)).isoformat())
    return RestoreOutcome(1, "r", outcome, "/restored", "job", point, {}, [], None)


def at(minutes: float) -> datetime:
    return OCCURRED + timedelta(minutes=minutes)


def test_a_succeeded_run_is_judged_from_the_signal_to_its_end_and_by_its_oldest_point():
    judged = judge(GOAL, "Succeeded", SIGNAL, at(25), [restore(hours_before=1),
                                                       restore(hours_before=3.5)])
    assert judged == RecoveryObjectives(GOAL, Verdict("rto", "met", 30, 25.0),
                                        Verdict("rpo", "met", 4.0, 3.5))
    late = judge(GOAL, "Succeeded", SIGNAL, at(31), [restore(hours_before=5)])
    assert late is not None
    assert (late.rto.verdict, late.rpo.verdict, late.rpo.actual) == ("missed", "missed", 5.0)
    assert late.to_dict() == {"objectives": {"rtoMinutes": 30, "rpoHours": 4.0},
                              "rto": {"objective": "rto", "verdict": "missed", "target": 30,
                                      "actual": 31.0},
                              "rpo": {"objective": "rpo", "verdict": "missed", "target": 4.0,
                                      "actual": 5.0}}


def test_a_run_that_did_not_restore_everything_missed_its_rto_however_fast():
    for outcome in ("Failed", "PartiallySucceeded"):
        judged = judge(GOAL, outcome, SIGNAL, at(2), [restore("Failed")])
        assert judged is not None
        assert judged.rto == Verdict("rto", "missed", 30, 2.0)
        assert judged.rpo == Verdict("rpo", "missed", 4.0)  # nothing came back
    partial = judge(GOAL, "PartiallySucceeded", SIGNAL, at(2),
                    [restore("Failed", hours_before=9), restore(hours_before=2)])
    assert partial is not None and partial.rpo == Verdict("rpo", "met", 4.0, 2.0)


def test_a_run_a_person_stopped_is_unknown_and_an_ignored_one_is_not_judged():
    for outcome in ("NotApproved", "Cancelled"):
        judged = judge(GOAL, outcome, SIGNAL, at(90), [restore(outcome)])
        assert judged == RecoveryObjectives(GOAL, Verdict("rto", "unknown", 30),
                                            Verdict("rpo", "unknown", 4.0))
    assert judge(GOAL, "Ignored", SIGNAL, at(1), []) is None
    assert judge(Objectives(), "Succeeded", SIGNAL, at(1), [restore()]) is None


def test_one_objective_alone_leaves_the_other_unknown_with_its_measure():
    judged = judge(Objectives(None, 4.0), "Succeeded", SIGNAL, at(12.34), [restore()])
    assert judged is not None
    assert judged.rto == Verdict("rto", "unknown", None, 12.3)
    assert judged.rpo.verdict == "met"
