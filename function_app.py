"""The composition root: the app and every blueprint it registers. Nothing else."""

import azure.durable_functions as df
import azure.functions as func

from activities.registry import bp as activities
from orchestrations.orchestrators import bp as orchestrations
from triggers.catalog_routes import bp as catalog
from triggers.drill_routes import bp as drills
from triggers.events import bp as events
from triggers.http import bp as http
from triggers.openapi import bp as openapi
from triggers.queue import bp as queue
from triggers.readiness_routes import bp as readiness
from triggers.sweeper import bp as sweeper

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (orchestrations, activities, http, queue, events, drills, sweeper, openapi,
                  catalog, readiness):
    app.register_functions(blueprint)
