"""One clock for the whole host (and for azsim when both run in one process).

`RealClock` is wall time. `VirtualClock` is the time-skipping clock for tests, in the manner of
Temporal's time-skipping test environment: time stands still while anything can run, and when the
host finds nothing runnable it jumps straight to the next thing that is due (a durable timer, a
timer trigger). Anything that waits for time to pass goes through `wait_until`, so a jump wakes it.

Both clocks answer `now()` with an aware UTC datetime and `time()` with epoch seconds.
"""

from __future__ import annotations

import threading
import time as _time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """What the host, its triggers and azsim need from a clock."""

    virtual: bool

    def time(self) -> float: ...

    def now(self) -> datetime: ...

    def wait_until(self, deadline: float | None, wake: threading.Event) -> bool:
        """Block until `deadline` (epoch seconds) or until `wake` is set; True if woken."""
        ...

    def next_due(self) -> float | None:
        """The earliest deadline anyone is waiting for (virtual clocks only; None otherwise)."""
        ...

    def advance_to(self, t: float) -> None:
        """Move virtual time forward to `t` (no-op on a real clock)."""
        ...

    def poke(self) -> None:
        """Wake waiters so they re-check their `wake` event (virtual clocks; no-op otherwise)."""
        ...


class RealClock:
    virtual = False

    def time(self) -> float:
        return _time.time()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait_until(self, deadline: float | None, wake: threading.Event) -> bool:
        timeout = None if deadline is None else max(0.0, deadline - _time.time())
        return wake.wait(timeout)

    def next_due(self) -> float | None:
        return None

    def advance_to(self, t: float) -> None:
        return None

    def poke(self) -> None:
        return None


class VirtualClock:
    """Time that moves only when told to. Starts at `start` (default: the current wall time)."""

    virtual = True

    def __init__(self, start: float | datetime | None = None) -> None:
        if isinstance(start, datetime):
            start = start.timestamp()
        self._t = float(start if start is not None else _time.time())
        self._cond = threading.Condition()
        self._waiters: dict[int, float] = {}
        self._next_token = 0
        self._limit: float | None = None

    def time(self) -> float:
        with self._cond:
            return self._t

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def wait_until(self, deadline: float | None, wake: threading.Event) -> bool:
        with self._cond:
            token = self._next_token
            self._next_token += 1
            if deadline is not None:
                self._waiters[token] = deadline
            try:
                while not wake.is_set() and (deadline is None or self._t < deadline):
                    # A short real-time wait keeps `wake` responsive without a second condition.
                    self._cond.wait(0.05)  # poke() ends the wait at once
                return wake.is_set()
            finally:
                self._waiters.pop(token, None)

    def next_due(self) -> float | None:
        with self._cond:
            return min(self._waiters.values(), default=None)

    def advance_to(self, t: float) -> None:
        with self._cond:
            if self._limit is not None:
                t = min(t, self._limit)
            if t > self._t:
                self._t = t
                self._cond.notify_all()

    def advance(self, seconds: float) -> None:
        self.advance_to(self.time() + seconds)

    def limit(self, t: float | datetime | None) -> None:
        """Time may not pass `t` until the limit is lifted (`None`): a test acts while an
        orchestration waits on a long timer (an approval of days) without real time, since with
        nothing runnable the host would otherwise jump straight past the wait."""
        if isinstance(t, datetime):
            t = t.timestamp()
        with self._cond:
            self._limit = t
            self._cond.notify_all()

    def poke(self) -> None:
        """Someone set a `wake` event: let its waiter see it now rather than at its next check."""
        with self._cond:
            self._cond.notify_all()
