"""NCRONTAB schedules as the Functions timer trigger evaluates them.

The host parses timer schedules with the NCrontab library and wraps it in WebJobs' CronSchedule,
which handles the time zone. This module reproduces both:

* Six fields `second minute hour day month day-of-week`; five fields mean second 0.
* `*`, lists, ranges, steps (`*/n`, `a-b/n`, `a/n` = a..max), month and day names (any
  case-insensitive prefix of the English name, first match wins), a reversed range is swapped,
  a step below 1 counts as 1 - all as NCrontab does.
* Day rule. NCrontab requires BOTH day-of-month and day-of-week to match (AND), unlike Vixie cron,
  which fires when EITHER matches if both are restricted (OR), and NCrontab rejects day-of-week 7.
  `dialect="ncrontab"` (default, what Azure does) or `dialect="vixie"` (OR rule, 7 = Sunday).
* Time zones with CronSchedule's DST rules: a wall time skipped by "spring forward" fires at the
  same distance after the gap (02:30 -> 03:30); in the repeated "fall back" hour an interval
  schedule fires in both passes, a point-in-time schedule only in the first.

Occurrences are found by jumping field by field (month, day, hour, minute, second), never by
scanning seconds, so yearly schedules cost a handful of steps.
"""

from __future__ import annotations

import bisect
import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cached_property
from typing import Literal

Dialect = Literal["ncrontab", "vixie"]

MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")
DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")

# Gregorian calendar repeats every 400 years: a schedule with no match in that span never fires.
_SEARCH_YEARS = 400
_SECOND = timedelta(seconds=1)


