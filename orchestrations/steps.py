"""Replay-safe building blocks for the restore orchestration: calling activities, waiting on
durable timers that a cancel request can interrupt, polling ARM operations, and progress.

Activities return expected failures as data ({"error": {...}}) and raise only transient or
unexpected ones, which `call` retries on the host (call_activity_with_retry). No task_all is used
around retried calls: see docs/devhost.md on the fail-fast-plus-retry divergence.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from domain import errors

from domain.access import audit
from domain.model import Operation, OperationStatus, RoleAssignment

Orchestration = Generator[Any, Any, Any]
RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=5_000, max_number_of_attempts=4)
CANCEL_EVENT = "cancel"
# Compute answers 409 Conflict ("The request failed due to conflict with a concurrent request")
# while another operation runs on the VM; a VM PATCH with a stale etag gets 412.
VM_BUSY = frozenset({"Conflict"})
VM_STALE = VM_BUSY | {"PreconditionFailed"}
BUSY_FOR_S = 900.0  # VM operations take minutes: deallocate and start 1-2 each
BUSY_PAUSE_MAX_S = 60.0
APPROVAL_EVENT = "approval"


class Run:
    """One orchestration's context, its cancel signal and its progress (the custom status)."""

    def __init__(self, context: df.DurableOrchestrationContext) -> None:
        self.context = context
        # ONE wait for the cancel event, reused by every wait: a fresh wait per timer would leave
        # earlier, abandoned waits first in line for the event.
        self.cancel = context.wait_for_external_event(CANCEL_EVENT)
        self.phases: dict[str, dict[str, str | None]] = {}
        # Role assignments this run created and has not revoked yet, published in the custom
        # status so the sweeper can revoke them if the run is terminated.
        self.assignments: list[str] = []
        self.phase: str | None = None
        self.detail: dict[str, Any] = {}
        # What the run works on (source, target), for lists of runs: a list query of the
        # Durable API returns custom status but not inputs.
        self.subject: dict[str, Any] = {}
        # Who the run acts for and why ({runId, who, why}), passed to every privileged
        # activity so each records it in the audit trail (domain/access/audit.py).
        self.audit: dict[str, Any] | None = None

    # ---- time and progress ---------------------------------------------------------------------
    @property
    def now(self) -> Any:
        return self.context.current_utc_datetime

    def enter(self, phase: str, **detail: Any) -> None:
        if self.phase is not None:
            self.phases[self.phase]["end"] = self.now.isoformat()
        self.phase, self.detail = phase, detail
        self.phases[phase] = {"start": self.now.isoformat(), "end": None}
        self.publish()

    def note(self, **detail: Any) -> None:
        self.detail.update(detail)
        self.publish()

    def finish(self) -> None:
        if self.phase is not None:
            self.phases[self.phase]["end"] = self.now.isoformat()
        self.phase = "done"
        self.publish()

    def publish(self) -> None:
        status = {"phase": self.phase, "detail": self.detail, "phases": self.phases,
                  "assignments": list(self.assignments)}
        if self.subject:
            status["subject"] = self.subject
        self.context.set_custom_status(status)

    def durations(self) -> dict[str, float]:
        from datetime import datetime
        out = {}
        for name, span in self.phases.items():
            if span["end"]:
                start = datetime.fromisoformat(str(span["start"]))
                out[name] = round((datetime.fromisoformat(span["end"]) - start).total_seconds(), 3)
        return out

    # ---- activities, waits and operations ----------------------------------------------------------
    def call(self, activity: str, payload: Any) -> Orchestration:
        """An activity result, or the domain error it reported as data, raised here."""
        result = yield self.context.call_activity_with_retry(
            activity, RETRY, audit.wrap(activity, payload, self.audit))
        if isinstance(result, dict) and "error" in result and len(result) == 1:
            raise errors.from_dict(result["error"])
        return result

    def wait(self, seconds: float, *, interruptible: bool = True) -> Orchestration:
        """A durable timer; a cancel request interrupts it unless `interruptible` is False (the
        attach and swap steps: half a swap is worse than a late cancel)."""
        fire_at = self.now + timedelta(seconds=max(seconds, 0.001))
        if not interruptible:
            yield self.context.create_timer(fire_at)
            return
        if self.cancel.is_completed:
            raise errors.Cancelled("the restore was cancelled")
        timer = self.context.create_timer(fire_at)
        winner = yield self.context.task_any([timer, self.cancel])
        if winner == self.cancel:
            timer.cancel()
            raise errors.Cancelled("the restore was cancelled")

    def approval(self, timeout_s: float) -> Orchestration:
        """Wait for a person's decision (the `approval` event: {"approved": bool, "by": ...}).
        Returns the decision; raises ApprovalTimedOut when nobody decides in time, and
        Cancelled on a cancel request."""
        if self.cancel.is_completed:
            raise errors.Cancelled("the restore was cancelled")
        decision = self.context.wait_for_external_event(APPROVAL_EVENT)
        timer = self.context.create_timer(self.now + timedelta(seconds=timeout_s))
        winner = yield self.context.task_any([decision, timer, self.cancel])
        if winner == timer:
            raise errors.ApprovalTimedOut(f"nobody approved within {timeout_s / 60:g} minutes")
        timer.cancel()
        if winner == self.cancel:
            raise errors.Cancelled("the restore was cancelled")
        value = decision.result
        if isinstance(value, str):  # raise_event double-encodes (durable-python #295)
            value = json.loads(value)
        return value if isinstance(value, dict) else {"approved": False, "by": None,
                                                      "comment": f"unreadable decision {value!r}"}

    def operation(self, activity: str, payload: Any, poll_s: float, deadline_s: float = 3600,
                  *, interruptible: bool = True, busy: frozenset[str] = frozenset(),
                  busy_for_s: float = BUSY_FOR_S) -> Orchestration:
        """Start an ARM long-running operation and poll it on durable timers until it ends.

        A start refused with one of the `busy` codes (Compute's 409 `Conflict`: another operation
        is in flight on the VM, often our own whose answer was lost and which azure-core sent
        again) is started again after a durable wait, for up to `busy_for_s`: the start activities
        read the resource first, so a change that already went through comes back as done."""
        first, pause = self.now, poll_s
        while True:
            operation = Operation.from_dict((yield from self.call(activity, payload)))
            started = self.now
            while True:
                status = OperationStatus.from_dict(
                    (yield from self.call("get_operation", operation.to_dict())))
                if status.state != "running":
                    break
                if (self.now - started).total_seconds() > deadline_s:
                    raise errors.RestoreTimedOut(f"{operation.kind} still running after "
                                                 f"{deadline_s:.0f} s")
                yield from self.wait(operation.retry_after or poll_s, interruptible=interruptible)
            if status.state == "failed" and status.error_code in busy and \
                    (self.now - first).total_seconds() < busy_for_s:
                # Backing off (to a minute) keeps a long busy spell to a few dozen events.
                yield from self.wait(operation.retry_after or pause, interruptible=interruptible)
                pause = min(max(pause * 2, poll_s), max(poll_s, BUSY_PAUSE_MAX_S))
                continue
            return status


def grant_roles(run: Run, grants: list[dict[str, Any]],
                granted: list[RoleAssignment]) -> Orchestration:
    """Grant each RoleGrant (as dicts), appending to `granted`; the ones this run created are
    published at once, so the sweeper can find them if the run never reaches its revoke."""
    for grant in grants:
        assignment = RoleAssignment.from_dict((yield from run.call("grant_role", grant)))
        granted.append(assignment)
        if not assignment.pre_existing:
            run.assignments.append(assignment.id)
            run.publish()


def revoke_assignments(run: Run, granted: list[RoleAssignment],
                       revoked: dict[str, bool | str]) -> Orchestration:
    """Revoke what this run created and has not revoked yet; never what was there before. A
    failure is reported, and the sweeper removes what is left."""
    revoked = dict(revoked)
    for assignment in granted:
        if assignment.pre_existing or revoked.get(assignment.id) is True:
            continue
        try:
            yield from run.call("revoke_role", assignment.id)
            revoked[assignment.id] = True
            run.assignments.remove(assignment.id)
        except Exception as exc:  # noqa: BLE001 - keep revoking the others
            revoked[assignment.id] = f"not revoked: {exc}"
    return revoked
