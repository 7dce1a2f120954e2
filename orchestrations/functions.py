"""The orchestrator functions, registered on one blueprint."""

import azure.durable_functions as df

from .restore_managed_disk import restore_managed_disk as _restore

bp = df.Blueprint()
bp.orchestration_trigger(context_name="context", orchestration="restore_managed_disk")(_restore)
