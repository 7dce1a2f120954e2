"""Every activity, registered on one blueprint from its declaration (activities/activity.py):
the capability modules below are the whole list."""

from __future__ import annotations

import azure.durable_functions as df

from . import (
    compute_activities,
    drill_activities,
    operation_activities,
    readiness_activities,
    recovery_activities,
    restore_activities,
    role_activities,
)
from .activity import declared, host_function

ACTIVITIES = declared(role_activities, restore_activities, operation_activities,
                      compute_activities, recovery_activities, drill_activities,
                      readiness_activities)

bp = df.Blueprint()
for _activity in ACTIVITIES:
    bp.activity_trigger(input_name="payload")(host_function(_activity))
