"""The orchestrator functions, registered on one blueprint."""

import azure.durable_functions as df

from .recover import recover as _recover
from .restore_managed_disk import restore_managed_disk as _restore
from .sweep import sweep_role_assignments as _sweep

bp = df.Blueprint()
bp.orchestration_trigger(context_name="context", orchestration="restore_managed_disk")(_restore)
bp.orchestration_trigger(context_name="context", orchestration="sweep_role_assignments")(_sweep)
bp.orchestration_trigger(context_name="context", orchestration="recover")(_recover)
