"""azsim: a simulated Azure control plane (ARM over HTTPS) for the real azure-mgmt-* clients.

    import azsim
    from azsim.sdk import mgmt_clients

    with azsim.start(scenario="demo", clock=my_clock, time_scale=60) as sim:
        clients = mgmt_clients(sim)  # resource, dataprotection, authorization, compute
        ...

See README.md for the scenario format, the admin endpoints and fault injection.
"""

from .clock import WallClock
from .scenario import load as load_scenario
from .server import Simulator, start

__all__ = ["Simulator", "WallClock", "load_scenario", "start"]
