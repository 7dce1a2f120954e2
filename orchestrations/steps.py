"""Replay-safe building blocks for the restore orchestration: calling activities, waiting on
durable timers that a cancel request can interrupt, polling ARM operations, and progress.

Activities are called by their declared symbol (`run.call(grant_role, grant)`: activities/
activity.py), so the input and output types are checked where the call is made. They return
expected failures as data ({"error": {...}}) and raise only transient or unexpected ones, which
`call` retries on the host (call_activity_with_retry). No task_all is used around retried calls:
see docs/devhost.md on the fail-fast-plus-retry divergence.

Riding out an outage: once the host's attempts are spent (RETRY, about 15 s), a step that still
fails with AzureUnavailable or AzureThrottled is called again after a durable timer, backing off
(30 s, 60 s, ... 4 min), until the step's budget (STEP_BUDGET_S) is spent; the progress shows the
retry (`detail.retry`: attempt, next attempt, last error). Every activity the runbooks call is
safe to call again: reads; grants and revokes by deterministic name; starts that read the
resource first (attach, OS disk) or that Azure treats as no-ops when done (deallocate, start); a
restore trigger whose duplicate finds the first job.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

import azure.durable_functions as df

from activities.activity import Activity
from activities.operation_activities import get_operation
from activities.role_activities import (
    grant_role,
    hold_grant,
    release_grant,
    revoke_role,
    settle_grant,
)
from domain import errors
from domain.access.audit import AuditContext
from domain.access.grant_lease import LeaseKey, LeaseRelease, LeaseRequest, LeaseSettle, holder_of
from domain.model import Operation, OperationStatus, Record, Revocation, RoleAssignment, RoleGrant
from domain.restore.restore_run import ApprovalDecision

from .calls import Orchestration, Orchestrator

Rec = TypeVar("Rec", bound=Record)
In = TypeVar("In", bound=Record)
Out = TypeVar("Out", bound=Record)

RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=5_000, max_number_of_attempts=4)
CANCEL_EVENT = "cancel"
# Compute answers 409 Conflict ("The request failed due to conflict with a concurrent request")
# while another operation runs on the VM; a VM PATCH with a stale etag gets 412.
VM_BUSY = frozenset({"Conflict"})
VM_STALE = VM_BUSY | {"PreconditionFailed"}
BUSY_FOR_S = 900.0  # VM operations take minutes: deallocate and start 1-2 each
BUSY_PAUSE_MAX_S = 60.0
APPROVAL_EVENT = "approval"
# The longest durable timer an interruptible wait sets; a longer wait (an approval of up to 7 days)
# is several. Why: past the host's maximumShortTimerDuration (6 days on Azure Storage) the SDK
# makes a "long timer" of 3-day timers, and its cancel() reaches none of them: a cancel or an
# approval that won the wait would reach the host only when the next 3-day timer fires.
TIMER_SLICE_S = 24 * 3600.0
# After the host's attempts: what is worth waiting out (connection failures, 5xx and 429 that
# outlasted the SDK's and the host's retries), how long one step may keep trying, and the pauses.
# Why this long: ARM outages and regional throttling last minutes; an incident restore that
# fails after 15 s of a dropped network has to be started again by a person, from the start.
RIDE_OUT = frozenset({errors.AzureUnavailable.code, errors.AzureThrottled.code})
STEP_BUDGET_S = 900.0
BACKOFF_FIRST_S = 30.0
BACKOFF_MAX_S = 240.0


def backoff_s(attempt: int, first_s: float = BACKOFF_FIRST_S,
              max_s: float = BACKOFF_MAX_S) -> float:
    """The pause before retry `attempt` (1, 2, ...): doubling from `first_s`, at most `max_s`."""
    return float(min(first_s * 2 ** min(max(attempt - 1, 0), 16), max_s))


def transient_code(exc: BaseException) -> str | None:
    """The code of a failure worth riding out, else None. An activity's transient error reaches
    the orchestration as a bare Exception whose text starts with its code."""
    code = exc.code if isinstance(exc, errors.RestoreError) else errors.code_of(str(exc))
    return code if code in RIDE_OUT else None


def call_activity(context: df.DurableOrchestrationContext, activity: Activity[In, Out], value: In,
                  *, audit: AuditContext | None = None, retry: bool = True) -> Orchestration[Out]:
    """An activity's output, or the domain error it reported as data, raised here. `audit`: who
    the run acts for, recorded by an audited activity."""
    payload = activity.payload(value, audit)
    task = context.call_activity_with_retry(activity.name, RETRY, payload) if retry else \
        context.call_activity(activity.name, payload)
    return activity.result((yield task))


@dataclass(frozen=True)
class Span(Record):
    """When a phase of a run started and ended (ISO-8601), as its progress shows it."""

    start: str
    end: str | None = None


class Run:
    """One orchestration's context, its cancel signal and its progress (the custom status)."""

    def __init__(self, context: df.DurableOrchestrationContext) -> None:
        self.context = context
        # ONE wait for the cancel event, reused by every wait (docs/devhost.md, "External
        # events"). Why: the cancel then reaches this Python task whenever it arrives, during a
        # wait or between two, whichever order the SDK or host serves several waits of a name in.
        # The hazard: the SDK sends a reused wait to the host only the first time, so on the host
        # a later wait ends by its timer, which the SDK cancels when the cancel wins; that works
        # only for short timers (TIMER_SLICE_S), never a long one.
        self.cancel = context.wait_for_external_event(CANCEL_EVENT)
        self.phases: dict[str, Span] = {}
        # Role assignments this run may have created and has not seen revoked yet, and the
        # leases it holds on shared ones (domain/access/grant_lease.py), both published in the
        # custom status BEFORE the hold and the PUT, so the sweeper can release and revoke them
        # if the run is terminated at any point. `holder`: this execution of the run (a run
        # restarted under the same instance id is another holder, with leftovers of its own).
        self.assignments: list[str] = []
        self.leases: list[LeaseKey] = []
        self.made: set[LeaseKey] = set()  # leases whose assignment this run may have created
        self.holder = holder_of(context.instance_id, self.now.isoformat())
        self.phase: str | None = None
        self.detail: dict[str, Any] = {}
        # What the run works on (source, target), for lists of runs: a list query of the
        # Durable API returns custom status but not inputs.
        self.subject: dict[str, Any] = {}
        # Who the run acts for and why, passed to every privileged activity so each records
        # it in the audit trail (domain/access/audit.py).
        self.audit: AuditContext | None = None

    # ---- time and progress ---------------------------------------------------------------------
    @property
    def now(self) -> datetime:
        now: datetime = self.context.current_utc_datetime
        return now

    def enter(self, phase: str, **detail: Any) -> None:
        self._end_phase()
        self.phase, self.detail = phase, detail
        self.phases[phase] = Span(self.now.isoformat())
        self.publish()

    def note(self, **detail: Any) -> None:
        self.detail.update(detail)
        self.publish()

    def finish(self) -> None:
        self._end_phase()
        self.phase = "done"
        self.publish()

    def _end_phase(self) -> None:
        if self.phase is not None:
            self.phases[self.phase] = replace(self.phases[self.phase], end=self.now.isoformat())

    def publish(self) -> None:
        status: dict[str, Any] = {
            "phase": self.phase, "detail": self.detail,
            "phases": {name: span.to_dict() for name, span in self.phases.items()},
            "assignments": list(self.assignments), "holder": self.holder}
        if self.leases:
            status["leases"] = [key.to_dict() for key in self.leases]
        if self.subject:
            status["subject"] = self.subject
        self.context.set_custom_status(status)

    def durations(self) -> dict[str, float]:
        return {name: round((datetime.fromisoformat(span.end)
                             - datetime.fromisoformat(span.start)).total_seconds(), 3)
                for name, span in self.phases.items() if span.end}

    # ---- activities, waits and operations ------------------------------------------------------
    def call(self, activity: Activity[In, Out], value: In, *, retry: bool = True,
             interruptible: bool = True,
             budget_s: float = STEP_BUDGET_S) -> Orchestration[Out]:
        """An activity's output, or the domain error it reported as data, raised here. With
        `retry`, a transient failure that outlasted the host's attempts is ridden out on durable
        timers (a cancel interrupts them unless `interruptible` is False) for up to `budget_s`
        seconds from the first attempt; then it fails the step, saying how long it tried."""
        first, attempt = self.now, 0
        while True:
            try:
                result = yield from call_activity(self.context, activity, value,
                                                  audit=self.audit, retry=retry)
            except Exception as exc:
                code = transient_code(exc) if retry else None
                if code is None:
                    raise
                attempt += 1
                left = budget_s - (self.now - first).total_seconds()
                if left <= 0:
                    raise self._gave_up(code, exc, attempt, first) from exc
                yield from self.retrying(activity.name, attempt, exc,
                                         min(backoff_s(attempt), left), interruptible)
                continue
            if "retry" in self.detail:
                self.detail.pop("retry")
                self.publish()
            return result

    def retrying(self, step: str, attempt: int, error: BaseException | str, pause_s: float,
                 interruptible: bool = True) -> Orchestration[None]:
        """Show the retry in the progress (`detail.retry`), then wait `pause_s` on a durable
        timer."""
        text = error if isinstance(error, str) else "{}: {}".format(*_described(error))
        text = text.strip().split("\n")[0][:300]
        next_at = self.now + timedelta(seconds=pause_s)
        self.note(retry={"step": step, "attempt": attempt, "nextAt": next_at.isoformat(),
                         "lastError": text})
        yield from self.wait(pause_s, interruptible=interruptible)

    def _gave_up(self, code: str, exc: Exception, attempt: int,
                 first: datetime) -> errors.RestoreError:
        _, message = _described(exc)
        waited = (self.now - first).total_seconds()
        return errors.KNOWN[code](f"{message} (still failing after {attempt} durable retries "
                                  f"over {waited:.0f} s)",
                                  hint="Azure was unreachable or throttling for longer than the "
                                       "step's budget: retry the restore later")

    def wait(self, seconds: float, *, interruptible: bool = True) -> Orchestration[None]:
        """A durable timer; a cancel request interrupts it unless `interruptible` is False (the
        attach and swap steps: half a swap is worse than a late cancel)."""
        fire_at = self.now + timedelta(seconds=max(seconds, 0.001))
        if not interruptible:
            yield self.context.create_timer(fire_at)
            return
        if self.cancel.is_completed:
            raise errors.Cancelled("the restore was cancelled")
        if (yield from self._until(fire_at)) is not None:
            raise errors.Cancelled("the restore was cancelled")

    def _until(self, deadline: datetime, *tasks: Any) -> Orchestration[Any]:
        """Wait until `deadline` on timers of at most TIMER_SLICE_S, or until one of `tasks` or
        the cancel completes: that task, or None when the time is up. The timer that lost is
        canceled, so the host's wait ends with the SDK's."""
        while True:
            fire_at = min(deadline, self.now + timedelta(seconds=TIMER_SLICE_S))
            timer: Any = self.context.create_timer(fire_at)  # a TimerTask (TaskBase): cancel()
            winner = yield self.context.task_any([*tasks, timer, self.cancel])
            if winner != timer:
                timer.cancel()
                return winner
            if fire_at >= deadline:
                return None

    def child(self, orchestrator: Orchestrator[Rec, Any], value: Rec,
              instance_id: str) -> Orchestration[tuple[Any, bool]]:
        """A sub-orchestration's output (its reported error raised here), and whether this run
        was cancelled while it ran. A cancel request reaches the child too (triggers/http.py
        sends it to every unfinished run below): it stops on its own terms (revokes, cleans up)
        and is waited for, so the caller knows what it left before deciding what to do next."""
        task = orchestrator.schedule(self.context, value, instance_id)
        cancelled = self.cancel.is_completed
        if not cancelled:
            winner = yield self.context.task_any([task, self.cancel])
            cancelled = winner == self.cancel
        answer = yield task
        return orchestrator.result(answer), cancelled

    def approval(self, timeout_s: float) -> Orchestration[ApprovalDecision]:
        """Wait for a person's decision (the `approval` event). Raises ApprovalTimedOut when
        nobody decides in time, and Cancelled on a cancel request."""
        if self.cancel.is_completed:
            raise errors.Cancelled("the restore was cancelled")
        # One wait for the decision over every slice, as for the cancel.
        decision = self.context.wait_for_external_event(APPROVAL_EVENT)
        winner = yield from self._until(self.now + timedelta(seconds=timeout_s), decision)
        if winner is None:
            raise errors.ApprovalTimedOut(f"nobody approved within {timeout_s / 60:g} minutes")
        if winner == self.cancel:
            raise errors.Cancelled("the restore was cancelled")
        value = decision.result
        if isinstance(value, str):  # raise_event double-encodes (durable-python #295)
            value = json.loads(value)
        if isinstance(value, dict) and isinstance(value.get("approved"), bool):
            return ApprovalDecision.from_dict(value)
        return ApprovalDecision(approved=False, comment=f"unreadable decision {value!r}")

    def operation(self, activity: Activity[In, Operation], value: In, poll_s: float,
                  deadline_s: float = 3600, *, interruptible: bool = True,
                  busy: frozenset[str] = frozenset(),
                  busy_for_s: float = BUSY_FOR_S,
                  meanwhile: Callable[[], Orchestration[None]] | None = None
                  ) -> Orchestration[OperationStatus]:
        """Start an ARM long-running operation and poll it on durable timers until it ends.
        `meanwhile`: other work done once, while the operation runs, before its first poll (a
        VM's start takes a minute or two: time to tag disks).

        A start refused with one of the `busy` codes (Compute's 409 `Conflict`: another operation
        is in flight on the VM, often our own whose answer was lost and which azure-core sent
        again) is started again after a durable wait, for up to `busy_for_s`: the start activities
        read the resource first, so a change that already went through comes back as done."""
        first, pause = self.now, poll_s
        while True:
            operation = yield from self.call(activity, value, interruptible=interruptible)
            if meanwhile is not None:
                yield from meanwhile()
                meanwhile = None
            started = self.now
            while True:
                status = yield from self.call(get_operation, operation,
                                              interruptible=interruptible)
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


