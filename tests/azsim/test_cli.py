"""`python -m azsim serve`: one ready line on stdout, a working endpoint, a clean SIGTERM exit."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from azsim.sdk import ServedSimulator, mgmt_clients

ROOT = Path(__file__).resolve().parents[2]


def test_serve_prints_the_ready_line_and_serves_until_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "azsim", "serve", "--port", "0", "--time-scale", "60"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        assert set(ready) == {"endpoint", "caBundle", "subscriptionId", "tenantId",
                              "appPrincipalId"}
        assert ready["endpoint"].startswith("https://127.0.0.1:")
        with mgmt_clients(ServedSimulator.from_ready_line(ready)) as clients:
            vault = clients.dataprotection.backup_vaults.get("rg-backup", "bv-demo")
        assert vault.identity.type == "SystemAssigned"
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert out == ""  # exactly one line in all
    assert not Path(ready["caBundle"]).exists()  # cleaned up
