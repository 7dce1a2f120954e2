"""Timer trigger: NCRONTAB or TimeSpan schedules, runOnStartup, past-due, WEBSITE_TIME_ZONE.

Like the host's TimerListener, one function runs at a time on its own thread; the next
occurrence is computed after each run from the clock's current time, so occurrences missed
while a run was late are not replayed: the late run is flagged `IsPastDue` (the host's schedule
monitor does the same for occurrences missed while the app was down; no monitor state is
persisted here, so a restart starts afresh).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from azure.functions import meta

from ..clock import Clock
from ..discovery import FunctionEntry
from ..invoker import Invoker, log_failure
from . import BackgroundListener, SettingError, dotnet_iso, resolve_settings
from .ncrontab import CronError, NCrontab

log = logging.getLogger("devhost")

# A run that starts more than this after its occurrence is past due (absorbs thread wake-up lag).
PAST_DUE_TOLERANCE = 1.0  # seconds
# .NET's default(DateTime): what ScheduleStatus.Last holds before the first run.
_NEVER = "0001-01-01T00:00:00"


class ScheduleError(ValueError):
    """A timer trigger's schedule (or WEBSITE_TIME_ZONE) cannot be used."""


# ---------------------------------------------------------------------- schedules
@dataclass(frozen=True)
class CronSchedule:
    cron: NCrontab
    tz: tzinfo

    @property
    def expression(self) -> str:
        return self.cron.expression

    def next_after(self, after: datetime) -> datetime | None:
        return self.cron.next_after(after, self.tz)


@dataclass(frozen=True)
class IntervalSchedule:
    """A TimeSpan schedule ("00:05:00"): every `interval`, counted from start or the last run."""

    expression: str
    interval: timedelta
    tz: tzinfo

    def next_after(self, after: datetime) -> datetime | None:
        return (after + self.interval).astimezone(self.tz)


Schedule = CronSchedule | IntervalSchedule

# .NET TimeSpan.Parse forms: "d", "hh:mm", "hh:mm:ss", "d.hh:mm:ss", each with optional ".fffffff".
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$")


def parse_timespan(text: str) -> timedelta | None:
    """A positive .NET TimeSpan string as a timedelta; None if `text` is not one."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        return timedelta(days=int(text)) or None
    m = _TIMESPAN.match(text)
    if not m:
        return None
    days, hours, minutes, seconds, fraction = m.groups()
    if int(hours) > 23 or int(minutes) > 59 or int(seconds or 0) > 59:
        return None
    ticks = int((fraction or "0").ljust(7, "0"))  # 100 ns units, as .NET counts
    span = timedelta(days=int(days or 0), hours=int(hours), minutes=int(minutes),
                     seconds=int(seconds or 0), microseconds=ticks / 10)
    return span or None


def parse_schedule(expression: str, tz: tzinfo = UTC) -> Schedule:
    """NCRONTAB first, then TimeSpan, as the host tries them. Raises CronError if neither fits."""
    try:
        return CronSchedule(NCrontab.parse(expression), tz)
    except CronError as cron_error:
        span = parse_timespan(expression)
        if span is None:
            raise CronError(f"not a valid NCRONTAB expression ({cron_error}) "
                            "nor a TimeSpan such as '00:05:00'") from None
        return IntervalSchedule(expression, span, tz)


def local_zone(env: Mapping[str, str] | None = None) -> tzinfo:
    """UTC unless WEBSITE_TIME_ZONE names an IANA zone (as on Linux plans)."""
    env = os.environ if env is None else env
    name = (env.get("WEBSITE_TIME_ZONE") or "").strip()
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"WEBSITE_TIME_ZONE={name!r} is not an IANA time zone name "
                            "(e.g. 'Europe/Berlin'; Windows names are not supported)") from None


def _monitored(schedule: Schedule, now: datetime) -> bool:
    """useMonitor's default: on unless the schedule recurs more often than once a minute."""
    first = schedule.next_after(now)
    second = schedule.next_after(first) if first else None
    return first is None or second is None or second - first >= timedelta(minutes=1)