def _described(exc: BaseException) -> tuple[str, str]:
    """(code, message) of a failure; the host's wrapping ("Activity function 'x' failed: ") and a
    repeated code prefix are dropped."""
    doc = errors.as_dict(exc)
    code, message = str(doc["code"]), str(doc["message"] or "")
    while message.startswith(f"{code}: "):
        message = message[len(code) + 2:]
    return code, message


OLDER_GENERATIONS_TRIED = 3  # a PUT blocked by our own retired assignment: revoke it, PUT again


def grant_roles(run: Run, grants: list[RoleGrant],
                granted: list[RoleAssignment]) -> Orchestration[None]:
    """Hold the lease on each grant's assignment, then PUT it under the lease's generation name,
    appending what Azure answered to `granted`. Runs into one group (or with one DES) share the
    assignment; the lease decides who revokes it (revoke_assignments).

    Each step is published before it is taken: the lease before the hold, the assignment id
    before the PUT, so a run terminated in between leaves a trace the sweeper follows."""
    for grant in grants:
        key = LeaseKey.of(grant)
        if key not in run.leases:
            run.leases.append(key)
            run.publish()
        lease = yield from run.call(hold_grant, LeaseRequest(grant, run.holder,
                                                             run.now.isoformat()))
        if lease.assignment_id not in run.assignments:
            run.assignments.append(lease.assignment_id)
            run.publish()
        run.made.add(key)  # until Azure says otherwise: a PUT whose answer is lost may have
        try:
            assignment = yield from run.call(grant_role, lease.grant)
            for _ in range(OLDER_GENERATIONS_TRIED):
                # 409 RoleAssignmentExists naming a retired generation of this lease: its last
                # holder's revoke has not gone through yet. It is doomed anyway; revoke it now
                # so this generation's can be made (a foreign one is used as it is).
                if not assignment.pre_existing or \
                        key.generation_of(assignment.id, lease.generation) is None:
                    break
                yield from run.call(revoke_role, Revocation(assignment.id))
                assignment = yield from run.call(grant_role, lease.grant)
        except errors.RestoreError as exc:
            if not exc.retryable:  # refused by Azure: nothing was made
                run.made.discard(key)
            raise
        if assignment.pre_existing:  # a foreign equivalent: ours was not made
            run.made.discard(key)
        granted.append(assignment)


