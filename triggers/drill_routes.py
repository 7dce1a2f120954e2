"""Restore drills: one timer per plan (its NCRONTAB schedule), `POST /api/drills` to run a plan
now, `GET /api/drills/{id}` for progress and the summary, `GET /api/drills/{id}/report` for the
report itself (JSON, or the HTML page with `?format=html`), and an hourly sweep of drill disks past
their expiry.

The plans are read when the app starts (the timers need their schedules then): a bad file is
logged with every problem and no drill timer is registered; `POST /api/drills` answers 503 with
the same problems.

A drill starts only if its report can be written (a write to the report container): otherwise
`POST /api/drills` answers 503 at once with the one line saying why (the endpoint, what to check),
and a timer logs that line and starts nothing, instead of restoring every disk and failing at the
report, minutes later.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions import DurableOrchestrationClient, OrchestrationRuntimeStatus

from domain.access.access_policy import DRILL_ACTION, Caller
from domain.document import DocumentUnavailable, load_configured
from domain.drills.drill_plan import DrillPlan, DrillPlans
from domain.drills.drill_run import DiskSweep, DrillInput
from domain.drills.selection import drill_id
from gateway.reports import report_store_for
from orchestrations.drill import drill
from orchestrations.sweep import sweep_drill_disks as disk_sweep
from settings import Settings, settings

from .api_route import api, body_json
from .callers import authorize, record_action
from .http_inputs import INPUTS, query, read
from .problems import STORAGE_FAILURES, problem, unavailable
from .services.submit import run_settings
from .views import restore_view

bp = df.Blueprint()
log = logging.getLogger(__name__)
SWEEP_ID = "sweep-drill-disks"
_LIVE = {OrchestrationRuntimeStatus.Pending, OrchestrationRuntimeStatus.Running}


PlansUnavailable = DocumentUnavailable  # no valid plan file: no timers, POST answers 503


def load_plans(config: Settings) -> DrillPlans:
    return load_configured("DRILL_PLANS_PATH", config.drill_plans_path, DrillPlans.load,
                           "no drill plans")


async def start_drill(client: DurableOrchestrationClient, plan: DrillPlan, config: Settings,
                      when: datetime, *,
                      requested_by: dict[str, Any] | None = None) -> tuple[str, bool]:
    """Start the plan's drill for `when` (the id is the plan and the time, so a timer that fires
    twice starts one drill); (id, started)."""
    instance = drill_id(plan.name, when)
    status = await client.get_status(instance, show_input=False)
    if status.runtime_status is not None:
        return instance, False
    # Raises (STORAGE_FAILURES) when the report could not be written: say so now, not after
    # every disk was restored.
    await asyncio.to_thread(lambda: report_store_for(config).check_writable())
    await drill.start(client, instance, DrillInput(
        instance, plan, run_settings(config),
        Caller.from_dict(requested_by) if requested_by else Caller("timer", None, plan.name)))
    return instance, True


@bp.route(route="drills", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
@api()
async def post_drill(req: func.HttpRequest,
                     client: DurableOrchestrationClient) -> func.HttpResponse:
    body = body_json(req)
    read("DrillRequest", body)
    why = f"restore drill of plan {body['plan']}, started by hand"
    # before the plans are read: a caller the policy does not know learns nothing
    allowed = authorize(req, DRILL_ACTION, {"drillPlans": body["plan"]}, why=why)
    config = settings()
    try:
        plans = load_plans(config)
    except PlansUnavailable as exc:
        return problem(503, "Drill plans unavailable", str(exc))
    plan = plans.plan(body["plan"])
    if plan is None:
        known = ", ".join(p.name for p in plans.plans) or "none"
        return problem(404, "Not found", f"no drill plan {body['plan']!r} (plans: {known})")
    try:
        instance, started = await start_drill(client, plan, config, datetime.now(UTC),
                                              requested_by=allowed.caller.to_dict())
    except STORAGE_FAILURES as exc:
        log.error("drill of plan %s not started: %s", plan.name, exc)
        return unavailable("Drill reports unavailable", exc)
    if started:
        record_action("request", allowed, {"action": DRILL_ACTION, "drillPlans": plan.name},
                      run_id=instance, why=why)
    url = f"{req.url.split('/api/', 1)[0]}/api/drills/{instance}"
    return func.HttpResponse(json.dumps({"id": instance, "started": started,
                                         "statusQueryGetUri": url}),
                             status_code=202 if started else 200, mimetype="application/json",
                             headers={"Location": url, "Retry-After": "30"})


@bp.route(route="drills/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
@api(reads=True, run=drill.name)
async def get_drill(req: func.HttpRequest, client: DurableOrchestrationClient) -> func.HttpResponse:
    instance = req.route_params["id"]
    status = await client.get_status(instance, show_input=False)
    if status.runtime_status is None or status.name != drill.name:  # not a lane, a disk
        return problem(404, "Not found", f"no drill with id {instance!r}")
    view = restore_view(status)
    result = view["result"] or {}
    view.update(summary=result.get("summary"), reports=result.get("reports"))
    return func.HttpResponse(json.dumps(view), status_code=200 if view["done"] else 202,
                             mimetype="application/json")


_REPORT_TYPES = {"json": "application/json", "html": "text/html; charset=utf-8"}


@bp.route(route="drills/{id}/report", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
@api(reads=True, run=drill.name)
async def get_drill_report(req: func.HttpRequest,
                           client: DurableOrchestrationClient) -> func.HttpResponse:
    """The finished drill's report from blob storage, so a caller needs no storage role."""
    instance = req.route_params["id"]
    params = query(req.params)
    if INPUTS.errors("DrillReportQuery", params):
        return problem(400, "Invalid request", "the only query parameter is format=json|html")
    kind = params.get("format", "json")
    status = await client.get_status(instance, show_input=False)
    if status.runtime_status is None or status.name != drill.name:  # not a lane, a disk
        return problem(404, "Not found", f"no drill with id {instance!r}")
    view = restore_view(status)
    if not view["done"]:
        return problem(409, "Not finished", f"drill {instance!r} is still running (phase "
                       f"{view['phase']!r}); its report is written when it ends",
                       headers={"Retry-After": "30"})
    plan = (view["result"] or {}).get("plan")
    try:
        body = await asyncio.to_thread(
            lambda: report_store_for(settings()).read(plan, instance, kind)) if plan else None
    except STORAGE_FAILURES as exc:
        log.error("drill report %s unavailable: %s", instance, exc)
        return unavailable("Drill reports unavailable", exc)
    if body is None:
        return problem(404, "Not found", f"drill {instance!r} ended without a report "
                       f"({view['runtimeStatus']})")
    return func.HttpResponse(body, status_code=200, mimetype=_REPORT_TYPES[kind].split(";")[0],
                             charset="utf-8")


