"""`python -m devhost start [--app-dir DIR] [--port 7071] [--dispatch-latency]
[--external-event-order lifo|fifo]`: serve the app like `func start`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .config import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost",
                                     description="Local Azure Functions + Durable host")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="serve the app until stopped (Ctrl-C)")
    start.add_argument("--app-dir", default=".", help="folder with function_app.py and host.json")
    start.add_argument("--port", type=int, default=7071)
    start.add_argument("--state-dir", default=None,
                       help="where the SQLite state lives (default: APP_DIR/.devhost)")
    start.add_argument("--dispatch-latency", action="store_true",
                       help="hand Durable work out when host.json's backend would: the Azure "
                            "Storage provider's queue polls (maxQueuePollingInterval), as in Azure")
    start.add_argument("--external-event-order", choices=("lifo", "fifo"), default=None,
                       help="which of several waits for one event name an event completes on the "
                            "host side: lifo (newest first, as the Durable extension; the "
                            "default, or DEVHOST_EXTERNAL_EVENT_ORDER) or fifo (a what-if)")
    start.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="[%(asctime)s] %(message)s", stream=sys.stderr)
    from .host import DevHost
    try:
        host = DevHost(args.app_dir, port=args.port, state_dir=args.state_dir,
                       dispatch=args.dispatch_latency,
                       external_event_order=args.external_event_order)
    except (ConfigError, RuntimeError, ImportError, OSError) as exc:
        print(f"devhost: cannot start: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with host:
        print("\n".join(host.describe()), flush=True)
        print(f"\nHost started: {host.base_url}", flush=True)
        stop.wait()
    return 0
