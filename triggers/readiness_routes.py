"""Readiness checks (docs/readiness.md): a timer on READINESS_SCHEDULE (default hourly, at minute
17) and `POST /api/readiness` start a run (orchestrations/readiness.py) that checks every
protected disk of the configured vaults; `GET /api/readiness` answers the latest report (JSON,
or the HTML page with `?format=html`).

A run starts only if its report can be written (as a drill: `check_writable`), so a timer that
cannot write logs one line and starts nothing, and `POST` answers 503 at once.

Objectives: the RPO of a disk comes from the drill plans whose selection covers it (their
`objectives`, when a plan has them), else READINESS_RPO_HOURS.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions import DurableOrchestrationClient

from domain.document import DocumentUnavailable
from domain.drills.drill_plan import DrillPlans, schedule_problem
from domain.readiness.readiness_run import ObjectiveScope, ReadinessInput
from domain.recovery.policy import Policies
from gateway.reports import report_store_for
from orchestrations.readiness import check_readiness
from settings import Settings, settings

from .api_route import api
from .drill_routes import PlansUnavailable, load_plans
from .http_inputs import INPUTS, query
from .problems import STORAGE_FAILURES, problem, unavailable
from .wiring import load_policies

bp = df.Blueprint()
log = logging.getLogger(__name__)
DEFAULT_SCHEDULE = Settings.readiness_schedule
RUN_PREFIX = "readiness-"
_TYPES = {"json": "application/json", "html": "text/html"}


def schedule() -> str:
    """READINESS_SCHEDULE when it is a valid six-field NCRONTAB expression; else the default,
    with one error line saying why (a bad setting must not leave the app without its checks)."""
    try:
        chosen = settings().readiness_schedule
    except Exception as exc:  # noqa: BLE001 - bad settings are reported by every entry point
        log.error("readiness timer on the default schedule %r: %s", DEFAULT_SCHEDULE, exc)
        return DEFAULT_SCHEDULE
    why = schedule_problem(chosen)
    if why is not None:
        log.error("READINESS_SCHEDULE=%r %s: the readiness timer runs on the default %r",
                  chosen, why, DEFAULT_SCHEDULE)
        return DEFAULT_SCHEDULE
    return chosen


def objective_scopes(plans: DrillPlans | None,
                     policies: Policies | None = None) -> list[ObjectiveScope]:
    """The objectives of the drill plans (the disks each plan's selection covers) and of the
    recovery policies (the disks in their resource groups with their tags; a policy matches a
    signal on a disk or a VM, and readiness judges disks, so a policy's tag condition is read on
    the disk). A plan or policy without objectives contributes none."""
    scopes = []
    for plan in plans.plans if plans else ():
        if plan.objectives.empty:
            continue
        s = plan.selection
        scopes.append(ObjectiveScope(plan.objectives, f"drill plan {plan.name}", list(s.vaults),
                                     list(s.resource_groups), dict(s.tags), list(s.include),
                                     list(s.exclude)))
    for policy in policies.policies if policies else ():
        if policy.objectives.empty:
            continue
        scopes.append(ObjectiveScope(policy.objectives, f"recovery policy {policy.name}",
                                     resource_groups=list(policy.match.resource_groups),
                                     tags=dict(policy.match.tags)))
    return scopes


def readiness_input(config: Settings, run_id: str) -> ReadinessInput:
    plans: DrillPlans | None = None
    policies: Policies | None = None
    try:
        plans = load_plans(config)
    except PlansUnavailable as exc:  # no plans: no plan objectives and no sandbox groups
        if config.drill_plans_path:
            log.warning("readiness without the drill plans' objectives and sandboxes: %s", exc)
    try:
        policies = load_policies(config)
    except DocumentUnavailable as exc:
        if config.recovery_policies_path:
            log.warning("readiness without the recovery policies' objectives: %s", exc)
    sandboxes = sorted({p.sandbox_resource_group_id for p in plans.plans} if plans else set())
    return ReadinessInput(run_id, list(config.backup_vault_ids), sandboxes,
                          objective_scopes(plans, policies), config.readiness_rpo_hours,
                          config.drill_restore_reserve, config.app_principal_id)


async def start_readiness(client: DurableOrchestrationClient, config: Settings,
                          when: datetime) -> tuple[str, bool]:
    """Start a run for `when` (the id is the time to the second, so a timer that fires twice
    starts one run); (id, started). Raises STORAGE_FAILURES when the report cannot be written."""
    instance = f"{RUN_PREFIX}{when:%Y%m%dT%H%M%S}"
    status = await client.get_status(instance, show_input=False)
    if status.runtime_status is not None:
        return instance, False
    await asyncio.to_thread(lambda: report_store_for(config).check_writable())
    await check_readiness.start(client, instance, readiness_input(config, instance))
    return instance, True


@bp.timer_trigger(arg_name="timer", schedule=schedule(), run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def readiness_timer(timer: func.TimerRequest, client: DurableOrchestrationClient) -> None:
    try:
        instance, started = await start_readiness(
            client, settings(), datetime.now(UTC).replace(microsecond=0))
    except STORAGE_FAILURES as exc:  # one line in the log, no trace; the next firing retries
        log.error("readiness timer: not started: %s", exc)
        return
    log.info("readiness timer: %s %s", instance, "started" if started else "already running")


@bp.route(route="readiness", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
@api(reads=True)
async def post_readiness(req: func.HttpRequest,
                         client: DurableOrchestrationClient) -> func.HttpResponse:
    """Run the checks now (a reader may: they read Azure and change nothing)."""
    try:
        instance, started = await start_readiness(client, settings(),
                                                  datetime.now(UTC).replace(microsecond=0))
    except STORAGE_FAILURES as exc:
        log.error("readiness run not started: %s", exc)
        return unavailable("Readiness reports unavailable", exc)
    url = f"{req.url.split('/api/', 1)[0]}/api/readiness"
    return func.HttpResponse(json.dumps({"id": instance, "started": started,
                                         "reportUri": url}),
                             status_code=202 if started else 200, mimetype="application/json",
                             headers={"Location": url, "Retry-After": "30"})


@bp.route(route="readiness", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@api(reads=True)
async def get_readiness(req: func.HttpRequest) -> func.HttpResponse:
    """The latest report from blob storage (the caller needs no storage role)."""
    params = query(req.params)
    if INPUTS.errors("ReadinessQuery", params):
        return problem(400, "Invalid request", "the only query parameter is format=json|html")
    kind: str = params.get("format", "json")
    try:
        body: Any = await asyncio.to_thread(
            lambda: report_store_for(settings()).readiness_latest(kind))
    except STORAGE_FAILURES as exc:
        log.error("readiness report unavailable: %s", exc)
        return unavailable("Readiness reports unavailable", exc)
    if body is None:
        return problem(404, "Not found", "no readiness run has finished yet: the timer runs "
                       "on READINESS_SCHEDULE, or POST /api/readiness runs one now")
    return func.HttpResponse(body, status_code=200, mimetype=_TYPES[kind], charset="utf-8")