# ---------------------------------------------------------------------- listener
class TimerListener(BackgroundListener):
    """Fires one timer function on schedule; all waiting goes through the host clock."""

    kind = "timer"

    def __init__(self, entry: FunctionEntry, invoker: Invoker, schedule: Schedule, clock: Clock,
                 *, run_on_startup: bool = False, use_monitor: bool | None = None) -> None:
        super().__init__(entry.name)
        self.entry, self.invoker, self.schedule, self.clock = entry, invoker, schedule, clock
        self.run_on_startup = run_on_startup
        self.use_monitor = (_monitored(schedule, clock.now()) if use_monitor is None
                            else use_monitor)
        self.next_occurrence: datetime | None = None  # what the listener is waiting for now
        self.invocations = 0
        self._last: datetime | None = None
        self._last_updated: datetime | None = None

    def _before_start(self) -> None:
        self._last_updated = self._now()
        # Computed before start() returns, so a virtual clock sees the first deadline at once.
        self.next_occurrence = self.schedule.next_after(self._last_updated)
        if self.next_occurrence is None:
            log.warning("timer '%s': schedule '%s' never occurs; the function will not run",
                        self.name, self.schedule.expression)

    # ------------------------------------------------------------------ loop
    def _run(self) -> None:
        if self.run_on_startup:
            self._fire(self._now(), past_due=False)
        while not self._stop.is_set() and self.next_occurrence is not None:
            due = self.next_occurrence
            if self.clock.wait_until(due.timestamp(), self._stop):
                return
            now = self._now()
            if now < due:
                continue  # woken early (clock adjusted); wait again
            late = (now - due).total_seconds() > PAST_DUE_TOLERANCE
            self._fire(due, past_due=late)
            self.next_occurrence = self.schedule.next_after(self._now())

    def _fire(self, scheduled: datetime, past_due: bool) -> None:
        datum = meta.Datum(json.dumps(self._timer_info(scheduled, past_due)), "json")
        try:
            self.invoker.invoke(self.entry, datum, {})
        except Exception as exc:  # noqa: BLE001 - a failing function must not stop the schedule
            log_failure(f"timer '{self.name}' failed", exc)
        finally:
            self.invocations += 1
            self._last, self._last_updated = scheduled, self._now()

    def _timer_info(self, scheduled: datetime, past_due: bool) -> dict[str, object]:
        """The TimerInfo JSON the host sends; ScheduleStatus is null when not monitored."""
        status = None
        if self.use_monitor:
            status = {"Last": self._iso(self._last) if self._last else _NEVER,
                      "Next": self._iso(scheduled),
                      "LastUpdated": self._iso(self._last_updated or scheduled)}
        return {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": status,
                "IsPastDue": past_due}

    def _iso(self, t: datetime) -> str:
        return dotnet_iso(t.astimezone(self.schedule.tz))

    def _now(self) -> datetime:
        return self.clock.now().astimezone(self.schedule.tz)


def create_listener(entry: FunctionEntry, invoker: Invoker, clock: Clock,
                    env: Mapping[str, str] | None = None) -> TimerListener:
    """Validate the schedule now (ScheduleError names the function and the expression)."""
    spec = entry.trigger.spec
    raw = str(spec.get("schedule") or "")
    try:
        expression = resolve_settings(raw, env)
        schedule = parse_schedule(expression, local_zone(env))
    except (SettingError, CronError, ScheduleError) as exc:
        raise ScheduleError(f"timer trigger '{entry.name}': schedule {raw!r} cannot be used: "
                            f"{exc}") from None
    return TimerListener(entry, invoker, schedule, clock,
                         run_on_startup=bool(spec.get("runOnStartup")),
                         use_monitor=spec.get("useMonitor"))
