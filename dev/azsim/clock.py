"""azsim's default clock: wall time plus an offset that `/_sim/clock` can move forward.

Any object with `time() -> float` (epoch seconds) and `now() -> aware UTC datetime` can be passed
instead, e.g. devhost's VirtualClock; then `advance_to` (if it has one) moves both programs' time.
"""

from __future__ import annotations

import threading
import time as _time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float: ...

    def now(self) -> datetime: ...


class WallClock:
    """Real time that can be skipped ahead (never back), so a served demo can jump a wait."""

    virtual = False

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return _time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def advance_to(self, t: float) -> None:
        with self._lock:
            self._offset = max(self._offset, t - _time.time())


def advance(clock: object, seconds: float) -> bool:
    """Move `clock` forward if it can be moved; False for a clock without `advance_to`."""
    advance_to = getattr(clock, "advance_to", None)
    if advance_to is None:
        return False
    advance_to(clock.time() + seconds)  # type: ignore[attr-defined]
    return True


def iso(t: float) -> str:
    """ARM timestamp format with 7 fractional digits, as the services send them."""
    dt = datetime.fromtimestamp(t, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}0Z"
