"""The activity functions, registered on one blueprint: each calls its handler (activities/
handlers.py, same name) with the process's gateway, built once from settings at first use."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
# Binding parameters are annotated Dict (typing), never dict[...]: the Python worker's load
# check refuses PEP 585 generics, and Azure would then run no function of the app at all.
from typing import Any, Dict  # noqa: UP035

import azure.durable_functions as df

from domain.access import audit
from gateway.ledger import Ledger, ledger_for
from gateway.port import ControlPlane
from gateway.reports import ReportStore, report_store_for
from settings import Settings, settings

from . import handlers

bp = df.Blueprint()
log = logging.getLogger("diskrestore")
audit_log = logging.getLogger(audit.LOGGER)

ACTIVITIES = ("plan_restore", "grant_role", "revoke_role", "start_validate_restore",
              "start_restore", "get_operation", "find_restore_job", "get_restore_job", "get_vm",
              "start_attach_data_disk", "start_deallocate_vm", "start_set_os_disk",
              "start_start_vm", "start_delete_disk", "resolve_recovery", "start_tag_disk",
              "verify_drill_disk", "expired_drill_disks")


# The fast test tier's seam (dev/harness): in-memory fakes of the gateway ("gateway"), the
# recovery ledger ("ledger") and the drill report store ("reports"), installed by the harness for
# one test and taken out after it. Nothing in the app sets it: every activity reaches Azure and
# the app's storage through the three functions below, which build the real ones from settings.
fakes: dict[str, Any] = {}


def gateway() -> ControlPlane:
    return fakes["gateway"] if "gateway" in fakes else _gateway_for(settings())


def ledger() -> Ledger:
    return fakes["ledger"] if "ledger" in fakes else ledger_for(settings())


def report_store() -> ReportStore:
    return fakes["reports"] if "reports" in fakes else report_store_for(settings())


@functools.lru_cache(maxsize=4)
def _gateway_for(config: Settings) -> ControlPlane:
    """One gateway (and its SDK clients, connection pools) per process and settings."""
    from gateway.factory import control_plane
    return control_plane(config)


def _activity(name: str) -> Callable[[Any], Any]:
    handler = getattr(handlers, name)
    if name not in audit.AUDITED:
        def activity(payload: Any) -> Any:
            return handler(payload, gateway())
    else:
        def activity(payload: Any) -> Any:
            """A privileged action: one audit record per attempt, whatever its outcome."""
            inner, context = audit.unwrap(payload)
            result, failure = None, None
            try:
                result = handler(inner, gateway())
                return result
            except Exception as exc:
                failure = exc
                raise
            finally:
                _audit(name, inner, context, result, failure)

    activity.__name__ = activity.__qualname__ = name  # the function name the host registers
    return activity


for _name in ACTIVITIES:
    bp.activity_trigger(input_name="payload")(_activity(_name))


def _audit(name: str, payload: Any, context: dict[str, Any] | None, result: Any,
           failure: BaseException | None) -> None:
    context = context or {}
    outcome, reason = audit.outcome(result, failure)
    audit_log.info(audit.line(audit.record(
        audit.AUDITED[name], outcome, when=datetime.now(UTC).isoformat(),
        who=context.get("who"), what=audit.what(name, payload, result), why=context.get("why"),
        run_id=context.get("runId"), authorization=context.get("authorization"),
        reason=reason)))


@bp.activity_trigger(input_name="payload")
def release_recovery_slot(payload: str) -> bool:
    """A recovery run gives back its concurrency slot; True if it still held one."""
    return ledger().release_slot(payload)


@bp.activity_trigger(input_name="payload")
def record_outcome(payload: Dict[str, Any]) -> bool:
    """`restore finished: {json}`: one record per restore run (event RestoreFinished)."""
    error = payload.get("error") or {}
    log.info("restore finished: %s", json.dumps({
        "event": "RestoreFinished", "id": payload.get("id"), "outcome": payload.get("outcome"),
        "errorCode": error.get("code"), "restoredDiskId": payload.get("restoredDiskId"),
        "jobId": payload.get("jobId"), "phases": payload.get("phases")}))
    return True
