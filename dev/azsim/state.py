"""The simulated control plane's state, and time.

State changes that take time (an LRO finishing, a job completing, a VM reaching `deallocated`) are
scheduled events that `settle()` applies, in due order, at the start of every request. Nothing
runs in the background: a clock that jumps makes every due change happen at once, consistently,
and each event sees the time it was due (not the time it was applied).
"""

from __future__ import annotations

import base64
import copy
import heapq
import itertools
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .audit import AuditLog, CriticalPath
from .clock import Clock
from .errors import ArmError
from .faults import FaultInjector

Event = Callable[[float], None]


@dataclass
class Operation:
    """An ARM asynchronous operation; `complete(op, due)` fills in its outcome when it ends."""

    id: str
    action: str
    scope: str
    location: str
    start: float
    end: float
    api_version: str
    status: str = "InProgress"
    error: dict[str, Any] | None = None
    error_status: int = 500
    result: Any = None


@dataclass
class SimState:
    clock: Clock
    subscription_id: str
    tenant_id: str
    location: str
    time_scale: float = 1.0
    seed: int = 0
    durations: dict[str, Any] = field(default_factory=dict)
    page_size: int = 100
    # Where a restore job puts the disk it creates: "regional" (no zone) or "source" (the source
    # disk's zones). Azure does not document it (restore-realities-2026.md 1.1).
    restored_disk_zone: str = "regional"
    same_name_rule: str = "diskExists"  # or "jobRunning" (scenario.py)
    # The power states an OS-disk swap accepts: "deallocated", "stopped" (or deallocated), "none"
    # (any); Azure's docs disagree (reference B5).
    os_disk_swap_requires: str = "deallocated"
    # Whether a restored disk keeps the recovery point's securityProfile ("kept") or comes back
    # without one ("dropped"); Azure does not document it (restore-realities-2026.md 1.4).
    restored_disk_security_profile: str = "kept"
    snapshot_time_offset: float = -30.0  # a Backup snapshot's timeCreated - its point's time
    # A list (disks, VMs) at a scope where the caller may read only some items: "deny" (403) or
    # "filter" (only those it may read); Azure does not document which (auth.readable).
    list_authorization: str = "deny"
    # What listing a resource group's locks shows besides its own and its resources' locks: the
    # subscription's ("withInherited") or nothing more ("ownOnly"); not documented (locks.py).
    lock_listing: str = "withInherited"
    # Azure Backup's restores per backup instance per day, and how the next one is refused:
    # not documented (restore_limit.py).
    daily_restore_limit: int = 10
    restore_limit_refusal: str = "trigger"  # or "operation", "job"
    restore_limit_window: str = "rolling"  # or "utcDay"
    restore_limit_status: int = 400  # of a refusal at the trigger: 400 or 429
    lock: threading.RLock = field(default_factory=threading.RLock)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)
    audit: AuditLog = field(default_factory=AuditLog)
    critical_path: CriticalPath = field(default_factory=CriticalPath)
    faults: FaultInjector = field(init=False)
    # Filled by auth.py / scenario.py; typed loosely to keep this module free of RBAC details.
    principals: dict[str, Any] = field(default_factory=dict)
    role_assignments: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self.faults = FaultInjector(self.seed)
        self._events: list[tuple[float, int, Event]] = []
        self._seq = itertools.count()

    # --- time -----------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock.time()

    def duration(self, name: str) -> float:
        """A scenario duration in seconds (fixed, or drawn from [min, max]), divided by K."""
        spec = self.durations.get(name, 0)
        seconds = self._rng.uniform(*spec) if isinstance(spec, list) else float(spec)
        return seconds / self.time_scale

    def schedule(self, at: float, event: Event) -> None:
        heapq.heappush(self._events, (at, next(self._seq), event))

    def settle(self) -> None:
        """Apply every scheduled change that is due by now, oldest first."""
        with self.lock:
            now = self.now()
            while self._events and self._events[0][0] <= now:
                due, _, event = heapq.heappop(self._events)
                event(due)

    def next_due(self) -> float | None:
        """When the next scheduled change happens (for a host that skips idle time)."""
        with self.lock:
            return self._events[0][0] if self._events else None

    def new_guid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    # --- resources (keyed by lower-case ARM id: ARM ids are case-insensitive) ------------
    def get(self, rid: str) -> dict[str, Any] | None:
        return self.resources.get(rid.lower())

    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        self.resources[body["id"].lower()] = body
        return body

    def remove(self, rid: str) -> dict[str, Any] | None:
        return self.resources.pop(rid.lower(), None)

    def children(self, parent_id: str, rtype: str) -> list[dict[str, Any]]:
        prefix = parent_id.lower().rstrip("/") + "/"
        return [
            body for key, body in self.resources.items()
            if key.startswith(prefix) and body.get("type", "").lower() == rtype.lower()
        ]

    # --- long-running operations ---------------------------------------------------------
    def begin(
        self,
        action: str,
        scope: str,
        seconds: float,
        api_version: str,
        complete: Callable[[Operation, float], None],
        op_id: str | None = None,
    ) -> Operation:
        """Start an LRO that ends after `seconds`; an `lroFailure` fault overrides its outcome."""
        start = self.now()
        op = Operation(op_id or self._base64_id(), action, scope, self.location, start,
                       start + seconds, api_version)
        self.operations[op.id] = op
        fault = self.faults.draw(action, "POST", {"lroFailure"})

        def finish(due: float) -> None:
            if fault is not None:
                op.status, op.error_status = "Failed", 400
                op.error = {"code": fault.code or "InternalError",
                            "message": fault.message or "Injected failure.", **fault.extra()}
                return
            try:
                complete(op, due)
                op.status = "Succeeded"
            except ArmError as exc:
                op.status, op.error, op.error_status = "Failed", exc.error_object(), exc.status

        self.schedule(op.end, finish)
        self.critical_path.add("operation", action, scope, start, seconds)
        return op

    def _base64_id(self) -> str:
        # Data Protection operation ids are base64("<guid>;<guid>"); skip ones with '/' or '+'
        # so the id stays a single, unescaped path segment.
        while True:
            text = f"{self.new_guid()};{self.new_guid()}".encode()
            op_id = base64.b64encode(text).decode()
            if "/" not in op_id and "+" not in op_id:
                return op_id


def public(body: dict[str, Any]) -> dict[str, Any]:
    """A copy of a stored body without the simulator's own `_`-prefixed bookkeeping keys."""
    return {k: copy.deepcopy(v) for k, v in body.items() if not k.startswith("_")}
