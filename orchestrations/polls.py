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

from datetime import datetime
from typing import Any

import azure.durable_functions as df

from domain import errors

from domain.restore import azure_codes
from domain.model import RestoreJob, RestorePlan

from .outcome import error_dict
from .steps import Orchestration, Run

PROBES_PER_GENERATION = 3  # up to ~60 events each (validation polled every 5 s, 20-40 s)
POLLS_PER_GENERATION = 20  # about 8 events each
PROPAGATION, TRACK = "await_propagation", "track_restore_job"


def wait_for(run: Run, name: str, payload: dict[str, Any], suffix: str) -> Orchestration:
    """Run the wait `name` as a sub-orchestration; its result, or its error raised here."""
    child = f"{run.context.instance_id}:{suffix}"
    run.note(children=[child])
    result = yield run.context.call_sub_orchestrator(name, payload, child)
    run.detail.pop("children", None)
    if isinstance(result, dict) and isinstance(result.get("error"), dict):
        raise errors.from_dict(result["error"])
    return result


def await_propagation(context: df.DurableOrchestrationContext) -> Orchestration:
    """Probe validateRestore until the new roles work; never a fixed 15-minute sleep. Input:
    {plan, config, started (ISO), probes (so far)}; output {probes} or {error}."""
    doc: dict[str, Any] = context.get_input()
    run = Run(context)
    plan, config = RestorePlan.from_dict(doc["plan"]), doc["config"]
    started, probes = datetime.fromisoformat(doc["started"]), int(doc.get("probes", 0))
    run.enter("propagate", probe=probes)
    try:
        for _ in range(PROBES_PER_GENERATION):
            probes += 1
            run.note(probe=probes)
            status = yield from run.operation("start_validate_restore", plan.to_dict(),
                                              config["operation_poll_s"])
            if status.state == "succeeded":
                run.finish()
                return {"probes": probes}
            error = azure_codes.classify(status.error_code, status.error_message)
            if error is not None:
                raise error
            waited = (run.now - started).total_seconds()
            if waited >= plan.propagation_timeout_s:
                raise errors.PropagationTimedOut(
                    f"the vault's identity still lacks permissions after {waited:.0f} s "
                    f"({status.error_code})", hint="check the role assignments, then retry")
            run.note(probe=probes, lastError=status.error_code)
            yield from run.wait(min(config["probe_interval_s"],
                                    plan.propagation_timeout_s - waited))
    except Exception as exc:  # noqa: BLE001 - the restore decides what a failure means
        run.finish()
        return {"error": error_dict(exc)}
    context.continue_as_new(dict(doc, probes=probes))
    return None


def track_restore_job(context: df.DurableOrchestrationContext) -> Orchestration:
    """Poll the restore job until it ends. Input: {jobId, config, started (ISO), timeoutS};
    output the job, or {error}."""
    doc: dict[str, Any] = context.get_input()
    run = Run(context)
    job_id, config = doc["jobId"], doc["config"]
    started = datetime.fromisoformat(doc["started"])
    run.enter("track", jobId=job_id)
    try:
        for _ in range(POLLS_PER_GENERATION):
            job = RestoreJob.from_dict((yield from run.call("get_restore_job", job_id)))
            run.note(jobId=job_id, jobStatus=job.status)
            if job.finished:
                if not job.succeeded:
                    raise errors.RestoreJobFailed(f"restore job {job.status}: "
                                                  f"{job.error_code}: {job.error_message}")
                run.finish()
                return job.to_dict()
            if (run.now - started).total_seconds() > doc["timeoutS"]:
                raise errors.RestoreTimedOut(f"restore job still {job.status} after "
                                             f"{doc['timeoutS']} s")
            yield from run.wait(config["poll_interval_s"])
    except Exception as exc:  # noqa: BLE001 - the restore decides what a failure means
        run.finish()
        return {"error": error_dict(exc)}
    context.continue_as_new(doc)
    return None