def _timer(plan: DrillPlan) -> Any:
    async def run(timer: func.TimerRequest, client: DurableOrchestrationClient) -> None:
        config = settings()
        current = load_plans(config).plan(plan.name) or plan
        when = datetime.now(UTC).replace(microsecond=0)
        try:
            instance, started = await start_drill(client, current, config, when)
        except STORAGE_FAILURES as exc:  # one line in the log, no trace; the next firing retries
            log.error("drill timer %s: not started: %s", plan.name, exc)
            return
        log.info("drill timer %s: %s %s", plan.name, instance,
                 "started" if started else "already running")
    run.__name__ = run.__qualname__ = f"drill_{plan.name.replace('-', '_')}"
    return run


def register_plan_timers() -> list[str]:
    """A timer per plan, named drill_<plan>; none (and one error line) for a bad plan file."""
    try:
        plans = load_plans(settings())
    except PlansUnavailable as exc:
        (log.info if "not set" in str(exc) else log.error)("no drill timers: %s", exc)
        return []
    except Exception as exc:  # noqa: BLE001 - bad settings are reported by every entry point
        log.error("no drill timers: %s", exc)
        return []
    names = []
    for plan in plans.plans:
        handler = _timer(plan)
        bp.timer_trigger(arg_name="timer", schedule=plan.schedule, run_on_startup=False)(
            bp.durable_client_input(client_name="client")(handler))
        names.append(handler.__name__)
    return names


TIMERS = register_plan_timers()


@bp.timer_trigger(arg_name="timer", schedule="0 5 * * * *", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def sweep_drill_disks_timer(timer: func.TimerRequest,
                                  client: DurableOrchestrationClient) -> None:
    """Hourly: delete drill disks past their expiry in the plans' sandboxes."""
    await sweep_drill_disks(client)


async def sweep_drill_disks(client: DurableOrchestrationClient) -> str | None:
    try:
        plans = load_plans(settings())
    except PlansUnavailable:
        return None
    sandboxes = sorted({p.sandbox_resource_group_id for p in plans.plans})
    previous = await client.get_status(SWEEP_ID, show_input=False)
    if not sandboxes or previous.runtime_status in _LIVE:
        return None
    return await disk_sweep.start(client, SWEEP_ID, DiskSweep(
        sandboxes, datetime.now(UTC).isoformat()))
