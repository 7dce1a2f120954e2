"""`python -m azsim serve [--port 0] [--scenario demo|FILE] [--time-scale K]`

Prints one JSON line when ready: {"endpoint", "caBundle", "subscriptionId", "tenantId",
"appPrincipalId"}; serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from .server import start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m azsim")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the simulated control plane over HTTPS")
    serve.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free)")
    serve.add_argument("--scenario", default="demo", help="scenario name or JSON file")
    serve.add_argument("--time-scale", type=float, default=1.0,
                       help="divide every scenario duration by K")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    sim = start(scenario=args.scenario, port=args.port, time_scale=args.time_scale)
    try:
        print(json.dumps(sim.info()), flush=True)
        stop.wait()
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
