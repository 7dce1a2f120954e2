"""The restore's two long waits as orchestrations of their own: waiting for the vault's new
roles to take effect (validateRestore probes) and tracking the restore job.

Each poll adds events to the history an orchestration replays on every step. Run inline, a
15-minute propagation and a 6-minute job put several hundred events in the restore's history.
Here each wait is a sub-orchestration that continues as new after a bounded number of polls, so no
history grows with the length of the wait: the restore's own history holds two events per wait.

A wait's progress is its custom status; the restore lists the wait in its own progress
(`detail.children`), so GET /api/restores/{id} shows it and a cancel reaches it.
"""

from __future__ import annotations

import typing
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

import azure.durable_functions as df

from activities.restore_activities import get_restore_job, start_validate_restore
from domain import errors
from domain.model import JobRef, Record, RestoreJob
from domain.restore import azure_codes
from domain.restore.restore_run import JobWatch, PropagationDone, PropagationWait

from .calls import Orchestration, Orchestrator, orchestrator
from .steps import Run, backoff_s

PROBES_PER_GENERATION = 3  # up to ~60 events each (validation polled every 5 s, 20-40 s)
POLLS_PER_GENERATION = 20  # about 8 events each
In = TypeVar("In", bound=Record)
Out = TypeVar("Out")


def wait_for(run: Run, wait: Orchestrator[In, Out], doc: In, suffix: str) -> Orchestration[Out]:
    """Run the wait as a sub-orchestration: its result, or its error raised here. Listed in the
    run's progress while it lasts, so a status read shows it and a cancel reaches it."""
    child = f"{run.context.instance_id}:{suffix}"
    run.note(children=[child])
    result, cancelled = yield from run.child(wait, doc, child)
    run.detail.pop("children", None)
    if cancelled:  # the wait ended on its own (done, or cancelled too): go no further
        raise errors.Cancelled("the restore was cancelled")
    return typing.cast(Out, result)


@orchestrator(errors_as_data=True)
def await_propagation(context: df.DurableOrchestrationContext,
                      wait: PropagationWait) -> Orchestration[PropagationDone | None]:
    """Probe validateRestore until the new roles work; never a fixed 15-minute sleep."""
    run = Run(context)
    plan, settings = wait.plan, wait.settings
    started, probes, busy = datetime.fromisoformat(wait.started), wait.probes, wait.busy
    run.enter("propagate", probe=probes)
    try:
        for _ in range(PROBES_PER_GENERATION):
            probes += 1
            run.note(probe=probes)
            status = yield from run.operation(start_validate_restore, plan,
                                              settings.operation_poll_s)
            if status.state == "succeeded":
                run.finish()
                return PropagationDone(probes)
            error = azure_codes.classify(status.error_code, status.error_message,
                                         status.retryable)
            transient = azure_codes.transient(status.error_code, status.retryable)
            if error is not None and not transient:
                raise error
            busy = busy + 1 if transient else 0
            waited = (run.now - started).total_seconds()
            if waited >= plan.propagation_timeout_s:
                raise error or errors.PropagationTimedOut(
                    f"the vault's identity still lacks permissions after {waited:.0f} s "
                    f"({status.error_code})", hint="check the role assignments, then retry")
            left = plan.propagation_timeout_s - waited
            if not transient:
                run.detail.pop("retry", None)
            run.note(probe=probes, lastError=status.error_code)
            if transient:  # a busy service: back off, within the wait's own deadline
                yield from run.retrying(start_validate_restore.name, busy,
                                        f"{status.error_code}: {status.error_message}",
                                        min(max(backoff_s(busy), settings.probe_interval_s),
                                            left))
                continue
            yield from run.wait(min(settings.probe_interval_s, left))
    except Exception:  # the restore decides what a failure means (errors as data)
        run.finish()
        raise
    context.continue_as_new(replace(wait, probes=probes, busy=busy).to_dict())
    return None


@orchestrator(errors_as_data=True)
def track_restore_job(context: df.DurableOrchestrationContext,
                      watch: JobWatch) -> Orchestration[RestoreJob | None]:
    """Poll the restore job until it ends: the job, once it succeeded."""
    run = Run(context)
    started = datetime.fromisoformat(watch.started)
    run.enter("track", jobId=watch.job_id)
    try:
        for _ in range(POLLS_PER_GENERATION):
            job = yield from run.call(get_restore_job, JobRef(watch.job_id))
            run.note(jobId=watch.job_id, jobStatus=job.status)
            if job.finished:
                if not job.succeeded and azure_codes.transient(job.error_code,
                                                               job.error_retryable):
                    # Nothing was restored and the service says a new attempt may work: the
                    # restore triggers again (restore_managed_disk `_restore_and_track`).
                    raise errors.BackupServiceBusy(
                        f"restore job {job.status}: {job.error_code}: {job.error_message}",
                        hint="a transient Azure Backup error: retry the restore later")
                if not job.succeeded:
                    raise azure_codes.job_failure(job.status, job.error_code, job.error_message)
                run.finish()
                return job
            if (run.now - started).total_seconds() > watch.timeout_s:
                raise errors.RestoreTimedOut(f"restore job still {job.status} after "
                                             f"{watch.timeout_s} s")
            yield from run.wait(watch.settings.poll_interval_s)
    except Exception:  # the restore decides what a failure means (errors as data)
        run.finish()
        raise
    context.continue_as_new(watch.to_dict())
    return None
