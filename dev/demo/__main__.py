"""`make demo`: restore a managed disk end to end against the simulated Azure.
`make serve` (`python -m demo --serve`): the same environment, left running for the
`diskrestore` command line (docs/cli.md) until Ctrl-C.

Starts azsim (the demo scenario, time-scaled), Azurite and the app under devhost (as `func start`
would run it), submits a restore-and-attach through the HTTP API, prints progress as it goes and
ends with a one-line JSON summary. Exit code 0 only if the outcome is Succeeded and no role
assignment of ours is left behind (checked in azsim's state).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import azsim
import requests
from devhost.azurite import Azurite

from demo import APP_IDENTITY
from domain.access import audit
from domain.access.access_policy import encode_client_principal

ROOT = Path(__file__).resolve().parents[2]  # the app: function_app.py and host.json
HERE = Path(__file__).resolve().parent
TIME_SCALE = 30.0
# The demo's operator, as App Service authentication (Entra ID) hands the app a signed-in caller.
OPERATOR = ("0d3e0000-0000-4000-8000-00000000d3e0", "operator@contoso.com")
SIGNED_IN = {"X-MS-CLIENT-PRINCIPAL": encode_client_principal(*OPERATOR,
                                                              roles=("DiskRestore.Operator",)),
             "X-MS-CLIENT-PRINCIPAL-ID": OPERATOR[0], "X-MS-CLIENT-PRINCIPAL-NAME": OPERATOR[1]}


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    scale = args.time_scale
    with azsim.start(scenario="demo", time_scale=scale) as sim, Azurite(oauth=True) as azurite:
        env = _app_env(sim, azurite, scale, serve=args.serve)
        with _devhost(env, args.port) as base:
            if args.serve:
                return _serve(base, sim)
            summary = _restore(base, sim, args)
    print(json.dumps(summary))
    return 0 if summary["outcome"] == "Succeeded" and not summary["leftoverAssignments"] else 1


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n")[0])
    parser.add_argument("--time-scale", type=float, default=TIME_SCALE,
                        help="divide every simulated Azure duration by this (default 30)")
    parser.add_argument("--port", type=int, default=0, help="devhost port (default: a free one)")
    parser.add_argument("--disk", default="vm-app01-data0", help="the demo disk to restore")
    parser.add_argument("--serve", action="store_true",
                        help="start the environment and keep it running for the diskrestore CLI")
    args = parser.parse_args(argv)
    if args.serve and not args.port:
        args.port = 7071  # the CLI's default URL
    return args


def _serve(base: str, sim: Any) -> int:
    """Print what to try, then serve until Ctrl-C or SIGTERM."""
    rg = f"/subscriptions/{sim.subscription_id}/resourceGroups"
    disk = f"{rg}/rg-app/providers/Microsoft.Compute/disks/vm-app01-data0"
    vm = f"{rg}/rg-app/providers/Microsoft.Compute/virtualMachines/vm-app01"
    print(f"""