class CronError(ValueError):
    """The text is not an NCRONTAB expression."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()


_FIELDS = (_Field("second", 0, 59), _Field("minute", 0, 59), _Field("hour", 0, 23),
           _Field("day", 1, 31), _Field("month", 1, 12, MONTH_NAMES),
           _Field("day-of-week", 0, 6, DAY_NAMES))


@dataclass(frozen=True)
class NCrontab:
    expression: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: tuple[int, ...]
    weekdays: frozenset[int]  # 0 = Sunday
    either_day: bool  # Vixie OR rule in force (both day fields restricted)

    # ------------------------------------------------------------------ parsing
    @classmethod
    def parse(cls, expression: str, dialect: Dialect = "ncrontab") -> NCrontab:
        parts = expression.split()
        if len(parts) == 5:
            parts = ["0", *parts]
        if len(parts) != 6:
            raise CronError(f"{expression!r} has {len(parts)} fields; NCRONTAB needs 6 "
                            "(second minute hour day month day-of-week) or 5 (no seconds)")
        values = [_parse_field(text, spec, dialect)
                  for text, spec in zip(parts, _FIELDS, strict=True)]
        restricted = not parts[3].startswith("*") and not parts[5].startswith("*")
        either = dialect == "vixie" and restricted
        return cls(expression=expression, seconds=tuple(values[0]), minutes=tuple(values[1]),
                   hours=tuple(values[2]), days=frozenset(values[3]), months=tuple(values[4]),
                   weekdays=frozenset(values[5]), either_day=either)

    # ------------------------------------------------------------------ matching
    def day_matches(self, year: int, month: int, day: int) -> bool:
        in_month = day in self.days
        in_week = (calendar.weekday(year, month, day) + 1) % 7 in self.weekdays
        return (in_month or in_week) if self.either_day else (in_month and in_week)

    def matches(self, wall: datetime) -> bool:
        """Does this wall-clock second match (microseconds ignored)?"""
        return (wall.month in self.months and self.day_matches(wall.year, wall.month, wall.day)
                and wall.hour in self.hours and wall.minute in self.minutes
                and wall.second in self.seconds)

    @cached_property
    def is_interval(self) -> bool:
        """CronSchedule.IsInterval: the second, minute or hour field holds a run ('*' or 'a-b').

        Decides the fall-back rule: intervals run through the repeated hour twice.
        """
        return any(v + 1 in field for field in (self.seconds, self.minutes, self.hours)
                   for v in field)

    @cached_property
    def ever_fires(self) -> bool:
        """False for schedules like 30 February: the calendar repeats every 400 years."""
        return self.next_wall(datetime(2001, 1, 1)) is not None

    # ------------------------------------------------------------------ next wall-clock match
    def next_wall(self, start: datetime) -> datetime | None:
        """First matching naive wall-clock second at or after `start`; None if there is none."""
        c = start.replace(tzinfo=None)
        if c.microsecond:
            c = c.replace(microsecond=0) + _SECOND
        last_year = min(c.year + _SEARCH_YEARS, 9999)
        while c.year <= last_year:
            step = self._advance(c)
            if step is None:
                return None
            if step == c:
                return c
            c = step
        return None

    def _advance(self, c: datetime) -> datetime | None:
        """`c` if it matches, else the start of the next unit that might (None: past 9999)."""
        try:
            if c.month not in self.months:
                return self._next_month(c)
            if not self.day_matches(c.year, c.month, c.day):
                return datetime(c.year, c.month, c.day) + timedelta(days=1)
            hour = _next_ge(self.hours, c.hour)
            if hour is None:
                return datetime(c.year, c.month, c.day) + timedelta(days=1)
            if hour != c.hour:
                return c.replace(hour=hour, minute=0, second=0)
            minute = _next_ge(self.minutes, c.minute)
            if minute is None:
                return c.replace(minute=0, second=0) + timedelta(hours=1)
            if minute != c.minute:
                return c.replace(minute=minute, second=0)
            second = _next_ge(self.seconds, c.second)
            if second is None:
                return c.replace(second=0) + timedelta(minutes=1)
            return c.replace(second=second)
        except OverflowError:
            return None

    def _next_month(self, c: datetime) -> datetime:
        month = _next_ge(self.months, c.month)
        if month is None:
            return datetime(c.year + 1, self.months[0], 1)
        return datetime(c.year, month, 1)

    # ------------------------------------------------------------------ time zones
    def next_after(self, after: datetime, tz: tzinfo = UTC) -> datetime | None:
        """First occurrence strictly after the aware instant `after`, evaluated in `tz` (aware,
        in `tz`); None if the schedule never fires again."""
        if not self.ever_fires:
            return None
        lo = _ceil_second(after.astimezone(UTC) + timedelta(microseconds=1))
        for _ in range(_SEARCH_YEARS * 4):  # a few segments per year at most
            seg = _Segment.at(lo, tz)
            found = self._in_segment(lo, seg)
            if found is not None:
                return found.astimezone(tz)
            if seg.end is None:
                return None
            lo = seg.end
        return None

    def _in_segment(self, lo: datetime, seg: _Segment) -> datetime | None:
        """Earliest fire instant >= lo (UTC) inside one constant-offset segment."""
        candidates = []
        start = lo
        if seg.fell_back and not self.is_interval:
            # Point-in-time schedules fire only in the first pass of a repeated hour.
            start = max(start, seg.start + (seg.prev_offset - seg.offset))
        candidates.append(self._first_instant(start, seg.offset, seg.end))
        if seg.sprang_forward and lo < seg.start + (seg.offset - seg.prev_offset):
            # Wall times inside the gap fire as if the clock had not moved yet.
            gap_end = seg.start + (seg.offset - seg.prev_offset)
            candidates.append(self._first_instant(max(lo, seg.start), seg.prev_offset, gap_end))
        found = [c for c in candidates if c is not None]
        return min(found) if found else None

    def _first_instant(self, lo: datetime, offset: timedelta,
                       end: datetime | None) -> datetime | None:
        wall = self.next_wall((lo + offset).replace(tzinfo=None))
        if wall is None:
            return None
        instant = (wall - offset).replace(tzinfo=UTC)
        return instant if end is None or instant < end else None


@dataclass(frozen=True)
class _Segment:
    """A stretch of UTC time with one UTC offset in a zone, and what came just before it."""

    start: datetime  # UTC; only meaningful when a transition happened shortly before `lo`
    end: datetime | None  # next transition (or a search horizon), UTC; None = never changes
    offset: timedelta
    prev_offset: timedelta

    @property
    def sprang_forward(self) -> bool:
        return self.prev_offset < self.offset

    @property
    def fell_back(self) -> bool:
        return self.prev_offset > self.offset

    # DST shifts are at most 2 h (Antarctica/Troll); 3 h back covers every "just changed" case.
    _LOOKBACK = timedelta(hours=3)
    _STEP = timedelta(days=1)  # zones never change offset twice within a day
    _HORIZON = timedelta(days=400)

    @classmethod
    def at(cls, lo: datetime, tz: tzinfo) -> _Segment:
        offset = _offset(tz, lo)
        if _is_fixed(tz):
            return cls(start=lo, end=None, offset=offset, prev_offset=offset)
        before = _offset(tz, lo - cls._LOOKBACK)
        start = lo
        if before != offset:
            start = _bisect_change(tz, lo - cls._LOOKBACK, lo)
        return cls(start=start, end=cls._next_change(tz, lo, offset), offset=offset,
                   prev_offset=before)

    @classmethod
    def _next_change(cls, tz: tzinfo, lo: datetime, offset: timedelta) -> datetime:
        probe = lo
        while probe - lo < cls._HORIZON:
            nxt = probe + cls._STEP
            if _offset(tz, nxt) != offset:
                return _bisect_change(tz, probe, nxt)
            probe = nxt
        return probe  # no change within the horizon: an artificial boundary, same offset


def _offset(tz: tzinfo, instant: datetime) -> timedelta:
    return instant.astimezone(tz).utcoffset() or timedelta(0)


def _is_fixed(tz: tzinfo) -> bool:
    # datetime.timezone (incl. UTC) has one offset; ZoneInfo('UTC') too, but probing it is cheap.
    return type(tz).__name__ == "timezone"


def _bisect_change(tz: tzinfo, a: datetime, b: datetime) -> datetime:
    """The first whole second in (a, b] whose offset differs from a's."""
    lo, hi = int(a.timestamp()), int(b.timestamp())
    base = _offset(tz, a)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(tz, datetime.fromtimestamp(mid, UTC)) == base:
            lo = mid
        else:
            hi = mid
    return datetime.fromtimestamp(hi, UTC)


