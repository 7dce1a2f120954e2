"""One chaos environment: azsim (the chaos scenario, real clock, time-scaled), Azurite, and the
app under a devhost subprocess that can be SIGKILLed and restarted on the same state directory.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Self

import azsim
import requests
from demo import APP_IDENTITY
from devhost.azurite import Azurite

from . import scenario

ROOT = Path(__file__).resolve().parents[2]
LEDGER_TABLE = "recoveryledger"  # settings.py's default; app_env does not set another


def app_env(sim: Any, azurite: Azurite, time_scale: float, poll_scale: float
            ) -> dict[str, str]:
    """The app settings a deployment would have, pointed at azsim and Azurite (as `make demo`
    sets them: identity-based storage, no connection string, no key); the app's own waits are
    divided by `poll_scale`."""
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith(("AzureWebJobsStorage", "DEVHOST_AZURITE_", "IDENTITY_"))}
    env = {**inherited, **azurite.identity_settings(APP_IDENTITY), **azurite.trust_env(),
           "DEVHOST_MANAGED_IDENTITIES": f"{APP_IDENTITY}={sim.app_principal_id}",
           "DEVHOST_TENANT_ID": sim.tenant_id,
           "PYTHONPATH": str(ROOT),
           "ARM_ENDPOINT": sim.endpoint, "ARM_CA_BUNDLE": sim.ca_bundle,
           "ARM_CREDENTIAL": "dev-unsigned", "DEV_PRINCIPAL_ID": sim.app_principal_id,
           "DEV_TENANT_ID": sim.tenant_id,
           "CALLER_AUTHORIZATION": "off",
           # Real time: a generous bound, far above the scaled propagation (240 s / scale).
           "RESTORE_PROPAGATION_TIMEOUT_MINUTES": "3",
           "RESTORE_JOB_TIMEOUT_MINUTES": "5",
           "RESTORE_PROBE_INTERVAL_SECONDS": str(20 / poll_scale),
           "RESTORE_POLL_INTERVAL_SECONDS": str(30 / poll_scale),
           "ARM_OPERATION_POLL_SECONDS": str(10 / poll_scale)}
    for key in ("DEVHOST_KILL_AT", "DRILL_PLANS_PATH", "RECOVERY_POLICIES_PATH",
                "DEVHOST_FUNCTION_KEY", "RECOVERY_LEDGER_TABLE"):
        env.pop(key, None)
    return env


class Host:
    """`python -m devhost start` on the app, supervised: whenever the process dies (our SIGKILL,
    or its own at a DEVHOST_KILL_AT commit point) it is started again on the same state dir and
    port, until `stop()`."""

    def __init__(self, env: dict[str, str], state_dir: Path, log_path: Path) -> None:
        self.env, self.state_dir, self.log_path = env, state_dir, log_path
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.kills = 0  # SIGKILLs we sent
        self.self_kills = 0  # the host's own, at a commit point
        self.restarts = 0
        self.crashes: list[int] = []  # exit codes of any other death: a finding
        self.port_busy = 0  # starts that found the port taken meanwhile: retried, no finding
        self.kill_points: list[str] = []
        self._ours: subprocess.Popen[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._kill_at: str | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._up = threading.Event()
        self._thread = threading.Thread(target=self._supervise, daemon=True,
                                        name="chaos-devhost")

    # ---- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._spawn(None)
        self._wait_ready(60)
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            proc = self._proc
        self._thread.join(timeout=70)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def kill(self, then_kill_at: str | None = None) -> bool:
        """SIGKILL the host now; its next start gets DEVHOST_KILL_AT=`then_kill_at` (the host
        then kills itself at that commit point). False if it was not running."""
        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is not None or not self._up.is_set():
                return False
            self._kill_at, self._ours = then_kill_at, proc
            self._up.clear()
            proc.kill()
            self.kills += 1
        return True

    def wait_up(self, timeout: float) -> bool:
        return self._up.wait(timeout)

    # ---- internals ------------------------------------------------------------------------------
    def _spawn(self, kill_at: str | None) -> None:
        env = dict(self.env)
        if kill_at:
            env["DEVHOST_KILL_AT"] = kill_at
            self.kill_points.append(kill_at)
        with self._lock, self.log_path.open("ab") as log:
            if self._stopping.is_set():  # never a host left behind after stop()
                return
            log.write(f"\n==== devhost start {time.strftime('%H:%M:%S')} "
                      f"kill_at={kill_at}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "devhost", "start", "--app-dir", str(ROOT), "--port",
                 str(self.port), "--state-dir", str(self.state_dir)],
                env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    def _wait_ready(self, timeout: float) -> bool:
        """True once the host answers; False if it died first (a commit-point kill)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                proc = self._proc
            if proc is None or proc.poll() is not None:
                return False
            try:
                if requests.get(f"{self.base}/api/openapi.json", timeout=2).status_code == 200:
                    self._up.set()
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"devhost did not start within {timeout:.0f} s; see {self.log_path}")

    def _port_was_taken(self) -> bool:
        """The last start failed to bind: the port was found free once, and a restart must reuse
        it (the driver's clients hold the URL), but between our kill and the new bind anything
        else on the machine may take it for a while. Not the host's fault: start it again."""
        last = self.log_path.read_text(errors="replace").rsplit("==== devhost start", 1)[-1]
        return "cannot start" in last and "Address already in use" in last

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                proc, ours, kill_at = self._proc, self._ours, self._kill_at
            if proc is not None and proc.poll() is not None:
                self._up.clear()
                if proc is not ours:
                    if proc.returncode == -signal.SIGKILL:
                        self.self_kills += 1  # DEVHOST_KILL_AT: it killed itself
                    elif self._port_was_taken():
                        self.port_busy += 1
                        time.sleep(0.5)  # let whoever holds it let go
                    else:
                        self.crashes.append(proc.returncode)
                with self._lock:
                    self._kill_at = None
                self.restarts += 1
                self._spawn(kill_at)
                try:
                    self._wait_ready(60)
                except RuntimeError:  # hung at start: kill it, and the next turn restarts it
                    self.crashes.append(-1)
                    with self._lock:
                        if self._proc is not None:
                            self._proc.kill()
                            self._proc.wait()
                continue
            time.sleep(0.05)


