"""Every orchestrator, registered on one blueprint from its declaration (orchestrations/
calls.py): the modules below are the whole list."""

from __future__ import annotations

import azure.durable_functions as df

from . import (
    drill,
    polls,
    readiness,
    recover,
    restore_managed_disk,
    restore_vm,
    sweep,
    undo_restore,
)
from .calls import declared, host_function

ORCHESTRATORS = declared(restore_managed_disk, polls, recover, drill, sweep, undo_restore,
                         restore_vm, readiness)

bp = df.Blueprint()
for _orchestrator in ORCHESTRATORS:
    bp.orchestration_trigger(context_name="context", orchestration=_orchestrator.name)(
        host_function(_orchestrator))