def _ceil_second(t: datetime) -> datetime:
    return t if not t.microsecond else t.replace(microsecond=0) + _SECOND


def _next_ge(values: tuple[int, ...], v: int) -> int | None:
    i = bisect.bisect_left(values, v)
    return values[i] if i < len(values) else None


# ---------------------------------------------------------------------- field parsing
def _parse_field(text: str, spec: _Field, dialect: Dialect) -> list[int]:
    try:
        values: set[int] = set()
        # NCrontab treats a comma at position 0 as part of a value, which then fails to parse.
        parts = text.split(",") if text.find(",") > 0 else [text]
        for part in parts:
            values.update(_parse_part(part, spec, dialect))
    except CronError as exc:
        raise CronError(f"{spec.name} field {text!r}: {exc}") from None
    return sorted(values)


def _parse_part(part: str, spec: _Field, dialect: Dialect) -> range | list[int]:
    if not part:
        raise CronError("a value cannot be empty")
    step: int | None = None
    if part.find("/") > 0:
        part, _, step_text = part.partition("/")
        step = max(_number(step_text), 1)  # NCrontab turns a step below 1 into 1
    high = spec.high + (1 if _allows_seven(spec, dialect) else 0)
    if part == "*":
        first, last = spec.low, spec.high
    elif part.find("-") > 0:
        a, _, b = part.partition("-")
        first, last = sorted((_value(a, spec), _value(b, spec)))  # NCrontab swaps "5-1"
    else:
        first = _value(part, spec)
        last = spec.high if step is not None else first
    for v in (first, last):
        if not spec.low <= v <= high:
            raise CronError(f"{v} is out of range {spec.low}-{spec.high}"
                            + (" (Sunday is 0; 7 is not accepted by NCrontab)"
                               if spec.names == DAY_NAMES and v == 7 else ""))
    values = range(first, last + 1, step or 1)
    return [0 if (v == 7 and spec.names == DAY_NAMES) else v for v in values]


def _allows_seven(spec: _Field, dialect: Dialect) -> bool:
    return dialect == "vixie" and spec.names == DAY_NAMES


def _number(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise CronError(f"{text!r} is not a number")
    return int(text)


def _value(text: str, spec: _Field) -> int:
    if text[:1].isdigit():
        return _number(text)
    if not spec.names:
        raise CronError(f"{text!r} is not a number between {spec.low} and {spec.high}")
    for i, name in enumerate(spec.names):
        if text and name.lower().startswith(text.lower()):
            return spec.low + i
    raise CronError(f"{text!r} is not a known name; use one of {', '.join(spec.names)}")
