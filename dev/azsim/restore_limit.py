"""Azure Backup's daily restore limit: 10 restores per backup instance a day (DOC-MATRIX).

How Azure refuses the restore past the limit is not documented, so the scenario chooses
(dev/azsim/README.md, docs/fidelity.md):

* `dailyRestoreLimit`: restores a backup instance may start per day (default 10, Azure's);
* `restoreLimitRefusal`: where the refusal shows: `trigger` (default: the POST .../restore is
  answered with the error at once, HTTP `restoreLimitStatus`: 400, or 429 with a Retry-After of
  the seconds until a restore frees up), `operation` (the POST is accepted and its operation ends
  `Failed`) or `job` (a restore job starts and ends `Failed` when a job would have ended);
* `restoreLimitWindow`: what "a day" is: `rolling` (default: the 24 h before the trigger) or
  `utcDay` (since 00:00 UTC).

Counted: every restore job of the backup instance that started in the window, whatever became
of it (a failed job, a limit-refused one included: the least kind reading), and, for a refusal at
the trigger, the restores accepted whose job has not started yet. The scenario's
`backupInstances[].pastRestores` seeds earlier restore jobs (hours before the start).

The code: `CloudDosAbsoluteLimitReached` with its documented text ("Operation is blocked as you
have reached the limit on number of operations permitted in 24 hours."), Azure Backup's code for
its per-day operation limits (the SAP HANA / SQL workload troubleshooting docs); users met it on
the 11th restore of a VM backup item in 24 h (Azure/azure-content#5067). Not confirmed for Disk
Backup. The error object is shaped as Data Protection's observed `CloudDosTimeboudLimitReached`
(azure-cli#32441): `additionalInfo` [{type UserFacingError, info {..., isRetryable: false}}].
"""

from __future__ import annotations

import math
from typing import Any

from .dataprotection import JOB_TYPE
from .errors import ArmError
from .state import SimState

CODE = "CloudDosAbsoluteLimitReached"
MESSAGE = ("Operation is blocked as you have reached the limit on number of operations "
           "permitted in 24 hours.")
REFUSALS = ("trigger", "operation", "job")
WINDOWS = ("rolling", "utcDay")
STATUSES = (400, 429)
DAY = 86400.0
RESTORE_ACTION = "Microsoft.DataProtection/backupVaults/backupInstances/restore/action"


def configure(state: SimState, spec: dict[str, Any]) -> None:
    """Read the scenario's limit settings into `state`, refusing a value Azure could not have."""
    limit = spec.get("dailyRestoreLimit", 10)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise ValueError("scenario: dailyRestoreLimit must be a whole number >= 0")
    state.daily_restore_limit = limit
    state.restore_limit_refusal = spec.get("restoreLimitRefusal", "trigger")
    if state.restore_limit_refusal not in REFUSALS:
        raise ValueError(f"scenario: restoreLimitRefusal must be one of {REFUSALS}")
    state.restore_limit_window = spec.get("restoreLimitWindow", "rolling")
    if state.restore_limit_window not in WINDOWS:
        raise ValueError(f"scenario: restoreLimitWindow must be one of {WINDOWS}")
    state.restore_limit_status = spec.get("restoreLimitStatus", 400)
    if state.restore_limit_status not in STATUSES:
        raise ValueError(f"scenario: restoreLimitStatus must be one of {STATUSES}")


def refusal(state: SimState, bi_id: str, at: float, where: str) -> ArmError | None:
    """The error refusing a restore of `bi_id` at `at`, if the scenario refuses it `where`
    (`trigger`, `operation` or `job`) and the backup instance has no restore left; else None."""
    if state.restore_limit_refusal != where:
        return None
    starts = _counted(state, bi_id, at, pending=where == "trigger")
    if len(starts) < state.daily_restore_limit:
        return None
    frees = frees_at(state, starts, at)
    status = state.restore_limit_status if where == "trigger" else 400
    headers = {"Retry-After": str(max(1, math.ceil(frees - at)))} if status == 429 else None
    info = {"code": CODE, "message": MESSAGE, "isRetryable": False, "isUserError": True,
            "recommendedAction": ["Typically, retrying the operation after 24 hours resolves "
                                  "this issue."], "details": None, "target": ""}
    return ArmError(status, CODE, MESSAGE, headers=headers,
                    extra={"additionalInfo": [{"type": "UserFacingError", "info": info}]})


def frees_at(state: SimState, starts: list[float], at: float) -> float:
    """When the backup instance can restore again: the oldest restore that must leave the
    rolling window does (24 h after it started), or the next 00:00 UTC."""
    if state.restore_limit_window == "utcDay":
        return _window_start(state, at) + DAY
    over = len(starts) - state.daily_restore_limit  # >= 0: this many must leave, then one more
    return sorted(starts)[over] + DAY


def _window_start(state: SimState, at: float) -> float:
    return math.floor(at / DAY) * DAY if state.restore_limit_window == "utcDay" else at - DAY


def _counted(state: SimState, bi_id: str, at: float, *, pending: bool) -> list[float]:
    """Start times of the restores counted against `bi_id` in the window ending at `at`."""
    since, key = _window_start(state, at), bi_id.lower()
    starts = [job["_start"] for job in state.resources.values()
              if job.get("type") == JOB_TYPE
              and job["properties"]["operationCategory"] == "Restore"
              and job["properties"]["backupInstanceId"].lower() == key
              and since <= job["_start"] <= at]
    if pending:  # accepted at the POST, job not started yet: they will count
        starts += [op.start for op in state.operations.values()
                   if op.action == RESTORE_ACTION and op.status == "InProgress"
                   and op.scope.lower() == key and since <= op.start <= at]
    return starts
