"""NCRONTAB parsing and next-occurrence tables, DST rules, and a brute-force property test."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from devhost.triggers.ncrontab import DAY_NAMES, MONTH_NAMES, CronError, NCrontab
from hypothesis import given, settings
from hypothesis import strategies as st

T0 = datetime(2024, 1, 1, 10, 0, 7, tzinfo=UTC)  # a Monday


def nxt(expr: str, after: datetime = T0, tz=UTC, dialect: str = "ncrontab") -> datetime | None:
    return NCrontab.parse(expr, dialect).next_after(after, tz)  # type: ignore[arg-type]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("expr", "expected"), [
    ("*/2 * * * * *", utc(2024, 1, 1, 10, 0, 8)),
    ("* * * * * *", utc(2024, 1, 1, 10, 0, 8)),
    ("0 */5 * * * *", utc(2024, 1, 1, 10, 5)),
    ("7 0 10 * * *", utc(2024, 1, 2, 10, 0, 7)),  # strictly after: the current second is past
    ("0 30 9 * * 1-5", utc(2024, 1, 2, 9, 30)),
    ("0 0 0 1 * *", utc(2024, 2, 1)),
    ("5 4 * * *", utc(2024, 1, 2, 4, 5)),  # five fields: second 0
    ("0 0 12 * * sun", utc(2024, 1, 7, 12)),
    ("0 0 12 * * Saturday", utc(2024, 1, 6, 12)),
    ("0 0 12 * * t", utc(2024, 1, 2, 12)),  # a prefix: first name that starts with it (Tuesday)
    ("0 0 0 1 mar,Sep *", utc(2024, 3, 1)),
    ("0 0 0 1 JUN-aug *", utc(2024, 6, 1)),
    ("0 15,45 8-9 * * *", utc(2024, 1, 2, 8, 15)),
    ("0 0 10-20/5 * * *", utc(2024, 1, 1, 15)),
    ("0 0 22/1 * * *", utc(2024, 1, 1, 22)),  # a/n means a..max
    ("0 0 5-1 * * *", utc(2024, 1, 2, 1)),  # NCrontab swaps a reversed range: 1-5
    ("0 0 */0 * * *", utc(2024, 1, 1, 11)),  # NCrontab treats a step below 1 as 1
    ("0 0 0 29 2 *", utc(2024, 2, 29)),
    ("0 0 0 31 * *", utc(2024, 1, 31)),
    ("0 0 0 30 2 *", None),  # never
    ("0 0 0 13 * Fri", utc(2024, 9, 13)),  # AND: a Friday the 13th
    ("0 0 0 29 2 Mon", utc(2044, 2, 29)),  # AND: rare, found by jumping, not scanning
    ("59 59 23 31 12 *", utc(2024, 12, 31, 23, 59, 59)),
])
def test_next_occurrence_table(expr: str, expected: datetime | None) -> None:
    assert nxt(expr) == expected


@pytest.mark.parametrize(("expr", "expected"), [
    ("0 0 0 13 * 5", utc(2024, 1, 5)),  # OR: the first Friday comes before the 13th
    ("0 0 0 13 * 7", utc(2024, 1, 7)),  # 7 is Sunday
    ("0 0 0 * * 7", utc(2024, 1, 7)),
    ("0 0 0 13 * *", utc(2024, 1, 13)),  # one day field unrestricted: plain day-of-month
    # Vixie: a field starting with * counts as unrestricted, so AND applies (Friday 1 March).
    ("0 0 0 */10 * 5", utc(2024, 3, 1)),
])
def test_vixie_dialect_or_rule_and_seven(expr: str, expected: datetime) -> None:
    assert nxt(expr, dialect="vixie") == expected


@pytest.mark.parametrize(("expr", "message"), [
    ("* * * *", "4 fields"),
    ("* * * * * * *", "7 fields"),
    ("60 * * * * *", "second field '60': 60 is out of range 0-59"),
    ("0 0 24 * * *", "hour field '24'"),
    ("0 0 0 0 * *", "day field '0'"),
    ("0 0 0 * 13 *", "month field '13'"),
    ("0 0 0 * * 7", "7 is not accepted by NCrontab"),
    ("0 0 0 * foo *", "'foo' is not a known name"),
    ("0 0 x * * *", "'x' is not a number"),
    ("0 0 1,,2 * * *", "cannot be empty"),
    ("0 0 ,1 * * *", "hour field"),
    ("0 0 */x * * *", "'x' is not a number"),
])
def test_bad_expressions_are_rejected_with_the_field(expr: str, message: str) -> None:
    with pytest.raises(CronError, match=message.replace("*", r"\*")):
        NCrontab.parse(expr)


def test_is_interval_follows_cronschedule() -> None:
    assert NCrontab.parse("0 */30 * * * *").is_interval
    assert NCrontab.parse("0 0 1,2 * * *").is_interval  # prints as 1-2
    assert not NCrontab.parse("0 30 1 * * *").is_interval
    assert not NCrontab.parse("0 0,30 1 * * *").is_interval


NY = ZoneInfo("America/New_York")


def series(expr: str, start: datetime, n: int, tz=NY) -> list[str]:
    out, t = [], start
    for _ in range(n):
        t = nxt(expr, t, tz)
        out.append(t.isoformat())
    return out


def test_spring_forward_gap_fires_after_the_gap() -> None:
    # 2024-03-10 02:00 EST -> 03:00 EDT: 02:30 does not exist and fires at 03:30 EDT.
    start = datetime(2024, 3, 10, 1, 0, tzinfo=NY)
    assert series("0 30 2 * * *", start, 2) == ["2024-03-10T03:30:00-04:00",
                                                "2024-03-11T02:30:00-04:00"]
    assert series("0 */30 * * * *", start, 3) == ["2024-03-10T01:30:00-05:00",
                                                  "2024-03-10T03:00:00-04:00",
                                                  "2024-03-10T03:30:00-04:00"]


def test_fall_back_point_in_time_fires_once_and_interval_twice() -> None:
    # 2024-11-03 02:00 EDT -> 01:00 EST: 01:00-01:59 happens twice.
    start = datetime(2024, 11, 3, 0, 50, tzinfo=NY)
    assert series("0 30 1 * * *", start, 2) == ["2024-11-03T01:30:00-04:00",
                                                "2024-11-04T01:30:00-05:00"]
    assert series("0 */30 * * * *", start, 5) == ["2024-11-03T01:00:00-04:00",
                                                  "2024-11-03T01:30:00-04:00",
                                                  "2024-11-03T01:00:00-05:00",
                                                  "2024-11-03T01:30:00-05:00",
                                                  "2024-11-03T02:00:00-05:00"]


def test_starting_inside_the_repeated_hour_skips_a_point_in_time_occurrence() -> None:
    # CronSchedule scenario 2: at 01:29 EST the 01:30 EDT run is assumed done already.
    start = datetime(2024, 11, 3, 6, 29, tzinfo=UTC)  # 01:29-05:00
    assert nxt("0 30 1 * * *", start, NY) == datetime(2024, 11, 4, 1, 30, tzinfo=NY)


def test_local_time_zone_schedule_is_wall_clock() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    after = datetime(2024, 3, 30, 12, 0, tzinfo=UTC)
    assert nxt("0 0 9 * * *", after, berlin).isoformat() == "2024-03-31T09:00:00+02:00"


# ---------------------------------------------------------------------- property test
# Each field is generated as (text, the set it denotes), so the oracle below never looks at
# the parser: it only checks membership in the generated sets.
def field(low: int, high: int, names: tuple[str, ...] = ()) -> st.SearchStrategy:
    def single(v: int) -> str:
        if names and v - low < len(names):
            return names[v - low][:3]  # a name prefix
        return str(v)

    vals = st.integers(low, high)
    star = st.just(("*", set(range(low, high + 1))))
    step = st.integers(1, high - low + 1).map(
        lambda k: (f"*/{k}", set(range(low, high + 1, k))))
    rng = st.tuples(vals, vals, st.integers(1, 5)).map(lambda t: (
        f"{single(min(t[:2]))}-{single(max(t[:2]))}/{t[2]}",
        set(range(min(t[:2]), max(t[:2]) + 1, t[2]))))
    lst = st.lists(vals, min_size=1, max_size=4).map(
        lambda vs: (",".join(single(v) for v in vs), set(vs)))
    return st.one_of(star, star, step, rng, lst)


@st.composite
def schedules(draw: st.DrawFn) -> tuple[str, list[set[int]]]:
    specs = [field(0, 59), field(0, 59), field(0, 23), field(1, 31), field(1, 12, MONTH_NAMES),
             field(0, 6, DAY_NAMES)]
    parts = [draw(s) for s in specs]
    if draw(st.booleans()):  # five-field form
        parts[0] = ("0", {0})
        text = " ".join(p[0] for p in parts[1:])
    else:
        text = " ".join(p[0] for p in parts)
    return text, [p[1] for p in parts]


def oracle(sets: list[set[int]], t: datetime) -> bool:
    s, mi, h, d, mo, dow = sets
    return (t.second in s and t.minute in mi and t.hour in h and t.day in d and t.month in mo
            and (calendar.weekday(t.year, t.month, t.day) + 1) % 7 in dow)


WINDOW = timedelta(hours=2)


@settings(max_examples=150, deadline=None)
@given(schedules(), st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)))
def test_next_after_is_the_first_matching_second(sched: tuple[str, list[set[int]]],
                                                 naive: datetime) -> None:
    text, sets = sched
    t = naive.replace(tzinfo=UTC)
    n = NCrontab.parse(text).next_after(t)
    if n is None:  # e.g. 30 February: then no day of the cycle matches
        days = [(y, m, d) for y in range(2000, 2029) for m in sets[4] for d in sets[3]
                if d <= calendar.monthrange(y, m)[1]]
        assert not any((calendar.weekday(y, m, d) + 1) % 7 in sets[5] for y, m, d in days)
        return
    assert n > t
    assert n.microsecond == 0
    assert oracle(sets, n), f"{text!r}: {n} does not match"
    # Brute force: no second between t and n (within a bounded window) matches.
    probe = t.replace(microsecond=0) + timedelta(seconds=1)
    stop = min(n, t + WINDOW)
    while probe < stop:
        assert not oracle(sets, probe), f"{text!r}: {probe} matches before {n}"
        probe += timedelta(seconds=1)
