"""What GET /api/restores/{id} shows: phase, progress, per-phase timings, result or error."""

from __future__ import annotations

import re
from typing import Any

from azure.durable_functions import OrchestrationRuntimeStatus
from azure.durable_functions.models import DurableOrchestrationStatus

from domain.model import json_object
from orchestrations.recover import recover
from orchestrations.undo_restore import undo_restore

# The ids this app gives its runs: restore-<requestId or hash>, dryrun-..., recover-<policy>-...,
# drill-<plan>-<time>, and their children (<run>:propagate, <drill>-lane-0).
_INSTANCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,255}$")


def is_instance_id(text: str) -> bool:
    """Whether `text` can name one of this app's runs. Anything else names none, and must not
    reach the Durable client: it puts the id into its management URL unescaped, so a tab or a
    newline is dropped, '#' and '?' end the path and '%2F' is a '/' (the status of another run,
    or of all of them: a 500)."""
    return _INSTANCE_ID.fullmatch(text) is not None


_DONE = {OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed,
         OrchestrationRuntimeStatus.Terminated, OrchestrationRuntimeStatus.Canceled}


def restore_view(status: DurableOrchestrationStatus) -> dict[str, Any]:
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    runtime = status.runtime_status
    output = status.output if isinstance(status.output, dict) else None
    view: dict[str, Any] = {
        "id": status.instance_id,
        "runtimeStatus": runtime.value if runtime else None,
        "done": runtime in _DONE,
        "phase": custom.get("phase"),
        "progress": custom.get("detail") or {},
        "phases": custom.get("phases") or {},
        "createdTime": _iso(status.created_time),
        "lastUpdatedTime": _iso(status.last_updated_time),
        "outcome": output.get("outcome") if output else None,
        "result": output,
        "error": output.get("error") if output else None,
    }
    if runtime == OrchestrationRuntimeStatus.Failed:
        view["outcome"] = "Failed"
        view["error"] = {"code": "Unexpected", "message": str(status.output), "hint": None}
    if runtime == OrchestrationRuntimeStatus.Terminated:
        view["outcome"] = "Terminated"
        view["error"] = {"code": "Terminated", "message": str(status.output),
                         "hint": "role assignments left by this run are removed by the sweeper"}
    return view


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else value


def run_summary(status: DurableOrchestrationStatus) -> dict[str, Any]:
    """One line of GET /api/restores: the run, where it is, and what it restores."""
    view = restore_view(status)
    subject = json_object(json_object(status.custom_status).get("subject"))
    source = json_object(subject.get("source"))
    target = json_object(subject.get("target"))
    kind = "recovery" if status.name == recover.name else \
        "undo" if status.name == undo_restore.name else "restore"
    return {"id": view["id"], "kind": kind,
            "runtimeStatus": view["runtimeStatus"], "done": view["done"], "phase": view["phase"],
            "outcome": view["outcome"], "errorCode": (view["error"] or {}).get("code"),
            "createdTime": view["createdTime"], "lastUpdatedTime": view["lastUpdatedTime"],
            "source": source.get("diskId") or source.get("backupInstanceId")
            or source.get("resourceId"),
            "target": target or None,
            "dryRun": bool(subject.get("dryRun"))}