The app is at {base} (Azure's durations divided by {TIME_SCALE:g}). In another terminal:

  export DISKRESTORE_URL={base}
  diskrestore plan --disk {disk} --target-rg {rg}/rg-restore-target
  diskrestore restore --disk {disk} --target-rg {rg}/rg-restore-target --attach {vm}
  diskrestore list
  diskrestore drill start demo-nightly
  diskrestore drill report <drill id> --open

(`diskrestore` is .venv/bin/diskrestore.) Ctrl-C stops everything.""", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    return 0


DEMO_VAULT = ("/subscriptions/6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6/resourceGroups/rg-backup/"
              "providers/Microsoft.DataProtection/backupVaults/bv-demo")  # the scenario's vault


def _app_env(sim: Any, azurite: Azurite, scale: float, *, serve: bool) -> dict[str, str]:
    """The app settings a deployment would have, pointed at azsim and Azurite. The demo signs
    its request in as App Service authentication would (devhost has no authentication module)
    and the access policy decides; `--serve` turns caller authorization off for the CLI, which
    signs in only to a deployed app.

    Storage as in production: identity-based AzureWebJobsStorage (accountName, credential,
    clientId; plus the service URIs Azurite needs), no connection string, no key. devhost
    serves the app's identity as App Service does (DEVHOST_MANAGED_IDENTITIES: its client id and
    azsim's principal for the app) and REQUESTS_CA_BUNDLE trusts Azurite's certificate."""
    access = ({"CALLER_AUTHORIZATION": "off"} if serve else
              {"CALLER_AUTHORIZATION": "policy", "WEBSITE_AUTH_ENABLED": "true",
               "ACCESS_POLICY_PATH": str(HERE / "access-policy.json")})
    inherited = {k: v for k, v in os.environ.items()  # a shell's own storage settings stay out
                 if not k.startswith(("AzureWebJobsStorage", "DEVHOST_AZURITE_", "IDENTITY_"))}
    return {**inherited, **access, **azurite.identity_settings(APP_IDENTITY),
            **azurite.trust_env(),
            "DEVHOST_MANAGED_IDENTITIES": f"{APP_IDENTITY}={sim.app_principal_id}",
            "DEVHOST_TENANT_ID": sim.tenant_id,
            "PYTHONPATH": str(ROOT),
            "ARM_ENDPOINT": sim.endpoint, "ARM_CA_BUNDLE": sim.ca_bundle,
            "ARM_CREDENTIAL": "dev-unsigned", "DEV_PRINCIPAL_ID": sim.app_principal_id,
            "DEV_TENANT_ID": sim.tenant_id,
            "DRILL_PLANS_PATH": str(HERE / "drill-plans.json"),
            # The catalog and readiness read every protected disk of these vaults.
            "BACKUP_VAULT_IDS": DEMO_VAULT,
            # The orchestration's own waits follow the simulated clock's speed.
            "RESTORE_PROBE_INTERVAL_SECONDS": str(20 / scale),
            "RESTORE_POLL_INTERVAL_SECONDS": str(30 / scale),
            "ARM_OPERATION_POLL_SECONDS": str(10 / scale)}


class _devhost:
    """`python -m devhost start` on the app, until the with-block ends."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env, self.port = env, port or _free_port()

    def __enter__(self) -> str:
        state = ROOT / ".devhost" / f"demo-{os.getpid()}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devhost", "start", "--app-dir", str(ROOT), "--port",
             str(self.port), "--state-dir", str(state)],
            env=self.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.log_path = state / "devhost.log"
        state.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("w", encoding="utf-8")
        for line in self.proc.stdout:  # type: ignore[union-attr]
            log.write(line)
            if line.startswith("Host started"):
                # Keep draining its output into the log: a full pipe would block the host.
                threading.Thread(target=_drain, args=(self.proc.stdout, log), daemon=True).start()
                _log(f"devhost serving the app at http://127.0.0.1:{self.port} "
                     f"(log: {self.log_path.relative_to(ROOT)})")
                return f"http://127.0.0.1:{self.port}"
        log.close()
        raise SystemExit("devhost did not start:\n" + self.log_path.read_text()[-3000:])

    def __exit__(self, *exc: object) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _restore(base: str, sim: Any, args: argparse.Namespace) -> dict[str, Any]:
    sub = sim.subscription_id
    rg = f"/subscriptions/{sub}/resourceGroups"
    request = {
        "requestId": f"demo-{int(time.time())}",
        "source": {"diskId": f"{rg}/rg-app/providers/Microsoft.Compute/disks/{args.disk}"},
        "recoveryPoint": "latest",
        "target": {"resourceGroupId": f"{rg}/rg-restore-target",
                   "diskName": f"{args.disk}-restored"},
        "attach": {"vmId": f"{rg}/rg-app/providers/Microsoft.Compute/virtualMachines/vm-app01"},
    }
    _log(f"POST /api/restores  {args.disk} (latest recovery point) -> rg-restore-target, "
         f"attach to vm-app01  [Azure time x{args.time_scale:g}]")
    started = time.monotonic()
    answer = requests.post(f"{base}/api/restores", json=request, timeout=30, headers=SIGNED_IN)
    if answer.status_code not in (200, 202):
        raise SystemExit(f"the API refused the request: {answer.status_code} {answer.text}")
    status_url = answer.json()["statusQueryGetUri"]
    _log(f"accepted: {answer.json()['id']}")
    view = _follow(status_url)
    audit_trail = _audit_trail(view["id"])
    ours = {a["id"].lower() for a in (view.get("result") or {}).get("roleAssignments", [])
            if not a["preExisting"]}
    left = [a for a in sim.snapshot().get("roleAssignments", [])
            if str(a.get("id", "")).lower() in ours and not a.get("deleted")]
    result = view.get("result") or {}
    return {"outcome": view.get("outcome"), "id": view["id"],
            "restoredDiskId": result.get("restoredDiskId"), "jobId": result.get("jobId"),
            "attach": result.get("attach"), "phases": result.get("phases"),
            "error": view.get("error"),
            "roleAssignmentsMade": len(ours), "leftoverAssignments": len(left),
            "audit": audit_trail,
            "wallSeconds": round(time.monotonic() - started, 1)}


def _audit_trail(run_id: str) -> list[str]:
    """The run's audit records (from devhost's log, as Application Insights would keep them):
    "action:outcome by who"."""
    log_path = next(iter(sorted((ROOT / ".devhost").glob(f"demo-{os.getpid()}/devhost.log"))),
                    None)
    if log_path is None:
        return []
    time.sleep(0.5)  # the last records are still on their way to the log
    records = [audit.parse(line) for line in log_path.read_text(encoding="utf-8").splitlines()]
    return [f"{r['action']}:{r['outcome']} by {r['who'].get('name') or r['who'].get('kind')}"
            for r in records if r and r.get("runId") == run_id]


def _follow(url: str, timeout: float = 600) -> dict[str, Any]:
    seen = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = requests.get(url, timeout=30, headers=SIGNED_IN).json()
        line = (view.get("phase"), json.dumps(view.get("progress"), sort_keys=True))
        if line != seen:
            seen = line
            detail = ", ".join(f"{k}={v}" for k, v in (view.get("progress") or {}).items())
            _log(f"phase {view.get('phase')}" + (f"  ({detail})" if detail else ""))
        if view.get("done"):
            return view
        time.sleep(0.25)
    raise SystemExit(f"the restore did not finish within {timeout:.0f} s")


def _drain(stream: Any, log: Any) -> None:
    for line in stream:
        log.write(line)
        log.flush()
    log.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log(text: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