def revoke_assignments(run: Run, granted: list[RoleAssignment],
                       revoked: dict[str, bool | str]) -> Orchestration[dict[str, bool | str]]:
    """Release this run's leases; where it was the last holder, revoke the assignment (and any
    retired generation an earlier holder left), never one that was there before us. A failure
    is reported and left published, and the sweeper finishes it."""
    revoked = dict(revoked)
    for key in list(run.leases):
        mine = [a for a in granted if not a.pre_existing and LeaseKey.of_assignment(a) == key]
        try:
            released = yield from run.call(release_grant, LeaseRelease(key, run.holder,
                                                                        key in run.made),
                                            interruptible=False)
        except Exception as exc:  # noqa: BLE001 - keep releasing the others
            revoked.update({a.id: f"not revoked: {exc}" for a in mine})
            continue
        # Our own generation names only (a foreign equivalent is never among them); one that
        # was never made (our PUT met a foreign one) answers 404, which is fine.
        done, failed = [], {}
        for assignment_id in released.to_revoke:
            try:
                # Not interruptible: a cancelled run still revokes, riding out an outage.
                yield from run.call(revoke_role, Revocation(assignment_id), interruptible=False)
                done.append(assignment_id)
            except Exception as exc:  # noqa: BLE001 - keep revoking the others
                failed[assignment_id.lower()] = f"not revoked: {exc}"
        if done:
            yield from run.call(settle_grant, LeaseSettle(key, done), interruptible=False)
        retired = {a.lower() for a in released.to_revoke}
        for a in mine:
            revoked[a.id] = failed.get(a.id.lower(), True) if a.id.lower() in retired \
                else f"kept: {released.holders} other run(s) still use it"
        if not failed:
            run.leases.remove(key)
            run.assignments[:] = [a for a in run.assignments
                                  if key.generation_of(a, released.generation + 1) is None]
    run.publish()
    return revoked