class Environment:
    """azsim + Azurite + supervised devhost, for one batch of runs."""

    def __init__(self, index: int, seed: int, slots: int, time_scale: float, poll_scale: float,
                 workdir: Path, restored_disk_zone: str = "regional") -> None:
        self.index, self.seed, self.slot_count = index, seed, slots
        self.time_scale, self.poll_scale, self.workdir = time_scale, poll_scale, workdir
        self.restored_disk_zone = restored_disk_zone

    def __enter__(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sim = azsim.start(scenario=scenario.build(self.slot_count, self.seed,
                                                       self.restored_disk_zone),
                               time_scale=self.time_scale)
        try:
            self.azurite = Azurite(oauth=True)
            self.azurite.start()
            env = app_env(self.sim, self.azurite, self.time_scale, self.poll_scale)
            self.host = Host(env, self.workdir / "state", self.workdir / "devhost.log")
            self.host.start()
        except BaseException:
            self.__exit__()
            raise
        self.slots = scenario.slots_of(self.sim.subscription_id, self.slot_count)
        self.vault_principal_id = self.sim.principal_id("vault")
        return self

    def __exit__(self, *exc: object) -> None:
        for part in ("host", "azurite", "sim"):
            thing = getattr(self, part, None)
            if thing is not None:
                try:
                    thing.stop()
                except Exception:  # noqa: BLE001, S110 - tear down the rest regardless
                    pass

    def leases(self) -> list[dict[str, Any]]:
        """The lease rows of the app's ledger (gateway/ledger.py `lease` partition), as stored:
        who still holds each shared role assignment, its generation, the retired generations
        still to revoke. Evidence for the invariants; [] before the app made its table."""
        from azure.core.exceptions import ResourceNotFoundError
        from azure.data.tables import TableClient

        table = TableClient.from_connection_string(
            self.azurite.connection_string, LEDGER_TABLE,
            connection_verify=self.azurite.ca_bundle)
        with table:
            try:
                return [json.loads(e["doc"])
                        for e in table.query_entities("PartitionKey eq 'lease'")]
            except ResourceNotFoundError:
                return []

    def resource(self, resource_id: str) -> dict[str, Any] | None:
        """One resource as azsim's state renders it (VMs with their instance view)."""
        from azsim.admin import _render
        state = self.sim.state
        with state.lock:
            state.settle()
            body = state.get(resource_id)
            return _render(state, body) if body is not None else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
