"""Injected faults, per operation, for the next N matching calls or at a rate.

Kinds:
- `status`: answer an HTTP error instead of calling the service (429 carries `Retry-After`).
- `reset`: drop the TCP connection (RST) without answering.
- `latency`: wait `seconds` of real time, then answer normally.
- `lostAnswer`: the service does the work, then the caller gets an HTTP error (`status`, 500 by
  default) as if the answer was lost on the way: a retried POST then meets its own first attempt.
- `lroFailure`: the next matching long-running operation ends `Failed` with `code`/`message`.
- `jobFailure`: the next restore job ends `Failed` with `code`/`message`.

`isRetryable` (true/false) adds Data Protection's UserFacingError member of that name to the
error object of a `status`, `lostAnswer` or `lroFailure` fault and to a `jobFailure`'s
`errorDetails` (where the service puts it on a failed validate/restore is not documented; the
operation status's `error` is the likeliest place). Unset: left out (jobs: false).
"""

from __future__ import annotations

import fnmatch
import itertools
import random
import threading
from dataclasses import asdict, dataclass
from typing import Any

from .errors import bad_request

HTTP_KINDS = {"status", "reset", "latency", "lostAnswer"}
KINDS = HTTP_KINDS | {"lroFailure", "jobFailure"}

# ARM's own throttling and outage answers; the 429 text is the one ARM sends.
_DEFAULT_ERRORS = {
    429: ("SubscriptionRequestsThrottled", "Number of requests for subscription exceeded. "
          "Please try again after '{retry}' seconds."),
    500: ("InternalServerError", "Encountered internal server error. Please try again."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Please try again."),
}


@dataclass
class Fault:
    id: str
    kind: str
    operation: str = "*"
    method: str | None = None
    status: int | None = None
    retryAfter: float | None = None
    seconds: float = 0.0
    code: str | None = None
    message: str | None = None
    count: int | None = None
    rate: float | None = None
    isRetryable: bool | None = None  # the wire's own name, as `retryAfter`

    def error(self) -> tuple[str, str]:
        code, message = _DEFAULT_ERRORS.get(self.status or 500, ("InternalServerError", "Error."))
        message = message.format(retry=self.retryAfter)
        return self.code or code, self.message or message

    def extra(self) -> dict[str, Any]:
        """More members of the error object: `isRetryable` when the fault sets it."""
        return {} if self.isRetryable is None else {"isRetryable": self.isRetryable}


class FaultInjector:
    def __init__(self, seed: int = 0) -> None:
        self._rules: list[Fault] = []
        self._fired: list[dict[str, Any]] = []
        self._rng = random.Random(seed)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, spec: dict[str, Any]) -> dict[str, Any]:
        fault = _parse(spec, f"fault-{next(self._ids)}")
        with self._lock:
            self._rules.append(fault)
        return asdict(fault)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._rules]

    def fired(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._fired)

    def draw(self, operation: str, method: str, kinds: set[str]) -> Fault | None:
        """The first rule of `kinds` that matches and fires now (consuming one of its count)."""
        with self._lock:
            for fault in self._rules:
                matches = fault.kind in kinds and _matches(fault, operation, method)
                if matches and self._fires(fault):
                    self._fired.append({"faultId": fault.id, "kind": fault.kind,
                                        "operation": operation, "method": method})
                    return fault
        return None

    def _fires(self, fault: Fault) -> bool:
        if fault.rate is not None and self._rng.random() >= fault.rate:
            return False
        if fault.count is not None:
            fault.count -= 1
            if fault.count <= 0:
                self._rules.remove(fault)
        return True


def _matches(fault: Fault, operation: str, method: str) -> bool:
    if fault.method and fault.method.upper() != method.upper():
        return False
    return fnmatch.fnmatchcase(operation.lower(), fault.operation.lower())


def _parse(spec: dict[str, Any], fault_id: str) -> Fault:
    if not isinstance(spec, dict):
        raise bad_request("InvalidFault", "A fault must be a JSON object.")
    allowed = set(Fault.__dataclass_fields__) - {"id"}
    unknown = set(spec) - allowed
    if unknown:
        raise bad_request("InvalidFault", f"Unknown fault fields: {sorted(unknown)}.")
    try:
        fault = Fault(id=fault_id, **spec)
    except TypeError as exc:
        raise bad_request("InvalidFault", str(exc)) from exc
    if fault.kind not in KINDS:
        raise bad_request("InvalidFault", f"kind must be one of {sorted(KINDS)}.")
    texts = {"operation": fault.operation, "method": fault.method or "", "code": fault.code or "",
             "message": fault.message or ""}
    numbers = {"seconds": fault.seconds, "retryAfter": fault.retryAfter or 0}
    if not all(isinstance(v, str) for v in texts.values()) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
            for v in numbers.values()):
        raise bad_request("InvalidFault", "operation, method, code and message are strings; "
                          "seconds and retryAfter are numbers >= 0.")
    if fault.isRetryable is not None and not isinstance(fault.isRetryable, bool):
        raise bad_request("InvalidFault", "isRetryable is true or false.")
    if fault.kind == "lostAnswer" and fault.status is None:
        fault.status = 500
    if fault.kind in ("status", "lostAnswer"):
        if not isinstance(fault.status, int) or not 400 <= fault.status <= 599:
            raise bad_request("InvalidFault", "A status fault needs an HTTP status 400-599.")
        if fault.status == 429 and fault.retryAfter is None:
            fault.retryAfter = 10
    count = fault.count
    if count is not None and (type(count) is not int or count < 1):
        raise bad_request("InvalidFault", "count must be a positive integer.")
    rate = fault.rate
    if rate is not None and not (isinstance(rate, (int, float)) and 0 < rate <= 1):
        raise bad_request("InvalidFault", "rate must be in (0, 1].")
    return fault
