"""The orchestrator functions, registered on one blueprint."""

import azure.durable_functions as df

from .drill import drill as _drill
from .drill import drill_disk as _drill_disk
from .drill import drill_lane as _drill_lane
from .polls import await_propagation as _await_propagation
from .polls import track_restore_job as _track_restore_job
from .recover import recover as _recover
from .restore_managed_disk import restore_managed_disk as _restore
from .sweep import sweep_drill_disks as _sweep_disks
from .sweep import sweep_role_assignments as _sweep

bp = df.Blueprint()
bp.orchestration_trigger(context_name="context", orchestration="restore_managed_disk")(_restore)
bp.orchestration_trigger(context_name="context", orchestration="sweep_role_assignments")(_sweep)
bp.orchestration_trigger(context_name="context", orchestration="recover")(_recover)
bp.orchestration_trigger(context_name="context", orchestration="drill")(_drill)
bp.orchestration_trigger(context_name="context", orchestration="drill_disk")(_drill_disk)
bp.orchestration_trigger(context_name="context", orchestration="sweep_drill_disks")(_sweep_disks)
bp.orchestration_trigger(context_name="context", orchestration="drill_lane")(_drill_lane)
bp.orchestration_trigger(context_name="context", orchestration="await_propagation")(
    _await_propagation)
bp.orchestration_trigger(context_name="context", orchestration="track_restore_job")(
    _track_restore_job)
