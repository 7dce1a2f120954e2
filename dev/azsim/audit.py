"""What happened: every request (reads and writes) and every delay the simulated services imposed.

Benchmarks count ARM reads and writes per restore from the audit log and take the Azure-side
critical path from `CriticalPath`; reliability checks read who wrote what, where and when.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class AuditEntry:
    time: str
    caller: str | None
    method: str
    operation: str
    scope: str
    status: int
    request_id: str
    write: bool
    fault: str | None = None


class AuditLog:
    def __init__(self) -> None:
        self._entries: list[AuditEntry] = []
        self._lock = threading.Lock()

    def record(self, entry: AuditEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self, write: bool | None = None) -> list[dict[str, Any]]:
        with self._lock:
            chosen = [e for e in self._entries if write is None or e.write == write]
        return [_camel(asdict(e)) for e in chosen]

    def counts(self) -> dict[str, int]:
        with self._lock:
            writes = sum(1 for e in self._entries if e.write)
            return {"reads": len(self._entries) - writes, "writes": writes}


@dataclass(frozen=True)
class Imposed:
    kind: str  # "operation" | "job" | "propagation" | "throttle" | "latency"
    operation: str
    scope: str
    start: float
    seconds: float


class CriticalPath:
    """Durations the simulated services imposed on their callers."""

    def __init__(self) -> None:
        self._items: list[Imposed] = []
        self._lock = threading.Lock()

    def add(self, kind: str, operation: str, scope: str, start: float, seconds: float) -> None:
        with self._lock:
            self._items.append(Imposed(kind, operation, scope, start, seconds))

    def report(self) -> dict[str, Any]:
        """`totalSeconds` sums every item; `spanSeconds` counts overlapping items once."""
        with self._lock:
            items = list(self._items)
        return {
            "totalSeconds": round(sum(i.seconds for i in items), 6),
            "spanSeconds": round(_union_length(items), 6),
            "items": [asdict(i) for i in items],
        }


def _union_length(items: list[Imposed]) -> float:
    total, end = 0.0, float("-inf")
    for item in sorted(items, key=lambda i: i.start):
        stop = item.start + item.seconds
        if stop > end:
            total += stop - max(item.start, end)
            end = stop
    return total


def _camel(d: dict[str, Any]) -> dict[str, Any]:
    return {"requestId" if k == "request_id" else k: v for k, v in d.items()}
